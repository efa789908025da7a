// One error envelope for every failure: the core's errors, HTTP's own, Fastify's, validation, 404 and 405.
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { FastifyError, FastifyInstance } from 'fastify';
import { boundedMessage, errors, excerpt, ServalError } from '../../../core/errors.js';
import { headersOf, HttpError, httpErrors, statusOf } from '../../errors.js';
import { formatValidation } from './validation-message.js';

export interface ErrorsOptions {
  bodyLimitBytes: number;
}

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Maps any thrown error to a Serval error, so that one envelope renders them all. */
function normalize(error: FastifyError | ServalError, bodyLimitBytes: number): ServalError {
  if (error instanceof ServalError) return error;
  if (error.validation) {
    return new errors.INVALID_REQUEST(
      formatValidation(error.validationContext ?? 'request', error.validation),
    );
  }
  if (typeof error.code === 'string' && error.code.startsWith('Z_')) {
    // zlib refusing a Content-Encoding: gzip or deflate body (body-encoding plugin).
    return new errors.INVALID_REQUEST(`the request body cannot be decoded: ${error.message}`);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new httpErrors.PAYLOAD_TOO_LARGE(bodyLimitBytes);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new httpErrors.UNSUPPORTED_MEDIA_TYPE('application/json');
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own client errors (bad Content-Length, ...): their messages hold no user input.
    return new HttpError('INVALID_REQUEST', error.statusCode, `Invalid request: ${error.message}`);
  }
  return new errors.INTERNAL();
}

async function errorsPlugin(fastify: FastifyInstance, options: ErrorsOptions): Promise<void> {
  // A mirror of the route table, to tell "no such route" (404) from "not with this method" (405, with Allow).
  const routes = FindMyWay();
  fastify.addHook('onRoute', function (route) {
    // Catch-all routes (CORS answers OPTIONS on "*") would make every unknown path a 405.
    if (route.url === '*' || route.url === '/*') return;
    for (const method of [route.method].flat()) {
      if (METHODS.includes(method as HTTPMethod) && !routes.hasRoute(method as HTTPMethod, route.url)) {
        routes.on(method as HTTPMethod, route.url, () => undefined);
      }
    }
  });

  fastify.setNotFoundHandler(async function (request) {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = METHODS.filter((m) => routes.find(m, path) !== null);
    if (allowed.length > 0) {
      const error = new httpErrors.METHOD_NOT_ALLOWED(request.method, excerpt(path, 80));
      error.headers = { allow: allowed.join(', ') };
      throw error;
    }
    throw new httpErrors.ROUTE_NOT_FOUND(request.method, excerpt(path, 80));
  });

  fastify.setErrorHandler(async function (raw: FastifyError | ServalError, request, reply) {
    const error = normalize(raw, options.bodyLimitBytes);
    const status = statusOf(error);
    if (status >= 500 && status !== 503 && status !== 504) {
      request.log.error({ err: raw, code: error.code }, 'request failed');
    } else {
      request.log[status >= 500 ? 'warn' : 'info'](
        { code: error.code, status, error: error.message },
        'request rejected',
      );
    }
    void reply.headers(headersOf(error));
    if (error instanceof HttpError && error.oauth) {
      // RFC 6749 section 5.2: the token endpoint's clients read "error" as the OAuth code.
      return reply.code(status).send({
        error: error.oauth,
        error_description: error.message,
        code: error.code,
        request_id: request.id,
      });
    }
    // "error" is what KServe V1 and Open Inference Protocol clients (tritonclient) read.
    return reply.code(status).send({
      error: boundedMessage(error.message),
      code: error.code,
      request_id: request.id,
      ...(error.details ? { details: error.details } : {}),
    });
  });
}

export default fp(errorsPlugin, { name: 'errors' });
