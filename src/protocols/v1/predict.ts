// One V1 prediction: encode, consult the prediction cache (Cache-Status, RFC 9211), infer, decode, serialize; and
// exact repeats of cached bodies, answered from their bytes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  cacheKey,
  EXACT_MAX_BODY,
  exactKey,
  type CacheStatus,
  type ExactEntry,
} from '../../cache/prediction-cache.js';
import { parseJsonBody } from '../../plugins/app/json-body.js';
import type { ReadyModel } from '../../models/repository.js';
import { decodePredictions, encodeInstances, serializeResponse, type Instance } from './codec.js';

const CACHE_STATUS: Record<CacheStatus, string> = {
  hit: 'serval; hit',
  miss: 'serval; fwd=miss; stored',
  collapsed: 'serval; fwd=miss; collapsed',
  bypass: 'serval; fwd=request',
};

/** Cache-Control: no-cache (or no-store) on the request: compute afresh. */
function bypassed(request: FastifyRequest): boolean {
  return /\bno-(cache|store)\b/i.test(request.headers['cache-control'] ?? '');
}

export async function predict(
  fastify: FastifyInstance,
  model: ReadyModel,
  instances: readonly Instance[],
  request: FastifyRequest,
  reply: FastifyReply,
) {
  request.inference = { model: model.name, version: model.version, instances: instances.length };
  const feeds = encodeInstances(model.signature, instances);
  /** The response as JSON: sent as it is, and what the cache keeps. */
  const response = async () =>
    serializeResponse(model.signature, {
      model_name: model.name,
      model_version: model.version,
      predictions: decodePredictions(model.signature, await model.runtime.predict(feeds), instances.length),
    });

  const cache = fastify.predictionCache;
  if (!cache) return reply.type('application/json').send(await response());
  if (model.descriptor.cache === false) {
    void reply.header('cache-status', 'serval; fwd=bypass; detail=uncacheable');
    return reply.type('application/json').send(await response());
  }
  if (bypassed(request)) {
    void reply.header('cache-status', CACHE_STATUS.bypass);
    return reply.type('application/json').send(await response());
  }
  // The key is taken before inference: a thread-mode run hands the input buffers over to its thread.
  const key = cacheKey(model.name, model.version, feeds);
  const exact =
    request.exactKey === null ? undefined : { key: request.exactKey, instances: instances.length };
  const { value, status } = await cache.wrap(key, response, exact);
  return reply.header('cache-status', CACHE_STATUS[status]).type('application/json').send(value);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact-repeat key of the raw body (exactKey), on predict routes when the cache is on. */
    exactKey: string | null;
    /** The cached response for exactly this body, found before parsing it. */
    exactRepeat: ExactEntry | null;
  }
}

/**
 * The predict routes' JSON parser when the cache is on: an exact repeat of a cached body is found by its text and
 * not parsed at all (the same bytes passed parsing and validation before being cached); any other body is parsed
 * as everywhere else, its key kept for filing the response.
 */
export function exactRepeatParser(fastify: FastifyInstance) {
  return function (
    request: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) {
    const cache = fastify.predictionCache;
    if (cache && !bypassed(request)) {
      const params = request.params as { model?: string; version?: string };
      const model =
        params.model === undefined ? undefined : fastify.models.peek(params.model, params.version);
      if (model && model.descriptor.cache !== false && body.length <= EXACT_MAX_BODY) {
        request.exactKey = exactKey(model.name, model.version, body as string);
        const hit = cache.exact(request.exactKey);
        if (hit !== undefined) {
          request.exactRepeat = hit;
          request.inference = { model: model.name, version: model.version, instances: hit.instances };
          done(null, undefined);
          return;
        }
      }
    }
    parseJsonBody(request, body, done);
  };
}

/** preValidation hook of the predict routes: an exact repeat is answered here, before validation and encoding. */
export async function answerExactRepeat(request: FastifyRequest, reply: FastifyReply) {
  const hit = request.exactRepeat;
  if (hit === null) return;
  return reply.header('cache-status', CACHE_STATUS.hit).type('application/json').send(hit.value);
}
