// One V1 prediction: encode, consult the prediction cache (Cache-Status, RFC 9211), infer, decode.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cacheKey, type CacheStatus } from '../../cache/prediction-cache.js';
import type { ReadyModel } from '../../models/repository.js';
import { decodePredictions, encodeInstances, type Instance, type Prediction } from './codec.js';

const CACHE_STATUS: Record<CacheStatus, string> = {
  hit: 'serval; hit',
  miss: 'serval; fwd=miss; stored',
  collapsed: 'serval; fwd=miss; collapsed',
  bypass: 'serval; fwd=request',
};

export async function predict(
  fastify: FastifyInstance,
  model: ReadyModel,
  instances: readonly Instance[],
  request: FastifyRequest,
  reply: FastifyReply,
) {
  request.inference = { model: model.name, version: model.version, instances: instances.length };
  const feeds = encodeInstances(model.signature, instances);
  const run = async () =>
    decodePredictions(model.signature, await model.runtime.predict(feeds), instances.length);
  const response = (predictions: Prediction[]) => ({
    model_name: model.name,
    model_version: model.version,
    predictions,
  });

  const cache = fastify.predictionCache;
  if (!cache) return response(await run());
  if (model.descriptor.cache === false) {
    void reply.header('cache-status', 'serval; fwd=bypass; detail=uncacheable');
    return response(await run());
  }
  if (/\bno-(cache|store)\b/i.test(request.headers['cache-control'] ?? '')) {
    void reply.header('cache-status', CACHE_STATUS.bypass);
    return response(await run());
  }
  // The key is taken before inference: a thread-mode run hands the input buffers over to its thread.
  const key = cacheKey(model.name, model.version, feeds);
  const { value, status } = await cache.wrap(key, run);
  void reply.header('cache-status', CACHE_STATUS[status]);
  return response(value as Prediction[]);
}
