// The only module (with its thread twin) that touches onnxruntime-node: sessions, metadata and runs.
import * as ort from 'onnxruntime-node';
import type { TensorSpec } from './runtime.js';
import { allocate, isNumericDType, type TensorMap } from './tensor.js';

export type Session = ort.InferenceSession;

export async function createSession(path: string, intraOpThreads: number): Promise<Session> {
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

function toSpecs(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return metadata.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

export function specsOf(session: Session): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return { inputs: toSpecs(session.inputMetadata), outputs: toSpecs(session.outputMetadata) };
}

/** Runs the session and returns plain tensors; `outputs` lists the tensor outputs to fetch (ZipMap maps can't be). */
export async function runSession(
  session: Session,
  feeds: TensorMap,
  outputs: readonly string[],
): Promise<TensorMap> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    ortFeeds[name] = new ort.Tensor(t.type as ort.Tensor.Type, t.data, t.dims);
  }
  const results = await session.run(ortFeeds, [...outputs]);
  const plain: TensorMap = {};
  for (const [name, t] of Object.entries(results)) {
    plain[name] = { type: t.type, data: t.data, dims: t.dims };
  }
  return plain;
}

/** Zero-filled feeds with every dynamic dim set to 1: for warm-up and load checks. */
export function zeroFeeds(inputs: readonly TensorSpec[]): TensorMap {
  const feeds: TensorMap = {};
  for (const input of inputs) {
    if (!isNumericDType(input.type))
      throw new Error(`input "${input.name}" has unsupported type ${input.type}`);
    const dims = input.shape.map((d) => (typeof d === 'number' ? d : 1));
    const size = dims.reduce((a, b) => a * b, 1);
    feeds[input.name] = { type: input.type, data: allocate(input.type, size), dims };
  }
  return feeds;
}

export function tensorOutputs(outputs: readonly TensorSpec[]): string[] {
  return outputs.filter((o) => o.type !== 'non-tensor').map((o) => o.name);
}
