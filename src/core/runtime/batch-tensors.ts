// The tensors of a dynamic batch: how many rows may merge, the callers' inputs merged into one call, and each
// caller's rows cut from the merged outputs.
import { DATATYPES } from '../tensor/dtypes.js';
import type { TensorArray, TensorData, TensorMap, TensorSpec } from '../tensor/tensor.js';

/**
 * Most input bytes merged into one call. Merging copies every caller's inputs into one tensor: worth it while the
 * fixed cost of a run (~30 µs) is what it saves, not for images of hundreds of KB, whose copies cost more.
 */
export const MAX_MERGE_BYTES = 1 << 20;

/**
 * The most rows merged into one run for a model of these inputs: maxRows, or fewer when a row's bytes are known from
 * the graph (every dimension past the batch fixed, fixed-size elements) and that many rows would pass
 * MAX_MERGE_BYTES. 1 means calls never merge: an image model's rows of hundreds of KB run alone.
 */
export function mergeRows(inputs: readonly TensorSpec[], maxRows: number): number {
  let rowBytes = 0;
  for (const input of inputs) {
    const dims = input.shape.slice(1);
    // BYTES (strings) have no fixed size: their bytes are counted as calls arrive.
    const size = input.datatype === undefined ? 0 : DATATYPES[input.datatype].size;
    if (size === 0 || !dims.every((d): d is number => typeof d === 'number' && d >= 0)) return maxRows;
    rowBytes += dims.reduce((n, d) => n * d, size);
  }
  return rowBytes === 0 ? maxRows : Math.max(1, Math.min(maxRows, Math.floor(MAX_MERGE_BYTES / rowBytes)));
}

/** A call's input bytes (strings count as their length). */
export function bytesOf(feeds: TensorMap): number {
  let bytes = 0;
  for (const name in feeds) {
    const data = (feeds[name] as TensorData).data;
    bytes += Array.isArray(data) ? data.length : data.byteLength;
  }
  return bytes;
}

/** The batch dim all inputs share; undefined when they disagree. */
export function rowsOf(feeds: TensorMap): number | undefined {
  let rows: number | undefined;
  for (const name in feeds) {
    const first = (feeds[name] as TensorData).dims[0];
    if (first === undefined || (rows !== undefined && first !== rows)) return undefined;
    rows = first;
  }
  return rows;
}

/** Inputs of several calls as one tensor, their rows one after another. */
export function concat(parts: readonly TensorData[]): TensorData {
  const first = parts[0] as TensorData;
  const length = parts.reduce((n, p) => n + p.data.length, 0);
  let data: TensorArray;
  if (Array.isArray(first.data)) {
    data = parts.flatMap((p) => p.data as string[]);
  } else {
    const Ctor = first.data.constructor as new (n: number) => Float32Array;
    const merged = new Ctor(length);
    let offset = 0;
    for (const p of parts) {
      merged.set(p.data as Float32Array, offset);
      offset += p.data.length;
    }
    data = merged;
  }
  const rows = parts.reduce((n, p) => n + (p.dims[0] ?? 0), 0);
  return { datatype: first.datatype, data, dims: [rows, ...first.dims.slice(1)] };
}

/** One caller's rows of a batch output: a view for typed arrays (no copy), a slice of plain arrays. */
export function sliceRows(tensor: TensorData, start: number, rows: number): TensorData {
  const total = tensor.dims[0] ?? 0;
  const width = total === 0 ? 0 : tensor.data.length / total;
  const data = tensor.data;
  const [from, to] = [start * width, (start + rows) * width];
  const dims = tensor.dims.slice();
  dims[0] = rows;
  return {
    datatype: tensor.datatype,
    data: Array.isArray(data) ? data.slice(from, to) : data.subarray(from, to),
    dims,
  };
}

/** Same trailing dims and types for every input: the calls can share one tensor per input. */
export function compatible(a: TensorMap, b: TensorMap): boolean {
  for (const name in a) {
    const [t, other] = [a[name] as TensorData, b[name]];
    if (other === undefined || other.datatype !== t.datatype || other.dims.length !== t.dims.length)
      return false;
    for (let d = 1; d < t.dims.length; d++) if (other.dims[d] !== t.dims[d]) return false;
  }
  return true;
}
