// ModelInferRequest ↔ the core: typed InferTensorContents or raw_input_contents in, as the core's wire tensors
// (checked by its one set of tensor checks); requested outputs and their classification parameter; outputs back as
// raw_output_contents, the only form tritonclient.grpc reads.
import { errors, excerpt } from '../core/errors.js';
import type { RequestedOutput } from '../core/inference.js';
import type { ReadyModel } from '../core/models/repository.js';
import type { WireTensor } from '../core/tensor/decode.js';
import { isDataType, type DataType } from '../core/tensor/dtypes.js';
import { tensorBytes } from '../core/tensor/raw.js';
import type { TensorMap } from '../core/tensor/tensor.js';
import type { InferInputTensor, InferParameter, InferTensorContents, ModelInferRequest } from './messages.js';
import { encodeInferResponse } from './wire.js';

/** What a ModelInferRequest asks for, decoded. */
export interface GrpcCall {
  inputs: WireTensor[];
  /** undefined: every output the model can send. */
  outputs: RequestedOutput[] | undefined;
  /** Canonical description of the requested outputs, for the cache key. */
  variant: string;
  priority: number | undefined;
  timeoutUs: number | undefined;
}

type ContentsField = keyof InferTensorContents;

/** Where each datatype's elements go in InferTensorContents; FP16 has no field (raw contents only). */
const FIELD: Record<DataType, ContentsField | undefined> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const FIELDS = Object.keys({
  bool_contents: 0,
  int_contents: 0,
  int64_contents: 0,
  uint_contents: 0,
  uint64_contents: 0,
  fp32_contents: 0,
  fp64_contents: 0,
  bytes_contents: 0,
} satisfies Record<ContentsField, 0>) as ContentsField[];

const inputAt = (input: InferInputTensor, i: number) => `inputs[${i}] ("${excerpt(input.name, 64)}")`;

/** The contents fields that hold elements. */
function filled(contents: InferTensorContents | null): ContentsField[] {
  return contents === null ? [] : FIELDS.filter((f) => contents[f].length > 0);
}

/** 64-bit integers arrive as decimal strings (proto-loader's longs: String): BigInts keep every digit. */
const bigints = (values: readonly string[]): bigint[] => values.map((v) => BigInt(v));

/** The typed elements of one input, from the field of its declared datatype (the core checks that datatype). */
function typedValues(input: InferInputTensor, where: string): unknown[] {
  const given = filled(input.contents);
  const field = isDataType(input.datatype) ? FIELD[input.datatype] : undefined;
  const stray = given.find((f) => f !== field);
  if (stray !== undefined && field !== undefined) {
    throw new errors.INVALID_REQUEST(
      `${where} is ${input.datatype}, whose elements go in contents.${field}, but contents.${stray} holds some`,
    );
  }
  const contents = input.contents;
  if (contents === null || field === undefined) return [];
  if (field === 'int64_contents' || field === 'uint64_contents') return bigints(contents[field]);
  return contents[field];
}

function shapeOf(input: InferInputTensor): number[] {
  // A dim past 2^53 loses digits here and is refused by the core's checks as any bad dim is.
  return input.shape.map(Number);
}

/** The inputs as wire tensors: raw_input_contents (one entry per input, in order) or every input's typed contents. */
function wireInputs(request: ModelInferRequest): WireTensor[] {
  const raw = request.raw_input_contents;
  if (raw.length > 0) {
    if (raw.length !== request.inputs.length) {
      throw new errors.INVALID_REQUEST(
        `raw_input_contents has ${raw.length} entries for ${request.inputs.length} inputs: give one per input, in input order`,
      );
    }
    return request.inputs.map((input, i) => {
      if (filled(input.contents).length > 0) {
        throw new errors.INVALID_REQUEST(
          `${inputAt(input, i)} has contents, but the request has raw_input_contents: use one or the other`,
        );
      }
      const bytes = raw[i] as Buffer;
      return { name: input.name, datatype: input.datatype, shape: shapeOf(input), data: { bytes } };
    });
  }
  return request.inputs.map((input, i) => ({
    name: input.name,
    datatype: input.datatype,
    shape: shapeOf(input),
    data: { values: typedValues(input, inputAt(input, i)) },
  }));
}

/**
 * A parameter that is a count (a request's priority and timeout, an output's classification), as int64_param or
 * uint64_param; `name` says where it is in messages ("parameters.timeout").
 */
function count(parameter: InferParameter | undefined, name: string): number | undefined {
  if (parameter === undefined) return undefined;
  const kind = parameter.parameter_choice;
  const value = kind === 'int64_param' || kind === 'uint64_param' ? Number(parameter[kind]) : undefined;
  if (value === undefined || !Number.isSafeInteger(value) || value < 0) {
    const got = kind === undefined ? 'nothing' : `${kind} ${excerpt(parameter[kind])}`;
    throw new errors.INVALID_REQUEST(`${name} must be a non-negative int64_param, got ${got}`);
  }
  return value;
}

export function decodeRequest(request: ModelInferRequest): GrpcCall {
  const inputs = wireInputs(request);
  // Triton's schedule policy: priority (1 the highest) and timeout (microseconds).
  const priority = count(request.parameters.priority, 'parameters.priority');
  const timeoutUs = count(request.parameters.timeout, 'parameters.timeout');
  if (request.outputs.length === 0) return { inputs, outputs: undefined, variant: '*', priority, timeoutUs };
  const outputs = request.outputs.map((output, i): RequestedOutput => {
    const where = `outputs[${i}] ("${excerpt(output.name, 64)}")`;
    // binary_data and the like shape REST answers only: gRPC answers are always raw contents.
    const k = count(output.parameters.classification, `${where} parameters.classification`);
    return k === undefined ? { name: output.name } : { name: output.name, classification: k };
  });
  const variant = outputs.map((o) => `${o.name}:${o.classification ?? ''}`).join('\0');
  return { inputs, outputs, variant, priority, timeoutUs };
}

/** The answer as the cache keeps it: a ModelInferResponse without the request's id. */
export function encodeAnswer(model: ReadyModel, outputs: TensorMap): Buffer {
  const headers = [];
  const raw = [];
  for (const [name, tensor] of Object.entries(outputs)) {
    headers.push({ name, datatype: tensor.datatype, shape: tensor.dims });
    raw.push(tensorBytes(tensor));
  }
  return encodeInferResponse(model, headers, raw);
}
