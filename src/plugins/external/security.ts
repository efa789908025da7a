// Security headers (@fastify/helmet) and CORS for an allow-list of origins (@fastify/cors), nothing else.
import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export interface SecurityOptions {
  corsOrigins: string[];
}

async function securityPlugin(fastify: FastifyInstance, { corsOrigins }: SecurityOptions): Promise<void> {
  // Swagger UI sets its own, looser CSP on /docs (staticCSP); JSON responses get helmet's strict default.
  await fastify.register(helmet, { global: true });
  if (corsOrigins.length > 0) {
    await fastify.register(cors, {
      origin: corsOrigins,
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'cache-control', 'x-request-id'],
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        'cache-status',
        'etag',
      ],
      maxAge: 600,
    });
  }
}

export default fp(securityPlugin, { name: 'security' });
