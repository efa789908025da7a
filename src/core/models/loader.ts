// Loads one version folder into something that can serve: its descriptor, the digest of its files, the runtime
// and the checked signature. Every failure names the file at fault in words an operator can act on.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadOnnxModel, type LoadOptions } from '../runtime/load.js';
import type { RunObserver } from '../observe.js';
import type { ModelRuntime } from '../runtime/runtime.js';
import { readDescriptor, type Descriptor } from './descriptor.js';
import type { VersionFiles } from './layout.js';
import { graphLabels } from './onnx-labels.js';
import { buildSignature, type Signature } from './signature.js';
import type { TritonPlan } from './triton/config.js';
import { applyTriton, tritonDescriptor, tritonOptions, type AppliedConfig } from './triton/apply.js';

export interface LoadedVersion {
  descriptor: Descriptor;
  /** A digest of the graph, the descriptor and the configuration: what cached answers of this version are filed under. */
  generation: string;
  runtime: ModelRuntime;
  signature: Signature;
  /** What Serval applies of the model's Triton configuration, when it has one. */
  triton?: AppliedConfig;
}

/** onnxruntime's messages carry its source path and a C++ signature before the reason: only the reason is kept. */
export function ortReason(message: string): string {
  const reason = message
    .replace(/^Load model from .*? failed:/s, '')
    .replace(/^.*\/onnxruntime_src\/\S+:\d+ .*?\)\s+(?=[A-Z])/s, '')
    .replace(/\s+/g, ' ')
    .trim();
  return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
}

/** The graph's bytes: a file that cannot be read or is empty fails the load, named. */
async function readGraph(path: string, graph: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(
      `${graph} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (bytes.length === 0) throw new Error(`${graph} is empty`);
  return bytes;
}

/** What names this load: the graph's bytes with the descriptor and Triton configuration applied to them. */
function generationOf(bytes: Buffer, desc: Descriptor, triton: TritonPlan | undefined): string {
  return createHash('sha256')
    .update(`${bytes.length}\0`)
    .update(bytes)
    .update(`\0${JSON.stringify(desc)}\0${JSON.stringify(triton?.config ?? null)}`)
    .digest('base64url')
    .slice(0, 16);
}

/** The descriptor with the graph's own class labels, which must match any model.json lists. */
function withGraphLabels(bytes: Buffer, desc: Descriptor, json: string, graph: string): Descriptor {
  const own = graphLabels(bytes);
  if (own && desc.labels && own.join('\0') !== desc.labels.join('\0')) {
    throw new Error(
      `${json} lists labels ${JSON.stringify(desc.labels).slice(0, 120)} but ${graph}'s classifier has ` +
        `${JSON.stringify(own).slice(0, 120)}: they must be the same, in the same order`,
    );
  }
  return own && !desc.labels ? { ...desc, labels: own } : desc;
}

/**
 * Loads a version. `descriptor` replaces its model.json (the repository API's parameters.config); `triton` is the
 * model's Triton configuration, applied to the graph it names. The graph is read once: hashed, searched for its own
 * class labels, and handed to onnxruntime.
 */
export async function loadVersion(
  found: VersionFiles,
  options: LoadOptions,
  descriptor?: Descriptor,
  observe?: RunObserver,
  triton?: TritonPlan,
): Promise<LoadedVersion> {
  const files = triton?.graphFile ? { ...found, onnx: join(found.dir, triton.graphFile) } : found;
  const graph = basename(files.onnx);
  const json = basename(files.json);
  let desc = descriptor ?? (await readDescriptor(files.json, json));
  if (triton) desc = await tritonDescriptor(triton, desc, found);
  const bytes = await readGraph(files.onnx, graph);
  const generation = generationOf(bytes, desc, triton);
  const withLabels = withGraphLabels(bytes, desc, json, graph);
  const mode = withLabels.execution ?? options.mode;
  let runtime: ModelRuntime;
  try {
    runtime = await loadOnnxModel(
      files.onnx,
      `${files.onnx}#${generation}`,
      triton ? tritonOptions(triton, { ...options, mode }) : { ...options, mode },
      bytes,
      observe,
    );
  } catch (err) {
    throw new Error(`${graph} cannot be loaded: ${ortReason((err as Error).message)}`);
  }
  try {
    if (triton) {
      const applied = applyTriton(triton, runtime, withLabels, options, graph);
      return { descriptor: withLabels, generation, ...applied };
    }
    return {
      descriptor: withLabels,
      generation,
      runtime,
      signature: buildSignature(runtime.inputs, runtime.outputs, withLabels),
    };
  } catch (err) {
    await runtime.unload();
    throw err;
  }
}
