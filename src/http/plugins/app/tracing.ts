// A server span per HTTP request when tracing is on, a child of the caller's W3C trace context (traceparent,
// tracestate), with the semantic conventions' attributes (method, route, status); health, readiness and metrics are
// not traced. Off, nothing is registered.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestTrace } from '../../../core/tracing/trace.js';
import { readableRoute } from './access-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's trace, when it is traced: inference routes hand it to the core's pipeline. */
    trace: RequestTrace | null;
  }
}

const UNTRACED = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);

/** Probes and scrapes: the server's own health, a model's readiness, metrics. */
export const untraced = (route: string): boolean => UNTRACED.has(route) || route.endsWith('/ready');

const headerOf = (request: FastifyRequest) => (name: string) => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

async function tracingPlugin(fastify: FastifyInstance): Promise<void> {
  fastify.decorateRequest('trace', null);
  const tracer = fastify.core.tracer;
  if (tracer === null) return;
  fastify.addHook('onRequest', function (request, _reply, done) {
    const route = readableRoute(request.routeOptions.url);
    if (route !== undefined && untraced(route)) return done();
    const model = (request.params as { model?: unknown } | undefined)?.model;
    request.trace =
      tracer.serve({
        name: route === undefined ? request.method : `${request.method} ${route}`,
        header: headerOf(request),
        attributes: () => ({
          'http.request.method': request.method,
          ...(route === undefined ? {} : { 'http.route': route }),
          'url.path': request.url.split('?', 1)[0] ?? '',
          'url.scheme': request.protocol,
          'network.protocol.version': request.raw.httpVersion,
        }),
        model: typeof model === 'string' ? model : undefined,
        reqId: request.id,
        started: performance.now(),
      }) ?? null;
    done();
  });
  fastify.addHook('onResponse', function (request, reply, done) {
    const status = reply.statusCode;
    request.trace?.end(
      { 'http.response.status_code': status, ...(status >= 500 ? { 'error.type': String(status) } : {}) },
      status >= 500,
    );
    done();
  });
}

export default fp(tracingPlugin, { name: 'tracing', dependencies: ['core'] });
