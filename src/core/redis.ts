// The shared Redis client (ioredis) for rate limits and the prediction cache, when redisUrl is set.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { throttledWarning } from '../lib/throttled-warning.js';

/** Commands fail fast while disconnected (no offline queue): callers fall back, never wait. */
export async function createRedis(url: string, log: Logger): Promise<Redis> {
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
  return redis;
}
