// The open ModelStreamInfer streams of a server and the bytes they hold together: what a drain ends and what the
// process's flow-control bound counts.

/** How many bytes ModelStreamInfer streams may hold: each one, and all of a process together. */
export interface StreamBounds {
  stream: number;
  all: number;
}

/**
 * The open streams of a server, so that a drain can end each once its answers are written; and the bytes they hold
 * together (requests in progress, answers not yet sent), so that past the process's bound every stream stops reading
 * until some are sent.
 */
export class Streams {
  #open = new Set<(why: string) => Promise<void>>();
  #closing = false;
  #held = 0;
  /** Streams stopped by the process's bound: told when bytes are released. */
  #waiting = new Set<() => void>();
  readonly bounds: StreamBounds;

  constructor(bounds: StreamBounds) {
    this.bounds = bounds;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Bytes held by all streams. */
  get heldBytes(): number {
    return this.#held;
  }

  /** Whether all streams together hold more than their bound. */
  get full(): boolean {
    return this.#held > this.bounds.all;
  }

  hold(bytes: number): void {
    this.#held += bytes;
  }

  release(bytes: number): void {
    this.#held -= bytes;
    if (!this.full) for (const wake of [...this.#waiting]) wake();
  }

  /** `wake` is called whenever bytes are released while it waits. */
  wait(wake: () => void, waiting: boolean): void {
    if (waiting) this.#waiting.add(wake);
    else this.#waiting.delete(wake);
  }

  add(close: (why: string) => Promise<void>): () => void {
    this.#open.add(close);
    return () => this.#open.delete(close);
  }

  /** Stops every stream taking requests; resolves once each has answered what it took and ended. */
  async closeAll(why: string): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#open].map((close) => close(why)));
  }
}
