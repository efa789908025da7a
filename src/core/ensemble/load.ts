// Loads an ensemble's version (platform "ensemble"): its steps planned and checked against the composing models as
// they serve now, its tensors as its configuration lists them, and what its cached answers are filed under.
import { createHash } from 'node:crypto';
import type { Observer } from '../observe.js';
import type { ImagePlan } from '../processing/declaration.js';
import type { ReadyModel } from '../models/repository.js';
import type { Descriptor } from '../models/descriptor.js';
import type { VersionFiles } from '../models/layout.js';
import type { LoadedVersion } from '../models/loader.js';
import { buildSignature } from '../models/signature.js';
import { tritonDescriptor } from '../models/triton/apply.js';
import { ConfigRefused, type TensorConfig, type TritonPlan } from '../models/triton/config.js';
import { datatypeOf, specOf, type Binding, type TensorBinding } from '../models/triton/graph.js';
import { planSteps } from './graph.js';
import { EnsembleRuntime, type StepModels } from './runtime.js';

function bind(tensor: TensorConfig, field: 'input' | 'output', batched: boolean): TensorBinding {
  const name = tensor.name ?? '';
  const datatype = datatypeOf(tensor.data_type);
  if (datatype === undefined)
    throw new ConfigRefused(`${field} "${name}" data_type: ${tensor.data_type ?? ''} is not served`);
  if (tensor.reshape)
    throw new ConfigRefused(
      `${field} "${name}" reshape: an ensemble passes tensors as its steps take and give them`,
    );
  const dims = tensor.dims ?? [];
  const own = dims.map((d) => (d === -1 ? '' : d));
  return {
    name,
    datatype,
    shape: batched ? ['batch', ...own] : own,
    dims,
    reshape: undefined,
    format: tensor.format,
    labelFile: tensor.label_filename,
  };
}

/**
 * The ensemble's inputs that feed a composing model's image input (declared in its model.json): they take image
 * files as that input does, turned into the tensor before the steps run.
 */
function imageInputs(runtime: EnsembleRuntime, models: readonly ReadyModel[]): Map<string, ImagePlan> {
  const images = new Map<string, ImagePlan>();
  runtime.graph.steps.forEach((step, i) => {
    const plans = models[i]?.signature.images;
    for (const [own, name] of Object.entries(step.inputs)) {
      const plan = plans?.get(own);
      if (plan && runtime.graph.inputs.includes(name)) images.set(name, { ...plan, input: name });
    }
  });
  return images;
}

/** An ensemble's version, ready to serve; throws naming the step or tensor at fault. */
export async function loadEnsemble(
  name: string,
  plan: TritonPlan,
  files: VersionFiles,
  models: StepModels,
  observer: Observer | undefined,
  descriptor: Descriptor = {},
): Promise<LoadedVersion & { generationNow: () => string }> {
  const { config, source } = plan;
  let runtime: EnsembleRuntime;
  let binding: Binding;
  let images: Map<string, ImagePlan>;
  try {
    const maxBatchSize = config.max_batch_size ?? 0;
    binding = {
      maxBatchSize,
      dynamicBatching: false,
      inputs: (config.input ?? []).map((t) => bind(t, 'input', maxBatchSize > 0)),
      outputs: (config.output ?? []).map((t) => bind(t, 'output', maxBatchSize > 0)),
    };
    const specs = { inputs: binding.inputs.map(specOf), outputs: binding.outputs.map(specOf) };
    const runs = observer?.runs(name, files.version);
    runtime = new EnsembleRuntime(planSteps(config), specs, models, observer, runs, maxBatchSize);
    images = imageInputs(runtime, runtime.check());
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  const desc = await tritonDescriptor(plan, descriptor, files);
  const base = JSON.stringify([desc, config]);
  // Answers depend on the composing versions that serve: a reload of one files the ensemble's under a new key.
  let memo = { of: '', generation: '' };
  const generationNow = () => {
    const of = runtime.graph.steps.map((s) => models.peek(s.model, s.version)?.generation ?? '-').join('\0');
    if (memo.of !== of) {
      const generation = createHash('sha256').update(base).update(of).digest('base64url').slice(0, 16);
      memo = { of, generation };
    }
    return memo.generation;
  };
  return {
    descriptor: desc,
    generation: generationNow(),
    generationNow,
    runtime,
    signature: {
      ...buildSignature(runtime.inputs, runtime.outputs, desc),
      batched: binding.maxBatchSize > 0,
      images: images.size > 0 ? images : undefined,
    },
    triton: { plan, binding, instances: 1, notApplied: [...plan.notApplied], graphFile: '' },
  };
}
