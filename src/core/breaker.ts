// A circuit breaker for a shared dependency (Redis): after a few failures in a row it stops asking for a while, so
// that callers apply their failure policy at once instead of each waiting out a timeout, then probes for recovery.

export class CircuitOpenError extends Error {
  override name = 'CircuitOpenError';
  constructor() {
    super('the shared store is not answering; not asking it for a while');
  }
}

export interface BreakerOptions {
  /** Failures in a row that open the circuit. */
  failures: number;
  /** How long it stays open before one call may probe. */
  cooldownMs: number;
  /** Told when the circuit opens and closes, for the log. */
  onChange?: (state: 'open' | 'closed') => void;
}

/**
 * Closed: calls go through and failures in a row are counted. Open: calls fail at once with CircuitOpenError. After
 * the cooldown one call probes (half-open): its success closes the circuit, its failure opens it again.
 */
export class CircuitBreaker {
  #options: BreakerOptions;
  #failures = 0;
  #openedAt: number | undefined;
  #probing = false;

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  get open(): boolean {
    return this.#openedAt !== undefined;
  }

  async call<T>(work: () => Promise<T>): Promise<T> {
    const openedAt = this.#openedAt;
    let probe = false;
    if (openedAt !== undefined) {
      if (this.#probing || Date.now() - openedAt < this.#options.cooldownMs) throw new CircuitOpenError();
      this.#probing = probe = true;
    }
    try {
      const result = await work();
      this.#succeeded();
      return result;
    } catch (err) {
      this.#failed();
      throw err;
    } finally {
      if (probe) this.#probing = false;
    }
  }

  #succeeded(): void {
    this.#failures = 0;
    if (this.#openedAt !== undefined) {
      this.#openedAt = undefined;
      this.#options.onChange?.('closed');
    }
  }

  #failed(): void {
    this.#failures++;
    const wasOpen = this.#openedAt !== undefined;
    if (wasOpen || this.#failures >= this.#options.failures) {
      this.#openedAt = Date.now();
      if (!wasOpen) this.#options.onChange?.('open');
    }
  }
}
