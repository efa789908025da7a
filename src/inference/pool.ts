// A bounded pool of inference worker threads (piscina): heavy models run here, off the event loop.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { errors } from '../errors.js';
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

export class InferencePool {
  #piscina: Piscina<InferenceTask, TensorMap>;
  #intraOpThreads: number;

  constructor(options: PoolOptions) {
    this.#intraOpThreads = options.intraOpThreads;
    this.#piscina = new Piscina({
      filename: workerFile,
      minThreads: options.threads,
      maxThreads: options.threads,
      maxQueue: options.maxQueue,
      idleTimeout: Number.MAX_SAFE_INTEGER,
    });
  }

  get queued(): number {
    return this.#piscina.queueSize;
  }

  async run(path: string, feeds: TensorMap, outputs: string[], signal?: AbortSignal): Promise<TensorMap> {
    const transferList = Object.values(feeds).flatMap((t) =>
      ArrayBuffer.isView(t.data) ? [t.data.buffer as ArrayBuffer] : [],
    );
    try {
      return await this.#piscina.run(
        { path, intraOpThreads: this.#intraOpThreads, feeds, outputs },
        { transferList, ...(signal ? { signal } : {}) },
      );
    } catch (err) {
      if ((err as Error).message === 'Task queue is at limit') {
        throw Object.assign(new errors.OVERLOADED(), { headers: { 'retry-after': '1' } });
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#piscina.close({ force: true });
  }
}
