// A bounded pool of inference worker threads (piscina): heavy models run here, off the event loop.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { errors, withExtras } from '../errors.js';
import type { TensorMap } from '../tensor/tensor.js';
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
 * Each model's batcher holds its waiting calls and hands at most `threads` at a time to the pool; this bound is
 * for the pool that all thread-mode models share: at most `threads` calls run and `maxQueue` wait, the next is
 * refused at once (503) instead of waiting behind a queue that only grows (piscina's own queue is not used).
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

  /**
   * Runs one call on a thread. There is no cancellation: ending a thread inside onnxruntime's native run aborts
   * the process, so a caller that gives up (timeout) lets the call finish and drops its result.
   */
  async run(model: { path: string; key: string }, feeds: TensorMap, outputs: string[]): Promise<TensorMap> {
    if (this.#inFlight >= this.#capacity) {
      throw withExtras(new errors.OVERLOADED('the inference queue is full'), { retryAfter: 1 });
    }
    // Buffers move to the thread without a copy, but only those a tensor owns whole: a view into a request
    // body (or Node's shared Buffer pool) is copied first, or moving it would take memory others still use.
    const own: TensorMap = {};
    const transferList: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      let data = t.data;
      if (!Array.isArray(data)) {
        if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
        transferList.push(data.buffer as ArrayBuffer);
      }
      own[name] = { ...t, data };
    }
    this.#inFlight++;
    try {
      return await this.#piscina.run(
        { ...model, intraOpThreads: this.#intraOpThreads, feeds: own, outputs },
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
