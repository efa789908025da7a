// A bounded LRU of serialized prediction responses (entries, bytes, TTL), shared through Redis, with single-flight.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { TensorMap } from '../inference/tensor.js';
import { throttledWarning } from '../throttled-warning.js';

export type CacheStatus = 'hit' | 'miss' | 'collapsed' | 'bypass';

export interface PredictionCacheOptions {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  redis: Redis | null;
  log: FastifyBaseLogger;
}

/**
 * The key is the model, its version and the encoded input tensors: an instance sent as an array and the same
 * instance sent as named features encode to the same bytes, so they share an entry.
 */
export function cacheKey(model: string, version: string, feeds: TensorMap): string {
  const hash = createHash('sha256').update(`${model}\0${version}\0`);
  for (const [name, tensor] of Object.entries(feeds)) {
    hash.update(`${name}\0${tensor.type}\0${tensor.dims.join('x')}\0`);
    const data = tensor.data;
    hash.update(
      ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : JSON.stringify(data),
    );
  }
  return hash.digest('base64url');
}

/** Bodies up to this many characters are filed by their text for exact repeats; longer ones only canonically. */
export const EXACT_MAX_BODY = 16_384;

/**
 * The key of an exact repeat: the model, its version and the raw request body itself. No digest: SHA-256 of a
 * 32-row body costs 3 µs here, a Map lookup by its text 0.1 µs, and unlike a fast non-cryptographic hash the text
 * cannot be made to collide with another client's body.
 */
export function exactKey(model: string, version: string, body: string): string {
  return `${model}\0${version}\0${body}`;
}

/** A response filed under the request body it answered, with that body's number of instances. */
export interface ExactEntry<V extends string = string> {
  value: V;
  instances: number;
}

/**
 * Values are whole serialized responses, sent as they are. Two indexes share them: entries by the canonical
 * input (array and named forms meet there), and exact repeats by raw body, which a hit answers before the body
 * is parsed, validated or encoded: for a cheap model that work is most of a request.
 */
export class PredictionCache<V extends string = string> {
  #lru: LRUCache<string, V>;
  #exact: LRUCache<string, ExactEntry<V>>;
  #inFlight = new Map<string, Promise<V>>();
  #redis: Redis | null;
  #ttlMs: number;
  /** Redis trouble makes the cache local for a while; it is reported, never raised. */
  #report: (err: Error) => void;

  constructor(options: PredictionCacheOptions) {
    const bounds = { max: options.maxEntries, maxSize: options.maxBytes, ttl: options.ttlMs };
    const size = (value: V) => value.length * 2 + 64;
    this.#lru = new LRUCache<string, V>({ ...bounds, sizeCalculation: size });
    // The same strings by another key: the exact index adds keys, not copies of the responses.
    this.#exact = new LRUCache<string, ExactEntry<V>>({
      ...bounds,
      sizeCalculation: (entry, key) => size(entry.value) + key.length * 2,
    });
    this.#redis = options.redis;
    this.#ttlMs = options.ttlMs;
    this.#report = throttledWarning(options.log, 'shared prediction cache unavailable; caching locally');
  }

  get size(): number {
    return this.#lru.size;
  }

  /** A response stored for exactly this body, if any (local only: it must stay cheaper than the work it saves). */
  exact(key: string): ExactEntry<V> | undefined {
    return this.#exact.get(key);
  }

  /**
   * The cached value, or compute's (once for identical concurrent calls), and where it came from; with an
   * exact key, the value is also filed under it.
   */
  async wrap(
    key: string,
    compute: () => Promise<V>,
    exact?: { key: string; instances: number },
  ): Promise<{ value: V; status: CacheStatus }> {
    const result = await this.#lookup(key, compute);
    if (exact !== undefined) this.#exact.set(exact.key, { value: result.value, instances: exact.instances });
    return result;
  }

  async #lookup(key: string, compute: () => Promise<V>): Promise<{ value: V; status: CacheStatus }> {
    const local = this.#lru.get(key);
    if (local !== undefined) return { value: local, status: 'hit' };
    const pending = this.#inFlight.get(key);
    if (pending) return { value: await pending, status: 'collapsed' };
    const work = this.#fill(key, compute);
    const shared = work.then(({ value }) => value);
    shared.catch(() => undefined); // the first caller gets the error; followers get it through `shared`
    this.#inFlight.set(key, shared);
    try {
      return await work;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  async #fill(key: string, compute: () => Promise<V>): Promise<{ value: V; status: CacheStatus }> {
    const shared = await this.#redisGet(key);
    if (shared !== undefined) {
      this.#lru.set(key, shared);
      return { value: shared, status: 'hit' };
    }
    const value = await compute();
    this.#lru.set(key, value);
    this.#redisSet(key, value);
    return { value, status: 'miss' };
  }

  async #redisGet(key: string): Promise<V | undefined> {
    if (!this.#redis) return undefined;
    try {
      const text = await this.#redis.get(`serval-cache:${key}`);
      return text === null ? undefined : (text as V);
    } catch (err) {
      this.#report(err as Error);
      return undefined;
    }
  }

  #redisSet(key: string, value: V): void {
    this.#redis?.set(`serval-cache:${key}`, value, 'PX', this.#ttlMs).catch((err: unknown) => {
      this.#report(err as Error);
    });
  }
}
