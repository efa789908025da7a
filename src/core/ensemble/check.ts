// An ensemble's steps checked against its composing models as loaded: every tensor a step maps is one of its model's,
// every input of the model is fed, and the ensemble's tensors agree in type and shape with what the steps take and give.
import { ConfigRefused } from '../models/triton/config.js';
import type { ReadyModel } from '../models/repository.js';
import type { DataType } from '../tensor/dtypes.js';
import { formatShape } from '../tensor/decode.js';
import type { TensorSpec } from '../tensor/tensor.js';
import type { EnsembleStep, StepGraph } from './graph.js';

const quoted = (specs: readonly TensorSpec[]) => specs.map((s) => `"${s.name}"`).join(', ');

/** Shapes agree when they have as many dims and no two fixed dims differ (a dim of any size takes any). */
function shapesAgree(a: TensorSpec['shape'], b: TensorSpec['shape']): boolean {
  return (
    a.length === b.length &&
    a.every((d, i) => typeof d !== 'number' || d < 0 || typeof b[i] !== 'number' || b[i] < 0 || d === b[i])
  );
}

type Made = Map<string, { datatype: DataType | undefined; at: string }>;

const stepAt = (step: EnsembleStep) => `ensemble_scheduling.step[${step.index}] ("${step.model}")`;

/** What the checks of every step share: the graph, the ensemble's own tensors, and the types made so far. */
interface Known {
  graph: StepGraph;
  ensemble: ReadonlyMap<string, TensorSpec>;
  made: Made;
}

/** The model's tensor a step maps by its own name, or a refusal naming the map and the tensors the model has. */
function mappedSpec(model: ReadyModel, own: string, at: string, kind: 'input' | 'output'): TensorSpec {
  const specs = kind === 'input' ? model.runtime.inputs : model.runtime.outputs;
  const spec = specs.find((s) => s.name === own);
  if (!spec)
    throw new ConfigRefused(
      `${at}.${kind}_map: "${own}" is not an ${kind} of model "${model.name}" (its ${kind}s are ${quoted(specs)})`,
    );
  return spec;
}

/** Records the type each step gives its tensors; an ensemble output a step makes must agree with it. */
function checkOutputs(step: EnsembleStep, model: ReadyModel, { graph, ensemble, made }: Known): void {
  const at = stepAt(step);
  for (const [own, name] of Object.entries(step.outputs)) {
    const spec = mappedSpec(model, own, at, 'output');
    made.set(name, { datatype: spec.datatype, at: `step ${step.index}'s "${own}"` });
    const out = ensemble.get(name);
    if (!out || !graph.outputs.includes(name)) continue;
    if (out.datatype !== spec.datatype)
      throw new ConfigRefused(
        `output "${name}": ${out.datatype ?? out.type} but ${at} gives ${spec.datatype ?? spec.type} ("${own}")`,
      );
    if (!shapesAgree(out.shape, spec.shape))
      throw new ConfigRefused(
        `output "${name}": its shape is ${formatShape(out.shape)} but ${at} gives ${formatShape(spec.shape)} ("${own}")`,
      );
  }
}

/** Every input of the step's model fed, with the type it takes (and the shape, from an ensemble input). */
function checkInputs(step: EnsembleStep, model: ReadyModel, { graph, ensemble, made }: Known): void {
  const at = stepAt(step);
  const unfed = model.runtime.inputs.filter((s) => !(s.name in step.inputs));
  if (unfed.length > 0)
    throw new ConfigRefused(`${at}.input_map: model "${model.name}"'s input ${quoted(unfed)} is not fed`);
  for (const [own, name] of Object.entries(step.inputs)) {
    const spec = mappedSpec(model, own, at, 'input');
    const from = made.get(name);
    if (from && from.datatype !== spec.datatype)
      throw new ConfigRefused(
        `${at}.input_map: "${name}" is ${from.datatype ?? 'unknown'} (${from.at}) but "${own}" takes ${spec.datatype ?? spec.type}`,
      );
    const input = graph.inputs.includes(name) ? ensemble.get(name) : undefined;
    if (input && !shapesAgree(input.shape, spec.shape))
      throw new ConfigRefused(
        `${at}.input_map: input "${name}" has the shape ${formatShape(input.shape)} but "${own}" takes ${formatShape(spec.shape)}`,
      );
  }
}

/**
 * `models[i]` is the ready version of step i's model. `ensemble` holds the ensemble's own inputs and outputs; the
 * types of tensors between steps are the types their steps give. Throws ConfigRefused naming the step and tensor.
 */
export function checkStep(
  graph: StepGraph,
  models: readonly ReadyModel[],
  ensemble: ReadonlyMap<string, TensorSpec>,
  maxBatchSize: number,
): void {
  const made: Made = new Map();
  for (const name of graph.inputs)
    made.set(name, { datatype: ensemble.get(name)?.datatype, at: `input "${name}"` });
  const known: Known = { graph, ensemble, made };
  graph.steps.forEach((step, i) => checkOutputs(step, models[i] as ReadyModel, known));
  graph.steps.forEach((step, i) => {
    const model = models[i] as ReadyModel;
    // As in Triton: a step never gets more rows than its model's configuration takes.
    const most = model.triton?.binding.maxBatchSize ?? 0;
    if (most > 0 && maxBatchSize > most)
      throw new ConfigRefused(
        `max_batch_size: ${maxBatchSize}, more than ${stepAt(step)}'s model "${model.name}" takes (${most})`,
      );
    checkInputs(step, model, known);
  });
}
