// Triton's statistics extension (tritonclient's get_inference_statistics): per model and version counters and
// cumulative durations, summed over every worker.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Scopes } from '../../auth/scopes.js';
import { errorResponses, tags } from './options.js';
import { ModelParamsSchema, VersionParamsSchema } from './schemas.js';

const Duration = Type.Object({
  count: Type.Integer({ description: 'How many.' }),
  ns: Type.Integer({ description: 'Their total duration in nanoseconds.' }),
});

const StatisticsSchema = Type.Object({
  model_stats: Type.Array(
    Type.Object({
      name: Type.String(),
      version: Type.String(),
      last_inference: Type.Integer({ description: 'Epoch milliseconds of the last request; 0 before any.' }),
      inference_count: Type.Integer({ description: 'Rows inferred (a batch of 8 counts 8).' }),
      execution_count: Type.Integer({ description: 'Model executions (a merged batch counts once).' }),
      inference_stats: Type.Object({
        success: Duration,
        fail: Duration,
        queue: Duration,
        compute_input: Duration,
        compute_infer: Duration,
        compute_output: Duration,
        cache_hit: Duration,
        cache_miss: Duration,
      }),
      batch_stats: Type.Array(
        Type.Object({
          batch_size: Type.Integer(),
          compute_input: Duration,
          compute_infer: Duration,
          compute_output: Duration,
        }),
      ),
    }),
  ),
});

const statisticsRoutes: FastifyPluginAsyncTypebox = async function (fastify) {
  const { core } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  const config = { scope: Scopes.read };
  const response = { 200: StatisticsSchema, ...errorResponses };
  const noStore = { 'cache-control': 'no-store' };

  fastify.get(
    '/v2/models/stats',
    { config, schema: { security, tags, summary: 'Statistics of every served model version', response } },
    async (_request, reply) => reply.headers(noStore).send({ model_stats: await core.statistics() }),
  );
  fastify.get(
    '/v2/models/:model/stats',
    {
      config,
      schema: {
        security,
        tags,
        summary: 'Statistics of a model’s versions',
        params: ModelParamsSchema,
        response,
      },
    },
    async (request, reply) => {
      return reply.headers(noStore).send({ model_stats: await core.statistics(request.params.model) });
    },
  );
  fastify.get(
    '/v2/models/:model/versions/:version/stats',
    {
      config,
      schema: {
        security,
        tags,
        summary: 'Statistics of one model version',
        params: VersionParamsSchema,
        response,
      },
    },
    async (request, reply) => {
      const { model, version } = request.params;
      return reply.headers(noStore).send({ model_stats: await core.statistics(model, version) });
    },
  );
};

export default statisticsRoutes;
