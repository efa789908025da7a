// Request bodies the bench sends: V2 binary tensors and gRPC ModelInfer messages, as tritonclient writes them.
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadDefinitions, SERVICE_NAME } from '../src/grpc/definitions.js';

/** A V2 inference request with binary tensors: the JSON header, then the raw bytes, as tritonclient sends it. */
export function binaryBody(
  name: string,
  shape: number[],
  data: Float32Array | Buffer,
  parameters: Record<string, unknown> = {},
) {
  const datatype = data instanceof Float32Array ? 'FP32' : 'BYTES';
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name, shape, datatype, parameters: { binary_data_size: data.byteLength } }],
      parameters,
    }),
  );
  return {
    body: Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]),
    headers: { 'inference-header-content-length': String(header.length) },
  };
}

/** ModelInferRequest bytes as tritonclient.grpc sends them: raw contents, no requested outputs. */
export const MODEL_INFER = `/${SERVICE_NAME}/ModelInfer`;
const inferMethod = (
  loadDefinitions().packageDefinition[SERVICE_NAME] as Record<string, MethodDefinition<unknown, unknown>>
).ModelInfer;
export function grpcRequest(model: string, input: string, shape: number[], data: Float32Array): Buffer {
  if (!inferMethod) throw new Error('no ModelInfer in the service definition');
  return inferMethod.requestSerialize({
    model_name: model,
    inputs: [{ name: input, datatype: 'FP32', shape }],
    raw_input_contents: [Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
  });
}
/** A ModelInferRequest of one BYTES element (an encoded file) as raw contents. */
export function grpcBytesRequest(model: string, input: string, element: Buffer): Buffer {
  if (!inferMethod) throw new Error('no ModelInfer in the service definition');
  return inferMethod.requestSerialize({
    model_name: model,
    inputs: [{ name: input, datatype: 'BYTES', shape: [1] }],
    raw_input_contents: [element],
  });
}
