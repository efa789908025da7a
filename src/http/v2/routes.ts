// The Open Inference Protocol (KServe V2) REST API: health, server and model metadata, model readiness and
// configuration; inference (infer.ts) with JSON or binary tensors; all over the protocol-neutral core.
import { CORE_EXTENSIONS } from '../../core/extensions.js';
import etag from '@fastify/etag';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import { Scopes } from '../../auth/scopes.js';
import { modelConfig, modelMetadata } from '../../core/models/describe.js';
import { requireScopes } from '../plugins/app/auth.js';
import { ErrorSchema } from '../schemas/common.js';
import inferRoutes from './infer.js';
import loggingRoutes from './logging.js';
import traceRoutes from './trace.js';
import repositoryRoutes from './repository.js';
import statisticsRoutes from './statistics.js';
import { errorResponses, tags, type V2Options } from './options.js';
import {
  LiveSchema,
  ModelConfigSchema,
  ModelMetadataSchema,
  ModelParamsSchema,
  ModelReadySchema,
  ReadySchema,
  ServerMetadataSchema,
  VersionParamsSchema,
} from './schemas.js';

/** What this server really serves, as GET /v2 lists it. */
export const EXTENSIONS = ['binary_tensor_data', ...CORE_EXTENSIONS];

/** Health and server metadata: public, like /healthz. */
const serviceRoutes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  const probe = { config: { rateLimit: false } };
  fastify.get(
    '/v2',
    { schema: { tags, summary: 'Server metadata', response: { 200: ServerMetadataSchema } } },
    async () => ({
      name: 'serval',
      version: options.version,
      extensions: EXTENSIONS,
    }),
  );
  fastify.get(
    '/v2/health/live',
    { ...probe, schema: { tags, summary: 'Liveness: the server answers', response: { 200: LiveSchema } } },
    async () => ({ live: true }),
  );
  fastify.get(
    '/v2/health/ready',
    {
      ...probe,
      schema: {
        tags,
        summary: 'Readiness: models loaded and at least one ready (503 otherwise)',
        response: { 200: ReadySchema, 503: ErrorSchema },
      },
    },
    async (_request, reply) => {
      fastify.core.health.requireReady();
      void reply.header('cache-control', 'no-store');
      return { ready: true };
    },
  );
};

/** A model route's options: the read scope, its summary, its path's params, its answer and the common errors. */
function modelRoute<P extends TSchema, R extends TSchema>(
  security: { bearerAuth: never[] }[] | undefined,
  summary: string,
  params: P,
  answer: R,
) {
  return {
    config: { scope: Scopes.read },
    schema: { security, tags, summary, params, response: { 200: answer, ...errorResponses } },
  };
}

/** Model metadata, readiness and configuration: the read scope. */
const modelRoutes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  const { models } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  await fastify.register(etag, { weak: true });
  const params = (request: FastifyRequest) => request.params as { model: string; version?: string };

  for (const [suffix, Params] of [
    ['', ModelParamsSchema],
    ['/versions/:version', VersionParamsSchema],
  ] as const) {
    const base = `/v2/models/:model${suffix}`;
    fastify.get(
      base,
      modelRoute(security, 'Model metadata', Params, ModelMetadataSchema),
      async (request) => {
        const { model, version } = params(request);
        // Metadata is what clients ask before their first inference: on demand, it loads the model.
        return modelMetadata(await models.serving(model, version), models.versions(model));
      },
    );
    fastify.get(
      `${base}/ready`,
      modelRoute(
        security,
        'Model readiness: 200 when ready, 503 while loading or after a failed load',
        Params,
        ModelReadySchema,
      ),
      async (request, reply) => {
        const { model, version } = params(request);
        void reply.header('cache-control', 'no-store');
        return { name: models.ready(model, version).name, ready: true };
      },
    );
    fastify.get(
      `${base}/config`,
      modelRoute(
        security,
        'The configuration Serval applies (Triton ModelConfig JSON)',
        Params,
        ModelConfigSchema,
      ),
      async (request) => {
        const { model, version } = params(request);
        return modelConfig(await models.serving(model, version), options);
      },
    );
  }
};

const v2Routes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  await fastify.register(serviceRoutes, options);
  await fastify.register(async function models(scope) {
    requireScopes(scope);
    await scope.register(modelRoutes, options);
    await scope.register(statisticsRoutes);
    await scope.register(inferRoutes, options);
  });
  await fastify.register(repositoryRoutes);
  await fastify.register(loggingRoutes);
  await fastify.register(traceRoutes);
};

export default v2Routes;
