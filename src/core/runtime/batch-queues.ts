// The batcher's waiting calls: one queue per priority level, then the calls a DELAY timeout moved behind the others;
// their count, and the next run taken from them in priority order.
import type { RunTrace } from '../tracing/trace.js';
import type { TensorMap } from '../tensor/tensor.js';
import { compatible, MAX_MERGE_BYTES } from './batch-tensors.js';

/** A call submitted to the batcher, from its submission to its answer. */
export interface Pending {
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

export class Queues {
  /** One queue per priority level (index 0 unused). */
  readonly #levels: Pending[][];
  /** The calls a DELAY timeout moved behind the others. */
  readonly delayed: Pending[] = [];
  #count = 0;

  constructor(levels: number) {
    this.#levels = Array.from({ length: Math.max(levels, 1) + 1 }, () => []);
  }

  /** The queue of a priority level (1 the highest). */
  at(level: number): Pending[] {
    return this.#levels[level] as Pending[];
  }

  /** Calls waiting in every queue. */
  get count(): number {
    return this.#count;
  }

  /** The queues in the order they are served: priority 1 first, the delayed calls last. */
  *#inOrder(): Generator<Pending[]> {
    for (let level = 1; level < this.#levels.length; level++) yield this.#levels[level] as Pending[];
    yield this.delayed;
  }

  /** Calls waiting at `level` or a higher one (all of them by default). */
  waitingAhead(level = Infinity): number {
    let count = 0;
    for (let l = 1; l < this.#levels.length && l <= level; l++)
      count += (this.#levels[l] as Pending[]).length;
    return level === Infinity ? count + this.delayed.length : count;
  }

  enqueue(call: Pending): void {
    call.queue.push(call);
    this.#count++;
  }

  /** Takes a call out of its queue; false when it was not waiting (running, or already answered). */
  dequeue(call: Pending): boolean {
    const at = call.queue.indexOf(call);
    if (at < 0) return false;
    call.queue.splice(at, 1);
    this.#count--;
    return true;
  }

  /** The next run: the first call of the highest priority waiting, and what can merge with it, in the same order. */
  take(merging: boolean, maxRows: number): Pending[] {
    const queues = [...this.#inOrder()];
    const first = queues.find((q) => q.length > 0)?.[0] as Pending;
    this.dequeue(first);
    const batch = [first];
    if (!merging || first.rows === undefined) return batch;
    let rows = first.rows;
    let bytes = first.bytes;
    for (const queue of queues) {
      while (queue.length > 0) {
        const next = queue[0] as Pending;
        if (next.rows === undefined || rows + next.rows > maxRows) return batch;
        if (bytes + next.bytes > MAX_MERGE_BYTES || !compatible(first.feeds, next.feeds)) return batch;
        this.dequeue(next);
        batch.push(next);
        rows += next.rows;
        bytes += next.bytes;
      }
    }
    return batch;
  }
}
