// Rate limits on HTTP routes (the shared RateLimiter): per principal or client IP, before the body is read, with
// the RateLimit-* headers; routes choose their bucket and limit, or opt out.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../../config/schema.js';
import { rateLimited, rateLimitKey, type Allowance, type RateLimiter } from '../../../limits/rate-limiter.js';

export interface RouteLimit {
  /** Requests per window per principal (or IP); the config's rateLimitMax by default. */
  max?: number;
  /** Routes of one bucket share a budget (all inference routes, V1 and V2, are "predict"). */
  bucket?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Always there: the token endpoint is limited per IP even when rate limiting is otherwise off. */
    rateLimiter: RateLimiter;
    /** Whether routes are limited (rateLimitEnabled); the token endpoint is either way. */
    rateLimiting: boolean;
    /**
     * Counts a request against a limit (its route's by default), by principal or client IP; throws 429, or 503 when
     * the shared store fails and the policy is to refuse.
     */
    countRequest: (
      request: FastifyRequest,
      reply: FastifyReply,
      limit?: false | RouteLimit,
      by?: 'principal' | 'ip',
    ) => Promise<void>;
  }
  interface FastifyContextConfig {
    rateLimit?: false | RouteLimit;
  }
}

function setHeaders(reply: FastifyReply, allowance: Allowance): void {
  void reply
    .header('ratelimit-limit', allowance.limit)
    .header('ratelimit-remaining', allowance.remaining)
    .header('ratelimit-reset', allowance.resetSeconds);
}

export interface RateLimitOptions {
  config: Config;
  /** The process's one limiter, shared with the other front ends. */
  limiter: RateLimiter;
}

async function rateLimitPlugin(fastify: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const { config, limiter } = options;
  fastify.decorate('rateLimiter', limiter);
  fastify.decorate('rateLimiting', config.rateLimitEnabled);
  fastify.decorate(
    'countRequest',
    async function (
      request: FastifyRequest,
      reply: FastifyReply,
      limit: false | RouteLimit | undefined = request.routeOptions.config.rateLimit,
      by: 'principal' | 'ip' = 'principal',
    ) {
      if (limit === false) return;
      const principal = by === 'principal' ? request.principal : null;
      const allowance = await limiter.consume(
        rateLimitKey(limit?.bucket ?? 'api', principal, request.ip),
        limit?.max ?? config.rateLimitMax,
      );
      setHeaders(reply, allowance);
      if (!allowance.allowed) throw rateLimited(allowance, config.rateLimitWindowMs);
    },
  );
  if (!config.rateLimitEnabled) return;
  // After onRequest, where auth names the principal; before the body is read and validated.
  fastify.addHook('preParsing', function (request, reply, payload, done) {
    fastify.countRequest(request, reply).then(
      () => done(null, payload),
      (err: unknown) => done(err as Error),
    );
  });
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['core'] });
