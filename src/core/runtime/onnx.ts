// The only module (with its thread twin) that touches onnxruntime-node: sessions, metadata and runs.
import * as ort from 'onnxruntime-node';
import { allocate, DATATYPES, dataTypeOf } from '../tensor/dtypes.js';
import { isServable, type TensorArray, type TensorMap, type TensorSpec } from '../tensor/tensor.js';

export type Session = ort.InferenceSession;

const RUN_OPTIONS: ort.InferenceSession.RunOptions = { logSeverityLevel: 4 };

/**
 * onnxruntime-common makes every float16 tensor a Float16Array where the runtime has one (Node 24), and
 * onnxruntime-node 1.30's binding reads a Float16Array as 0 bytes ("not enough space: expected 8, got 0";
 * microsoft/onnxruntime#32323). It picks its array types once, at the first tensor made: that one is made here
 * with Float16Array hidden, so float16 stays Uint16Array, which the binding reads (and Serval keeps FP16 as).
 */
function keepFloat16AsBits(): void {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'Float16Array');
  if (descriptor === undefined) return;
  Reflect.deleteProperty(globalThis, 'Float16Array');
  try {
    new ort.Tensor('float32', new Float32Array(1), [1]);
  } finally {
    Object.defineProperty(globalThis, 'Float16Array', descriptor);
  }
}
keepFloat16AsBits();

/** A session from a file, or from its bytes when they are already read (no second read of a large graph). */
export async function createSession(source: string | Uint8Array, intraOpThreads: number): Promise<Session> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // A session of several intra-op threads (a lone run's) spins them while it runs, and by default for a while
    // after: the cores would stay busy between requests, when the event loop and the client need them. Measured on
    // MobileNetV2 at one client: 14% more images/s with the spinning stopped at each run's end, no change under load.
    extra: { session: { force_spinning_stop: '1' } },
  };
  return typeof source === 'string'
    ? ort.InferenceSession.create(source, options)
    : ort.InferenceSession.create(source, options);
}

function toSpecs(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return metadata.map((m) =>
    m.isTensor
      ? { name: m.name, datatype: dataTypeOf(m.type), type: m.type, shape: [...m.shape] }
      : { name: m.name, datatype: undefined, type: 'non-tensor (map or sequence)', shape: [] },
  );
}

export function specsOf(session: Session): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return { inputs: toSpecs(session.inputMetadata), outputs: toSpecs(session.outputMetadata) };
}

/** onnxruntime hands FP16 back as a Float16Array where the runtime has one: Serval keeps FP16 as its bits. */
function plainData(type: string, data: ort.Tensor['data']): TensorArray {
  if (type === 'float16' && !(data instanceof Uint16Array)) {
    const view = data as unknown as ArrayBufferView;
    return new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
  }
  return data;
}

/** Runs the session and returns plain tensors; `outputs` lists the outputs to fetch (ZipMap maps can't be). */
export async function runSession(
  session: Session,
  feeds: TensorMap,
  outputs: readonly string[],
): Promise<TensorMap> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    ortFeeds[name] = new ort.Tensor(DATATYPES[t.datatype].onnx, t.data, t.dims);
  }
  // A failed run is the caller's error to report (with the request id), not onnxruntime's to print on stderr.
  const results = await session.run(ortFeeds, [...outputs], RUN_OPTIONS);
  const plain: TensorMap = {};
  for (const [name, t] of Object.entries(results)) {
    const datatype = dataTypeOf(t.type);
    if (datatype === undefined)
      throw new Error(`output "${name}" has type ${t.type}, which Serval cannot send`);
    plain[name] = { datatype, data: plainData(t.type, t.data), dims: t.dims };
  }
  return plain;
}

/** Zero-filled feeds (empty strings for text) with every dynamic dim set to 1: for warm-up and load checks. */
export function zeroFeeds(inputs: readonly TensorSpec[]): TensorMap {
  const feeds: TensorMap = {};
  for (const input of inputs) {
    if (!isServable(input))
      throw new Error(`input "${input.name}" has type ${input.type}, which Serval cannot feed`);
    const dims = input.shape.map((d) => (typeof d === 'number' ? d : 1));
    const size = dims.reduce((a, b) => a * b, 1);
    const data =
      input.datatype === 'BYTES' ? new Array<string>(size).fill('') : allocate(input.datatype, size);
    feeds[input.name] = { datatype: input.datatype, data, dims };
  }
  return feeds;
}

/** The outputs Serval can fetch and send: tensors of a datatype it serves. */
export function tensorOutputs(outputs: readonly TensorSpec[]): string[] {
  return outputs.filter(isServable).map((o) => o.name);
}
