// The tensor datatypes Serval serves, in one table: their Open Inference Protocol names, ONNX names, sizes, ranges.

type Kind = 'bool' | 'int' | 'bigint' | 'half' | 'float' | 'string';

interface DataTypeInfo {
  /** onnxruntime's name of the element type. */
  onnx: string;
  /** Bytes per element in binary form (BYTES elements are length-prefixed instead). */
  size: number;
  kind: Kind;
  /** Smallest and largest value a JSON number may have (integers: inclusive; floats: finite within). */
  min: number;
  max: number;
}

const FLT_MAX = 3.4028234663852886e38;

/** The datatypes of the OIP's tensor data types table that onnxruntime can feed and fetch. */
export const DATATYPES = {
  BOOL: { onnx: 'bool', size: 1, kind: 'bool', min: 0, max: 1 },
  UINT8: { onnx: 'uint8', size: 1, kind: 'int', min: 0, max: 255 },
  UINT16: { onnx: 'uint16', size: 2, kind: 'int', min: 0, max: 65535 },
  UINT32: { onnx: 'uint32', size: 4, kind: 'int', min: 0, max: 4294967295 },
  UINT64: { onnx: 'uint64', size: 8, kind: 'bigint', min: 0, max: Number.MAX_SAFE_INTEGER },
  INT8: { onnx: 'int8', size: 1, kind: 'int', min: -128, max: 127 },
  INT16: { onnx: 'int16', size: 2, kind: 'int', min: -32768, max: 32767 },
  INT32: { onnx: 'int32', size: 4, kind: 'int', min: -2147483648, max: 2147483647 },
  INT64: {
    onnx: 'int64',
    size: 8,
    kind: 'bigint',
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
  },
  FP16: { onnx: 'float16', size: 2, kind: 'half', min: -65504, max: 65504 },
  FP32: { onnx: 'float32', size: 4, kind: 'float', min: -FLT_MAX, max: FLT_MAX },
  FP64: { onnx: 'float64', size: 8, kind: 'float', min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
  BYTES: { onnx: 'string', size: 0, kind: 'string', min: 0, max: 0 },
} as const satisfies Record<string, DataTypeInfo>;

export type DataType = keyof typeof DATATYPES;

export const DATATYPE_NAMES = Object.keys(DATATYPES) as DataType[];

const BY_ONNX = new Map<string, DataType>(DATATYPE_NAMES.map((d) => [DATATYPES[d].onnx, d]));

export function isDataType(name: string): name is DataType {
  return Object.hasOwn(DATATYPES, name);
}

/** The OIP name of an onnxruntime element type, or undefined for one Serval cannot serve (e.g. a ZipMap). */
export function dataTypeOf(onnxType: string): DataType | undefined {
  return BY_ONNX.get(onnxType);
}

/** The typed array that holds a datatype's elements as onnxruntime takes them (BOOL as bytes, FP16 as bits). */
export type NumericArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

export function allocate(datatype: Exclude<DataType, 'BYTES'>, length: number): NumericArray {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(length);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(length);
    case 'UINT32':
      return new Uint32Array(length);
    case 'UINT64':
      return new BigUint64Array(length);
    case 'INT8':
      return new Int8Array(length);
    case 'INT16':
      return new Int16Array(length);
    case 'INT32':
      return new Int32Array(length);
    case 'INT64':
      return new BigInt64Array(length);
    case 'FP32':
      return new Float32Array(length);
    case 'FP64':
      return new Float64Array(length);
  }
}

const freshMemory = (bytes: number): Uint8Array => new Uint8Array(bytes);

/** A typed array over the same memory as an ArrayBuffer slice, copied when it is not aligned for the type. */
export function viewOf(
  datatype: Exclude<DataType, 'BYTES'>,
  bytes: Uint8Array,
  length: number,
  alignedMemory: (bytes: number) => Uint8Array = freshMemory,
): NumericArray {
  const size = DATATYPES[datatype].size;
  // A copy starts at offset 0 of its memory (not bytes.slice(): on a Buffer that is another view).
  if (bytes.byteOffset % size !== 0) {
    const copy = alignedMemory(bytes.length);
    copy.set(bytes);
    bytes = copy;
  }
  const { buffer, byteOffset } = bytes;
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(buffer, byteOffset, length);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'UINT32':
      return new Uint32Array(buffer, byteOffset, length);
    case 'UINT64':
      return new BigUint64Array(buffer, byteOffset, length);
    case 'INT8':
      return new Int8Array(buffer, byteOffset, length);
    case 'INT16':
      return new Int16Array(buffer, byteOffset, length);
    case 'INT32':
      return new Int32Array(buffer, byteOffset, length);
    case 'INT64':
      return new BigInt64Array(buffer, byteOffset, length);
    case 'FP32':
      return new Float32Array(buffer, byteOffset, length);
    case 'FP64':
      return new Float64Array(buffer, byteOffset, length);
  }
}

// IEEE 754 half precision, for the FP16 values that JSON and typed gRPC contents carry as numbers.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The FP16 bits nearest to a number (round to nearest even), as numpy's float16() gives. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000; // subnormal: shift the implicit bit in
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly moves into the exponent (up to Inf).
  return sign | (rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half);
}

/** The number an FP16 bit pattern stands for. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
