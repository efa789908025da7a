// The Open Inference Protocol (KServe V2) REST API: health, server and model metadata, model readiness and
// configuration, and inference with JSON or binary tensors, over the protocol-neutral core.
import etag from '@fastify/etag';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Scopes } from '../../auth/scopes.js';
import { errors, withExtras } from '../../core/errors.js';
import { checkOutputs } from '../../core/inference.js';
import { modelConfig, modelMetadata, type ConfigLimits } from '../../core/models/describe.js';
import { decodeInputs } from '../../core/tensor/decode.js';
import { httpErrors } from '../errors.js';
import { cacheUse, JSON_TYPE, logInference, sendAnswer } from '../inference.js';
import { requireScopes } from '../plugins/app/auth.js';
import { ErrorSchema } from '../schemas/common.js';
import { checkJsonOutputs, decodeCall, encodeOutputs, envelope, HEADER_LENGTH } from './codec.js';
import {
  InferRequestSchema,
  InferResponseSchema,
  LiveSchema,
  ModelConfigSchema,
  ModelMetadataSchema,
  ModelParamsSchema,
  ModelReadySchema,
  ReadySchema,
  ServerMetadataSchema,
  VersionParamsSchema,
} from './schemas.js';

export interface V2Options extends ConfigLimits {
  version: string;
  predictRateLimit: number;
  /** Largest JSON body, and largest body with binary tensors (Inference-Header-Content-Length). */
  jsonBodyLimit: number;
  binaryBodyLimit: number;
}

/** What this server really serves, as GET /v2 lists it. */
export const EXTENSIONS = ['binary_tensor_data', 'classification', 'model_configuration'];

const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  503: ErrorSchema,
};
const tags = ['v2'];

declare module 'fastify' {
  interface FastifyRequest {
    /** The binary tensor data after the JSON header of a V2 inference request, when it has some. */
    binaryData: Buffer | null;
  }
}

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
      const readiness = fastify.core.health.readiness();
      if (!readiness.ready) {
        const error = new errors.NOT_READY(readiness.reason ?? 'unknown');
        throw readiness.retryAfter === undefined
          ? error
          : withExtras(error, { retryAfter: readiness.retryAfter });
      }
      void reply.header('cache-control', 'no-store');
      return { ready: true };
    },
  );
};

/** Model metadata, readiness and configuration: the read scope. */
const modelRoutes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  const { models } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  const config = { scope: Scopes.read };
  await fastify.register(etag, { weak: true });
  const params = (request: FastifyRequest) => request.params as { model: string; version?: string };

  for (const [suffix, Params] of [
    ['', ModelParamsSchema],
    ['/versions/:version', VersionParamsSchema],
  ] as const) {
    const base = `/v2/models/:model${suffix}`;
    fastify.get(
      base,
      {
        config,
        schema: {
          security,
          tags,
          summary: 'Model metadata',
          params: Params,
          response: { 200: ModelMetadataSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { model, version } = params(request);
        return modelMetadata(models.ready(model, version), models.versions(model));
      },
    );
    fastify.get(
      `${base}/ready`,
      {
        config,
        schema: {
          security,
          tags,
          summary: 'Model readiness: 200 when ready, 503 while loading or after a failed load',
          params: Params,
          response: { 200: ModelReadySchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { model, version } = params(request);
        void reply.header('cache-control', 'no-store');
        return { name: models.ready(model, version).name, ready: true };
      },
    );
    fastify.get(
      `${base}/config`,
      {
        config,
        schema: {
          security,
          tags,
          summary: 'The configuration Serval applies (Triton ModelConfig JSON)',
          params: Params,
          response: { 200: ModelConfigSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { model, version } = params(request);
        return modelConfig(models.ready(model, version), options);
      },
    );
  }
};

/** JSON or binary: nothing else is an inference body (tritonclient sends no Content-Type at all). */
const ACCEPTED = /^application\/(json|octet-stream)\s*(;|$)/i;

/** Inference: the predict scope, its own rate limit, JSON and binary bodies. */
const inferRoutes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  const { models, core } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  fastify.decorateRequest('binaryData', null);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, function (request, body, done) {
    const type = request.headers['content-type'];
    const header = request.headers[HEADER_LENGTH];
    const bytes = body as Buffer;
    let parsed: unknown;
    try {
      if (type !== undefined && !ACCEPTED.test(type)) {
        throw new httpErrors.UNSUPPORTED_MEDIA_TYPE(
          'application/json, or application/octet-stream with binary tensors',
        );
      }
      let json = bytes;
      if (header !== undefined) {
        const length = Number(header);
        if (!Number.isSafeInteger(length) || length < 0 || length > bytes.length) {
          throw new errors.INVALID_REQUEST(
            `Inference-Header-Content-Length is "${String(header).slice(0, 20)}" but the body has ${bytes.length} bytes`,
          );
        }
        json = bytes.subarray(0, length);
        request.binaryData = bytes.subarray(length);
      }
      if (json.length > options.jsonBodyLimit) throw new httpErrors.PAYLOAD_TOO_LARGE(options.jsonBodyLimit);
      parsed = fastify.parseJson(json.toString('utf8'));
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    done(null, parsed);
  });
  // A JSON-only body has the JSON limit: refused before it is read when Content-Length says so.
  fastify.addHook('onRequest', async function (request) {
    if (request.headers[HEADER_LENGTH] !== undefined) return;
    if (Number(request.headers['content-length']) > options.jsonBodyLimit) {
      throw new httpErrors.PAYLOAD_TOO_LARGE(options.jsonBodyLimit);
    }
  });

  const route = {
    bodyLimit: options.binaryBodyLimit,
    config: { scope: Scopes.predict, rateLimit: { max: options.predictRateLimit } },
  };
  const schema = {
    security,
    tags,
    body: InferRequestSchema,
    response: {
      200: InferResponseSchema,
      ...errorResponses,
      413: ErrorSchema,
      415: ErrorSchema,
      504: ErrorSchema,
    },
  };
  for (const [suffix, Params] of [
    ['', ModelParamsSchema],
    ['/versions/:version', VersionParamsSchema],
  ] as const) {
    fastify.post(
      `/v2/models/:model${suffix}/infer`,
      {
        ...route,
        // Answers are written by encodeOutputs; the response schema documents them.
        serializerCompiler: () => (data: unknown) => JSON.stringify(data),
        schema: {
          ...schema,
          params: Params,
          summary: 'Inference with JSON or binary tensors',
          description:
            'The Open Inference Protocol request; with Triton’s binary tensor extension the body is the JSON ' +
            'header (its length in Inference-Header-Content-Length) followed by raw little-endian tensors.',
        },
      },
      async (request, reply) => {
        const { model: name, version } = request.params as { model: string; version?: string };
        const model = models.ready(name, version);
        const call = decodeCall(request.body, request.binaryData ?? undefined);
        checkJsonOutputs(model, call);
        const outputs = call.outputs && checkOutputs(model, call.outputs);
        const feeds = decodeInputs(model.runtime.inputs, call.inputs, { maxRows: options.maxRows });
        const rows = Object.values(feeds)[0]?.dims[0] ?? 0;
        logInference(request, model, rows);
        const outcome = await core.inference.infer(
          { model, inputs: feeds, ...(outputs ? { outputs } : {}) },
          {
            format: call.anyBinary ? 'v2-binary' : 'v2-json',
            variant: call.variant,
            encode: (tensors) => encodeOutputs(tensors, call.binary),
          },
          cacheUse(request, rows),
        );
        const { body, header } = envelope(model, request.body.id, outcome.body);
        if (header > 0) void reply.header(HEADER_LENGTH, header);
        const type = header > 0 ? 'application/octet-stream' : JSON_TYPE;
        return sendAnswer(request, reply, { body, cache: outcome.cache, type });
      },
    );
  }
};

const v2Routes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  await fastify.register(serviceRoutes, options);
  await fastify.register(async function models(scope) {
    requireScopes(scope);
    await scope.register(modelRoutes, options);
    await scope.register(inferRoutes, options);
  });
};

export default v2Routes;
