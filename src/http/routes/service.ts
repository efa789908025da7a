// Service routes: what this server is (/, or the playground for a browser), liveness (/healthz) and readiness (/readyz).
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { prefersHtml } from '../../lib/accept.js';
import { ErrorSchema } from '../schemas/common.js';

export interface ServiceOptions {
  version: string;
}

const RootSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  description: Type.String(),
  links: Type.Record(Type.String(), Type.String()),
});

const HealthSchema = Type.Object({ status: Type.String() });
const ReadySchema = Type.Object({ status: Type.String(), models_ready: Type.Integer() });

const rootSchema = {
  tags: ['service'],
  summary: 'Service name, version and links',
  description: 'A browser (an Accept header that prefers text/html) is sent to the playground instead.',
  response: {
    200: RootSchema,
    303: Type.Null({ description: 'See /playground: the Accept header prefers text/html' }),
  },
};

const serviceRoutes: FastifyPluginAsyncTypebox<ServiceOptions> = async function (fastify, options) {
  const root = {
    name: 'serval',
    version: options.version,
    description: 'ONNX model server with a KServe V1 compatible REST API',
    links: {
      playground: '/playground',
      docs: '/docs',
      openapi: '/openapi.json',
      models: '/v1/models',
      health: '/healthz',
      ready: '/readyz',
    },
  };
  fastify.get(
    '/',
    {
      schema: rootSchema,
    },
    async function (request, reply) {
      void reply.header('vary', 'accept');
      if (prefersHtml(request.headers.accept)) return reply.redirect('/playground', 303);
      return root;
    },
  );

  fastify.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['service'],
        summary: 'Liveness: the process answers',
        response: { 200: HealthSchema },
      },
    },
    async function () {
      return { status: 'ok' };
    },
  );

  fastify.get(
    '/readyz',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['service'],
        summary: 'Readiness: models loaded and at least one ready',
        response: { 200: ReadySchema, 503: ErrorSchema },
      },
    },
    async function (_request, reply) {
      const modelsReady = fastify.core.health.requireReady();
      void reply.header('cache-control', 'no-store');
      return { status: 'ready', models_ready: modelsReady };
    },
  );
};

export default serviceRoutes;
