// The config schema's keys that docs/security.md covers: tokens, OAuth, rate limits and Redis, the prediction cache.
import { Type } from 'typebox';
import { Milliseconds, Optional } from './schema-units.js';

export const JwtAlgorithms = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'ES256',
  'ES384',
  'EdDSA',
] as const;

/** Authentication: bearer tokens, their keys and the claims checked. */
export const AuthKeys = {
  authEnabled: Type.Boolean({ default: false, description: 'Require a JWT bearer token on model routes.' }),
  jwtSecret: Optional('HS256 shared secret (at least 32 characters); prefer jwtSecretFile.'),
  jwtSecretFile: Optional('File holding the HS256 shared secret.'),
  jwtPublicKeyFile: Optional('PEM public key (RS256/ES256/...) that verifies tokens.'),
  jwtJwksUrl: Optional('JWKS URL of the token issuer (Auth0, Keycloak, Entra ID); keys are cached.'),
  jwtAlgorithms: Type.Array(Type.Enum(JwtAlgorithms), {
    default: [],
    description:
      'Allowed algorithms; empty = HS256 with a secret, RS256 and ES256 with a public key or JWKS.',
  }),
  jwtIssuer: Optional('Required "iss" claim, when set.'),
  jwtAudience: Optional('Required "aud" claim, when set.'),
  jwtClockSkewSeconds: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 30,
    description: 'Tolerance for exp and nbf.',
  }),
};

/** OAuth tokens for service clients (client credentials). */
export const OAuthKeys = {
  oauthClientsFile: Optional('JSON file of client-credentials clients; enables POST /oauth/token.'),
  oauthPrivateKeyFile: Optional('PEM private key that signs issued tokens (else jwtSecret with HS256).'),
  oauthTokenTtlSeconds: Type.Integer({
    minimum: 30,
    maximum: 86_400,
    default: 300,
    description: 'Lifetime of issued tokens.',
  }),
};

/** Rate limits, and the Redis they and the cache may share. */
export const RateLimitKeys = {
  rateLimitEnabled: Type.Boolean({ default: false, description: 'Limit requests per principal (or IP).' }),
  rateLimitWindowMs: Milliseconds(60_000, 'Rate limit window.'),
  rateLimitMax: Type.Integer({
    minimum: 1,
    default: 1200,
    description: 'Requests per window per principal on metadata routes.',
  }),
  rateLimitPredictMax: Type.Integer({
    minimum: 1,
    default: 600,
    description: 'Predict requests per window per principal.',
  }),
  rateLimitTokenMax: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'Token requests per window per client IP.',
  }),
  redisUrl: Optional('redis://host:port shared by all workers and replicas for rate limits and the cache.'),
  redisFailurePolicy: Type.Enum(['open', 'closed'], {
    default: 'open',
    description: 'When Redis fails: open = serve (limit per process), closed = 503 for limited routes.',
  }),
};

/** The prediction cache. */
export const CacheKeys = {
  cacheEnabled: Type.Boolean({ default: false, description: 'Cache predictions of deterministic models.' }),
  cacheMaxEntries: Type.Integer({
    minimum: 1,
    default: 10_000,
    description: 'Most cached predictions per process.',
  }),
  cacheMaxBytes: Type.Integer({
    minimum: 1024,
    default: 67_108_864,
    description: 'Most bytes of cached predictions per process.',
  }),
  cacheTtlMs: Milliseconds(60_000, 'How long a cached prediction lives.'),
};
