// The bearer check every front end makes: a header value in, the principal out, or a coded refusal with its challenge.
import { errors, withExtras } from '../core/errors.js';
import { grants, type Scope } from './scopes.js';
import { TokenError } from './token-error.js';
import type { Principal, TokenVerifier } from './verifier.js';

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

function unauthorized(reason: string): Error {
  return withExtras(new errors.UNAUTHORIZED(reason), {
    challenge: { error: 'invalid_token', description: reason },
  });
}

/** Verifies an Authorization header (HTTP) or `authorization` metadata (gRPC) and checks the scope it grants. */
export async function authorize(
  verifier: TokenVerifier,
  header: string | undefined,
  scope: Scope,
): Promise<Principal> {
  if (header === undefined) throw unauthorized('a bearer token is required');
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) throw unauthorized('the Authorization header must be "Bearer <token>"');
  let principal: Principal;
  try {
    principal = await verifier.verify(token);
  } catch (err) {
    if (err instanceof TokenError) throw unauthorized(err.message);
    throw err;
  }
  if (!grants(principal.scopes, scope)) {
    throw withExtras(new errors.INSUFFICIENT_SCOPE(scope), {
      challenge: { error: 'insufficient_scope', description: `the "${scope}" scope is required`, scope },
    });
  }
  return principal;
}
