// What a front end hands the one inference pipeline (core/inference.ts) and what it gets back: the request, what it
// asks of its model, how its answer is written, and the answer.
import type { CacheStatus } from './cache/prediction-cache.js';
import type { ReadyModel } from './models/repository.js';
import type { Protocol } from './observe.js';
import type { RequestedOutput } from './outputs.js';
import type { PayloadExchange } from './payload-log/payload-log.js';
import type { DecodeOptions, WireTensor } from './tensor/decode.js';
import type { TensorMap } from './tensor/tensor.js';
import type { RequestTrace } from './tracing/trace.js';

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
