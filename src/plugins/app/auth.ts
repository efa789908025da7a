// JWT bearer authentication: decorates the verifier; `requireScopes` adds the checking hook to a route scope.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors, withExtras } from '../../errors.js';
import { grants, Scopes, type Scope } from '../../auth/scopes.js';
import { TokenError } from '../../auth/token-error.js';
import type { Principal, TokenVerifier } from '../../auth/verifier.js';

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

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

function challenge(
  error: 'invalid_token' | 'insufficient_scope',
  description: string,
  scope?: string,
): string {
  const extra = scope === undefined ? '' : `, scope="${scope}"`;
  return `Bearer realm="serval", error="${error}", error_description="${description}"${extra}`;
}

function unauthorized(reason: string): Error {
  return withExtras(new errors.UNAUTHORIZED(reason), {
    headers: { 'www-authenticate': challenge('invalid_token', reason) },
  });
}

/** Adds the bearer check to the calling (encapsulated) scope: every route in it needs its configured scope. */
export function requireScopes(fastify: FastifyInstance): void {
  const verifier = fastify.tokenVerifier;
  if (!verifier) return;
  fastify.addHook('onRequest', async function (request: FastifyRequest) {
    const header = request.headers.authorization;
    if (header === undefined) throw unauthorized('a bearer token is required');
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw unauthorized('the Authorization header must be "Bearer <token>"');
    try {
      request.principal = await verifier.verify(token);
    } catch (err) {
      if (err instanceof TokenError) throw unauthorized(err.message);
      throw err;
    }
    const scope = request.routeOptions.config.scope ?? Scopes.admin;
    if (!grants(request.principal.scopes, scope)) {
      throw withExtras(new errors.INSUFFICIENT_SCOPE(scope), {
        headers: {
          'www-authenticate': challenge('insufficient_scope', `the "${scope}" scope is required`, scope),
        },
      });
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
