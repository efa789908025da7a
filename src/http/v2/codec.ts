// Open Inference Protocol bodies ↔ tensors: JSON inputs and Triton's binary tensor extension in; JSON and binary
// outputs out, in the layout tritonclient reads (a JSON header, then raw tensors, Inference-Header-Content-Length).
import { errors, excerpt, withExtras } from '../../core/errors.js';
import { fromBase64 } from '../../lib/base64.js';
import type { RequestedOutput } from '../../core/inference.js';
import type { ReadyModel } from '../../core/models/repository.js';
import type { WireTensor } from '../../core/tensor/decode.js';
import { tensorBytes } from '../../core/tensor/raw.js';
import type { TensorData, TensorMap } from '../../core/tensor/tensor.js';
import type { InferRequest } from './schemas.js';

/** What a V2 request asks for, decoded: the inputs, the outputs (all when undefined) and which go back as binary. */
export interface V2Call {
  inputs: WireTensor[];
  outputs: RequestedOutput[] | undefined;
  /** Output name → returned as binary data. */
  binary: (name: string) => boolean;
  /** Whether any output may go back as binary data (the answer's format). */
  anyBinary: boolean;
  /** Canonical description of the requested outputs, for the cache key. */
  variant: string;
  /** Triton's schedule policy parameters: priority (1 the highest) and timeout (microseconds). */
  priority: number | undefined;
  timeoutUs: number | undefined;
}

/** Names a tensor of the request in messages, only when one is written. */
type Where = () => string;

const inputAt =
  (name: string, i: number): Where =>
  () =>
    `inputs[${i}] ("${excerpt(name, 64)}")`;
const outputAt =
  (name: string, i: number): Where =>
  () =>
    `outputs[${i}] ("${excerpt(name, 64)}")`;

function parameter(
  parameters: Record<string, unknown> | undefined,
  key: string,
  kind: 'boolean' | 'count',
  where: Where,
): boolean | number | undefined {
  const value = parameters?.[key];
  if (value === undefined) return undefined;
  if (
    kind === 'boolean' ? typeof value === 'boolean' : Number.isSafeInteger(value) && (value as number) >= 0
  ) {
    return value as boolean | number;
  }
  const rule = kind === 'boolean' ? 'true or false' : 'a non-negative integer';
  throw new errors.INVALID_REQUEST(`${where()} parameters.${key} must be ${rule}, got ${excerpt(value)}`);
}

/**
 * A BYTES input marked `parameters.content_type: "base64"` (MLServer's content type) holds base64 text: its elements
 * are the decoded bytes (files, for an input declared as an image). Without the marker, strings stay strings.
 */
function base64Values(input: InferRequest['inputs'][number], where: Where): unknown {
  const type = input.parameters?.content_type;
  if (type === undefined) return input.data;
  if (type !== 'base64') {
    throw new errors.INVALID_REQUEST(
      `${where()} parameters.content_type must be "base64", got ${excerpt(type)}`,
    );
  }
  if (input.datatype !== 'BYTES') {
    throw new errors.INVALID_REQUEST(`${where()} has content_type "base64", which only BYTES inputs take`);
  }
  const data = input.data;
  if (!Array.isArray(data)) return data;
  return data.flat(input.shape.length).map((value, i) => {
    const bytes = typeof value === 'string' ? fromBase64(value) : undefined;
    if (bytes === undefined) {
      throw withExtras(new errors.INVALID_INPUT(`${where()} element ${i} is not base64 text`), {
        details: { input: excerpt(input.name, 64), index: i },
      });
    }
    return bytes;
  });
}

/**
 * The request's inputs and outputs. Inputs with `binary_data_size` take their bytes, in input order, from the binary
 * part after the JSON header; the sizes must add up to exactly that part.
 */
export function decodeCall(request: InferRequest, binary: Buffer | undefined): V2Call {
  let offset = 0;
  const inputs = request.inputs.map((input, i): WireTensor => {
    const where = inputAt(input.name, i);
    const size = parameter(input.parameters, 'binary_data_size', 'count', where) as number | undefined;
    if (size === undefined) {
      if (input.data === undefined)
        throw new errors.INVALID_REQUEST(`${where()} has neither data nor binary_data_size`);
      const values = base64Values(input, where);
      return { name: input.name, datatype: input.datatype, shape: input.shape, data: { values } };
    }
    if (input.data !== undefined)
      throw new errors.INVALID_REQUEST(`${where()} has both data and binary_data_size`);
    if (binary === undefined) {
      throw new errors.INVALID_REQUEST(
        `${where()} has binary_data_size, but the request has no Inference-Header-Content-Length header`,
      );
    }
    if (offset + size > binary.length) {
      throw new errors.INVALID_REQUEST(
        `${where()} has binary_data_size ${size}, but only ${binary.length - offset} bytes of binary data are left`,
      );
    }
    const bytes = binary.subarray(offset, offset + size);
    offset += size;
    return { name: input.name, datatype: input.datatype, shape: input.shape, data: { bytes } };
  });
  if (binary !== undefined && offset !== binary.length) {
    throw new errors.INVALID_REQUEST(
      `the binary data has ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}`,
    );
  }
  const all = parameter(request.parameters, 'binary_data_output', 'boolean', () => 'the request') === true;
  const flags = new Map<string, boolean>();
  const outputs = request.outputs?.map((output, i): RequestedOutput => {
    const where = outputAt(output.name, i);
    const flag = parameter(output.parameters, 'binary_data', 'boolean', where) as boolean | undefined;
    flags.set(output.name, flag ?? all);
    const k = parameter(output.parameters, 'classification', 'count', where) as number | undefined;
    return k === undefined ? { name: output.name } : { name: output.name, classification: k };
  });
  const binaryOf = (name: string) => flags.get(name) ?? all;
  const variant = outputs
    ? outputs.map((o) => `${o.name}:${binaryOf(o.name) ? 'b' : 'j'}:${o.classification ?? ''}`).join('\0')
    : `*:${all ? 'b' : 'j'}`;
  const anyBinary = outputs ? outputs.some((o) => binaryOf(o.name)) : all;
  const priority = parameter(request.parameters, 'priority', 'count', () => 'the request') as
    number | undefined;
  const timeoutUs = parameter(request.parameters, 'timeout', 'count', () => 'the request') as
    number | undefined;
  return { inputs, outputs, binary: binaryOf, anyBinary, variant, priority, timeoutUs };
}

/** FP16 travels only as binary data (Triton's rule): asking for it as JSON is refused before anything runs. */
export function checkJsonOutputs(model: ReadyModel, call: V2Call): void {
  const names =
    call.outputs?.filter((o) => o.classification === undefined).map((o) => o.name) ??
    model.signature.tensorOutputs;
  for (const name of names) {
    const spec = model.runtime.outputs.find((o) => o.name === name);
    if (spec?.datatype === 'FP16' && !call.binary(name)) {
      throw new errors.INVALID_INPUT(
        `output "${name}" is FP16, which travels only as binary data: request it with parameters.binary_data: true`,
      );
    }
  }
}

/** JSON text of flat row-major values: BigInts exactly, non-finite numbers as null (as JSON.stringify writes them). */
function jsonData(tensor: TensorData): string {
  const { data, datatype } = tensor;
  if (datatype === 'BYTES') return JSON.stringify(data);
  const parts = new Array<string>(data.length);
  if (datatype === 'BOOL') {
    for (let i = 0; i < data.length; i++) parts[i] = data[i] ? 'true' : 'false';
  } else {
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number | bigint;
      parts[i] = typeof v === 'bigint' || Number.isFinite(v) ? String(v) : 'null';
    }
  }
  return `[${parts.join(',')}]`;
}

/**
 * The answer as the cache keeps it, without the request's id: the JSON document (model, version, outputs); when
 * outputs go back as binary, its 4-byte length first and the tensors after it. `envelope` adds the id per request.
 */
export function encodeAnswer(
  model: ReadyModel,
  outputs: TensorMap,
  binary: (name: string) => boolean,
  anyBinary: boolean,
): Buffer {
  const parts: string[] = [];
  const blobs: Uint8Array[] = [];
  for (const [name, tensor] of Object.entries(outputs)) {
    const head = `{"name":${JSON.stringify(name)},"datatype":"${tensor.datatype}","shape":[${tensor.dims.join(',')}]`;
    if (binary(name)) {
      const bytes = tensorBytes(tensor);
      blobs.push(bytes);
      parts.push(`${head},"parameters":{"binary_data_size":${bytes.length}}}`);
    } else {
      parts.push(`${head},"data":${jsonData(tensor)}}`);
    }
  }
  const json = Buffer.from(
    `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(model.version)},"outputs":[${parts.join(',')}]}`,
  );
  if (!anyBinary) return json;
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32LE(json.length, 0);
  return Buffer.concat([length, json, ...blobs]);
}

/**
 * The response body, with the request's id when it has one, and its JSON header's length (zero when the whole body
 * is JSON). Without an id the cached answer is sent as it is: no copy.
 */
export function envelope(
  encoded: Buffer,
  anyBinary: boolean,
  id: string | undefined,
): { body: Buffer; header: number } {
  const length = anyBinary ? encoded.readUInt32LE(0) : encoded.length;
  const json = anyBinary ? encoded.subarray(4, 4 + length) : encoded;
  const tensors = anyBinary ? encoded.subarray(4 + length) : undefined;
  if (id === undefined)
    return { body: anyBinary ? encoded.subarray(4) : encoded, header: anyBinary ? length : 0 };
  // {"model_name":… becomes {"id":"…","model_name":…
  const head = Buffer.from(`{"id":${JSON.stringify(id)},`);
  const parts = [head, json.subarray(1), ...(tensors ? [tensors] : [])];
  return { body: Buffer.concat(parts), header: anyBinary ? length + head.length - 1 : 0 };
}
