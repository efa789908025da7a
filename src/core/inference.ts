// The one inference pipeline every front end calls (MLServer's DataPlane.infer): a protocol-neutral request in, the
// encoded answer out. Model lookup, the request's reading, the tensor and output checks, the prediction cache, the
// run (batching, threads, deadline), statistics and metrics happen here, in this order, once for every protocol.
import { performance } from 'node:perf_hooks';
import { cacheKey, type CacheStatus, type PredictionCache } from './cache/prediction-cache.js';
import { ServalError } from './errors.js';
import type { ModelRepository, ModelVersion, ReadyModel } from './models/repository.js';
import {
  failureReason,
  type CacheResult,
  type Observer,
  type Protocol,
  type RequestEvent,
} from './observe.js';
import { checkOutputs, chooseOutputs, runFailure, type RequestedOutput } from './outputs.js';
import type { PayloadExchange } from './payload-log/payload-log.js';
import { cancelled } from './runtime/batcher.js';
import type { InputProcessor } from './processing/inputs.js';
import type { ModelTrace, RequestTrace } from './tracing/trace.js';
import { decodeInputs, type DecodeOptions, type WireTensor } from './tensor/decode.js';
import { batchSize, type TensorMap } from './tensor/tensor.js';

export type { RequestedOutput } from './outputs.js';

/** A request as every front end hands it to the core. */
export interface InferenceRequest {
  model: string;
  /** undefined: the model's default (highest ready) version. */
  version?: string | undefined;
  /** Which front end asks: metrics count requests per protocol. */
  protocol: Protocol;
  /** When the front end began with the request (performance.now()): its timings count from here. */
  received: number;
  /**
   * The request as its wire format says it, read for the model it names. Called once the model is found, inside the
   * pipeline, so that a request refused while it is read counts as that model's failure.
   */
  read(model: ReadyModel): RequestContent;
  cache: CacheUse;
  /** When the caller stops waiting (epoch ms), if sooner than the inference timeout: a gRPC client's deadline. */
  deadline?: number | undefined;
  /**
   * Aborts when the client has gone (its connection closed, its call cancelled): a request not yet running then never
   * runs, one running has its answer dropped, and either is counted as cancelled.
   */
  signal?: AbortSignal | undefined;
  /** Filled as the pipeline goes, for the front end's access line, whether the request succeeds or fails. */
  note?: InferenceNote | undefined;
  /** With payload logging on: the request is logged here once its model is found; the front end logs the answer. */
  payload?: PayloadExchange | undefined;
  /** The request's trace (its server span), when it is traced: the pipeline adds the model's spans under it. */
  trace?: RequestTrace | undefined;
  /** The request's own id (V2 and gRPC `id`), which names it in its model's span. */
  id?: string | undefined;
}

/** What a request asks of its model: its inputs as the wire carried them, its outputs, how answers are written. */
export interface RequestContent {
  inputs: readonly WireTensor[];
  /** undefined: every output the model can send. */
  outputs?: readonly RequestedOutput[] | undefined;
  encoding: Encoding;
  /** How messages name an element (V1 says instances[3].petal_length). */
  locate?: DecodeOptions['locate'];
  alignedMemory?: DecodeOptions['alignedMemory'];
  /** Triton's schedule policy parameters: 1 the highest priority (0: the model's default)... */
  priority?: number | undefined;
  /** ...and the longest the request may wait in its model's queue, in microseconds (where the model lets it). */
  timeoutUs?: number | undefined;
}

/**
 * How a front end writes answers. The cache keeps the written bytes, filed under the format and variant, so that a
 * hit is sent as it is.
 */
export interface Encoding {
  format: string;
  /** Whatever else in the request shapes the answer (requested outputs, binary flags), canonical. */
  variant: string;
  /** The chosen outputs of a run over `rows` rows (the batch dimension; 0 for a model without one). */
  encode(outputs: TensorMap, rows: number): Buffer;
}

export interface CacheUse {
  /** The client asked for a fresh answer (Cache-Control: no-cache). */
  bypass: boolean;
  /** The exact-repeat key of the raw request, to file the answer under as well. */
  exact?: string;
}

export interface InferenceNote {
  model?: string;
  version?: string;
  instances?: number;
}

/** hit, miss, collapsed: from the cache; bypass: asked to; uncacheable: the model says so; off: no cache. */
export type CacheOutcome = CacheStatus | 'uncacheable' | 'off';

export interface InferenceAnswer {
  /** The encoding the request's content chose, which wrote `body`. */
  encoding: Encoding;
  body: Buffer;
  cache: CacheOutcome;
}

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
    const { note, received } = request;
    request.payload?.request(model, request.trace?.traceId);
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
    try {
      const content = request.read(model);
      const outputs = content.outputs && checkOutputs(model, content.outputs);
      // Only a model with inputs declared as images waits for processing (off the event loop, bounded).
      const wire =
        model.signature.images === undefined
          ? content.inputs
          : await this.#processor.process(model, content.inputs, this.#maxRows);
      const inputs = decodeInputs(model.runtime.inputs, wire, {
        // A Triton configuration's max_batch_size bounds the rows of a request, as in Triton.
        maxRows: Math.min(this.#maxRows, model.triton?.binding.maxBatchSize || Infinity),
        ...(content.locate ? { locate: content.locate } : {}),
        ...(content.alignedMemory ? { alignedMemory: content.alignedMemory } : {}),
      });
      const rows = batchSize(inputs);
      event.rows = rows;
      if (note !== undefined) note.instances = rows;
      event.inputSeconds = (performance.now() - received) / 1000;
      trace?.inputs();
      const { encoding } = content;
      const timed = (tensors: TensorMap) => {
        const from = performance.now();
        const body = encoding.encode(tensors, rows);
        event.outputSeconds = (performance.now() - from) / 1000;
        return body;
      };
      const { signal } = request;
      const { priority, timeoutUs } = content;
      const checked = {
        model,
        inputs,
        outputs,
        rows,
        deadline: request.deadline,
        signal,
        priority,
        timeoutUs,
        trace,
      };
      const answer = await this.#cached(checked, encoding, timed, request.cache);
      // A shared run (the cache's single flight) is not stopped for one caller: its answer is dropped here.
      if (signal?.aborted === true) throw cancelled();
      event.cache = CACHE_RESULTS[answer.cache];
      trace?.end(answer.cache);
      return answer;
    } catch (err) {
      event.failure = failureOf(err);
      trace?.end(undefined, err);
      throw err;
    } finally {
      release();
      event.seconds = (performance.now() - received) / 1000;
      this.#observer?.request(event);
    }
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
