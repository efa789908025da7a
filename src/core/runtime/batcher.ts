// Dynamic batching: calls that arrive while a model is busy (or in the same event-loop turn) run as one batch.
import { performance } from 'node:perf_hooks';
import { errors, ServalError, withExtras } from '../errors.js';
import type { RunObserver } from '../observe.js';
import type { CallOptions } from './runtime.js';
import type { TensorData, TensorMap } from '../tensor/tensor.js';
import { DEFAULT_QUEUE, DEFAULT_SCHEDULE, levelOf, queueTimeoutMs, type SchedulePolicy } from './schedule.js';
import { Queues, type Pending } from './batch-queues.js';
import { bytesOf, concat, rowsOf, sliceRows } from './batch-tensors.js';
import { tracedRun, type Run } from './traced-run.js';

export { MAX_MERGE_BYTES, mergeRows } from './batch-tensors.js';
export type { Run } from './traced-run.js';

export interface BatcherOptions {
  /** Calls that may run at once (1 inline; for a pool, asked before each start: it follows the machine's load). */
  concurrency: number | (() => number);
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

/** Where an admitted call waits, and how long it may wait and run. */
interface Admission {
  queue: Pending[];
  level: number;
  /** Past it the call ends in a 504 (the server's timeout, the caller's deadline, a REJECT queue timeout). */
  budget: number;
  /** Past it the call moves behind every call still in time (a DELAY queue timeout); Infinity for none. */
  delayMs: number;
}

/** The error of a call whose client went away. */
export function cancelled(): Error {
  return new errors.REQUEST_CANCELLED('the client went away before its answer');
}

/** The share of a call's deadline that the expected wait may take for it to be let in. */
const ADMISSION_SHARE = 0.8;

/** How much each new run counts in the running estimates of run time and calls per run. */
const LEARNING_RATE = 0.2;

export class Batcher {
  #run: Run;
  #options: BatcherOptions;
  #queues: Queues;
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
    this.#queues = new Queues(this.#policy.levels);
  }

  /** Calls waiting for a run, and calls running. */
  get pending(): number {
    return this.#queues.count + this.#running;
  }

  /**
   * How long a call submitted now would take to finish: the runs queued ahead of it (fewer when calls merge), the
   * one it waits for when every slot is busy, and its own.
   */
  expectedMs(level?: number): number {
    const concurrency = this.#slots();
    const runsAhead = Math.ceil(this.#queues.waitingAhead(level) / (concurrency * this.#callsPerRun));
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
    const { signal } = call;
    if (signal?.aborted === true) return Promise.reject(cancelled());
    let admission: Admission;
    try {
      admission = this.#admit(call);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
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
        queue: admission.queue,
        level: admission.level,
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
      this.#watch(pending, admission, signal);
      this.#queues.enqueue(pending);
      this.#schedule();
    });
  }

  /**
   * Where a call would wait and for how long; throws OVERLOADED when its queue is full or the calls ahead could not
   * be served within its budget, INVALID_REQUEST for a priority past the model's levels.
   */
  #admit(call: CallOptions): Admission {
    const { deadline = Infinity } = call;
    const { maxWaiting, timeoutMs } = this.#options;
    const level = levelOf(this.#policy, call.priority);
    const queue = this.#queues.at(level);
    const policy = this.#policy.queues[level] ?? DEFAULT_QUEUE;
    if (
      this.#queues.count >= maxWaiting ||
      (policy.maxQueueSize > 0 && queue.length >= policy.maxQueueSize)
    ) {
      const which = this.#policy.levels > 0 ? `the queue of priority level ${level}` : 'the inference queue';
      throw withExtras(new errors.OVERLOADED(`${which} is full`), { retryAfter: 1 });
    }
    const waitMs = queueTimeoutMs(policy, call.timeoutUs);
    // A REJECT timeout ends the call as the server's own timeout and the caller's deadline do; a DELAY one moves it.
    const rejectAt = policy.timeoutAction === 'REJECT' ? waitMs : Infinity;
    const budget = Math.min(timeoutMs, deadline - Date.now(), rejectAt);
    const expected = this.expectedMs(level);
    // A fifth of the budget is kept for runs slower than the estimate: a call let in should not end in a 504.
    if (expected > budget * ADMISSION_SHARE && this.pending > 0) {
      const message = `the calls ahead would take about ${Math.round(expected)} ms, past the ${Math.round(budget)} ms deadline`;
      throw withExtras(new errors.OVERLOADED(message), {
        retryAfter: Math.max(1, Math.ceil(expected / 1000)),
      });
    }
    const delayMs = policy.timeoutAction === 'DELAY' ? waitMs : Infinity;
    return { queue, level, budget, delayMs };
  }

  /** Arms a waiting call's timeouts and listens to its cancellation. */
  #watch(pending: Pending, { budget, delayMs }: Admission, signal: AbortSignal | undefined): void {
    // Still queued: it never runs. Running: it finishes (a native run cannot be stopped) and is dropped.
    const withdraw = (err: Error) => {
      this.#queues.dequeue(pending);
      pending.reject(err);
    };
    if (Number.isFinite(budget)) {
      pending.timer = setTimeout(
        () => withdraw(new errors.INFERENCE_TIMEOUT(Math.round(budget))),
        Math.max(0, budget),
      );
    }
    if (Number.isFinite(delayMs)) {
      const delay = setTimeout(() => {
        // Past its time at its level: it waits behind every call still in time, and keeps its other timeouts.
        if (pending.settled || !this.#queues.dequeue(pending)) return;
        pending.queue = this.#queues.delayed;
        this.#queues.enqueue(pending);
      }, delayMs);
      delay.unref();
    }
    if (signal !== undefined) {
      const onAbort = () => withdraw(cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
      pending.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
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
    if (this.#scheduled || this.#running >= this.#slots() || this.#queues.count === 0) return;
    if (this.#running === 0 && this.#queues.count === 1) {
      this.#start(this.#take());
      return;
    }
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#running < this.#slots() && this.#queues.count > 0) this.#start(this.#take());
    });
  }

  #slots(): number {
    const { concurrency } = this.#options;
    return typeof concurrency === 'number' ? concurrency : concurrency();
  }

  /** The next run, from the queues in priority order. */
  #take(): Pending[] {
    return this.#queues.take(this.#merging, this.#options.maxRows);
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
