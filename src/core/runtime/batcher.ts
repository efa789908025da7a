// Dynamic batching: calls that arrive while a model is busy (or in the same event-loop turn) run as one batch.
import { performance } from 'node:perf_hooks';
import { errors, ServalError, withExtras } from '../errors.js';
import type { RunObserver } from '../observe.js';
import type { CallOptions } from './runtime.js';
import { DATATYPES } from '../tensor/dtypes.js';
import type { Timing } from './pool.js';
import { epochMs, type RunTrace } from '../tracing/trace.js';
import type { TensorArray, TensorData, TensorMap, TensorSpec } from '../tensor/tensor.js';
import { DEFAULT_QUEUE, DEFAULT_SCHEDULE, levelOf, queueTimeoutMs, type SchedulePolicy } from './schedule.js';

/**
 * Most input bytes merged into one call. Merging copies every caller's inputs into one tensor: worth it while the
 * fixed cost of a run (~30 µs) is what it saves, not for images of hundreds of KB, whose copies cost more.
 */
export const MAX_MERGE_BYTES = 1 << 20;

/**
 * The most rows merged into one run for a model of these inputs: maxRows, or fewer when a row's bytes are known from
 * the graph (every dimension past the batch fixed, fixed-size elements) and that many rows would pass
 * MAX_MERGE_BYTES. 1 means calls never merge: an image model's rows of hundreds of KB run alone.
 */
export function mergeRows(inputs: readonly TensorSpec[], maxRows: number): number {
  let rowBytes = 0;
  for (const input of inputs) {
    const dims = input.shape.slice(1);
    // BYTES (strings) have no fixed size: their bytes are counted as calls arrive.
    const size = input.datatype === undefined ? 0 : DATATYPES[input.datatype].size;
    if (size === 0 || !dims.every((d): d is number => typeof d === 'number' && d >= 0)) return maxRows;
    rowBytes += dims.reduce((n, d) => n * d, size);
  }
  return rowBytes === 0 ? maxRows : Math.max(1, Math.min(maxRows, Math.floor(MAX_MERGE_BYTES / rowBytes)));
}

interface Pending {
  feeds: TensorMap;
  /** The batch dim all inputs share; undefined when they disagree (the call then runs alone). */
  rows: number | undefined;
  /** Input bytes (strings count as their length). */
  bytes: number;
  /** Set once the caller has its answer (or its timeout, or its cancellation): a late result is dropped. */
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Stops listening to the caller's cancellation. */
  unlisten: (() => void) | undefined;
  /** performance.now() at submission: its queue time ends when its run starts. */
  submitted: number;
  /** The queue it waits in (its priority level's, or the delayed one), while it waits. */
  queue: Pending[];
  /** Its priority level (1 the highest): what waits ahead of it is at this level or a higher one. */
  level: number;
  trace: RunTrace | undefined;
  resolve: (outputs: TensorMap) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions {
  /** Calls that may run at once (1 inline; the thread count for a pool). */
  concurrency: number;
  /** Most rows merged into one call; 1 runs every call alone. */
  maxRows: number;
  /** Most calls waiting; the next is refused with 503 OVERLOADED. */
  maxWaiting: number;
  /** Longest a call may wait and run (504 past it); Infinity for none. */
  timeoutMs: number;
  /** A first estimate of one run's duration (the warm-up's), refined by every run. */
  expectedRunMs: number;
  /** Told of every call's wait and every run, for statistics and metrics. */
  observe?: RunObserver;
  /** Priority levels and their queue policies (Triton's schedule policy); one queue by default. */
  schedule?: SchedulePolicy;
}

function bytesOf(feeds: TensorMap): number {
  let bytes = 0;
  for (const name in feeds) {
    const data = (feeds[name] as TensorData).data;
    bytes += Array.isArray(data) ? data.length : data.byteLength;
  }
  return bytes;
}

function rowsOf(feeds: TensorMap): number | undefined {
  let rows: number | undefined;
  for (const name in feeds) {
    const first = (feeds[name] as TensorData).dims[0];
    if (first === undefined || (rows !== undefined && first !== rows)) return undefined;
    rows = first;
  }
  return rows;
}

function concat(parts: readonly TensorData[]): TensorData {
  const first = parts[0] as TensorData;
  const length = parts.reduce((n, p) => n + p.data.length, 0);
  let data: TensorArray;
  if (Array.isArray(first.data)) {
    data = parts.flatMap((p) => p.data as string[]);
  } else {
    const Ctor = first.data.constructor as new (n: number) => Float32Array;
    const merged = new Ctor(length);
    let offset = 0;
    for (const p of parts) {
      merged.set(p.data as Float32Array, offset);
      offset += p.data.length;
    }
    data = merged;
  }
  const rows = parts.reduce((n, p) => n + (p.dims[0] ?? 0), 0);
  return { datatype: first.datatype, data, dims: [rows, ...first.dims.slice(1)] };
}

/** One caller's rows of a batch output: a view for typed arrays (no copy), a slice of plain arrays. */
function sliceRows(tensor: TensorData, start: number, rows: number): TensorData {
  const total = tensor.dims[0] ?? 0;
  const width = total === 0 ? 0 : tensor.data.length / total;
  const data = tensor.data;
  const [from, to] = [start * width, (start + rows) * width];
  const dims = tensor.dims.slice();
  dims[0] = rows;
  return {
    datatype: tensor.datatype,
    data: Array.isArray(data) ? data.slice(from, to) : data.subarray(from, to),
    dims,
  };
}

/** Same trailing dims and types for every input: the calls can share one tensor per input. */
function compatible(a: TensorMap, b: TensorMap): boolean {
  for (const name in a) {
    const [t, other] = [a[name] as TensorData, b[name]];
    if (other === undefined || other.datatype !== t.datatype || other.dims.length !== t.dims.length)
      return false;
    for (let d = 1; d < t.dims.length; d++) if (other.dims[d] !== t.dims[d]) return false;
  }
  return true;
}

/** The error of a call whose client went away. */
export function cancelled(): Error {
  return new errors.REQUEST_CANCELLED('the client went away before its answer');
}

/** The share of a call's deadline that the expected wait may take for it to be let in. */
const ADMISSION_SHARE = 0.8;

/** How much each new run counts in the running estimates of run time and calls per run. */
const LEARNING_RATE = 0.2;

/** A run: the feeds in, the outputs out; a thread-mode run fills `timing` by its thread's clock. */
export type Run = (feeds: TensorMap, timing?: Timing) => Promise<TensorMap>;

/**
 * Runs `run` and tells every traced call of the batch when it waited and computed. The compute is the thread's own
 * timing when the run filled it, else the time around the call here.
 */
export async function tracedRun(
  run: Run,
  feeds: TensorMap,
  batch: readonly { submitted: number; trace: RunTrace | undefined; rows: number | undefined }[],
  started: number,
): Promise<TensorMap> {
  const timing: Timing = { start: 0, end: 0 };
  try {
    return await run(feeds, timing);
  } finally {
    if (timing.end === 0) {
      timing.start = epochMs(started);
      timing.end = epochMs(performance.now());
    }
    const calls = batch.flatMap((p) => (p.trace === undefined ? [] : [p.trace]));
    const rows = batch.reduce((n, p) => n + (p.rows ?? 0), 0);
    const at = epochMs(started);
    for (const p of batch)
      p.trace?.ran({ queued: epochMs(p.submitted), started: at, compute: timing, calls, rows });
  }
}

export class Batcher {
  #run: Run;
  #options: BatcherOptions;
  /** One queue per priority level (index 0 unused), then the calls a DELAY timeout moved behind the others. */
  #queues: Pending[][];
  #delayed: Pending[] = [];
  #waitingCount = 0;
  #policy: SchedulePolicy;
  #running = 0;
  #scheduled = false;
  /** Turned off for good when a merged call's outputs turn out not to be batch-major. */
  #merging: boolean;
  #runMs: number;
  #callsPerRun = 1;

  constructor(run: Run, options: BatcherOptions) {
    this.#run = run;
    this.#options = options;
    this.#merging = options.maxRows > 1;
    this.#runMs = options.expectedRunMs;
    this.#policy = options.schedule ?? DEFAULT_SCHEDULE;
    this.#queues = Array.from({ length: Math.max(this.#policy.levels, 1) + 1 }, () => []);
  }

  /** The queues in the order they are served: priority 1 first, the delayed calls last. */
  *#inOrder(): Generator<Pending[]> {
    for (let level = 1; level < this.#queues.length; level++) yield this.#queues[level] as Pending[];
    yield this.#delayed;
  }

  /** Calls waiting at `level` or a higher one (all of them by default). */
  #waitingAhead(level = Infinity): number {
    let count = 0;
    for (let l = 1; l < this.#queues.length && l <= level; l++)
      count += (this.#queues[l] as Pending[]).length;
    return level === Infinity ? count + this.#delayed.length : count;
  }

  /** Calls waiting for a run, and calls running. */
  get pending(): number {
    return this.#waitingCount + this.#running;
  }

  /**
   * How long a call submitted now would take to finish: the runs queued ahead of it (fewer when calls merge), the
   * one it waits for when every slot is busy, and its own.
   */
  expectedMs(level?: number): number {
    const { concurrency } = this.#options;
    const runsAhead = Math.ceil(this.#waitingAhead(level) / (concurrency * this.#callsPerRun));
    return (runsAhead + (this.#running >= concurrency ? 1 : 0) + 1) * this.#runMs;
  }

  /**
   * Queues a call. It is refused at once (503 OVERLOADED, with Retry-After) when the queue is full or when the queue
   * ahead of it could not be served before its deadline; past its deadline it gets 504 and, if still queued, never
   * runs. `deadline` (epoch ms) may come sooner than the timeout: a gRPC client's own. A call whose `signal` aborts
   * (its client went away) is answered REQUEST_CANCELLED at once and, if still queued, never runs; one already
   * running finishes and its answer is dropped, while the calls merged with it get theirs.
   */
  submit(feeds: TensorMap, call: CallOptions = {}): Promise<TensorMap> {
    const { signal, deadline = Infinity } = call;
    if (signal?.aborted === true) return Promise.reject(cancelled());
    const { maxWaiting, timeoutMs } = this.#options;
    let level: number;
    try {
      level = levelOf(this.#policy, call.priority);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const queue = this.#queues[level] as Pending[];
    const policy = this.#policy.queues[level] ?? DEFAULT_QUEUE;
    if (
      this.#waitingCount >= maxWaiting ||
      (policy.maxQueueSize > 0 && queue.length >= policy.maxQueueSize)
    ) {
      const which = this.#policy.levels > 0 ? `the queue of priority level ${level}` : 'the inference queue';
      return Promise.reject(withExtras(new errors.OVERLOADED(`${which} is full`), { retryAfter: 1 }));
    }
    const waitMs = queueTimeoutMs(policy, call.timeoutUs);
    // A REJECT timeout ends the call as the server's own timeout and the caller's deadline do; a DELAY one moves it.
    const rejectAt = policy.timeoutAction === 'REJECT' ? waitMs : Infinity;
    const budget = Math.min(timeoutMs, deadline - Date.now(), rejectAt);
    const expected = this.expectedMs(level);
    // A fifth of the budget is kept for runs slower than the estimate: a call let in should not end in a 504.
    if (expected > budget * ADMISSION_SHARE && this.pending > 0) {
      const message = `the calls ahead would take about ${Math.round(expected)} ms, past the ${Math.round(budget)} ms deadline`;
      return Promise.reject(
        withExtras(new errors.OVERLOADED(message), { retryAfter: Math.max(1, Math.ceil(expected / 1000)) }),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        feeds,
        rows: rowsOf(feeds),
        bytes: bytesOf(feeds),
        settled: false,
        timer: undefined,
        unlisten: undefined,
        submitted: performance.now(),
        queue,
        level,
        trace: call.trace,
        resolve,
        reject,
      };
      pending.resolve = (outputs) => {
        if (this.#settle(pending)) resolve(outputs);
      };
      pending.reject = (err) => {
        if (this.#settle(pending)) reject(err instanceof Error ? err : new Error(String(err)));
      };
      // Still queued: it never runs. Running: it finishes (a native run cannot be stopped) and is dropped.
      const withdraw = (err: Error) => {
        this.#dequeue(pending);
        pending.reject(err);
      };
      if (Number.isFinite(budget)) {
        pending.timer = setTimeout(
          () => withdraw(new errors.INFERENCE_TIMEOUT(Math.round(budget))),
          Math.max(0, budget),
        );
      }
      if (policy.timeoutAction === 'DELAY' && Number.isFinite(waitMs)) {
        const delay = setTimeout(() => {
          // Past its time at its level: it waits behind every call still in time, and keeps its other timeouts.
          if (pending.settled || !this.#dequeue(pending)) return;
          pending.queue = this.#delayed;
          this.#enqueue(pending);
        }, waitMs);
        delay.unref();
      }
      if (signal !== undefined) {
        const onAbort = () => withdraw(cancelled());
        signal.addEventListener('abort', onAbort, { once: true });
        pending.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.#enqueue(pending);
      this.#schedule();
    });
  }

  #enqueue(call: Pending): void {
    call.queue.push(call);
    this.#waitingCount++;
  }

  /** Takes a call out of its queue; false when it was not waiting (running, or already answered). */
  #dequeue(call: Pending): boolean {
    const at = call.queue.indexOf(call);
    if (at < 0) return false;
    call.queue.splice(at, 1);
    this.#waitingCount--;
    return true;
  }

  #settle(call: Pending): boolean {
    if (call.settled) return false;
    call.settled = true;
    clearTimeout(call.timer);
    call.unlisten?.();
    return true;
  }

  /**
   * An idle model runs the call at once: nothing could join it. Otherwise the flush waits for setImmediate, so that
   * every request parsed in this turn of the event loop joins the batch.
   */
  #schedule(): void {
    if (this.#scheduled || this.#running >= this.#options.concurrency || this.#waitingCount === 0) return;
    if (this.#running === 0 && this.#waitingCount === 1) {
      this.#start(this.#take());
      return;
    }
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#running < this.#options.concurrency && this.#waitingCount > 0) this.#start(this.#take());
    });
  }

  /** The next run: the first call of the highest priority waiting, and what can merge with it, in the same order. */
  #take(): Pending[] {
    const queues = [...this.#inOrder()];
    const first = queues.find((q) => q.length > 0)?.[0] as Pending;
    this.#dequeue(first);
    const batch = [first];
    if (!this.#merging || first.rows === undefined) return batch;
    let rows = first.rows;
    let bytes = first.bytes;
    for (const queue of queues) {
      while (queue.length > 0) {
        const next = queue[0] as Pending;
        if (next.rows === undefined || rows + next.rows > this.#options.maxRows) return batch;
        if (bytes + next.bytes > MAX_MERGE_BYTES || !compatible(first.feeds, next.feeds)) return batch;
        this.#dequeue(next);
        batch.push(next);
        rows += next.rows;
        bytes += next.bytes;
      }
    }
    return batch;
  }

  #start(batch: Pending[]): void {
    this.#running++;
    const started = performance.now();
    const observe = this.#options.observe;
    if (observe) for (const p of batch) observe.queued((started - p.submitted) / 1000);
    void this.#execute(batch, started).finally(() => {
      const ms = performance.now() - started;
      observe?.executed(
        batch.reduce((n, p) => n + (p.rows ?? 1), 0),
        ms / 1000,
        batch.length,
      );
      this.#runMs += LEARNING_RATE * (ms - this.#runMs);
      this.#callsPerRun += LEARNING_RATE * (batch.length - this.#callsPerRun);
      this.#running--;
      this.#schedule();
    });
  }

  /** Runs feeds for a batch; only a batch with a traced call is timed for it. */
  #runFor(feeds: TensorMap, batch: readonly Pending[], started: number): Promise<TensorMap> {
    return batch.some((p) => p.trace !== undefined)
      ? tracedRun(this.#run, feeds, batch, started)
      : this.#run(feeds);
  }

  async #execute(batch: Pending[], started: number): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      await this.#runFor(only.feeds, batch, started).then(only.resolve, only.reject);
      return;
    }
    const names = Object.keys((batch[0] as Pending).feeds);
    const merged = Object.fromEntries(
      names.map((n) => [n, concat(batch.map((p) => p.feeds[n] as TensorData))]),
    );
    const total = batch.reduce((n, p) => n + (p.rows as number), 0);
    let outputs: TensorMap;
    try {
      outputs = await this.#runFor(merged, batch, started);
    } catch (err) {
      // Refused by the server (overload): nobody runs. Refused by the model: one caller's rows may be the
      // cause, so each call runs alone and gets its own answer.
      if (err instanceof ServalError) for (const p of batch) p.reject(err);
      else await this.#alone(batch);
      return;
    }
    const entries = Object.entries(outputs);
    if (!entries.every(([, t]) => t.dims[0] === total)) {
      this.#merging = false; // the graph's outputs are not per row after all
      await this.#alone(batch);
      return;
    }
    let start = 0;
    for (const p of batch) {
      const own: TensorMap = {};
      for (const [n, t] of entries) own[n] = sliceRows(t, start, p.rows as number);
      p.resolve(own);
      start += p.rows as number;
    }
  }

  async #alone(batch: readonly Pending[]): Promise<void> {
    for (const p of batch)
      if (!p.settled) await this.#runFor(p.feeds, [p], performance.now()).then(p.resolve, p.reject);
  }
}
