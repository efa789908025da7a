// Loads one ONNX file into a ModelRuntime, measuring it to choose inline or worker-thread execution.
import { performance } from 'node:perf_hooks';
import { errors } from '../errors.js';
import { createSession, runSession, specsOf, tensorOutputs, zeroFeeds } from './onnx.js';
import type { InferencePool } from './pool.js';
import type { Execution, ModelRuntime, TensorSpec } from './runtime.js';
import type { TensorMap } from './tensor.js';

export interface LoadOptions {
  mode: 'auto' | Execution;
  inlineThresholdMs: number;
  intraOpThreads: number;
  inferenceTimeoutMs: number;
  /** The process's thread pool, created on first need. */
  pool: () => InferencePool;
}

const WARMUP_RUNS = 5;

/**
 * The fastest of `count` timed runs after one untimed run: a busy machine only ever adds time, so the minimum is
 * the measure of the model's own cost (a median would let a noisy neighbour push a tiny model onto threads).
 */
async function timeRuns(run: () => Promise<unknown>, count: number): Promise<number> {
  await run();
  let fastest = Infinity;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await run();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return fastest;
}

/** Rejects with INFERENCE_TIMEOUT after `ms`; the call itself runs on and its result is dropped. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new errors.INFERENCE_TIMEOUT(ms)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function loadOnnxModel(path: string, options: LoadOptions): Promise<ModelRuntime> {
  const session = await createSession(path, options.intraOpThreads);
  const { inputs, outputs } = specsOf(session);
  const fetch = tensorOutputs(outputs);
  const warmupMs = await timeRuns(() => runSession(session, zeroFeeds(inputs), fetch), WARMUP_RUNS);
  const execution: Execution =
    options.mode === 'auto' ? (warmupMs > options.inlineThresholdMs ? 'thread' : 'inline') : options.mode;
  if (execution === 'inline') return new InlineRuntime(session, inputs, outputs, warmupMs);

  await session.release();
  const pool = options.pool();
  // The thread loads its own session now, so that the first request does not pay for it.
  await pool.run(path, zeroFeeds(inputs), fetch);
  return new ThreadRuntime(path, pool, inputs, outputs, warmupMs, options.inferenceTimeoutMs);
}

class InlineRuntime implements ModelRuntime {
  readonly execution = 'inline';
  #session: Awaited<ReturnType<typeof createSession>>;
  #fetch: string[];

  constructor(
    session: Awaited<ReturnType<typeof createSession>>,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    readonly warmupMs: number,
  ) {
    this.#session = session;
    this.#fetch = tensorOutputs(outputs);
  }

  predict(feeds: TensorMap): Promise<TensorMap> {
    return runSession(this.#session, feeds, this.#fetch);
  }

  async unload(): Promise<void> {
    await this.#session.release();
  }
}

class ThreadRuntime implements ModelRuntime {
  readonly execution = 'thread';
  #path: string;
  #pool: InferencePool;
  #fetch: string[];
  #timeoutMs: number;

  constructor(
    path: string,
    pool: InferencePool,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    readonly warmupMs: number,
    timeoutMs: number,
  ) {
    this.#path = path;
    this.#pool = pool;
    this.#fetch = tensorOutputs(outputs);
    this.#timeoutMs = timeoutMs;
  }

  predict(feeds: TensorMap): Promise<TensorMap> {
    const work = this.#pool.run(this.#path, feeds, this.#fetch);
    work.catch(() => undefined); // a call that outlives its deadline may still fail: nobody is waiting for it
    return withDeadline(work, this.#timeoutMs);
  }

  async unload(): Promise<void> {
    // Sessions live in the pool's threads and end with it.
  }
}
