// JWT bearer authentication: decorates the verifier; `requireScopes` adds the checking hook to a route scope.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize } from '../../../auth/authorize.js';
import { ServalError } from '../../../core/errors.js';
import { Scopes, type Scope } from '../../../auth/scopes.js';
import type { Principal, TokenVerifier } from '../../../auth/verifier.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** null when authentication is off. */
    tokenVerifier: TokenVerifier | null;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The scope a route needs when authentication is on. */
    scope?: Scope;
  }
}

/** Adds the bearer check to the calling (encapsulated) scope: every route in it needs its configured scope. */
export function requireScopes(fastify: FastifyInstance): void {
  const verifier = fastify.tokenVerifier;
  if (!verifier) return;
  fastify.addHook('onRequest', async function (request: FastifyRequest, reply) {
    const scope = request.routeOptions.config.scope ?? Scopes.admin;
    try {
      request.principal = await authorize(verifier, request.headers.authorization, scope);
    } catch (err) {
      // A refused token counts against its IP's limit (429 past it): tokens cannot be guessed for free.
      if (fastify.rateLimiting && err instanceof ServalError && err.code === 'UNAUTHORIZED') {
        await fastify.countRequest(request, reply, undefined, 'ip');
      }
      throw err;
    }
  });
}

export interface AuthOptions {
  /** Built by the caller when authentication is on (so that jose loads only then). */
  verifier: TokenVerifier | null;
}

async function authPlugin(fastify: FastifyInstance, { verifier }: AuthOptions): Promise<void> {
  fastify.decorateRequest('principal', null);
  if (verifier) {
    fastify.decorate('tokenVerifier', verifier);
    fastify.log.info({ algorithms: verifier.algorithms }, 'JWT authentication is on for model routes');
  } else {
    fastify.decorate('tokenVerifier', null);
    fastify.log.warn(
      'authentication is OFF: anyone who reaches this server can use every model (set SERVAL_AUTH_ENABLED)',
    );
  }
}

export default fp(authPlugin, { name: 'auth' });
