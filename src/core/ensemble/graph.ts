// An ensemble's steps as a graph of tensors (Triton's ensemble_scheduling): checked at load (every tensor made once,
// every input fed, every output made, no cycle), then run per request, each step as soon as its inputs exist.
import { ConfigRefused, type TritonConfig } from '../models/triton/config.js';
import type { TensorData, TensorMap } from '../tensor/tensor.js';

export interface EnsembleStep {
  index: number;
  model: string;
  /** undefined: the model's default version (model_version -1). */
  version: string | undefined;
  /** The composing model's input → the ensemble tensor fed to it. */
  inputs: Record<string, string>;
  /** The composing model's output → the ensemble tensor it makes. */
  outputs: Record<string, string>;
}

export interface StepGraph {
  steps: EnsembleStep[];
  inputs: string[];
  outputs: string[];
  /** How many times each ensemble tensor is read (by steps, and once more as an ensemble output). */
  readers: Map<string, number>;
}

/** Runs one step with its composing model's tensors; resolves with the composing model's outputs. */
export type RunStep = (step: EnsembleStep, feeds: TensorMap) => Promise<TensorMap>;

function refuse(field: string, reason: string): never {
  throw new ConfigRefused(`${field}: ${reason}`);
}

const quoted = (names: Iterable<string>) => [...names].map((n) => `"${n}"`).join(', ');

interface StepConfig {
  model_name?: string;
  model_version?: number | string;
  input_map?: Record<string, string>;
  output_map?: Record<string, string>;
}

type Producers = Map<string, EnsembleStep | 'input'>;

const stepAt = (step: EnsembleStep) => `ensemble_scheduling.step[${step.index}] ("${step.model}")`;

function stepsOf(config: TritonConfig): EnsembleStep[] {
  return ((config.ensemble_scheduling as { step?: StepConfig[] } | undefined)?.step ?? []).map((s, index) => {
    const version = Number(s.model_version ?? -1);
    return {
      index,
      model: s.model_name ?? '',
      version: version < 0 ? undefined : String(version),
      inputs: { ...s.input_map },
      outputs: { ...s.output_map },
    };
  });
}

/** Which step (or the ensemble's input) makes each tensor: one maker each, never an input remade. */
function producersOf(inputs: readonly string[], steps: readonly EnsembleStep[]): Producers {
  const producer: Producers = new Map(inputs.map((n) => [n, 'input']));
  for (const step of steps) {
    const at = stepAt(step);
    if (Object.keys(step.inputs).length === 0) refuse(`${at}.input_map`, 'maps no tensor');
    if (Object.keys(step.outputs).length === 0) refuse(`${at}.output_map`, 'maps no tensor');
    for (const tensor of Object.values(step.outputs)) {
      const other = producer.get(tensor);
      if (other === 'input') refuse(`${at}.output_map`, `"${tensor}" is an input of the ensemble`);
      if (other) refuse(`${at}.output_map`, `"${tensor}" is also made by step ${other.index}`);
      producer.set(tensor, step);
    }
  }
  return producer;
}

/** How many readers (steps, or the ensemble's answer) each tensor has; every read tensor is made, every input read. */
function readersOf(
  inputs: readonly string[],
  outputs: readonly string[],
  steps: readonly EnsembleStep[],
  producer: Producers,
): Map<string, number> {
  const readers = new Map<string, number>();
  const read = (tensor: string) => readers.set(tensor, (readers.get(tensor) ?? 0) + 1);
  for (const step of steps) {
    for (const tensor of Object.values(step.inputs)) {
      if (!producer.has(tensor))
        refuse(
          `${stepAt(step)}.input_map`,
          `"${tensor}" is neither an input of the ensemble nor made by a step`,
        );
      read(tensor);
    }
  }
  for (const name of outputs) {
    if (!producer.has(name) || producer.get(name) === 'input')
      refuse(`output "${name}"`, 'no step makes it (map it in a step’s output_map)');
    read(name);
  }
  const unused = inputs.filter((n) => !readers.has(n));
  if (unused.length > 0) refuse(`input ${quoted(unused)}`, 'no step reads it (map it in a step’s input_map)');
  return readers;
}

/** Kahn's order: the steps left once no more can run wait on each other. */
function refuseCycles(inputs: readonly string[], steps: readonly EnsembleStep[]): void {
  const made = new Set(inputs);
  const left = new Set(steps);
  let progress = true;
  while (progress) {
    progress = false;
    for (const step of left) {
      if (Object.values(step.inputs).every((t) => made.has(t))) {
        for (const t of Object.values(step.outputs)) made.add(t);
        left.delete(step);
        progress = true;
      }
    }
  }
  if (left.size > 0) {
    const waiting = [...left].map((s) => `${s.index} ("${s.model}")`).join(', ');
    refuse('ensemble_scheduling.step', `steps ${waiting} wait on each other's tensors (a cycle)`);
  }
}

/** The steps of an ensemble's configuration, checked; throws ConfigRefused naming the step and tensor at fault. */
export function planSteps(config: TritonConfig): StepGraph {
  const inputs = (config.input ?? []).map((t) => t.name ?? '');
  const outputs = (config.output ?? []).map((t) => t.name ?? '');
  if (inputs.length === 0) refuse('input', 'an ensemble must list its inputs');
  if (outputs.length === 0) refuse('output', 'an ensemble must list its outputs');
  const steps = stepsOf(config);
  const producer = producersOf(inputs, steps);
  const readers = readersOf(inputs, outputs, steps, producer);
  refuseCycles(inputs, steps);
  return { steps, inputs, outputs, readers };
}

/**
 * Runs the graph: each step starts once its inputs exist, so independent steps run at the same time. Tensors pass
 * between steps as they are. The first failure fails the run, and steps not yet started then never start.
 */
export async function runSteps(graph: StepGraph, feeds: TensorMap, run: RunStep): Promise<TensorMap> {
  const tensors = new Map<string, Promise<TensorData>>();
  for (const name of graph.inputs) {
    const tensor = feeds[name];
    if (tensor !== undefined) tensors.set(name, Promise.resolve(tensor));
  }
  let failed = false;
  const settle = new Map<string, { resolve: (t: TensorData) => void; reject: (e: unknown) => void }>();
  for (const step of graph.steps) {
    for (const name of Object.values(step.outputs)) {
      const made = new Promise<TensorData>((resolve, reject) => settle.set(name, { resolve, reject }));
      made.catch(() => undefined); // a tensor no one reads must not be an unhandled rejection
      tensors.set(name, made);
    }
  }
  const started = graph.steps.map(async (step) => {
    const outputs = Object.entries(step.outputs);
    try {
      const entries = await Promise.all(
        Object.entries(step.inputs).map(async ([own, name]) => [own, await tensorOf(tensors, name)] as const),
      );
      if (failed) throw new Error('an earlier step failed');
      const answer = await run(step, Object.fromEntries(entries));
      for (const [own, name] of outputs) {
        const tensor = answer[own];
        if (tensor === undefined)
          throw new Error(`step ${step.index} ("${step.model}") did not give "${own}"`);
        settle.get(name)?.resolve(tensor);
      }
    } catch (err) {
      failed = true;
      for (const [, name] of outputs) settle.get(name)?.reject(err);
      throw err;
    }
  });
  await Promise.all(started);
  const answer: TensorMap = {};
  for (const name of graph.outputs) answer[name] = await tensorOf(tensors, name);
  return answer;
}

function tensorOf(tensors: Map<string, Promise<TensorData>>, name: string): Promise<TensorData> {
  return tensors.get(name) ?? Promise.reject(new Error(`the ensemble's tensor "${name}" is missing`));
}
