// An ensemble as a model runtime: predict runs its step graph, each step through the ready version of its composing
// model (that model's batching and thread or inline run), the version kept loaded while the step uses it, and each
// step told to the observers as a request of the composing model, so that its statistics and metrics count it.
import { performance } from 'node:perf_hooks';
import { errors, ServalError, withExtras } from '../errors.js';
import type { ReadyModel } from '../models/repository.js';
import { failureReason, type Observer, type RequestEvent, type RunObserver } from '../observe.js';
import { runFailure } from '../outputs.js';
import type { CallOptions, ModelRuntime } from '../runtime/runtime.js';
import { batchSize, type TensorData, type TensorMap, type TensorSpec } from '../tensor/tensor.js';
import { runSteps, type EnsembleStep, type StepGraph } from './graph.js';
import { checkStep } from './check.js';

/** What an ensemble needs of the repository: its composing models' lookups. */
export interface StepModels {
  ready(name: string, version?: string): ReadyModel;
  peek(name: string, version?: string): ReadyModel | undefined;
  use(model: ReadyModel): () => void;
}

export const stepName = (step: EnsembleStep) =>
  `step ${step.index} ("${step.model}"${step.version === undefined ? '' : ` version ${step.version}`})`;

/** A step's failure, named: the composing model's code and kind (4xx for the client's input, 5xx for ours) kept. */
function named(step: EnsembleStep, err: unknown): Error {
  const cause = runFailure(err);
  if (!(cause instanceof ServalError)) return cause;
  const error = new ServalError(cause.code, cause.kind, `ensemble ${stepName(step)}: ${cause.message}`);
  error.cause = cause.cause ?? cause;
  return withExtras(error, {
    details: { ...cause.details, step: step.index, model: step.model },
    ...(cause.retryAfter !== undefined ? { retryAfter: cause.retryAfter } : {}),
  });
}

/** A copy of a tensor's elements, for a thread-mode step that would otherwise take memory others still read. */
function copied(tensor: TensorData): TensorData {
  return { ...tensor, data: tensor.data.slice() };
}

export class EnsembleRuntime implements ModelRuntime {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly execution = 'inline' as const;
  readonly warmupMs = 0;
  readonly batchRows = 1;
  readonly graph: StepGraph;
  #models: StepModels;
  #observer: Observer | undefined;
  /** The ensemble's own executions: one per request, over the whole graph. */
  #runs: RunObserver | undefined;
  #pending = 0;
  #maxBatchSize: number;
  /** Composing versions whose tensors were checked against the ensemble's: a reload is checked again. */
  #checked = new WeakSet<ReadyModel>();
  #specs: Map<string, TensorSpec>;

  constructor(
    graph: StepGraph,
    specs: { inputs: TensorSpec[]; outputs: TensorSpec[] },
    models: StepModels,
    observer: Observer | undefined,
    runs?: RunObserver,
    maxBatchSize = 0,
  ) {
    this.#maxBatchSize = maxBatchSize;
    this.#runs = runs;
    this.graph = graph;
    this.inputs = specs.inputs;
    this.outputs = specs.outputs;
    this.#specs = new Map([...specs.inputs, ...specs.outputs].map((s) => [s.name, s]));
    this.#models = models;
    this.#observer = observer;
  }

  get pending(): number {
    return this.#pending;
  }

  /** Why the ensemble cannot serve now (a composing model not ready), or undefined. */
  unavailable(): string | undefined {
    const step = this.graph.steps.find((s) => {
      const model = this.#models.peek(s.model, s.version);
      // A step that runs an ensemble needs that ensemble's own steps.
      return (
        model === undefined ||
        (model.runtime instanceof EnsembleRuntime && model.runtime.unavailable() !== undefined)
      );
    });
    return step && `its ${stepName(step)} model is not ready`;
  }

  /** Checks every step's tensors against its composing model's, as loaded now; throws naming the step. */
  check(): ReadyModel[] {
    const models = this.graph.steps.map((step) => {
      try {
        return this.#models.ready(step.model, step.version);
      } catch (err) {
        throw new Error(`ensemble_scheduling ${stepName(step)}: ${(err as Error).message}`);
      }
    });
    checkStep(this.graph, models, this.#specs, this.#maxBatchSize);
    for (const model of models) this.#checked.add(model);
    return models;
  }

  async predict(feeds: TensorMap, call?: CallOptions): Promise<TensorMap> {
    this.#pending++;
    const started = performance.now();
    try {
      const answer = await runSteps(this.graph, feeds, (step, f) => this.#step(step, f, call));
      this.#runs?.executed(batchSize(feeds), (performance.now() - started) / 1000, 1);
      return answer;
    } finally {
      this.#pending--;
    }
  }

  /** The step's composing model, ready and checked, held until the step ends; a failure is named after the step. */
  #acquire(step: EnsembleStep): { model: ReadyModel; release: () => void } {
    try {
      let model: ReadyModel;
      try {
        model = this.#models.ready(step.model, step.version);
      } catch (err) {
        // The client named the ensemble, which exists: a composing model gone is not theirs to fix (503, not 404).
        if (err instanceof ServalError && err.kind === 'not_found')
          throw new errors.MODEL_NOT_READY(step.model, err.message);
        throw err;
      }
      if (!this.#checked.has(model)) {
        try {
          this.check();
        } catch (err) {
          throw new errors.MODEL_NOT_READY(step.model, (err as Error).message);
        }
      }
      return { model, release: this.#models.use(model) };
    } catch (err) {
      throw named(step, err);
    }
  }

  /** A thread-mode run takes its inputs' memory to its thread: a tensor another step or the answer reads is copied. */
  #ownFeeds(step: EnsembleStep, model: ReadyModel, feeds: TensorMap): TensorMap {
    if (model.runtime.execution !== 'thread') return feeds;
    const own: TensorMap = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      const shared = (this.graph.readers.get(step.inputs[name] ?? '') ?? 0) > 1;
      own[name] = shared ? copied(tensor) : tensor;
    }
    return own;
  }

  async #step(step: EnsembleStep, feeds: TensorMap, call: CallOptions | undefined): Promise<TensorMap> {
    const { model, release } = this.#acquire(step);
    const own = this.#ownFeeds(step, model, feeds);
    const started = performance.now();
    const event: RequestEvent = {
      model: model.name,
      version: model.version,
      protocol: 'ensemble',
      seconds: 0,
      rows: batchSize(feeds),
      failure: undefined,
      cache: undefined,
      inputSeconds: undefined,
      outputSeconds: undefined,
    };
    // A traced request's step is a span named after its composing model, under the ensemble's.
    const trace = call?.trace?.step(model.name, model.version, step.index);
    try {
      // The request's deadline, cancellation, priority and timeout hold for every step.
      const outputs = await model.runtime.predict(own, trace === undefined ? call : { ...call, trace });
      trace?.end(undefined);
      return outputs;
    } catch (err) {
      const error = named(step, err);
      event.failure = failureReason(error instanceof ServalError ? error.kind : 'internal');
      trace?.end(undefined, error);
      throw error;
    } finally {
      release();
      event.seconds = (performance.now() - started) / 1000;
      this.#observer?.request(event);
    }
  }

  async unload(): Promise<void> {
    // The composing models are the repository's own: they stay loaded.
  }
}
