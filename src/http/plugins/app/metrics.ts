// Prometheus metrics over HTTP: every request counted by its route template and status class, and GET /metrics
// with the metrics of every worker (unless they have their own port). Off with metricsEnabled: false.
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Scopes } from '../../../auth/scopes.js';
import { METRICS_CONTENT_TYPE } from '../../../core/metrics.js';
import { readableRoute } from './access-log.js';
import { requireScopes } from './auth.js';

export interface MetricsRouteOptions {
  /** Serve GET /metrics here (false when it has its own port). */
  route: boolean;
  /** /metrics needs the admin scope when authentication is on. */
  auth: boolean;
}

async function metricsPlugin(fastify: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  const metrics = fastify.core.metrics;
  if (!metrics) return;
  fastify.addHook('onResponse', function (request, reply, done) {
    metrics.http(readableRoute(request.routeOptions.url) ?? 'unmatched', request.method, reply.statusCode);
    done();
  });
  if (!options.route) return;
  await fastify.register(async function metricsRoute(scope) {
    if (options.auth) requireScopes(scope);
    scope.get(
      '/metrics',
      {
        config: { rateLimit: false, scope: Scopes.admin },
        schema: {
          tags: ['service'],
          summary: 'Prometheus metrics of every worker (text exposition format)',
          ...(options.auth && scope.tokenVerifier ? { security: [{ bearerAuth: [] }] } : {}),
          produces: ['text/plain'],
        },
      },
      async (_request, reply) =>
        reply
          .type(METRICS_CONTENT_TYPE)
          .header('cache-control', 'no-store')
          .send(await fastify.core.metricsText()),
    );
  });
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['core'] });
