// buildApp(config, core): the whole Fastify application over the core, without listening; the process owns both.
import { createAccess, type Access } from '../auth/access.js';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config/schema.js';
import type { Core } from '../core/core.js';
import { requestId as givenOrNew } from '../lib/request-id.js';
import { SERVAL_VERSION } from '../lib/version.js';
import { clientErrorHandler } from './client-errors.js';
import { requestLogger } from './request-logger.js';
import accessLog, { AccessLogController } from './plugins/app/access-log.js';
import auth from './plugins/app/auth.js';
import corePlugin from './plugins/app/core.js';
import errorsPlugin from './plugins/app/errors.js';
import bodyEncoding from './plugins/app/body-encoding.js';
import jsonBody from './plugins/app/json-body.js';
import metrics from './plugins/app/metrics.js';
import rateLimit from './plugins/app/rate-limit.js';
import tracing from './plugins/app/tracing.js';
import security from './plugins/external/security.js';
import swagger from './plugins/external/swagger.js';
import playgroundRoutes from './routes/playground.js';
import serviceRoutes from './routes/service.js';
import v1Routes from './v1/routes.js';
import v2Routes from './v2/routes.js';

/** The playground's build (scripts/build-playground.ts): the same folder from src/http and from dist/http. */
const PLAYGROUND = fileURLToPath(new URL('../../dist/playground', import.meta.url));

/** A client's X-Request-Id is kept when it is short and plain; otherwise a UUID is made. */
function requestId(req: IncomingMessage): string {
  return givenOrNew(req.headers['x-request-id']);
}

/** Fastify's trustProxy from the config string: "", "true", a hop count, or proxy addresses. */
function trustProxy(value: string): boolean | string | ((address: string, hop: number) => boolean) {
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value;
}

/** The routes, after the plugins they rely on: service, playground, OAuth's token endpoint when configured, V1, V2. */
async function registerRoutes(app: FastifyInstance, config: Config, keys: Access['keys']): Promise<void> {
  await app.register(serviceRoutes, { version: SERVAL_VERSION });
  await app.register(playgroundRoutes, { root: PLAYGROUND });
  if (config.oauthClientsFile && keys?.signing) {
    const [{ ClientRegistry }, { default: oauthRoutes }] = await Promise.all([
      import('../auth/clients.js'),
      import('./routes/oauth.js'),
    ]);
    await app.register(oauthRoutes, {
      clients: ClientRegistry.fromFile(config.oauthClientsFile),
      signing: keys.signing,
      ttlSeconds: config.oauthTokenTtlSeconds,
      issuer: config.jwtIssuer || 'serval',
      audience: config.jwtAudience || 'serval',
      rateLimitMax: config.rateLimitTokenMax,
    });
  }
  await app.register(v1Routes, {
    maxInstances: config.maxInstances,
    predictRateLimit: config.rateLimitPredictMax,
    imageMaxBytes: config.imageMaxBytes,
    multipartMaxBytes: config.binaryBodyLimitBytes,
  });
  await app.register(v2Routes, {
    version: SERVAL_VERSION,
    predictRateLimit: config.rateLimitPredictMax,
    jsonBodyLimit: config.bodyLimitBytes,
    binaryBodyLimit: config.binaryBodyLimitBytes,
    maxRows: config.maxInstances,
    batchMaxRows: config.batchMaxRows,
    threads: config.inferenceThreads,
  });
}

export async function buildApp(config: Config, core: Core, shared?: Access): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = core.log;
  const app = Fastify({
    loggerInstance: logger,
    genReqId: requestId,
    childLoggerFactory: requestLogger,
    logController: new AccessLogController(),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      maxHeaderSize: config.maxHeaderBytes,
      // Node checks the headers and request timeouts on this interval: at its default of 30 s a slow client is cut
      // up to 30 s past its limit, at half a second within about that of it.
      connectionsCheckingInterval: 500,
    },
    trustProxy: trustProxy(config.trustProxy),
    clientErrorHandler,
    // Requests that reach a draining worker are served, not refused: the listener is closed, so no new ones come.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(corePlugin, { core });
  await app.register(errorsPlugin, { bodyLimitBytes: config.bodyLimitBytes });
  await app.register(jsonBody, { maxDepth: config.jsonMaxDepth });
  await app.register(bodyEncoding);
  await app.register(accessLog);
  await app.register(tracing);
  await app.register(security, { corsOrigins: config.corsOrigins });
  // Optional features load their libraries (jose) only when configured: start-up time is module loading, paid by
  // every worker.
  const { keys, verifier, limiter } = shared ?? (await createAccess(config, core));
  await app.register(swagger, { version: SERVAL_VERSION, bearerAuth: config.authEnabled });
  await app.register(auth, { verifier });
  await app.register(rateLimit, { config, limiter });
  await app.register(metrics, { route: config.metricsPort === 0, auth: config.metricsAuth });
  await registerRoutes(app, config, keys);
  return app;
}
