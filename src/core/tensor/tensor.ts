// Tensors as plain data (datatype, flat typed array, dims): what crosses between codecs, sessions and threads.
import { fromHalf, type DataType, type NumericArray } from './dtypes.js';

/** Elements in row-major order: a typed array (BOOL as 0/1 bytes, FP16 as its bits), or strings for BYTES. */
export type TensorArray = NumericArray | string[];

export interface TensorData {
  datatype: DataType;
  data: TensorArray;
  dims: readonly number[];
}

export type TensorMap = Record<string, TensorData>;

/** A tensor as the model declares it: dims are numbers, or names for dynamic dims (e.g. "batch"). */
export interface TensorSpec {
  name: string;
  /** undefined when Serval cannot hand the value over (a ZipMap or sequence, an element type it does not serve). */
  datatype: DataType | undefined;
  /** The graph's own type name, for messages. */
  type: string;
  shape: (number | string)[];
}

/** A spec that Serval can feed or fetch. */
export type ServableSpec = TensorSpec & { datatype: DataType };

export function isServable(spec: TensorSpec): spec is ServableSpec {
  return spec.datatype !== undefined;
}

/** The first dim of the first tensor (the rows of a batch-major request), 0 for none; no array made on the way. */
export function batchSize(tensors: TensorMap): number {
  for (const name in tensors) return tensors[name]?.dims[0] ?? 0;
  return 0;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** One element as a JSON value: BigInt becomes a Number, BOOL a boolean, FP16 the number it stands for. */
export function elementAt(tensor: TensorData, index: number): number | string | boolean {
  const value = tensor.data[index];
  if (value === undefined) throw new RangeError(`tensor index ${index} out of range`);
  if (typeof value === 'bigint') return Number(value);
  if (tensor.datatype === 'BOOL') return value !== 0;
  if (tensor.datatype === 'FP16') return fromHalf(value as number);
  return value;
}

/** Every element as JSON values, flat. */
export function jsonValues(tensor: TensorData): (number | string | boolean)[] {
  const { data, datatype } = tensor;
  // Only these four hold elements that are not already JSON values: BigInts, 0/1 bytes and FP16 bits.
  if (datatype !== 'INT64' && datatype !== 'UINT64' && datatype !== 'BOOL' && datatype !== 'FP16')
    return Array.from(data as ArrayLike<number | string>);
  const out = new Array<number | string | boolean>(data.length);
  for (let i = 0; i < data.length; i++) out[i] = elementAt(tensor, i);
  return out;
}
