// POST /v2/models/{m}[/versions/{v}]/infer: JSON or binary tensors in, through the core, JSON or binary out.
import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Scopes } from '../../auth/scopes.js';
import { cacheUse, clientGone, JSON_TYPE, noteOf, payloadOf, sendAnswer } from '../inference.js';
import { ErrorSchema } from '../schemas/common.js';
import { HEADER_LENGTH, readInferBody } from './body.js';
import { checkJsonOutputs, decodeCall, encodeAnswer, envelope } from './codec.js';
import { errorResponses, tags, type V2Options } from './options.js';
import {
  InferRequestSchema,
  InferResponseSchema,
  type InferRequest,
  ModelParamsSchema,
  VersionParamsSchema,
} from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The binary tensor data after the JSON header of a V2 inference request, when it has some. */
    binaryData: Buffer | null;
  }
}

/** Encodings whose answers carry binary outputs after their JSON header. */
const BINARY = 'v2-binary';

/** One inference: the body read as the core's request, one call of the core's pipeline, its answer sent. */
async function infer(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const params = request.params as { model: string; version?: string };
  const body = request.body as InferRequest;
  const binary = request.binaryData !== null;
  const payload = payloadOf(
    request,
    request.headers['content-type'] ?? (binary ? 'application/octet-stream' : 'application/json'),
    binary ? Number(request.headers[HEADER_LENGTH]) : undefined,
  );
  const answer = await request.server.core.inference.infer({
    model: params.model,
    version: params.version,
    protocol: 'v2',
    received: performance.now(),
    read: (model) => {
      const call = decodeCall(body, request.binaryData ?? undefined);
      checkJsonOutputs(model, call);
      const { anyBinary } = call;
      return {
        inputs: call.inputs,
        outputs: call.outputs,
        priority: call.priority,
        timeoutUs: call.timeoutUs,
        encoding: {
          format: anyBinary ? BINARY : 'v2-json',
          variant: call.variant,
          encode: (tensors) => encodeAnswer(model, tensors, call.binary, anyBinary),
        },
      };
    },
    cache: cacheUse(request),
    signal: clientGone(reply),
    note: noteOf(request),
    payload,
    trace: request.trace ?? undefined,
    id: body.id,
  });
  const { body: sent, header } = envelope(answer.body, answer.encoding.format === BINARY, body.id);
  if (header > 0) void reply.header(HEADER_LENGTH, header);
  const type = header > 0 ? 'application/octet-stream' : JSON_TYPE;
  const replied = sendAnswer(request, reply, { body: sent, cache: answer.cache, type });
  if (payload === undefined) return replied;
  await replied;
  payload.respond(sent, type, header > 0 ? header : undefined);
  return replied;
}

/** The route's answers: the response, the common errors, a body too large or of no known type, a deadline passed. */
const RESPONSES = {
  200: InferResponseSchema,
  ...errorResponses,
  413: ErrorSchema,
  415: ErrorSchema,
  504: ErrorSchema,
};

const DESCRIPTION =
  'The Open Inference Protocol request; with Triton’s binary tensor extension the body is the JSON ' +
  'header (its length in Inference-Header-Content-Length) followed by raw little-endian tensors.';

/** The route's two paths: the model's default version, and a named one. */
const PATHS = [
  ['', ModelParamsSchema],
  ['/versions/:version', VersionParamsSchema],
] as const;

/** Every request body read by readInferBody, its binary tensors in the core's reused memory until the answer is sent. */
function readBodies(fastify: FastifyInstance, options: V2Options): void {
  const { core } = fastify;
  fastify.decorateRequest('binaryData', null);
  fastify.decorateRequest('payloadBody', null);
  fastify.removeAllContentTypeParsers();
  const limits = { json: options.jsonBodyLimit, binary: options.binaryBodyLimit };
  // Large bodies reuse the core's memory (fresh memory per large tensor costs full garbage collections).
  const pool = core.tensorMemory;
  // The binary tensors are views into the body until the answer is sent: thread-mode runs copy them before they
  // leave, inline runs end before it, and a call dropped by its deadline never runs.
  fastify.addHook('onResponse', function (request, _reply, next) {
    if (request.binaryData !== null) pool.give(request.binaryData);
    next();
  });
  // Exact types are found at once; '*' takes the rest, no Content-Type at all (tritonclient) included.
  for (const type of ['application/json', 'application/octet-stream', '*']) {
    fastify.addContentTypeParser(type, function (request: FastifyRequest, payload: IncomingMessage, done) {
      readInferBody(request, payload, limits, fastify.parseJson, pool, (err, body) => {
        if (err !== null || body === undefined) return done(err);
        request.binaryData = body.binary ?? null;
        if (core.payloadLog) request.payloadBody = body.raw;
        done(null, body.request);
      });
    });
  }
}

/** Inference: the predict scope, its own rate limit, JSON and binary bodies. */
const inferRoutes: FastifyPluginAsyncTypebox<V2Options> = async function (fastify, options) {
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  readBodies(fastify, options);
  const route = {
    bodyLimit: options.binaryBodyLimit,
    config: { scope: Scopes.predict, rateLimit: { max: options.predictRateLimit, bucket: 'predict' } },
  };
  for (const [suffix, Params] of PATHS) {
    fastify.post(
      `/v2/models/:model${suffix}/infer`,
      {
        ...route,
        // Answers are written by encodeAnswer; the response schema documents them.
        serializerCompiler: () => (data: unknown) => JSON.stringify(data),
        schema: {
          security,
          tags,
          body: InferRequestSchema,
          response: RESPONSES,
          params: Params,
          summary: 'Inference with JSON or binary tensors',
          description: DESCRIPTION,
        },
      },
      async (request, reply) => {
        await infer(request, reply);
      },
    );
  }
};

export default inferRoutes;
