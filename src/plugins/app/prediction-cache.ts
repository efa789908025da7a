// Decorates the prediction cache (or null when caching is off); protocols call it around inference.
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { PredictionCache } from '../../cache/prediction-cache.js';
import type { Config } from '../../config/schema.js';

declare module 'fastify' {
  interface FastifyInstance {
    predictionCache: PredictionCache | null;
  }
}

async function predictionCachePlugin(fastify: FastifyInstance, config: Config): Promise<void> {
  fastify.decorate(
    'predictionCache',
    config.cacheEnabled
      ? new PredictionCache({
          maxEntries: config.cacheMaxEntries,
          maxBytes: config.cacheMaxBytes,
          ttlMs: config.cacheTtlMs,
          redis: fastify.redis,
          log: fastify.log.child({ component: 'cache' }),
        })
      : null,
  );
}

export default fp(predictionCachePlugin, { name: 'prediction-cache', dependencies: ['redis'] });
