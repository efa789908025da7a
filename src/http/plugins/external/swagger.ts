// OpenAPI 3 generated from the route schemas (@fastify/swagger), served at /openapi.json and as Swagger UI at /docs.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { documentHeaders } from './security.js';

export interface SwaggerOptions {
  version: string;
  /** Documents the bearer token scheme (and the Authorize button) when auth is on. */
  bearerAuth: boolean;
}

async function swaggerPlugin(fastify: FastifyInstance, options: SwaggerOptions): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Serval model server',
        version: options.version,
        description:
          'ONNX models behind a KServe V1 compatible REST API. Every error has the shape ' +
          '{"error", "code", "request_id"} with a stable code.',
      },
      ...(options.bearerAuth && {
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      }),
      tags: [
        { name: 'auth', description: 'Access tokens for service clients' },
        { name: 'inference', description: 'Predictions (KServe V1 / TF Serving style)' },
        { name: 'models', description: 'Model metadata' },
        { name: 'service', description: 'Service information and health' },
      ],
    },
  });
  // Swagger UI in a context of its own, whose pages also get helmet's headers for HTML documents.
  await fastify.register(async function docs(pages) {
    pages.addHook('onRequest', documentHeaders);
    await pages.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: true },
      staticCSP: true,
      // The default static CSP ends with upgrade-insecure-requests: over plain HTTP on any host but localhost the
      // browser would rewrite every asset and API call to https and the page would stay blank.
      transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
    });
  });
  fastify.get('/openapi.json', { schema: { hide: true } }, async function () {
    return fastify.swagger();
  });
}

export default fp(swaggerPlugin, { name: 'swagger' });
