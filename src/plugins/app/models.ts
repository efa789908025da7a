// Decorates the instance with the model repository (and its thread pool); loads models once the app is ready.
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/schema.js';
import { InferencePool } from '../../inference/pool.js';
import { ModelRepository } from '../../models/repository.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelRepository;
  }
}

async function modelsPlugin(fastify: FastifyInstance, config: Config): Promise<void> {
  let pool: InferencePool | undefined;
  const repository = new ModelRepository({
    root: config.modelRepository,
    log: fastify.log.child({ component: 'models' }),
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
  fastify.decorate('models', repository);
  // Loading starts when the app is ready and runs on while the server listens: /readyz says when it is done.
  fastify.addHook('onReady', function () {
    void repository.load();
  });
  fastify.addHook('onClose', async function () {
    await repository.close();
    await pool?.close();
  });
}

export default fp(modelsPlugin, { name: 'models' });
