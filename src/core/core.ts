// The protocol-neutral core, built once per process by the entry point and handed to every front end.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { PredictionCache } from './cache/prediction-cache.js';
import { Health } from './health.js';
import { Inference } from './inference.js';
import { ModelRepository } from './models/repository.js';
import { InferencePool } from './runtime/pool.js';
import { createRedis, type SharedRedis } from './redis.js';

export interface Core {
  readonly config: Config;
  readonly log: Logger;
  readonly models: ModelRepository;
  readonly cache: PredictionCache | null;
  /** null without redisUrl. */
  readonly redis: SharedRedis | null;
  readonly inference: Inference;
  readonly health: Health;
  /** Loads every model (once); never rejects: failures are recorded per model. */
  start(): Promise<void>;
  /** Unloads the models and ends the thread pool and Redis; front ends close first. */
  close(): Promise<void>;
}

export async function createCore(config: Config, log: Logger): Promise<Core> {
  let pool: InferencePool | undefined;
  const models = new ModelRepository({
    root: config.modelRepository,
    log: log.child({ component: 'models' }),
    load: {
      mode: config.inferenceMode,
      inlineThresholdMs: config.inlineThresholdMs,
      intraOpThreads: config.ortIntraOpThreads,
      inferenceTimeoutMs: config.inferenceTimeoutMs,
      batchMaxRows: config.batchMaxRows,
      threads: config.inferenceThreads,
      queueSize: config.inferenceQueueSize,
      pool: () =>
        (pool ??= new InferencePool({
          threads: config.inferenceThreads,
          maxQueue: config.inferenceQueueSize,
          intraOpThreads: config.ortIntraOpThreads,
        })),
    },
  });
  const redis = config.redisUrl
    ? await createRedis(config.redisUrl, log.child({ component: 'redis' }))
    : null;
  const cache = config.cacheEnabled
    ? new PredictionCache({
        maxEntries: config.cacheMaxEntries,
        maxBytes: config.cacheMaxBytes,
        ttlMs: config.cacheTtlMs,
        redis,
        log: log.child({ component: 'cache' }),
      })
    : null;
  let closed: Promise<void> | undefined;
  return {
    config,
    log,
    models,
    cache,
    redis,
    inference: new Inference(cache),
    health: new Health(models),
    start: () => models.load(),
    close: () =>
      (closed ??= (async () => {
        await models.close();
        await pool?.close();
        redis?.client.disconnect();
      })()),
  };
}
