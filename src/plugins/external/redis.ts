// The shared Redis client (ioredis) for rate limits and the prediction cache, when SERVAL_REDIS_URL is set.
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { throttledWarning } from '../../throttled-warning.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** null without redisUrl. Commands fail fast while disconnected: callers fall back, never wait. */
    redis: Redis | null;
  }
}

export interface RedisOptions {
  url: string;
}

async function redisPlugin(fastify: FastifyInstance, { url }: RedisOptions): Promise<void> {
  if (!url) {
    fastify.decorate('redis', null);
    return;
  }
  const log = fastify.log.child({ component: 'redis' });
  const { Redis: Client } = await import('ioredis'); // loaded only when Redis is configured
  const redis: Redis = new Client(url, {
    lazyConnect: true,
    enableOfflineQueue: false, // a command while Redis is down fails at once instead of queueing
    maxRetriesPerRequest: 1,
    commandTimeout: 300,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  redis.on('error', throttledWarning(log, 'redis unavailable; using the failure policy'));
  redis.on('ready', () => log.info('redis connected'));
  redis.connect().catch(() => undefined); // reconnects by itself; errors are reported above
  fastify.decorate('redis', redis);
  fastify.addHook('onClose', async () => {
    redis.disconnect();
  });
}

export default fp(redisPlugin, { name: 'redis' });
