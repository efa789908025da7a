// Loads one ONNX file into a ModelRuntime, measuring it to choose inline or worker-thread execution.
import { performance } from 'node:perf_hooks';
import type { TensorMap, TensorSpec } from '../tensor/tensor.js';
import { createSession, runSession, specsOf, tensorOutputs, zeroFeeds, type Session } from './onnx.js';
import { batchMajor } from '../models/signature.js';
import { Batcher } from './batcher.js';
import type { InferencePool } from './pool.js';
import type { Execution, ModelRuntime } from './runtime.js';

export interface LoadOptions {
  mode: 'auto' | Execution;
  inlineThresholdMs: number;
  intraOpThreads: number;
  inferenceTimeoutMs: number;
  /** Most rows one batched call may hold; 1 turns dynamic batching off. */
  batchMaxRows: number;
  /** Worker threads of the pool, and the calls that may wait for them. */
  threads: number;
  queueSize: number;
  /** The process's thread pool, created on first need. */
  pool: () => InferencePool;
}

const WARMUP_RUNS = 5;

/**
 * The fastest and slowest of `count` timed runs after one untimed run. A busy machine only ever adds time, so the
 * fastest is the measure of the model's own cost (a median would let a noisy neighbour push a tiny model onto
 * threads); the slowest is a cautious first guess of a run under load, for admission (the batcher then learns).
 */
async function timeRuns(
  run: () => Promise<unknown>,
  count: number,
): Promise<{ fastest: number; slowest: number }> {
  await run();
  let fastest = Infinity;
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await run();
    const ms = performance.now() - start;
    fastest = Math.min(fastest, ms);
    slowest = Math.max(slowest, ms);
  }
  return { fastest, slowest };
}

/**
 * Loads a model file; `key` names this load of it (path and content hash), so that worker threads never run a
 * session of an older file found at the same path.
 */
export async function loadOnnxModel(path: string, key: string, options: LoadOptions): Promise<ModelRuntime> {
  const session = await createSession(path, options.intraOpThreads);
  const { inputs, outputs } = specsOf(session);
  const fetch = tensorOutputs(outputs);
  const warmup = await timeRuns(() => runSession(session, zeroFeeds(inputs), fetch), WARMUP_RUNS);
  const warmupMs = warmup.fastest;
  const execution: Execution =
    options.mode === 'auto' ? (warmupMs > options.inlineThresholdMs ? 'thread' : 'inline') : options.mode;
  const batching = options.batchMaxRows > 1 && batchMajor(inputs, outputs);
  if (execution === 'inline') {
    const run = (feeds: TensorMap) => runSession(session, feeds, fetch);
    // Inline runs take well under a millisecond: nothing waits long enough for a deadline to matter.
    const batcher = batching
      ? new Batcher(run, {
          concurrency: 1,
          maxRows: options.batchMaxRows,
          maxWaiting: Infinity,
          timeoutMs: Infinity,
          expectedRunMs: warmup.slowest,
        })
      : undefined;
    const predict = batcher ? (f: TensorMap) => batcher.submit(f) : run;
    return new InlineRuntime(session, inputs, outputs, warmupMs, batching, predict);
  }

  await session.release();
  const pool = options.pool();
  // The thread loads its own session now, so that the first request does not pay for it.
  await pool.run({ path, key }, zeroFeeds(inputs), fetch);
  const run = (feeds: TensorMap) => pool.run({ path, key }, feeds, fetch);
  // Calls wait here, not in the pool: while the threads are busy they gather into the next batch.
  const batcher = new Batcher(run, {
    concurrency: options.threads,
    maxRows: batching ? options.batchMaxRows : 1,
    maxWaiting: options.queueSize,
    timeoutMs: options.inferenceTimeoutMs,
    expectedRunMs: warmup.slowest,
  });
  return new ThreadRuntime(inputs, outputs, warmupMs, batching, (f, deadline) => batcher.submit(f, deadline));
}

class InlineRuntime implements ModelRuntime {
  readonly execution = 'inline';
  #session: Session;

  constructor(
    session: Session,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    readonly warmupMs: number,
    readonly batching: boolean,
    readonly predict: (feeds: TensorMap) => Promise<TensorMap>,
  ) {
    this.#session = session;
  }

  async unload(): Promise<void> {
    await this.#session.release();
  }
}

class ThreadRuntime implements ModelRuntime {
  readonly execution = 'thread';

  constructor(
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    readonly warmupMs: number,
    readonly batching: boolean,
    /** Deadlines, admission by expected wait and 504s are the batcher's. */
    readonly predict: (feeds: TensorMap, deadline?: number) => Promise<TensorMap>,
  ) {}

  async unload(): Promise<void> {
    // Sessions live in the pool's threads and end with it.
  }
}
