// Rate limits per principal (or client IP) with @fastify/rate-limit, shared through Redis when configured.
import fp from 'fastify-plugin';
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import LocalStore from '@fastify/rate-limit/store/LocalStore.js';
import RedisStore from '@fastify/rate-limit/store/RedisStore.js';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../../../config/schema.js';
import { errors, withExtras } from '../../../core/errors.js';
import { throttledWarning } from '../../../lib/throttled-warning.js';

type Incr = Parameters<FastifyRateLimitStore['incr']>;

/**
 * Redis first; when Redis fails, the failure policy decides: "open" counts in this process instead (the limit
 * then holds per process), "closed" refuses with 503. Either way the failure is logged and nothing is a 500.
 */
function resilientStore(
  redis: Redis,
  policy: Config['redisFailurePolicy'],
  log: FastifyBaseLogger,
): FastifyRateLimitStoreCtor {
  const report = throttledWarning(log, 'rate limit store unavailable', { policy });
  interface Pair {
    shared: FastifyRateLimitStore;
    local: FastifyRateLimitStore;
  }
  class ResilientStore implements FastifyRateLimitStore {
    private readonly shared: FastifyRateLimitStore;
    private readonly local: FastifyRateLimitStore;

    // @fastify/rate-limit constructs a store with its options (unused here); child() passes the route's pair.
    constructor(_options?: unknown, pair?: Pair) {
      this.shared = pair?.shared ?? new RedisStore(false, false, redis, 'serval-rl:');
      this.local = pair?.local ?? new LocalStore(false, false);
    }

    incr(key: Incr[0], callback: Incr[1], timeWindow: Incr[2], max: Incr[3]): void {
      this.shared.incr(
        key,
        (err, result) => {
          if (!err) return callback(null, result);
          report(err);
          if (policy === 'open') return this.local.incr(key, callback, timeWindow, max);
          callback(withExtras(new errors.RATE_LIMIT_UNAVAILABLE(), { retryAfter: 1 }));
        },
        timeWindow,
        max,
      );
    }

    child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      return new ResilientStore(undefined, {
        shared: this.shared.child(routeOptions),
        local: this.local.child(routeOptions),
      });
    }
  }
  return ResilientStore;
}

async function rateLimitPlugin(fastify: FastifyInstance, config: Config): Promise<void> {
  const windowSeconds = Math.ceil(config.rateLimitWindowMs / 1000);
  await fastify.register(rateLimit, {
    global: true,
    // After onRequest, where auth names the principal; before the body is read and validated.
    hook: 'preParsing',
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    enableDraftSpec: true, // RateLimit-Limit / -Remaining / -Reset
    skipOnError: false,
    keyGenerator: (request) => (request.principal ? `sub:${request.principal.subject}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) => new errors.RATE_LIMITED(context.max, windowSeconds),
    ...(fastify.core.redis && {
      store: resilientStore(fastify.core.redis, config.redisFailurePolicy, fastify.log),
    }),
  });
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['core'] });
