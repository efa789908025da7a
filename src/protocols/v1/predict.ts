// One V1 prediction: encode, consult the prediction cache (Cache-Status, RFC 9211), infer, decode.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cacheKey, exactKey, type CacheStatus } from '../../cache/prediction-cache.js';
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
  const exact = request.bodyHash === null ? undefined : exactKey(model.name, model.version, request.bodyHash);
  const { value, status } = await cache.wrap(key, response, exact);
  return reply.header('cache-status', CACHE_STATUS[status]).type('application/json').send(value);
}

/**
 * preValidation hook of the predict routes: an exact repeat of a cached request is answered here, before its
 * body is validated and encoded again (the same bytes passed both before being cached).
 */
export function answerExactRepeats(fastify: FastifyInstance) {
  return async function (request: FastifyRequest, reply: FastifyReply) {
    const cache = fastify.predictionCache;
    if (!cache || request.bodyHash === null || bypassed(request)) return;
    const params = request.params as { model?: string; version?: string };
    const model = params.model === undefined ? undefined : fastify.models.peek(params.model, params.version);
    if (!model || model.descriptor.cache === false) return;
    const hit = cache.exact(exactKey(model.name, model.version, request.bodyHash));
    if (hit === undefined) return;
    const { instances } = request.body as { instances?: unknown };
    request.inference = {
      model: model.name,
      version: model.version,
      instances: Array.isArray(instances) ? instances.length : 0,
    };
    return reply.header('cache-status', CACHE_STATUS.hit).type('application/json').send(hit);
  };
}
