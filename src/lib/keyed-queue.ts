// One piece of work at a time per key: work for a key starts once the previous work for it settled.
export class KeyedQueue {
  #tails = new Map<string, Promise<unknown>>();

  /** Runs `work` after the work queued before it for `key`; resolves or rejects as `work` does. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#tails.set(key, settled);
    void settled.then(() => this.#tails.get(key) === settled && this.#tails.delete(key));
    return next;
  }

  /** Resolves once the work queued now has settled. */
  async drained(): Promise<void> {
    await Promise.all([...this.#tails.values()]);
  }
}
