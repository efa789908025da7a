// The process lifecycle the routes must know about: a draining server answers /readyz with 503.
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: { draining: boolean };
  }
}

async function lifecyclePlugin(fastify: FastifyInstance): Promise<void> {
  fastify.decorate('lifecycle', { draining: false });
}

export default fp(lifecyclePlugin, { name: 'lifecycle' });
