// The one inference call every front end makes (MLServer's DataPlane.infer): requested outputs, the prediction
// cache, the run and the classification extension, in one place.
import { performance } from 'node:perf_hooks';
import { errors, excerpt, ServalError, withExtras } from './errors.js';
import { cacheKey, type CacheStatus, type PredictionCache } from './cache/prediction-cache.js';
import type { ModelRepository, ReadyModel } from './models/repository.js';
import type { ModelVersion } from './models/repository.js';
import { topClasses } from './models/tasks.js';
import {
  failureReason,
  type CacheResult,
  type Observer,
  type Protocol,
  type RequestEvent,
} from './observe.js';
import { batchSize, type TensorMap } from './tensor/tensor.js';

export interface RequestedOutput {
  name: string;
  /** The classification extension: the top k classes instead of the tensor. */
  classification?: number;
}

export interface InferCall {
  model: ReadyModel;
  /** Which front end asks: metrics count requests per protocol. */
  protocol: Protocol;
  /** When the front end started decoding the request's tensors (performance.now()), to measure it. */
  received?: number;
  /** Checked inputs (decodeInputs). */
  inputs: TensorMap;
  /** Checked outputs (checkOutputs); undefined: every output the model can send. */
  outputs?: readonly RequestedOutput[];
  /** When the caller stops waiting (epoch ms), if sooner than the inference timeout: a gRPC client's deadline. */
  deadline?: number;
}

/** How a front end writes answers: the cache keeps its bytes, filed under its format. */
export interface Encoding {
  format: string;
  /** Whatever else in the request shapes the answer (requested outputs, binary flags), canonical. */
  variant: string;
  encode(outputs: TensorMap): Buffer;
}

export interface CacheUse {
  /** The client asked for a fresh answer (Cache-Control: no-cache). */
  bypass: boolean;
  /** The exact-repeat key of the raw request, to file the answer under as well. */
  exact?: { key: string; instances: number };
}

/** hit, miss, collapsed: from the cache; bypass: asked to; uncacheable: the model says so; off: no cache. */
export type CacheOutcome = CacheStatus | 'uncacheable' | 'off';

export interface InferOutcome {
  body: Buffer;
  cache: CacheOutcome;
}

/** Checks requested outputs against the model before anything runs (Triton #140: no silent 200). */
export function checkOutputs(model: ReadyModel, requested: readonly RequestedOutput[]): RequestedOutput[] {
  const available = model.signature.tensorOutputs;
  const seen = new Set<string>();
  for (const output of requested) {
    if (!available.includes(output.name)) {
      const known = model.runtime.outputs.some((o) => o.name === output.name);
      throw withExtras(
        new errors.INVALID_INPUT(
          known
            ? `output "${output.name}" is not a tensor (e.g. a ZipMap) and cannot be sent`
            : `unknown output "${excerpt(output.name, 64)}"; the model's outputs are ${available.map((n) => `"${n}"`).join(', ')}`,
        ),
        { details: { output: excerpt(output.name, 64) } },
      );
    }
    if (seen.has(output.name)) throw new errors.INVALID_INPUT(`output "${output.name}" is requested twice`);
    seen.add(output.name);
    const k = output.classification;
    if (k !== undefined && !(Number.isSafeInteger(k) && k >= 1)) {
      throw new errors.INVALID_INPUT(
        `output "${output.name}": classification must be an integer >= 1, got ${excerpt(k)}`,
      );
    }
  }
  return [...requested];
}

/** onnxruntime refusing the request's values (an index out of range, a shape the graph rejects) is the client's 4xx. */
function runFailure(err: unknown): Error {
  if (err instanceof ServalError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (
    /allocat|out of memory/i.test(message) ||
    !/Status Message:|invalid dimensions|Non-zero status/i.test(message)
  ) {
    const failed = new errors.INFERENCE_FAILED();
    failed.cause = err; // logged with the request id; the client sees the generic message
    return failed;
  }
  const reason = /Status Message:\s*(.*)/s.exec(message)?.[1] ?? message;
  return new errors.INFERENCE_REJECTED(reason.replace(/\s+/g, ' ').trim().slice(0, 300));
}

const CACHE_RESULTS: Partial<Record<CacheOutcome, CacheResult>> = {
  hit: 'hit',
  miss: 'miss',
  collapsed: 'collapsed',
};

const kindOf = (err: unknown) => (err instanceof ServalError ? err.kind : 'internal');

export class Inference {
  #models: ModelRepository;
  #cache: PredictionCache | null;
  #observer: Observer | undefined;

  constructor(models: ModelRepository, cache: PredictionCache | null, observer?: Observer) {
    this.#models = models;
    this.#cache = cache;
    this.#observer = observer;
  }

  /**
   * A request the front end answered or refused without calling infer (an exact repeat found in the cache, tensors
   * that did not decode): counted for the model as the others are.
   */
  observed(
    model: ModelVersion,
    protocol: Protocol,
    received: number,
    outcome: { error?: unknown; cache?: CacheResult; rows?: number },
  ): void {
    this.#observer?.request({
      model: model.name,
      version: model.version,
      protocol,
      seconds: (performance.now() - received) / 1000,
      rows: outcome.rows ?? 0,
      ...(outcome.error === undefined ? {} : { failure: failureReason(kindOf(outcome.error)) }),
      ...(outcome.cache ? { cache: outcome.cache } : {}),
    });
  }

  /**
   * A front end's decoding of a request's tensors, begun at `received` (performance.now(), which the request's
   * timings count from): one that throws is counted as the model's failed request before the error goes out.
   */
  decoding<T>(model: ModelVersion, protocol: Protocol, received: number, decode: () => T): T {
    try {
      return decode();
    } catch (err) {
      this.observed(model, protocol, received, { error: err });
      throw err;
    }
  }

  /** Runs the model and returns the requested outputs (all by default), in the requested order. */
  async run(call: InferCall): Promise<TensorMap> {
    const { model } = call;
    let all: TensorMap;
    // The version stays loaded while this call uses it, even if a reload replaces it meanwhile.
    const release = this.#models.use(model);
    try {
      all = await model.runtime.predict(call.inputs, call.deadline);
    } catch (err) {
      throw runFailure(err);
    } finally {
      release();
    }
    const requested: readonly RequestedOutput[] =
      call.outputs ?? model.signature.tensorOutputs.map((name) => ({ name }));
    const chosen: TensorMap = {};
    for (const { name, classification } of requested) {
      const tensor = all[name];
      if (tensor === undefined) throw new errors.INFERENCE_FAILED();
      chosen[name] =
        classification === undefined
          ? tensor
          : topClasses(tensor, classification, model.signature.labels, name, model.signature.batched);
    }
    return chosen;
  }

  /** Runs, or answers from the cache, and returns the encoded answer; observers are told of it. */
  async infer(call: InferCall, encoding: Encoding, use: CacheUse): Promise<InferOutcome> {
    const observer = this.#observer;
    if (!observer) return this.#infer(call, encoding, use);
    // Every request passes here: one event of one shape (no spreads), encoding timed in place.
    const started = performance.now();
    const { model, received } = call;
    const event: RequestEvent = {
      model: model.name,
      version: model.version,
      protocol: call.protocol,
      seconds: 0,
      rows: batchSize(call.inputs),
      failure: undefined,
      cache: undefined,
      inputSeconds: received === undefined ? undefined : (started - received) / 1000,
      outputSeconds: undefined,
    };
    const timed: Encoding = {
      format: encoding.format,
      variant: encoding.variant,
      encode(outputs) {
        const from = performance.now();
        const body = encoding.encode(outputs);
        event.outputSeconds = (performance.now() - from) / 1000;
        return body;
      },
    };
    try {
      const outcome = await this.#infer(call, timed, use);
      event.cache = CACHE_RESULTS[outcome.cache];
      return outcome;
    } catch (err) {
      event.failure = failureReason(kindOf(err));
      throw err;
    } finally {
      event.seconds = (performance.now() - (received ?? started)) / 1000;
      observer.request(event);
    }
  }

  async #infer(call: InferCall, encoding: Encoding, use: CacheUse): Promise<InferOutcome> {
    const compute = async () => encoding.encode(await this.run(call));
    const cache = this.#cache;
    if (!cache) return { body: await compute(), cache: 'off' };
    if (call.model.descriptor.cache === false) return { body: await compute(), cache: 'uncacheable' };
    if (use.bypass) return { body: await compute(), cache: 'bypass' };
    const { model } = call;
    // The key is taken before inference: a thread-mode run hands the input buffers over to its thread.
    const space = {
      format: encoding.format,
      model: model.name,
      version: model.version,
      generation: model.generation,
    };
    const key = cacheKey(space, encoding.variant, call.inputs);
    const { value, status } = await cache.wrap(key, compute, use.exact);
    return { body: value, cache: status };
  }
}
