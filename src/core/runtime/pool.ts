// A bounded pool of inference worker threads (piscina): heavy models run here, off the event loop.
import { Piscina } from 'piscina';
import { BufferPool } from '../../lib/buffer-pool.js';
import { besideModule } from '../../lib/module-file.js';
import { errors, withExtras } from '../errors.js';
import { viewOf, type DataType } from '../tensor/dtypes.js';
import type { TensorMap } from '../tensor/tensor.js';
import { SOLE_PROCESS, type CoreShare } from './core-share.js';
import type { InferenceTask, ReleaseTask, ThreadData, ThreadResult } from './worker.js';

/** When a run computed, in epoch ms: filled by the thread's own clock. */
export interface Timing {
  start: number;
  end: number;
}

export interface PoolOptions {
  /** Runs at once while other processes run inference too. */
  threads: number;
  maxQueue: number;
  intraOpThreads: number;
  /**
   * The cores a process may take while no other serving process runs inference: a lone run (one that starts when
   * nothing else ran in this pool for IDLE_MS) takes this many intra-op threads, on a session of its own, and as
   * many runs of `intraOpThreads` as fit in them may run at once (the pool starts that many threads, the ones past
   * `threads` when such calls first come). At most `intraOpThreads` for neither.
   */
  loneIntraOpThreads: number;
  /** The other serving processes' use of the cores; none by default. */
  share?: CoreShare;
}

/** How long a pool stays idle before it tells the other processes that it no longer runs inference. */
const IDLE_MS = 50;

/** Inputs copied for the threads: the size of an image or more, reused up to a few dozen such images. */
const HAND_OFF_MEMORY = {
  minBytes: 64 * 1024,
  maxBytes: 16 * 1024 * 1024,
  maxHeldBytes: 32 * 1024 * 1024,
  shared: true,
};

const workerFile = besideModule(import.meta.url, 'worker');

/**
 * Each model's batcher holds its waiting calls and hands at most `slots()` at a time to the pool; this bound is
 * for the pool that all thread-mode models share: at most one call per thread runs and `maxQueue` wait, the next is
 * refused at once (503) instead of waiting behind a queue that only grows (piscina's own queue is not used).
 */
export class InferencePool {
  #piscina: Piscina<InferenceTask | ReleaseTask, ThreadResult | null>;
  #sessions: Int32Array;
  #intraOpThreads: number;
  #loneIntraOpThreads: number;
  #share: CoreShare;
  #lastRun = 0;
  /** When two runs or more last ran at once in this pool (Infinity while they do): calls came faster than one a run. */
  #lastOverlap = -Infinity;
  /** Set while the other processes know that this one runs inference: it checks for IDLE_MS without a run. */
  #idleTimer: NodeJS.Timeout | undefined;
  #capacity: number;
  /** The threads always up, each with its sessions loaded before the first request. */
  #threads: number;
  /** The most threads: the runs at once of a process alone, at least `threads`. */
  #width: number;
  #inFlight = 0;
  /** Runs started, lone (every core) and shared (one core each), for the metrics. */
  #runs = { lone: 0, shared: 0 };
  /** Keys of versions that went, told to every thread with each task (the last few hundred). */
  #retired: string[] = [];
  readonly #handOff = new BufferPool(HAND_OFF_MEMORY);

  constructor(options: PoolOptions) {
    this.#intraOpThreads = options.intraOpThreads;
    this.#loneIntraOpThreads = Math.max(options.intraOpThreads, options.loneIntraOpThreads);
    this.#share = options.share ?? SOLE_PROCESS;
    this.#threads = options.threads;
    this.#width = Math.max(options.threads, Math.floor(this.#loneIntraOpThreads / options.intraOpThreads));
    this.#capacity = this.#width + options.maxQueue;
    const data: ThreadData = { sessions: new SharedArrayBuffer(4 * (this.#width + 64)) };
    this.#sessions = new Int32Array(data.sessions);
    this.#piscina = new Piscina({
      filename: workerFile,
      workerData: data,
      // The threads past `threads` start when a process alone first runs that many calls at once, and stay: their
      // sessions (each thread loads its own at its first run) cost memory only where the calls came.
      minThreads: this.#threads,
      maxThreads: this.#width,
      idleTimeout: Infinity,
    });
  }

  /**
   * Loads a model's sessions before its first request: the shared one in the threads always up (a call of `feeds()`
   * for each), then the lone one. A thread that missed it, or started later, loads its own at its first run.
   */
  async warm(model: { path: string; key: string }, feeds: () => TensorMap, outputs: string[]): Promise<void> {
    await Promise.all(
      Array.from({ length: this.#threads }, () => this.#runOn(this.#intraOpThreads, model, feeds(), outputs)),
    );
    await this.#runOn(this.#loneIntraOpThreads, model, feeds(), outputs);
  }

  /**
   * How many runs of a model that runs `threads` at once may run now: more while no other process runs inference,
   * as many as the pool's threads (each on its own core), for a process that has all the work (one gRPC connection,
   * say) to use every core.
   */
  slots(threads: number): number {
    return this.#share.othersBusy ? threads : Math.max(threads, this.#width);
  }

  /**
   * Runs one call on a thread. There is no cancellation: ending a thread inside onnxruntime's native run aborts
   * the process, so a caller that gives up (timeout) lets the call finish and drops its result. A lone run (nothing
   * else in this pool for IDLE_MS, no other process running inference) takes every core.
   */
  run(
    model: { path: string; key: string },
    feeds: TensorMap,
    outputs: string[],
    timing?: Timing,
  ): Promise<TensorMap> {
    const now = performance.now();
    // Under load the pool empties for a moment between runs: a run is lone only past IDLE_MS of one call at a time.
    const lone = this.#inFlight === 0 && !this.#share.othersBusy && now - this.#lastOverlap >= IDLE_MS;
    if (lone) this.#runs.lone++;
    else this.#runs.shared++;
    const run = this.#runOn(
      lone ? this.#loneIntraOpThreads : this.#intraOpThreads,
      model,
      feeds,
      outputs,
      timing,
    );
    if (this.#inFlight === 1) return run;
    // Two or more at once, from now until this run ends.
    this.#lastOverlap = Infinity;
    return run.finally(() => (this.#lastOverlap = performance.now()));
  }

  async #runOn(
    intraOpThreads: number,
    model: { path: string; key: string },
    feeds: TensorMap,
    outputs: string[],
    timing?: Timing,
  ): Promise<TensorMap> {
    if (this.#inFlight >= this.#capacity) {
      throw withExtras(new errors.OVERLOADED('the inference queue is full'), { retryAfter: 1 });
    }
    const { feeds: own, transferList, lent } = this.#handOver(feeds);
    this.#inFlight++;
    this.#busy();
    try {
      const task = {
        ...model,
        intraOpThreads,
        feeds: own,
        outputs,
        retired: this.#retired,
      };
      const result = (await this.#piscina.run(task, { transferList })) as ThreadResult;
      if (timing !== undefined) {
        timing.start = result.start;
        timing.end = result.end;
      }
      return result.outputs;
    } finally {
      // The thread is done with them (a run that failed too): the next runs may take them.
      for (const memory of lent) this.#handOff.give(memory);
      this.#inFlight--;
      this.#lastRun = performance.now();
    }
  }

  /**
   * The feeds as they go to the thread. Buffers a tensor owns whole move without a copy. A view into other memory
   * (a request body, Node's shared Buffer pool) is copied, or moving it would take memory others still use: a large
   * one into shared memory that the thread reads in place and this pool reuses once the run ends (fresh memory per
   * 600 KB image costs page faults and garbage collections on the serving thread), a small one into fresh memory.
   */
  #handOver(feeds: TensorMap): { feeds: TensorMap; transferList: ArrayBuffer[]; lent: ArrayBufferView[] } {
    const own: TensorMap = {};
    const transferList: ArrayBuffer[] = [];
    const lent: ArrayBufferView[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      let data = t.data;
      if (!Array.isArray(data)) {
        if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) {
          const copy = this.#handOff.take(data.byteLength);
          copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
          data = viewOf(t.datatype as Exclude<DataType, 'BYTES'>, copy, data.length);
        }
        if (data.buffer instanceof SharedArrayBuffer) lent.push(data);
        else transferList.push(data.buffer);
      }
      own[name] = { ...t, data };
    }
    return { feeds: own, transferList, lent };
  }

  /** Shared memory kept for the next runs' large inputs. */
  get handOffHeldBytes(): number {
    return this.#handOff.heldBytes;
  }

  /** Tells the other processes when this one starts running inference, and when it has been idle for IDLE_MS. */
  #busy(): void {
    if (this.#idleTimer !== undefined) return;
    this.#share.tell(true);
    const check = () => {
      const idleFor = performance.now() - this.#lastRun;
      if (this.#inFlight === 0 && idleFor >= IDLE_MS) {
        this.#idleTimer = undefined;
        this.#share.tell(false);
      } else {
        this.#idleTimer = setTimeout(check, this.#inFlight === 0 ? IDLE_MS - idleFor : IDLE_MS).unref();
      }
    };
    this.#idleTimer = setTimeout(check, IDLE_MS).unref();
  }

  /**
   * Frees the sessions of a version that went (unloaded, or replaced by a reload) in every thread: one release task
   * per thread now, and the key with every later task, for a thread the release tasks did not reach.
   */
  async retire(key: string): Promise<void> {
    this.#retired = [...this.#retired.slice(-255), key];
    const retired = this.#retired;
    const running = this.#piscina.threads.length;
    await Promise.all(Array.from({ length: running }, () => this.#piscina.run({ retired })));
  }

  /** Runs started on the threads so far: lone ones took `loneIntraOpThreads`, shared ones `intraOpThreads`. */
  get runs(): { lone: number; shared: number } {
    return { ...this.#runs };
  }

  /** onnxruntime sessions the threads hold (a model version each, per thread): flat over reloads, or a leak. */
  get sessions(): number {
    let total = 0;
    for (let i = 1; i < this.#sessions.length; i++) total += Atomics.load(this.#sessions, i);
    return total;
  }

  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    // Not forced: a thread is never ended inside a native run (see run); the last calls finish first.
    await this.#piscina.close();
  }
}
