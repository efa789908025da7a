// The queue in front of a payload-log sink: a few senders take events in order, retry one the sink refused with
// backoff, and give up what is left at the close deadline. Its caller bounds what it holds (PayloadLog's budget).
import { setTimeout as sleep } from 'node:timers/promises';

/** What became of one event: delivered, refused (the budget was full, or the queue closing), or given up after its retries. */
export type SendOutcome = 'sent' | 'dropped' | 'failed';

export interface QueueOptions<T> {
  /** Events sent at once. */
  workers: number;
  /** Attempts after the first for an event the sink refused. */
  retries: number;
  /** The wait before the first retry, doubled for each next one (with jitter), at most `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Delivers one event; rejects when the sink did not take it. Aborted when the queue gives up at its close. */
  send(item: T, signal: AbortSignal): Promise<void>;
  /** Told of every event's outcome, with the error of a failed one. */
  outcome(outcome: SendOutcome, item: T, err?: unknown): void;
}

export class SendQueue<T> {
  #options: QueueOptions<T>;
  #waiting: T[] = [];
  /** Index of the next entry to send: the array is compacted once it is all sent. */
  #head = 0;
  #active = 0;
  #closing = false;
  #scheduled = false;
  #giveUp = new AbortController();
  #idle: (() => void)[] = [];

  constructor(options: QueueOptions<T>) {
    this.#options = options;
  }

  /** Events waiting to be sent. */
  get length(): number {
    return this.#waiting.length - this.#head;
  }

  /** Queues an event; false (and counted as dropped) when the queue is closing. */
  push(item: T): boolean {
    const o = this.#options;
    if (this.#closing) {
      o.outcome('dropped', item);
      return false;
    }
    this.#waiting.push(item);
    // Senders start on a later turn: the request that pushed finishes first.
    if (this.#active < o.workers && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#pump();
      });
    }
    return true;
  }

  #next(): { item: T } | undefined {
    if (this.#head >= this.#waiting.length) return undefined;
    const entry = { item: this.#waiting[this.#head] as T };
    this.#waiting[this.#head++] = undefined as T;
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    return entry;
  }

  #pump(): void {
    while (this.#active < this.#options.workers && this.length > 0) {
      this.#active++;
      void this.#work().finally(() => {
        this.#active--;
        if (this.#active === 0 && this.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  /** One sender: takes events until none waits. */
  async #work(): Promise<void> {
    for (let entry = this.#next(); entry !== undefined; entry = this.#next()) {
      await this.#deliver(entry.item);
    }
  }

  async #deliver(item: T): Promise<void> {
    const o = this.#options;
    const signal = this.#giveUp.signal;
    for (let attempt = 0; ; attempt++) {
      try {
        await o.send(item, signal);
        o.outcome('sent', item);
        return;
      } catch (err) {
        if (attempt >= o.retries || signal.aborted) {
          o.outcome('failed', item, err);
          return;
        }
      }
      // Full jitter: senders that failed together do not retry together.
      const wait = Math.min(o.maxBackoffMs, o.backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * Takes no more events and sends those waiting until `deadline` (epoch ms); what is still waiting or being sent
   * then is given up (counted as dropped and failed). Resolves once nothing is left.
   */
  async close(deadline: number): Promise<void> {
    this.#closing = true;
    if (this.#active === 0 && this.length === 0) return;
    const idle = new Promise<void>((resolve) => this.#idle.push(resolve));
    const left = Math.max(0, deadline - Date.now());
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), left).unref());
    if ((await Promise.race([idle, timer])) !== 'late') return;
    for (let entry = this.#next(); entry !== undefined; entry = this.#next())
      this.#options.outcome('dropped', entry.item);
    this.#giveUp.abort();
    await idle;
  }
}
