// KServe V1 / TF Serving style routes: model metadata and :predict, over the protocol-agnostic model core.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { ReadyModel } from '../../models/repository.js';
import { modelMetadata, versionMetadata } from '../../models/metadata.js';
import { ErrorSchema, ModelMetadataSchema, VersionMetadataSchema } from '../../schemas/common.js';
import { decodePredictions, encodeInstances, type Instance } from './codec.js';
import {
  ModelListSchema,
  ModelParamsSchema,
  PredictResponseSchema,
  VersionParamsSchema,
  predictRequestSchema,
} from './schemas.js';

export interface V1Options {
  maxInstances: number;
}

// Route patterns: the regex keeps "iris:predict" from matching the GET metadata route (it answers 405 instead).
const MODEL = ':model([A-Za-z0-9][A-Za-z0-9_.-]*)';
const VERSION = ':version([0-9]+)';

const errorResponses = { 400: ErrorSchema, 404: ErrorSchema, 422: ErrorSchema, 503: ErrorSchema };

async function predict(model: ReadyModel, instances: readonly Instance[], request: FastifyRequest) {
  request.inference = { model: model.name, version: model.version, instances: instances.length };
  const feeds = encodeInstances(model.signature, instances);
  const outputs = await model.runtime.predict(feeds);
  return {
    model_name: model.name,
    model_version: model.version,
    predictions: decodePredictions(model.signature, outputs, instances.length),
  };
}

const v1Routes: FastifyPluginAsyncTypebox<V1Options> = async function (fastify, options) {
  const { models } = fastify;
  const PredictRequestSchema = predictRequestSchema(options.maxInstances);
  const predictResponses = {
    200: PredictResponseSchema,
    ...errorResponses,
    413: ErrorSchema,
    415: ErrorSchema,
    504: ErrorSchema,
  };

  fastify.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'All models with their versions',
        response: { 200: ModelListSchema },
      },
    },
    async function () {
      return {
        models: models.list().map(({ name, versions }) => modelMetadata(models.find(name), versions)),
      };
    },
  );

  fastify.get(
    `/v1/models/${MODEL}`,
    {
      schema: {
        tags: ['models'],
        summary: 'A model: its default version’s metadata and all versions',
        params: ModelParamsSchema,
        response: { 200: ModelMetadataSchema, ...errorResponses },
      },
    },
    async function (request) {
      const { model } = request.params;
      return modelMetadata(models.find(model), models.versions(model));
    },
  );

  fastify.get(
    `/v1/models/${MODEL}/versions/${VERSION}`,
    {
      schema: {
        tags: ['models'],
        summary: 'One version’s metadata: inputs, outputs, features, labels',
        params: VersionParamsSchema,
        response: { 200: VersionMetadataSchema, ...errorResponses },
      },
    },
    async function (request) {
      return versionMetadata(models.find(request.params.model, request.params.version));
    },
  );

  fastify.post(
    `/v1/models/${MODEL}::predict`,
    {
      schema: {
        tags: ['inference'],
        summary: 'Predict with the default (highest ready) version',
        description:
          'Each instance is an array of feature values in input order or an object of named features. ' +
          'All instances run in one inference call; predictions come back in instance order.',
        params: ModelParamsSchema,
        body: PredictRequestSchema,
        response: predictResponses,
      },
    },
    async function (request) {
      return predict(models.ready(request.params.model), request.body.instances, request);
    },
  );

  fastify.post(
    `/v1/models/${MODEL}/versions/${VERSION}::predict`,
    {
      schema: {
        tags: ['inference'],
        summary: 'Predict with one version',
        params: VersionParamsSchema,
        body: PredictRequestSchema,
        response: predictResponses,
      },
    },
    async function (request) {
      const { model, version } = request.params;
      return predict(models.ready(model, version), request.body.instances, request);
    },
  );
};

export default v1Routes;
