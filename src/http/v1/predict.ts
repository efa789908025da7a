// One V1 prediction: the body read as the core's request (row or columnar format), one call of the core's
// pipeline, and its answer (predictions, or output tensors) sent as JSON.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors, excerpt } from '../../core/errors.js';
import type { Encoding } from '../../core/inference.js';
import type { ReadyModel } from '../../core/models/repository.js';
import { cacheStatus, cacheUse, clientGone, JSON_TYPE, noteOf, payloadOf } from '../inference.js';
import { columnarResponse, predictionsOf, serializeResponse } from './codec.js';
import { columnInputs, instanceInputs } from './instances.js';

export interface PredictBody {
  instances?: unknown[];
  inputs?: unknown;
  signature_name?: string;
}

/** The row format's answers: predictions shaped by the task. */
function predictEncoding(model: ReadyModel): Encoding {
  return {
    format: 'v1',
    variant: 'instances',
    encode: (outputs, rows) =>
      Buffer.from(
        serializeResponse(model, {
          model_name: model.name,
          model_version: model.version,
          predictions: predictionsOf(model, outputs, rows),
        }),
      ),
  };
}

const columnarEncoding: Encoding = {
  format: 'v1',
  variant: 'inputs',
  encode: (outputs) => Buffer.from(columnarResponse(outputs)),
};

/** Triton's schedule policy over V1, which has no request parameters: X-Inference-Priority, X-Inference-Timeout (µs). */
function scheduleHeaders(request: FastifyRequest): {
  priority?: number | undefined;
  timeoutUs?: number | undefined;
} {
  const count = (header: string) => {
    const text = request.headers[header];
    if (text === undefined) return undefined;
    if (typeof text !== 'string' || !/^\d{1,15}$/.test(text)) {
      throw new errors.INVALID_REQUEST(`${header} must be a non-negative integer, got ${excerpt(text)}`);
    }
    return Number(text);
  };
  return { priority: count('x-inference-priority'), timeoutUs: count('x-inference-timeout') };
}

export async function predict(
  fastify: FastifyInstance,
  target: { model: string; version?: string },
  body: PredictBody,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const payload = payloadOf(request, request.headers['content-type'] ?? 'application/json');
  const answer = await fastify.core.inference.infer({
    model: target.model,
    version: target.version,
    protocol: 'v1',
    received: performance.now(),
    read: (model) => {
      const { instances, inputs } = body;
      if ((instances === undefined) === (inputs === undefined)) {
        throw new errors.INVALID_REQUEST(
          'the body needs "instances" (row format) or "inputs" (columnar format), exactly one of them',
        );
      }
      const schedule = scheduleHeaders(request);
      return instances === undefined
        ? { ...columnInputs(model, inputs), encoding: columnarEncoding, ...schedule }
        : { ...instanceInputs(model, instances), encoding: predictEncoding(model), ...schedule };
    },
    cache: cacheUse(request),
    signal: clientGone(reply),
    note: noteOf(request),
    payload,
    trace: request.trace ?? undefined,
  });
  const sent = cacheStatus(reply, answer.cache).type(JSON_TYPE).send(answer.body);
  payload?.respond(answer.body, JSON_TYPE);
  return sent;
}
