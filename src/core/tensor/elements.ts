// The elements of one input as the wire carried them (JSON values, typed contents, raw little-endian bytes) in
// onnxruntime's arrays, each element checked: finite floats, integers in their range, 0/1 booleans, UTF-8 text
// without NUL, BYTES length prefixes within their data.
import { errors, excerpt, excerptList, withExtras } from '../errors.js';
import { allocate, DATATYPES, fromHalf, viewOf, type DataType, type NumericArray } from './dtypes.js';
import { allFinite } from './finite.js';
import { elementCount } from './tensor.js';
import type { DecodeOptions, Location, WireTensor } from './decode.js';

/** Most dimensions a tensor may have, on every protocol (REST's schema says the same); onnxruntime's own is 8 to 16. */
export const MAX_RANK = 16;

/** A name in a message: quoted, at most 64 characters of it. */
export const quoted = (name: string) => `"${excerpt(name, 64)}"`;

export function invalid(message: string, details: Record<string, unknown>): Error {
  return withExtras(new errors.INVALID_INPUT(message), { details });
}

/** A shape in a message: at most MAX_RANK dims written out, however many it has. */
export function formatShape(shape: readonly (number | string)[]): string {
  return `[${excerptList(
    shape.map((d) => (typeof d === 'number' ? String(d) : '-1')),
    MAX_RANK,
  )}]`;
}

/** The multi-dimensional index of a flat row-major index. */
export function indexIn(shape: readonly number[], index: number): number[] {
  const at: number[] = new Array<number>(shape.length);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d] as number;
    at[d] = rest % size;
    rest = Math.floor(rest / size);
  }
  return at;
}

export function defaultLocate(input: string, index: number, shape: readonly number[]): Location {
  const at = indexIn(shape, index);
  return { where: `input ${quoted(input)} element [${at.join(', ')}]`, details: { input, index: at } };
}

/** The last-level arrays of nested (or flat) data, in row-major order, once its structure matches the shape. */
function rowsOf(values: unknown, tensor: WireTensor): unknown[][] {
  const { shape, name } = tensor;
  const count = elementCount(shape);
  const mismatch = () =>
    invalid(
      `input ${quoted(name)} data does not match its shape ${formatShape(shape)}: it must hold ${count} ` +
        `value${count === 1 ? '' : 's'}, flat or nested row-major`,
      { input: name },
    );
  if (!Array.isArray(values)) throw invalid(`input ${quoted(name)} data must be an array`, { input: name });
  if (values.length === count && (count === 0 || !Array.isArray(values[0]))) return [values];
  if (shape.length < 2) throw mismatch();
  const rows: unknown[][] = [];
  const walk = (level: unknown, d: number): void => {
    if (!Array.isArray(level) || level.length !== shape[d]) throw mismatch();
    if (d === shape.length - 1) rows.push(level);
    else for (const inner of level) walk(inner, d + 1);
  };
  walk(values, 0);
  return rows;
}

type Locate = (index: number) => Location;

function bad(locate: Locate, index: number, rule: string, value: unknown): Error {
  const at = locate(index);
  const got = typeof value === 'string' ? JSON.stringify(excerpt(value)) : excerpt(value);
  return invalid(`${at.where} must be ${rule}, got ${got}`, at.details);
}

/** An element's own problem, named where it is. */
function badElement(locate: Locate, index: number, problem: string): Error {
  const at = locate(index);
  return invalid(`${at.where} ${problem}`, at.details);
}

export function fromValues(datatype: DataType, tensor: WireTensor, values: unknown, locate: Locate) {
  if (datatype === 'FP16') {
    throw invalid(
      `input ${quoted(tensor.name)} is FP16, which travels only as binary data (binary_data_size, raw contents)`,
      { input: tensor.name },
    );
  }
  const rows = rowsOf(values, tensor);
  const count = elementCount(tensor.shape);
  const info = DATATYPES[datatype];
  if (datatype === 'BYTES') return stringsOf(rows, count, locate);
  const target = allocate(datatype, count);
  let offset = 0;
  for (const row of rows) {
    switch (info.kind) {
      case 'float':
        fillFloats(row, target as Float32Array, offset, info, locate);
        break;
      case 'int':
        fillInts(row, target as Int32Array, offset, info, locate);
        break;
      case 'bigint':
        fillBigInts(row, target as BigInt64Array, offset, datatype, locate);
        break;
      case 'bool':
        fillBools(row, target as Uint8Array, offset, locate);
        break;
    }
    offset += row.length;
  }
  return target;
}

// One loop per kind keeps each monomorphic: this runs for every element of every JSON request.
function fillFloats(
  row: unknown[],
  target: Float32Array | Float64Array,
  offset: number,
  range: { min: number; max: number },
  locate: Locate,
): void {
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (typeof v !== 'number' || !(v >= range.min && v <= range.max)) {
      throw bad(locate, offset + j, `a finite number within the ${datatypeName(target)} range`, v);
    }
    target[offset + j] = v;
  }
}

const datatypeName = (target: NumericArray) => (target instanceof Float64Array ? 'FP64' : 'FP32');

function fillInts(
  row: unknown[],
  target: Int32Array,
  offset: number,
  range: { min: number; max: number },
  locate: Locate,
): void {
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
      throw bad(locate, offset + j, `an integer from ${range.min} to ${range.max}`, v);
    }
    target[offset + j] = v;
  }
}

const BIG_RANGE = {
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
} as const;

function fillBigInts(
  row: unknown[],
  target: BigInt64Array | BigUint64Array,
  offset: number,
  datatype: DataType,
  locate: Locate,
): void {
  const [min, max] = BIG_RANGE[datatype as 'INT64' | 'UINT64'];
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    // JSON numbers past 2^53 have lost digits already; gRPC's int64 contents arrive as BigInts.
    const value =
      typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : typeof v === 'bigint' ? v : null;
    if (value === null || value < min || value > max) {
      const rule = `an integer within the ${datatype} range (JSON numbers: at most 2^53 in magnitude)`;
      throw bad(locate, offset + j, rule, v);
    }
    target[offset + j] = value;
  }
}

function fillBools(row: unknown[], target: Uint8Array, offset: number, locate: Locate): void {
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (typeof v !== 'boolean') throw bad(locate, offset + j, 'true or false', v);
    target[offset + j] = v ? 1 : 0;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function utf8Text(bytes: Uint8Array, locate: Locate, index: number): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badElement(locate, index, 'is not valid UTF-8 (the model takes text)');
  }
  return checkText(text, locate, index);
}

/** onnxruntime's strings end at a NUL: a text holding one would reach the model cut short. */
function checkText(text: string, locate: Locate, index: number): string {
  if (text.includes('\0'))
    throw badElement(locate, index, 'contains a NUL character, which the model cannot take');
  return text;
}

function stringsOf(rows: unknown[][], count: number, locate: Locate): string[] {
  const out = new Array<string>(count);
  let i = 0;
  for (const row of rows) {
    for (const v of row) {
      if (typeof v === 'string') out[i] = v.includes('\0') ? checkText(v, locate, i) : v;
      else if (v instanceof Uint8Array) out[i] = utf8Text(v, locate, i);
      else throw bad(locate, i, 'a string', v);
      i++;
    }
  }
  return out;
}

/** Raw little-endian elements (the binary extension, gRPC raw contents); BYTES are 4-byte-length-prefixed. */
export function fromBytes(
  datatype: DataType,
  tensor: WireTensor,
  bytes: Uint8Array,
  locate: Locate,
  alignedMemory: DecodeOptions['alignedMemory'],
) {
  const count = elementCount(tensor.shape);
  const input = tensor.name;
  if (datatype === 'BYTES') return stringsFromBytes(bytes, count, input, locate);
  const expected = count * DATATYPES[datatype].size;
  if (bytes.length !== expected) {
    throw invalid(
      `input ${quoted(input)} has ${bytes.length} bytes of binary data; ${datatype} ${formatShape(tensor.shape)} takes ${expected}`,
      { input, expected, received: bytes.length },
    );
  }
  const data = viewOf(datatype, bytes, count, alignedMemory);
  if (datatype === 'FP32' || datatype === 'FP64') {
    const floats = data as Float32Array | Float64Array;
    if (!allFinite(floats)) {
      const at = floats.findIndex((v) => !Number.isFinite(v));
      throw bad(locate, at, 'finite', floats[at]);
    }
  } else if (datatype === 'FP16') {
    const halves = data as Uint16Array;
    for (let i = 0; i < count; i++) {
      const bits = halves[i] as number;
      if ((bits & 0x7c00) === 0x7c00) throw bad(locate, i, 'finite', fromHalf(bits));
    }
  } else if (datatype === 'BOOL') {
    const flags = data as Uint8Array;
    for (let i = 0; i < count; i++) {
      if ((flags[i] as number) > 1) throw bad(locate, i, 'a byte 0 (false) or 1 (true)', flags[i]);
    }
  }
  return data;
}

function stringsFromBytes(bytes: Uint8Array, count: number, input: string, locate: Locate): string[] {
  return bytesElements(bytes, count, input, locate).map((element, i) => utf8Text(element, locate, i));
}

/** The elements of raw BYTES data (each a 4-byte little-endian length, then that many bytes), as views. */
export function bytesElements(
  bytes: Uint8Array,
  count: number,
  input: string,
  locate: Locate = (index) => defaultLocate(input, index, [count]),
): Uint8Array[] {
  if (count * 4 > bytes.length) {
    throw invalid(
      `input ${quoted(input)} has ${bytes.length} bytes of binary data, too few for ${count} BYTES elements`,
      {
        input,
      },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<Uint8Array>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = at + 4 <= bytes.length ? view.getUint32(at, true) : -1;
    if (length < 0 || at + 4 + length > bytes.length) {
      throw badElement(locate, i, 'has a length prefix that runs past the end of the binary data');
    }
    out[i] = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  if (at !== bytes.length) {
    throw invalid(
      `input ${quoted(input)} has ${bytes.length - at} bytes of binary data past its ${count} elements`,
      {
        input,
      },
    );
  }
  return out;
}
