// Decorates the instance with the protocol-neutral core that the entry point built; the app never owns its life.
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../../core/core.js';
import type { ModelRepository } from '../../../core/models/repository.js';

declare module 'fastify' {
  interface FastifyInstance {
    core: Core;
    /** core.models, for routes that only look models up. */
    models: ModelRepository;
  }
}

async function corePlugin(fastify: FastifyInstance, { core }: { core: Core }): Promise<void> {
  fastify.decorate('core', core);
  fastify.decorate('models', core.models);
}

export default fp(corePlugin, { name: 'core' });
