// One structured access line per request (the security plugin returns its X-Request-Id); never bodies or auth headers.
import fp from 'fastify-plugin';
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { InferenceNote } from '../../../core/inference.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by inference routes so that the access line names the model, version and batch size. */
    inference: InferenceNote | null;
  }
}

const PROBES = new Set(['/healthz', '/readyz']);

/** Readable routes by route pattern: as many as the app has routes. */
const readable = new Map<string, string>();

/**
 * "/v1/models/:model([A-Za-z0-9]…)::predict" → "/v1/models/:model:predict": the route as people write it, made once
 * per route (access lines, metrics and traces ask for it on every request); undefined for a request no route matched.
 */
export function readableRoute(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let route = readable.get(url);
  if (route === undefined) readable.set(url, (route = url.replace(/\([^)]*\)/g, '').replaceAll('::', ':')));
  return route;
}

/**
 * Fastify's log controller, reshaped: no "incoming request" line, and a single access line at completion with
 * method, route, status, latency and the inference fields. Probes log at debug to keep the info stream useful.
 */
export class AccessLogController extends LogController {
  override incomingRequest(): void {
    // One line per request, written at completion.
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const url = request.routeOptions.url;
    const probe = url !== undefined && PROBES.has(url);
    // Skip building the line when its level is off (the benchmark's hot path at warn).
    if (!error && !request.log.isLevelEnabled(probe ? 'debug' : 'info')) return;
    const route = readableRoute(url);
    const line = {
      method: request.method,
      route: route ?? null,
      ...(route === undefined ? { url: request.url.slice(0, 200) } : {}),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...request.inference,
      // Logs and traces join on these.
      ...(request.trace ? { traceId: request.trace.traceId, spanId: request.trace.spanId } : {}),
    };
    if (error) request.log.error({ ...line, err: error }, 'request errored');
    else if (probe) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  }
}

async function accessLogPlugin(fastify: FastifyInstance): Promise<void> {
  fastify.decorateRequest('inference', null);
}

export default fp(accessLogPlugin, { name: 'access-log' });
