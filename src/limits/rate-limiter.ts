// Fixed-window rate limits per key (a principal or a client IP), counted in Redis when there is one so that every
// worker and replica shares them, in this process otherwise or while Redis fails (the failure policy decides).
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { errors, withExtras } from '../core/errors.js';
import type { SharedRedis } from '../core/redis.js';
import { throttledWarning } from '../lib/throttled-warning.js';

export interface Allowance {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window starts again. */
  resetSeconds: number;
}

export interface RateLimiterOptions {
  windowMs: number;
  redis: SharedRedis | null;
  /** open: count in this process while Redis fails; closed: refuse with 503. */
  policy: 'open' | 'closed';
  log: Logger;
}

/** One INCR and the window's expiry, atomically: a new key lives one window. Returns the count and ms left. */
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

interface Window {
  count: number;
  resetAt: number;
}

export class RateLimiter {
  #windowMs: number;
  #redis: SharedRedis | null;
  #policy: 'open' | 'closed';
  /** Local windows, bounded: a flood of client addresses cannot grow memory without end. */
  #local: LRUCache<string, Window>;
  #report: (err: Error) => void;

  constructor(options: RateLimiterOptions) {
    this.#windowMs = options.windowMs;
    this.#redis = options.redis;
    this.#policy = options.policy;
    this.#local = new LRUCache<string, Window>({ max: 100_000, ttl: options.windowMs });
    this.#report = throttledWarning(options.log, 'rate limit store unavailable', { policy: options.policy });
  }

  /** Counts one request for `key` against `max` per window. Throws RATE_LIMIT_UNAVAILABLE when it cannot count. */
  async consume(key: string, max: number): Promise<Allowance> {
    const redis = this.#redis;
    if (redis) {
      try {
        const [count, ttl] = await redis.call(
          (client) =>
            client.eval(INCREMENT, 1, `serval-rl:${key}`, this.#windowMs) as Promise<[number, number]>,
        );
        return allowance(count, max, ttl);
      } catch (err) {
        this.#report(err as Error);
        if (this.#policy === 'closed') {
          throw withExtras(new errors.RATE_LIMIT_UNAVAILABLE(), { retryAfter: 1 });
        }
      }
    }
    return this.#consumeLocally(key, max);
  }

  #consumeLocally(key: string, max: number): Allowance {
    const now = Date.now();
    let window = this.#local.get(key);
    if (window === undefined || window.resetAt <= now) {
      window = { count: 0, resetAt: now + this.#windowMs };
      this.#local.set(key, window);
    }
    window.count++;
    return allowance(window.count, max, window.resetAt - now);
  }
}

function allowance(count: number, max: number, msLeft: number): Allowance {
  return {
    allowed: count <= max,
    limit: max,
    remaining: Math.max(0, max - count),
    resetSeconds: Math.max(1, Math.ceil(msLeft / 1000)),
  };
}

/** The 429 for a refused request: the limit, the window, and when to come back. */
export function rateLimited(allowance: Allowance, windowMs: number): Error {
  return withExtras(new errors.RATE_LIMITED(allowance.limit, Math.ceil(windowMs / 1000)), {
    retryAfter: allowance.resetSeconds,
  });
}

/**
 * The key a request counts under: its bucket ("predict" for inference, "api" for the rest), then the principal's
 * subject or, without one, the client's address. Every front end uses it, so that one budget covers HTTP and gRPC.
 */
export function rateLimitKey(bucket: string, principal: { subject: string } | null, ip: string): string {
  return principal ? `${bucket}:sub:${principal.subject}` : `${bucket}:ip:${ip}`;
}
