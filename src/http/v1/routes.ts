// KServe V1 / TF Serving style routes: model metadata and :predict, over the protocol-agnostic model core.
import etag from '@fastify/etag';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Scopes } from '../../auth/scopes.js';
import { useExactRepeats } from '../inference.js';
import { requireScopes } from '../plugins/app/auth.js';
import { ErrorSchema, ModelMetadataSchema, VersionMetadataSchema } from '../schemas/common.js';
import { v1ModelMetadata, v1VersionMetadata } from './metadata.js';
import { fileBodies } from './files.js';
import { predict } from './predict.js';
import {
  ColumnarResponseSchema,
  ModelListSchema,
  ModelParamsSchema,
  PredictResponseSchema,
  VersionParamsSchema,
  predictRequestSchema,
} from './schemas.js';

export interface V1Options {
  maxInstances: number;
  predictRateLimit: number;
  /** Files as :predict bodies: the largest file, and the largest multipart body. */
  imageMaxBytes: number;
  multipartMaxBytes: number;
}

// Route patterns: the regex keeps "iris:predict" from matching the GET metadata route (it answers 405 instead).
const MODEL = ':model([A-Za-z0-9][A-Za-z0-9_.-]*)';
const VERSION = ':version([0-9]+)';

const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  429: ErrorSchema,
  503: ErrorSchema,
};

/** RFC 9110 section 15.4.5: a 304 repeats the Cache-Control of the 200 it stands for. */
async function revalidate(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (reply.statusCode === 200 || reply.statusCode === 304) void reply.header('cache-control', 'no-cache');
}

const PREDICT_DESCRIPTION =
  'Row format ("instances"): each instance is an array of feature values in input order or an object of ' +
  'named features (or named input rows); all run in one inference call, predictions come back in ' +
  'instance order. Columnar format ("inputs"): named tensors in, {"outputs": ...} out.';

const predictResponses = {
  200: Type.Union([PredictResponseSchema, ColumnarResponseSchema]),
  ...errorResponses,
  413: ErrorSchema,
  415: ErrorSchema,
  504: ErrorSchema,
};

/** Metadata routes: read scope, ETag with 304 Not Modified, revalidated on every use. */
const metadataRoutes: FastifyPluginAsyncTypebox = async function (fastify) {
  const { models } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  const config = { scope: Scopes.read };
  await fastify.register(etag, { weak: true });
  fastify.addHook('onSend', revalidate);

  fastify.get(
    '/v1/models',
    {
      config,
      schema: {
        security,
        tags: ['models'],
        summary: 'All models with their versions',
        response: { 200: ModelListSchema },
      },
    },
    async function () {
      return {
        models: models.list().map(({ chosen, versions }) => v1ModelMetadata(chosen, versions)),
      };
    },
  );

  fastify.get(
    `/v1/models/${MODEL}`,
    {
      config,
      schema: {
        security,
        tags: ['models'],
        summary: 'A model: its default version’s metadata and all versions',
        params: ModelParamsSchema,
        response: { 200: ModelMetadataSchema, ...errorResponses },
      },
    },
    async function (request) {
      const { model } = request.params;
      return v1ModelMetadata(models.find(model), models.versions(model));
    },
  );

  fastify.get(
    `/v1/models/${MODEL}/versions/${VERSION}`,
    {
      config,
      schema: {
        security,
        tags: ['models'],
        summary: 'One version’s metadata: inputs, outputs, features, labels',
        params: VersionParamsSchema,
        response: { 200: VersionMetadataSchema, ...errorResponses },
      },
    },
    async function (request) {
      return v1VersionMetadata(models.find(request.params.model, request.params.version));
    },
  );
};

/** Inference routes: predict scope and their own rate limit. */
const predictRoutes: FastifyPluginAsyncTypebox<V1Options> = async function (fastify, options) {
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  const config = { scope: Scopes.predict, rateLimit: { max: options.predictRateLimit, bucket: 'predict' } };
  const PredictRequestSchema = predictRequestSchema(options.maxInstances);
  // predict() sends predictions already serialized (codec.ts). The response union documents every prediction
  // shape; fast-json-stringify compiled from it would run Ajv to pick a branch, so the rest (errors) is
  // JSON.stringify.
  const serializerCompiler = () => (data: unknown) => JSON.stringify(data);
  useExactRepeats(fastify, 'v1');
  await fileBodies(fastify, {
    maxFileBytes: options.imageMaxBytes,
    maxBodyBytes: options.multipartMaxBytes,
    maxParts: options.maxInstances,
  });
  fastify.post(
    `/v1/models/${MODEL}::predict`,
    {
      config,
      serializerCompiler,
      schema: {
        security,
        tags: ['inference'],
        summary: 'Predict with the default (highest ready) version',
        description: PREDICT_DESCRIPTION,
        params: ModelParamsSchema,
        body: PredictRequestSchema,
        response: predictResponses,
      },
    },
    async function (request, reply) {
      return predict(fastify, request.params, request.body, request, reply);
    },
  );

  fastify.post(
    `/v1/models/${MODEL}/versions/${VERSION}::predict`,
    {
      config,
      serializerCompiler,
      schema: {
        security,
        tags: ['inference'],
        summary: 'Predict with one version',
        params: VersionParamsSchema,
        body: PredictRequestSchema,
        response: predictResponses,
      },
    },
    async function (request, reply) {
      return predict(fastify, request.params, request.body, request, reply);
    },
  );
};

const v1Routes: FastifyPluginAsyncTypebox<V1Options> = async function (fastify, options) {
  requireScopes(fastify);
  await fastify.register(metadataRoutes);
  await fastify.register(predictRoutes, options);
};

export default v1Routes;
