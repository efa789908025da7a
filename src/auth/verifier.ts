// Verifies bearer tokens with jose: signature, algorithm allow-list, exp/nbf with skew, iss and aud.
import { errors as joseErrors, jwtVerify } from 'jose';
import type { Config } from '../config/schema.js';
import type { KeyMaterial } from './keys.js';
import { scopesOf } from './scopes.js';
import { TokenError } from './token-error.js';

export interface Principal {
  subject: string;
  scopes: ReadonlySet<string>;
}

/** Short, safe reasons for the WWW-Authenticate error_description (never the token itself). */
function reasonOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'the token is not yet valid';
    return `the "${err.claim}" claim is not accepted`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the token algorithm is not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key matches the token';
  if (err instanceof joseErrors.JWKSTimeout) return 'the issuer keys could not be fetched';
  return 'the token is malformed or invalid';
}

export class TokenVerifier {
  #keys: KeyMaterial;
  #options: { algorithms: string[]; clockTolerance: number; issuer?: string; audience?: string };

  constructor(keys: KeyMaterial, config: Config) {
    this.#keys = keys;
    this.#options = {
      algorithms: keys.algorithms,
      clockTolerance: config.jwtClockSkewSeconds,
      ...(config.jwtIssuer && { issuer: config.jwtIssuer }),
      ...(config.jwtAudience && { audience: config.jwtAudience }),
    };
  }

  get algorithms(): readonly string[] {
    return this.#keys.algorithms;
  }

  async verify(token: string): Promise<Principal> {
    try {
      const options = { ...this.#options, requiredClaims: ['exp', 'sub'] };
      const key = this.#keys.verifyKey;
      const { payload } =
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options);
      // RFC 7519 section 4.1.2: "sub" is a StringOrURI. An array or an object must not become a principal.
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new TokenError('the "sub" claim must be a non-empty string');
      }
      return { subject: payload.sub, scopes: scopesOf(payload) };
    } catch (err) {
      throw err instanceof TokenError ? err : new TokenError(reasonOf(err));
    }
  }
}
