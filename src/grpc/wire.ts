// ModelInferResponse written straight to protobuf bytes, and the few bytes that turn such an answer into a
// response with an id or a ModelStreamInferResponse. Answers are cached as these bytes and sent as they are: a
// protobuf message may be followed by more fields (the last value of a field wins, repeated fields add up), so an
// id or a wrapper costs a small copy, not an encoding.
import type { OutputTensorHeader } from './messages.js';

// Field tags: (field number << 3) | wire type; 2 is length-delimited, the only wire type used here.
const MODEL_NAME = 0x0a; // ModelInferResponse.model_name = 1
const MODEL_VERSION = 0x12; // .model_version = 2
const ID = 0x1a; // .id = 3
const OUTPUTS = 0x2a; // .outputs = 5
const RAW_OUTPUT = 0x32; // .raw_output_contents = 6
const TENSOR_NAME = 0x0a; // InferOutputTensor.name = 1
const TENSOR_DATATYPE = 0x12; // .datatype = 2
const TENSOR_SHAPE = 0x1a; // .shape = 3 (packed int64)
const STREAM_ERROR = 0x0a; // ModelStreamInferResponse.error_message = 1
const STREAM_RESPONSE = 0x12; // .infer_response = 2

/** Bytes of a base-128 varint: at most 10 for 64 bits; dims and lengths stay below 2^53. */
function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/** A length-delimited field's tag and length, ready to be followed by its bytes. */
function head(tag: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(length));
  out[0] = tag;
  writeVarint(out, 1, length);
  return out;
}

/** tag, length, UTF-8 text; empty strings are left out, as proto3 does. */
function text(tag: number, value: string): Buffer[] {
  if (value === '') return [];
  const bytes = Buffer.from(value, 'utf8');
  return [head(tag, bytes.length), bytes];
}

/** Bytes of a length-delimited field holding `length` bytes. */
const fieldSize = (length: number) => 1 + varintSize(length) + length;

/** UTF-8 bytes of a string: its length for ASCII (names and datatypes are), counted without a native call. */
function utf8Length(value: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) return Buffer.byteLength(value, 'utf8');
  }
  return value.length;
}

/** Bytes of a string field; proto3 leaves empty ones out. */
const textSize = (value: string) => (value === '' ? 0 : fieldSize(utf8Length(value)));

function writeText(out: Buffer, at: number, tag: number, value: string): number {
  if (value === '') return at;
  out[at] = tag;
  const length = utf8Length(value);
  at = writeVarint(out, at + 1, length);
  if (length !== value.length) return at + out.write(value, at, 'utf8');
  for (let i = 0; i < length; i++) out[at + i] = value.charCodeAt(i);
  return at + length;
}

/** The packed shape's payload size, and each InferOutputTensor's size without its own tag and length. */
function tensorSizes(output: OutputTensorHeader): { packed: number; body: number } {
  let packed = 0;
  for (const d of output.shape) packed += varintSize(d);
  const body = textSize(output.name) + textSize(output.datatype) + (packed === 0 ? 0 : fieldSize(packed));
  return { packed, body };
}

/**
 * A ModelInferResponse without an id: raw_output_contents[i] holds outputs[i]'s elements. Sized first and written
 * into one buffer: the only copy of the tensors is into it.
 */
export function encodeInferResponse(
  model: { name: string; version: string },
  outputs: readonly OutputTensorHeader[],
  raw: readonly Uint8Array[],
): Buffer {
  const sizes = outputs.map(tensorSizes);
  let size = textSize(model.name) + textSize(model.version);
  for (const { body } of sizes) size += fieldSize(body);
  for (const bytes of raw) size += fieldSize(bytes.length);
  const out = Buffer.allocUnsafe(size);
  let at = writeText(out, 0, MODEL_NAME, model.name);
  at = writeText(out, at, MODEL_VERSION, model.version);
  outputs.forEach((output, i) => {
    const { packed, body } = sizes[i] as { packed: number; body: number };
    out[at] = OUTPUTS;
    at = writeVarint(out, at + 1, body);
    at = writeText(out, at, TENSOR_NAME, output.name);
    at = writeText(out, at, TENSOR_DATATYPE, output.datatype);
    if (packed > 0) {
      out[at] = TENSOR_SHAPE;
      at = writeVarint(out, at + 1, packed);
      for (const d of output.shape) at = writeVarint(out, at, d);
    }
  });
  // Every output has its entry, even an empty one: tritonclient reads raw_output_contents by output index.
  for (const bytes of raw) {
    out[at] = RAW_OUTPUT;
    at = writeVarint(out, at + 1, bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** An encoded ModelInferResponse with the request's id; without one, the same bytes. */
export function withId(encoded: Buffer, id: string): Buffer {
  return id === '' ? encoded : Buffer.concat([encoded, ...text(ID, id)]);
}

/** A ModelStreamInferResponse carrying an encoded ModelInferResponse. */
export function streamResponse(encoded: Buffer): Buffer {
  return Buffer.concat([head(STREAM_RESPONSE, encoded.length), encoded]);
}

/** A ModelStreamInferResponse carrying an error for one request of the stream. */
export function streamError(message: string): Buffer {
  return Buffer.concat(text(STREAM_ERROR, message));
}
