// Security headers (helmet's, computed once) on every response and CORS for an allow-list of origins.
import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

export interface SecurityOptions {
  corsOrigins: string[];
}

/**
 * helmet's headers for a JSON API (CSP: nothing may load, nothing may frame us), computed once: they do not
 * depend on the request, and @fastify/helmet recomputes them on every one (about a tenth of a prediction's CPU).
 * Swagger UI replaces the CSP with its own on /docs.
 */
function helmetHeaders(): Record<string, string> {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  };
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
  });
  middleware({} as unknown as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return Object.fromEntries(headers);
}

async function securityPlugin(fastify: FastifyInstance, { corsOrigins }: SecurityOptions): Promise<void> {
  const headers = helmetHeaders();
  fastify.addHook('onRequest', async function (_request, reply) {
    void reply.headers(headers);
  });
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
