// Tensors as plain data (type, flat typed array, dims): what crosses between codecs, sessions and threads.

/** ONNX tensor element types Serval accepts as numeric model inputs, with their JSON value ranges. */
export const NUMERIC_DTYPES = {
  float32: { v2: 'FP32', min: -3.4028234663852886e38, max: 3.4028234663852886e38, integer: false },
  float64: { v2: 'FP64', min: -Number.MAX_VALUE, max: Number.MAX_VALUE, integer: false },
  int8: { v2: 'INT8', min: -128, max: 127, integer: true },
  int16: { v2: 'INT16', min: -32768, max: 32767, integer: true },
  int32: { v2: 'INT32', min: -2147483648, max: 2147483647, integer: true },
  int64: { v2: 'INT64', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true },
  uint8: { v2: 'UINT8', min: 0, max: 255, integer: true },
  uint16: { v2: 'UINT16', min: 0, max: 65535, integer: true },
  uint32: { v2: 'UINT32', min: 0, max: 4294967295, integer: true },
} as const;

export type NumericDType = keyof typeof NUMERIC_DTYPES;

/** Names of all ONNX tensor types in the Open Inference Protocol spelling, for metadata. */
const V2_NAMES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(NUMERIC_DTYPES).map(([k, v]) => [k, v.v2])),
  uint64: 'UINT64',
  float16: 'FP16',
  bool: 'BOOL',
  string: 'BYTES',
};

export function v2DataType(onnxType: string): string {
  return V2_NAMES[onnxType] ?? onnxType.toUpperCase();
}

export type TensorArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[]
  | boolean[];

export interface TensorData {
  type: string;
  data: TensorArray;
  dims: readonly number[];
}

export type TensorMap = Record<string, TensorData>;

export function isNumericDType(type: string): type is NumericDType {
  return Object.hasOwn(NUMERIC_DTYPES, type);
}

/** Allocates the typed array for `length` elements of a numeric ONNX type. */
export function allocate(type: NumericDType, length: number): Exclude<TensorArray, string[] | boolean[]> {
  switch (type) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'uint8':
      return new Uint8Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'uint32':
      return new Uint32Array(length);
  }
}

/** One element as a JSON-safe value: BigInt (int64 outputs) becomes a Number. */
export function elementAt(tensor: TensorData, index: number): number | string | boolean {
  const value = tensor.data[index];
  if (typeof value === 'bigint') return Number(value);
  if (value === undefined) throw new RangeError(`tensor index ${index} out of range`);
  return value;
}
