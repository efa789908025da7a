// A bounded pool of inference worker threads (piscina): heavy models run here, off the event loop.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { errors, withExtras } from '../errors.js';
import type { TensorMap } from './tensor.js';
import type { InferenceTask } from './worker.js';

export interface PoolOptions {
  threads: number;
  maxQueue: number;
  intraOpThreads: number;
}

// Under tsx (tests, dev) this file is .ts and so is the worker; once built, both are .js.
const workerFile = fileURLToPath(
  new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/**
 * Admission is counted here rather than by piscina's queue: at most `threads` calls run and `maxQueue` wait; the
 * next one is refused at once (503) instead of waiting behind a queue that only grows.
 */
export class InferencePool {
  #piscina: Piscina<InferenceTask, TensorMap>;
  #intraOpThreads: number;
  #capacity: number;
  #inFlight = 0;

  constructor(options: PoolOptions) {
    this.#intraOpThreads = options.intraOpThreads;
    this.#capacity = options.threads + options.maxQueue;
    this.#piscina = new Piscina({
      filename: workerFile,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
    });
  }

  /** Calls running or waiting. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Runs one call on a thread. There is no cancellation: ending a thread inside onnxruntime's native run aborts
   * the process, so a caller that gives up (timeout) lets the call finish and drops its result.
   */
  async run(path: string, feeds: TensorMap, outputs: string[]): Promise<TensorMap> {
    if (this.#inFlight >= this.#capacity) {
      throw withExtras(new errors.OVERLOADED(), { headers: { 'retry-after': '1' } });
    }
    const transferList = Object.values(feeds).flatMap((t) =>
      ArrayBuffer.isView(t.data) ? [t.data.buffer as ArrayBuffer] : [],
    );
    this.#inFlight++;
    try {
      return await this.#piscina.run(
        { path, intraOpThreads: this.#intraOpThreads, feeds, outputs },
        { transferList },
      );
    } finally {
      this.#inFlight--;
    }
  }

  async close(): Promise<void> {
    // Not forced: a thread is never ended inside a native run (see run); the last calls finish first.
    await this.#piscina.close();
  }
}
