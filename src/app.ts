// buildApp(config): the whole Fastify application, without listening; server.ts owns the process.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config/schema.js';
import accessLog, { AccessLogController } from './plugins/app/access-log.js';
import errorsPlugin from './plugins/app/errors.js';
import jsonBody from './plugins/app/json-body.js';
import models from './plugins/app/models.js';
import swagger from './plugins/external/swagger.js';
import v1Routes from './protocols/v1/routes.js';
import serviceRoutes from './routes/service.js';
import { SERVAL_VERSION } from './version.js';

export interface AppDeps {
  /** A logger instance or pino options; defaults to one built from the config. */
  logger?: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client's X-Request-Id is kept when it is short and plain; otherwise a UUID is made. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    ...(config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty' } } : {}),
  };
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? loggerOptions(config),
    genReqId: requestId,
    logController: new AccessLogController(),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: { headersTimeout: config.headersTimeoutMs },
    // Requests that reach a draining worker are served, not refused: the listener is closed, so no new ones come.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(errorsPlugin, { bodyLimitBytes: config.bodyLimitBytes });
  await app.register(jsonBody);
  await app.register(accessLog);
  await app.register(swagger, { version: SERVAL_VERSION });
  await app.register(models, config);
  await app.register(serviceRoutes, { version: SERVAL_VERSION });
  await app.register(v1Routes, { maxInstances: config.maxInstances });
  return app;
}
