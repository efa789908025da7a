// The one inference pipeline every front end calls (MLServer's DataPlane.infer): a protocol-neutral request in, the
// encoded answer out. Model lookup, the request's reading, the tensor and output checks, the prediction cache, the
// run (batching, threads, deadline), statistics and metrics happen here, in this order, once for every protocol.
import { performance } from 'node:perf_hooks';
import { cacheKey, type PredictionCache } from './cache/prediction-cache.js';
import { ServalError } from './errors.js';
import type {
  CacheOutcome,
  CacheUse,
  Encoding,
  InferenceAnswer,
  InferenceRequest,
  RequestContent,
} from './inference-request.js';
import type { ModelRepository, ModelVersion, ReadyModel } from './models/repository.js';
import {
  failureReason,
  type CacheResult,
  type Observer,
  type Protocol,
  type RequestEvent,
} from './observe.js';
import { checkOutputs, chooseOutputs, runFailure, type RequestedOutput } from './outputs.js';
import { cancelled } from './runtime/batcher.js';
import type { InputProcessor } from './processing/inputs.js';
import type { ModelTrace } from './tracing/trace.js';
import { decodeInputs, type WireTensor } from './tensor/decode.js';
import { batchSize, type TensorMap } from './tensor/tensor.js';

export type { RequestedOutput } from './outputs.js';
export type {
  CacheOutcome,
  CacheUse,
  Encoding,
  InferenceAnswer,
  InferenceNote,
  InferenceRequest,
  RequestContent,
} from './inference-request.js';

export interface InferenceOptions {
  /** Most rows one request may carry (maxInstances). */
  maxRows: number;
  /** Turns encoded payloads (image files) into the tensors of the inputs that declare them. */
  processor: InputProcessor;
}

const CACHE_RESULTS: Partial<Record<CacheOutcome, CacheResult>> = {
  hit: 'hit',
  miss: 'miss',
  collapsed: 'collapsed',
};

const failureOf = (err: unknown) => failureReason(err instanceof ServalError ? err.kind : 'internal');

/** A request checked and ready to run. */
interface Checked {
  model: ReadyModel;
  inputs: TensorMap;
  outputs: readonly RequestedOutput[] | undefined;
  rows: number;
  deadline: number | undefined;
  signal: AbortSignal | undefined;
  priority: number | undefined;
  timeoutUs: number | undefined;
  trace: ModelTrace | undefined;
}

/** One request on its way through the pipeline: what it asked, its model, its observers' event, its model's span. */
interface Passage {
  request: InferenceRequest;
  model: ReadyModel;
  event: RequestEvent;
  trace: ModelTrace | undefined;
}

/** The answer's encoder, its time counted in the request's event. */
function timedEncoder(encoding: Encoding, rows: number, event: RequestEvent): (tensors: TensorMap) => Buffer {
  return (tensors) => {
    const from = performance.now();
    const body = encoding.encode(tensors, rows);
    event.outputSeconds = (performance.now() - from) / 1000;
    return body;
  };
}

export class Inference {
  #models: ModelRepository;
  #cache: PredictionCache | null;
  #observer: Observer | undefined;
  #maxRows: number;
  #processor: InputProcessor;

  constructor(
    models: ModelRepository,
    cache: PredictionCache | null,
    options: InferenceOptions,
    observer?: Observer,
  ) {
    this.#models = models;
    this.#cache = cache;
    this.#maxRows = options.maxRows;
    this.#processor = options.processor;
    this.#observer = observer;
  }

  /** Runs the request, or answers it from the cache, and returns the encoded answer. */
  async infer(request: InferenceRequest): Promise<InferenceAnswer> {
    // The version stays loaded (never unloaded, replaced or evicted under it) until the answer is sent.
    const { model, release } = await this.#models.acquire(request.model, request.version);
    const passage = this.#begin(request, model);
    const { event, trace } = passage;
    try {
      const content = request.read(model);
      const outputs = content.outputs && checkOutputs(model, content.outputs);
      // Only a model with inputs declared as images waits for processing (off the event loop, bounded).
      const wire =
        model.signature.images === undefined
          ? content.inputs
          : await this.#processor.process(model, content.inputs, this.#maxRows);
      const checked = this.#check(passage, content, wire, outputs);
      const encode = timedEncoder(content.encoding, checked.rows, event);
      const answer = await this.#cached(checked, content.encoding, encode, request.cache);
      // A shared run (the cache's single flight) is not stopped for one caller: its answer is dropped here.
      if (request.signal?.aborted === true) throw cancelled();
      event.cache = CACHE_RESULTS[answer.cache];
      trace?.end(answer.cache);
      return answer;
    } catch (err) {
      event.failure = failureOf(err);
      trace?.end(undefined, err);
      throw err;
    } finally {
      release();
      event.seconds = (performance.now() - request.received) / 1000;
      this.#observer?.request(event);
    }
  }

  /** The request's model found: its payload logged, its note filled, its event and its model's span begun. */
  #begin(request: InferenceRequest, model: ReadyModel): Passage {
    request.payload?.request(model, request.trace?.traceId);
    const { note } = request;
    if (note !== undefined) {
      note.model = model.name;
      note.version = model.version;
    }
    // Every request passes here: one event of one shape (no spreads), each phase timed in place.
    const event: RequestEvent = {
      model: model.name,
      version: model.version,
      protocol: request.protocol,
      seconds: 0,
      rows: 0,
      failure: undefined,
      cache: undefined,
      inputSeconds: undefined,
      outputSeconds: undefined,
    };
    const trace = request.trace?.model(model.name, model.version, request.id);
    return { request, model, event, trace };
  }

  /** The request's inputs decoded against its model and counted: the request ready to run. */
  #check(
    { request, model, event, trace }: Passage,
    content: RequestContent,
    wire: readonly WireTensor[],
    outputs: readonly RequestedOutput[] | undefined,
  ): Checked {
    const inputs = decodeInputs(model.runtime.inputs, wire, {
      // A Triton configuration's max_batch_size bounds the rows of a request, as in Triton.
      maxRows: Math.min(this.#maxRows, model.triton?.binding.maxBatchSize || Infinity),
      ...(content.locate ? { locate: content.locate } : {}),
      ...(content.alignedMemory ? { alignedMemory: content.alignedMemory } : {}),
    });
    const rows = batchSize(inputs);
    event.rows = rows;
    if (request.note !== undefined) request.note.instances = rows;
    event.inputSeconds = (performance.now() - request.received) / 1000;
    trace?.inputs();
    const { deadline, signal } = request;
    const { priority, timeoutUs } = content;
    return { model, inputs, outputs, rows, deadline, signal, priority, timeoutUs, trace };
  }

  /** An exact repeat of a cached request, answered by the front end before parsing it: counted as the others are. */
  countRepeat(model: ModelVersion, protocol: Protocol, received: number, rows: number): void {
    this.#observer?.request({
      model: model.name,
      version: model.version,
      protocol,
      seconds: (performance.now() - received) / 1000,
      rows,
      cache: 'hit',
    });
  }

  async #cached(
    checked: Checked,
    encoding: Encoding,
    encode: (tensors: TensorMap) => Buffer,
    use: CacheUse,
  ): Promise<InferenceAnswer> {
    const { model } = checked;
    const compute = async () => encode(await this.#run(checked, checked.signal));
    const cache = this.#cache;
    if (!cache) return { encoding, body: await compute(), cache: 'off' };
    if (model.descriptor.cache === false) return { encoding, body: await compute(), cache: 'uncacheable' };
    if (use.bypass) return { encoding, body: await compute(), cache: 'bypass' };
    // The key is taken before inference: a thread-mode run hands the input buffers over to its thread.
    const space = {
      format: encoding.format,
      model: model.name,
      version: model.version,
      generation: model.generation,
    };
    const key = cacheKey(space, encoding.variant, checked.inputs);
    const exact = use.exact === undefined ? undefined : { key: use.exact, instances: checked.rows };
    // Callers that arrive meanwhile share this run: it is not cancelled with the caller that started it.
    const shared = async () => encode(await this.#run(checked, undefined));
    const { value, status } = await cache.wrap(key, shared, exact);
    return { encoding, body: value, cache: status };
  }

  /** Runs the model and returns the requested outputs (all by default), in the requested order. */
  async #run(checked: Checked, signal: AbortSignal | undefined): Promise<TensorMap> {
    const { model } = checked;
    let all: TensorMap;
    try {
      const { deadline, priority, timeoutUs } = checked;
      const { trace } = checked;
      all = await model.runtime.predict(checked.inputs, { deadline, signal, priority, timeoutUs, trace });
    } catch (err) {
      throw runFailure(err);
    }
    return chooseOutputs(model, all, checked.outputs);
  }
}
