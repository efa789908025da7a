// X-Request-Id and security headers (helmet's, computed once) on every response; CORS for an allow-list of origins.
import fp from 'fastify-plugin';
import fastifyCors from '@fastify/cors';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../../core/errors.js';

export interface SecurityOptions {
  corsOrigins: string[];
}

type HelmetOptions = Parameters<typeof helmet>[0];

/** The headers a helmet middleware sets, computed once: they do not depend on the request. */
function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  };
  helmet(options)({} as unknown as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return Object.fromEntries(headers);
}

/**
 * The security headers of OWASP's REST Security Cheat Sheet for a JSON API: nothing may load or frame a response
 * (CSP, X-Frame-Options), no MIME sniffing, HTTPS only, no referrer, no cross-origin embedding. helmet's headers
 * that only act on HTML documents are left to the documentation pages (`documentHeaders`): every header costs
 * every request its bytes and its validation.
 */
export const API_HEADERS = helmetHeaders({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
});

/** helmet's defaults for HTML documents that API_HEADERS leaves out; their pages set their own CSP. */
const DOCUMENT_HEADERS = Object.entries(helmetHeaders({ contentSecurityPolicy: false })).filter(
  ([name]) => !(name in API_HEADERS),
);

/** An onRequest hook for routes that serve HTML documents (Swagger UI): helmet's document headers too. */
export function documentHeaders(_request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  for (const [name, value] of DOCUMENT_HEADERS) void reply.header(name, value);
  done();
}

const PREFLIGHT_HEADERS =
  'a CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers';

/** A CORS preflight as @fastify/cors's strict mode has it: both headers present. */
function isPreflight(request: FastifyRequest): boolean {
  return Boolean(request.headers.origin) && Boolean(request.headers['access-control-request-method']);
}

async function securityPlugin(fastify: FastifyInstance, { corsOrigins }: SecurityOptions): Promise<void> {
  const headers = Object.entries(API_HEADERS);
  const cors = corsOrigins.length > 0;
  // One callback-style hook for every response's own headers, the request id among them: each hook, and each
  // async one more so, costs every request.
  fastify.addHook('onRequest', function (request, reply, done) {
    void reply.header('x-request-id', request.id);
    for (const [name, value] of headers) void reply.header(name, value);
    // @fastify/cors would refuse an OPTIONS that is no preflight with a plain-text 400: ours is in the envelope.
    if (cors && request.method === 'OPTIONS' && !isPreflight(request)) {
      done(new errors.INVALID_REQUEST(PREFLIGHT_HEADERS));
      return;
    }
    done();
  });
  if (cors) {
    await fastify.register(fastifyCors, {
      origin: corsOrigins,
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'cache-control', 'x-request-id'],
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        'cache-status',
        'etag',
      ],
      maxAge: 600,
    });
  }
}

export default fp(securityPlugin, { name: 'security' });
