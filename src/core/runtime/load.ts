// Loads one ONNX file into a ModelRuntime, measuring it to choose inline or worker-thread execution.
import { performance } from 'node:perf_hooks';
import { batchSize, type TensorMap, type TensorSpec } from '../tensor/tensor.js';
import { createSession, runSession, specsOf, tensorOutputs, zeroFeeds, type Session } from './onnx.js';
import { batchMajor } from '../models/signature.js';
import { Batcher, cancelled, mergeRows } from './batcher.js';
import { tracedRun } from './traced-run.js';
import type { RunTrace } from '../tracing/trace.js';
import type { SchedulePolicy } from './schedule.js';
import type { InferencePool, Timing } from './pool.js';
import type { RunObserver } from '../observe.js';
import type { CallOptions, Execution, ModelRuntime } from './runtime.js';

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
  /** Priority levels and queue policies (a Triton configuration's dynamic_batching); one queue by default. */
  schedule?: SchedulePolicy;
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

/** Times each call of an unbatched inline run for the observers (such a call never waits). */
function timedRuns(run: (feeds: TensorMap) => Promise<TensorMap>, observe: RunObserver | undefined) {
  if (!observe) return run;
  return async (feeds: TensorMap) => {
    const started = performance.now();
    observe.queued(0);
    try {
      return await run(feeds);
    } finally {
      const rows = batchSize(feeds) || 1;
      observe.executed(rows, (performance.now() - started) / 1000, 1);
    }
  };
}

/** An unbatched inline call, traced: it never waits, and runs alone. */
function traceAlone(run: (feeds: TensorMap) => Promise<TensorMap>, feeds: TensorMap, trace: RunTrace) {
  const now = performance.now();
  return tracedRun(run, feeds, [{ submitted: now, trace, rows: batchSize(feeds) }], now);
}

/** A model's session measured at its load: its shape, the outputs to fetch, the slowest warm-up run. */
interface Measured {
  session: Session;
  shape: Shape;
  fetch: string[];
  slowestMs: number;
}

/** The model run on the event loop: each call at once when it does not batch, else through a batcher of one slot. */
function inlineRuntime(
  { session, shape, fetch, slowestMs }: Measured,
  options: LoadOptions,
  observe: RunObserver | undefined,
): ModelRuntime {
  const run = (feeds: TensorMap) => runSession(session, feeds, fetch);
  if (shape.batchRows <= 1) {
    let inFlight = 0;
    const timed = timedRuns(run, observe);
    const predict = (feeds: TensorMap, call?: CallOptions) => {
      // An inline run starts at once and cannot be stopped: a caller gone by then is the only one not run.
      if (call?.signal?.aborted === true) return Promise.reject(cancelled());
      inFlight++;
      const done = call?.trace === undefined ? timed(feeds) : traceAlone(timed, feeds, call.trace);
      return done.finally(() => inFlight--);
    };
    return new InlineRuntime(session, shape, predict, () => inFlight);
  }
  // Inline runs take well under a millisecond: only the caller's own limits (deadline, priority, timeout) apply.
  const batcher = new Batcher(run, {
    concurrency: 1,
    maxRows: shape.batchRows,
    maxWaiting: Infinity,
    timeoutMs: Infinity,
    expectedRunMs: slowestMs,
    ...(observe ? { observe } : {}),
    ...(options.schedule ? { schedule: options.schedule } : {}),
  });
  return new InlineRuntime(
    session,
    shape,
    (f, call) => batcher.submit(f, call),
    () => batcher.pending,
  );
}

/** The model run on the inference threads (this process's session released), each thread loading its own. */
async function threadRuntime(
  { session, shape, fetch, slowestMs }: Measured,
  file: { path: string; key: string },
  options: LoadOptions,
  observe: RunObserver | undefined,
): Promise<ModelRuntime> {
  await session.release();
  const pool = options.pool();
  // The threads load their own sessions now, so that the first requests do not pay for them.
  await pool.warm(file, () => zeroFeeds(shape.inputs), fetch);
  const run = (feeds: TensorMap, timing?: Timing) => pool.run(file, feeds, fetch, timing);
  // Calls wait here, not in the pool: while the threads are busy they gather into the next batch.
  const batcher = new Batcher(run, {
    concurrency: () => pool.slots(options.threads),
    maxRows: shape.batchRows,
    maxWaiting: options.queueSize,
    timeoutMs: options.inferenceTimeoutMs,
    expectedRunMs: slowestMs,
    ...(observe ? { observe } : {}),
    ...(options.schedule ? { schedule: options.schedule } : {}),
  });
  return new ThreadRuntime(shape, batcher, () => pool.retire(file.key));
}

/**
 * Loads a model file; `key` names this load of it (path and content hash), so that worker threads never run a
 * session of an older file found at the same path. `bytes` are the file's, when already read.
 */
export async function loadOnnxModel(
  path: string,
  key: string,
  options: LoadOptions,
  bytes?: Uint8Array,
  observe?: RunObserver,
): Promise<ModelRuntime> {
  const session = await createSession(bytes ?? path, options.intraOpThreads);
  const { inputs, outputs } = specsOf(session);
  const fetch = tensorOutputs(outputs);
  const warmup = await timeRuns(() => runSession(session, zeroFeeds(inputs), fetch), WARMUP_RUNS);
  const warmupMs = warmup.fastest;
  const execution: Execution =
    options.mode === 'auto' ? (warmupMs > options.inlineThresholdMs ? 'thread' : 'inline') : options.mode;
  const batchRows = batchMajor(inputs, outputs) ? mergeRows(inputs, options.batchMaxRows) : 1;
  const measured = {
    session,
    shape: { inputs, outputs, warmupMs, batchRows },
    fetch,
    slowestMs: warmup.slowest,
  };
  if (execution === 'inline') return inlineRuntime(measured, options, observe);
  return threadRuntime(measured, { path, key }, options, observe);
}

interface Shape {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  warmupMs: number;
  batchRows: number;
}

class InlineRuntime implements ModelRuntime {
  readonly execution = 'inline';
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly warmupMs: number;
  readonly batchRows: number;
  #session: Session;
  #pending: () => number;

  constructor(
    session: Session,
    shape: Shape,
    readonly predict: (feeds: TensorMap, call?: CallOptions) => Promise<TensorMap>,
    pending: () => number,
  ) {
    this.#session = session;
    ({
      inputs: this.inputs,
      outputs: this.outputs,
      warmupMs: this.warmupMs,
      batchRows: this.batchRows,
    } = shape);
    this.#pending = pending;
  }

  get pending(): number {
    return this.#pending();
  }

  async unload(): Promise<void> {
    await this.#session.release();
  }
}

class ThreadRuntime implements ModelRuntime {
  readonly execution = 'thread';
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly warmupMs: number;
  readonly batchRows: number;
  #batcher: Batcher;
  #release: () => Promise<void>;

  /** Deadlines, admission by expected wait and 504s are the batcher's; sessions live in the pool's threads. */
  constructor(shape: Shape, batcher: Batcher, release: () => Promise<void>) {
    ({
      inputs: this.inputs,
      outputs: this.outputs,
      warmupMs: this.warmupMs,
      batchRows: this.batchRows,
    } = shape);
    this.#batcher = batcher;
    this.#release = release;
  }

  predict(feeds: TensorMap, call?: CallOptions): Promise<TensorMap> {
    return this.#batcher.submit(feeds, call);
  }

  get pending(): number {
    return this.#batcher.pending;
  }

  /** Frees the sessions of this version in the pool's threads. */
  unload(): Promise<void> {
    return this.#release();
  }
}
