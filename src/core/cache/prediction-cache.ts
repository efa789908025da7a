// A bounded LRU of encoded prediction responses (entries, bytes, TTL), shared through Redis, with single-flight.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { SharedRedis } from '../redis.js';
import type { TensorMap } from '../tensor/tensor.js';
import { throttledWarning } from '../../lib/throttled-warning.js';

/** Cache-Control: no-cache (or no-store) on a request, as an HTTP header or gRPC metadata: compute afresh. */
export function bypassRequested(cacheControl: string | undefined): boolean {
  return cacheControl !== undefined && /\bno-(cache|store)\b/i.test(cacheControl);
}

export type CacheStatus = 'hit' | 'miss' | 'collapsed' | 'bypass';

export interface PredictionCacheOptions {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  redis: SharedRedis | null;
  log: Logger;
}

/** What an answer is filed under besides its inputs. */
export interface KeySpace {
  /** The response format (v1, v2-json, v2-binary, grpc): no front end is answered from another's bytes. */
  format: string;
  model: string;
  version: string;
  /** The digest of the model's files: a reloaded model never answers from its predecessor's entries. */
  generation: string;
}

/**
 * The key is the key space, the request's other choices that shape the answer (`variant`: requested outputs,
 * classification, binary flags) and the input tensors as the model receives them: an instance sent as an array and
 * the same instance sent as named features encode to the same bytes, so they share an entry.
 */
export function cacheKey(space: KeySpace, variant: string, feeds: TensorMap): string {
  const hash = createHash('sha256').update(
    `${space.format}\0${space.model}\0${space.version}\0${space.generation}\0${variant}\0`,
  );
  for (const [name, tensor] of Object.entries(feeds)) {
    hash.update(`${name}\0${tensor.datatype}\0${tensor.dims.join('x')}\0`);
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
 * The key of an exact repeat: the key space and the raw request body itself. No digest: SHA-256 of a 32-row body
 * costs 3 µs here, a Map lookup by its text 0.1 µs, and unlike a fast non-cryptographic hash the text cannot be made
 * to collide with another client's body.
 */
export function exactKey(space: KeySpace, body: string): string {
  return `${space.format}\0${space.model}\0${space.version}\0${space.generation}\0${body}`;
}

/** A response filed under the request body it answered, with that body's number of instances. */
export interface ExactEntry {
  value: Buffer;
  instances: number;
}

/**
 * Values are whole serialized responses, sent as they are. Two indexes share them: entries by the canonical
 * input (array and named forms meet there), and exact repeats by raw body, which a hit answers before the body
 * is parsed, validated or encoded: for a cheap model that work is most of a request.
 */
export class PredictionCache {
  #lru: LRUCache<string, Buffer>;
  #exact: LRUCache<string, ExactEntry>;
  #inFlight = new Map<string, Promise<Buffer>>();
  #redis: SharedRedis | null;
  #ttlMs: number;
  /** Redis trouble makes the cache local for a while; it is reported, never raised. */
  #report: (err: Error) => void;

  constructor(options: PredictionCacheOptions) {
    const bounds = { max: options.maxEntries, maxSize: options.maxBytes, ttl: options.ttlMs };
    const size = (value: Buffer) => value.length + 64;
    this.#lru = new LRUCache<string, Buffer>({ ...bounds, sizeCalculation: size });
    // The same buffers by another key: the exact index adds keys, not copies of the responses.
    this.#exact = new LRUCache<string, ExactEntry>({
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
  exact(key: string): ExactEntry | undefined {
    return this.#exact.get(key);
  }

  /**
   * The cached value, or compute's (once for identical concurrent calls), and where it came from; with an
   * exact key, the value is also filed under it.
   */
  async wrap(
    key: string,
    compute: () => Promise<Buffer>,
    exact?: { key: string; instances: number },
  ): Promise<{ value: Buffer; status: CacheStatus }> {
    const result = await this.#lookup(key, compute);
    if (exact !== undefined) this.#exact.set(exact.key, { value: result.value, instances: exact.instances });
    return result;
  }

  async #lookup(
    key: string,
    compute: () => Promise<Buffer>,
  ): Promise<{ value: Buffer; status: CacheStatus }> {
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

  async #fill(key: string, compute: () => Promise<Buffer>): Promise<{ value: Buffer; status: CacheStatus }> {
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

  async #redisGet(key: string): Promise<Buffer | undefined> {
    if (!this.#redis) return undefined;
    try {
      const bytes = await this.#redis.call((redis) => redis.getBuffer(`serval-cache:${key}`));
      return bytes ?? undefined;
    } catch (err) {
      this.#report(err as Error);
      return undefined;
    }
  }

  #redisSet(key: string, value: Buffer): void {
    const redis = this.#redis;
    if (!redis || redis.breaker.open) return;
    redis
      .call((client) => client.set(`serval-cache:${key}`, value, 'PX', this.#ttlMs))
      .catch((err: unknown) => {
        this.#report(err as Error);
      });
  }
}
