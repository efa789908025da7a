// One V1 prediction over the core: decode the body, infer through the cache, answer predictions or output tensors.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../core/errors.js';
import type { Encoding } from '../../core/inference.js';
import type { ReadyModel } from '../../core/models/repository.js';
import { cacheStatus, cacheUse, JSON_TYPE, logInference } from '../inference.js';
import {
  columnarResponse,
  decodeColumns,
  decodeInstances,
  predictionsOf,
  serializeResponse,
} from './codec.js';

export interface PredictBody {
  instances?: unknown[];
  inputs?: unknown;
  signature_name?: string;
}

/** The row format's answers: predictions shaped by the task. */
function predictEncoding(model: ReadyModel, rows: number): Encoding {
  return {
    format: 'v1',
    variant: 'instances',
    encode: (outputs) =>
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

export async function predict(
  fastify: FastifyInstance,
  model: ReadyModel,
  body: PredictBody,
  request: FastifyRequest,
  reply: FastifyReply,
  maxInstances: number,
) {
  if ((body.instances === undefined) === (body.inputs === undefined)) {
    throw new errors.INVALID_REQUEST(
      'the body needs "instances" (row format) or "inputs" (columnar format), exactly one of them',
    );
  }
  const columnar = body.instances === undefined;
  const received = performance.now();
  const { feeds, rows } = fastify.core.inference.decoding(model, 'v1', received, () =>
    columnar
      ? decodeColumns(model, body.inputs, maxInstances)
      : decodeInstances(model, body.instances as unknown[], maxInstances),
  );
  logInference(request, model, rows);
  const encoding = columnar ? columnarEncoding : predictEncoding(model, rows);
  const outcome = await fastify.core.inference.infer(
    { model, inputs: feeds, protocol: 'v1', received },
    encoding,
    cacheUse(request, rows),
  );
  return cacheStatus(reply, outcome.cache).type(JSON_TYPE).send(outcome.body);
}
