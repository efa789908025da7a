// What the V2 routes share: their options, the error responses and tag of their OpenAPI documentation, and how
// control requests' bodies are read.
import type { FastifyInstance } from 'fastify';
import type { ConfigLimits } from '../../core/models/describe.js';
import { ErrorSchema } from '../schemas/common.js';

export interface V2Options extends ConfigLimits {
  version: string;
  predictRateLimit: number;
  /** Largest JSON body, and largest body with binary tensors (Inference-Header-Content-Length). */
  jsonBodyLimit: number;
  binaryBodyLimit: number;
}

export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  503: ErrorSchema,
};

export const tags = ['v2'];

/**
 * JSON bodies as tritonclient sends its control requests (repository, logging): with no body, no Content-Type, or
 * application/octet-stream around "{}". No body at all is an empty request.
 */
export function tritonBodies(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string' }, function (_request, body, done) {
    const text = (body as string).trim();
    try {
      done(null, text === '' ? {} : fastify.parseJson(text));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  fastify.addHook('preValidation', function (request, _reply, next) {
    request.body ??= {};
    next();
  });
}
