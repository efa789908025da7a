// Binary values in V1 requests: TF Serving's {"b64": "<base64>"} in place of a value, or the bytes of a file sent as
// the body (image/*, multipart/form-data). An input declared as an image takes one per row; a BYTES input takes
// them as its strings' bytes; any other input takes none.
import { errors, excerpt, withExtras } from '../../core/errors.js';
import type { ReadyModel } from '../../core/models/repository.js';
import type { WireTensor } from '../../core/tensor/decode.js';
import type { TensorSpec } from '../../core/tensor/tensor.js';
import { fromBase64 } from '../../lib/base64.js';

/** An INVALID_INPUT error with details for programs: what V1's reading of a body refuses. */
export function invalid(message: string, details: Record<string, unknown>): Error {
  return withExtras(new errors.INVALID_INPUT(message), { details });
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether a value is meant as a binary value: bytes, or an object with a "b64" key. */
export function isPayload(value: unknown): boolean {
  return value instanceof Uint8Array || (isObject(value) && Object.hasOwn(value, 'b64'));
}

/** The bytes of a binary value; `where` names it ("instances[2].image") in the refusal of a bad one. */
function payloadOf(value: unknown, where: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  const text = isObject(value) ? value.b64 : undefined;
  if (!isObject(value) || Object.keys(value).length !== 1 || typeof text !== 'string') {
    throw invalid(`${where} must be {"b64": "<base64>"} like the others`, { where });
  }
  const bytes = fromBase64(text);
  if (bytes === undefined) throw invalid(`${where}.b64 is not base64 text`, { where });
  return bytes;
}

/** A BYTES input's data with every binary value (at any depth) replaced by its bytes. */
function withBytes(value: unknown, where: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => withBytes(v, `${where}[${i}]`));
  return isPayload(value) ? payloadOf(value, where) : value;
}

/**
 * The wire tensor of one input's rows when they are binary values: an image input's files (BYTES [n]), or a BYTES
 * input's values with their bytes; undefined when the rows are plain values. Binary values for any other input
 * are refused, naming the input.
 */
export function payloadTensor(
  model: ReadyModel,
  spec: TensorSpec,
  rows: readonly unknown[],
  where: (row: number) => string,
): WireTensor | undefined {
  const image = model.signature.images?.has(spec.name) === true;
  if (image && isPayload(rows[0])) {
    const files = rows.map((row, i) => payloadOf(row, where(i)));
    return { name: spec.name, datatype: 'BYTES', shape: [files.length], data: { values: files } };
  }
  if (spec.datatype === 'BYTES') return undefined;
  const at = rows.findIndex((row) => isPayload(row) || (Array.isArray(row) && isPayload(row[0])));
  if (at >= 0) {
    const takes = image ? 'an encoded image in every row, or' : `${spec.datatype ?? spec.type} values, not`;
    throw invalid(
      `${where(at)}: input "${excerpt(spec.name, 64)}" takes ${takes} binary values ({"b64": ...} or a file)`,
      { input: spec.name, instance: at },
    );
  }
  return undefined;
}

/** A BYTES input's rows with their binary values as bytes (TF Serving's b64 for string inputs). */
export function bytesRows(
  spec: TensorSpec,
  rows: readonly unknown[],
  where: (row: number) => string,
): unknown[] {
  return spec.datatype === 'BYTES' ? rows.map((row, i) => withBytes(row, where(i))) : [...rows];
}
