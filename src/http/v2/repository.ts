// The model repository API that Triton and MLServer share (and tritonclient's get_model_repository_index,
// load_model and unload_model call): the index, and loading or unloading a model in every worker.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { Scopes } from '../../auth/scopes.js';
import { excerpt } from '../../core/errors.js';
import { loadOverride } from '../../core/models/descriptor.js';
import { MODEL_STATES } from '../../core/models/repository.js';
import { requireScopes } from '../plugins/app/auth.js';
import { ErrorSchema } from '../schemas/common.js';
import { tags, tritonBodies } from './options.js';
import { ModelParamsSchema } from './schemas.js';

const IndexRequestSchema = Type.Object({ ready: Type.Optional(Type.Boolean()) });

const IndexSchema = Type.Array(
  Type.Object({
    name: Type.String(),
    version: Type.String(),
    state: Type.Enum(MODEL_STATES),
    reason: Type.String(),
  }),
);

const LoadRequestSchema = Type.Object({
  parameters: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description:
        "config (a JSON string): Triton's model configuration in its JSON form, replacing the model's config.pbtxt, or a model.json its versions load with instead of their own.",
    }),
  ),
});

const UnloadRequestSchema = Type.Object({
  parameters: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description: 'unload_dependents (true): the ensembles whose steps run the model are unloaded too.',
    }),
  ),
});

const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema };

/** An admin route's options: the admin scope, its summary, what it reads, its answer and the common errors. */
function adminRoute<S extends { params?: TSchema; body: TSchema }, R extends TSchema>(
  security: { bearerAuth: never[] }[] | undefined,
  summary: string,
  reads: S,
  answer: R,
) {
  return {
    config: { scope: Scopes.admin },
    schema: { security, tags, summary, ...reads, response: { 200: answer, ...errorResponses } },
  };
}

const repositoryRoutes: FastifyPluginAsyncTypebox = async function (fastify) {
  requireScopes(fastify);
  const { core } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  tritonBodies(fastify);

  fastify.post(
    '/v2/repository/index',
    adminRoute(
      security,
      'Every model and version in the repository with its state',
      { body: IndexRequestSchema },
      IndexSchema,
    ),
    async (request) => core.models.index(request.body),
  );

  fastify.post(
    '/v2/repository/models/:model/load',
    adminRoute(
      security,
      'Load (or reload) a model from the repository folder, in every worker',
      { params: ModelParamsSchema, body: LoadRequestSchema },
      Type.Object({}),
    ),
    async (request) => {
      const { model } = request.params;
      await core.control.load(model, loadOverride(request.body.parameters));
      request.log.info({ model: excerpt(model, 64) }, 'model loaded through the repository API');
      return {};
    },
  );

  fastify.post(
    '/v2/repository/models/:model/unload',
    adminRoute(
      security,
      'Unload a model in every worker; calls using it finish first',
      { params: ModelParamsSchema, body: UnloadRequestSchema },
      Type.Object({}),
    ),
    async (request) => {
      const { model } = request.params;
      const dependents = request.body.parameters?.unload_dependents === true;
      await core.control.unload(model, { dependents });
      request.log.info({ model: excerpt(model, 64) }, 'model unloaded through the repository API');
      return {};
    },
  );
};

export default repositoryRoutes;
