// What every front end of a process shares to admit a request: the key material, the token verifier and the rate
// limiter. The entry point builds them once and hands them to HTTP and gRPC, so that one budget and one set of keys
// cover both; a front end built alone (a test's) builds its own. jose loads only when authentication is on.
import type { Config } from '../config/schema.js';
import type { Core } from '../core/core.js';
import { RateLimiter } from '../limits/rate-limiter.js';
import type { KeyMaterial } from './keys.js';
import type { TokenVerifier } from './verifier.js';

export interface Access {
  /** Signing and verification keys, when authentication or OAuth is configured. */
  keys: KeyMaterial | undefined;
  /** null when authentication is off. */
  verifier: TokenVerifier | null;
  /** Without Redis its counts live in it: two limiters would give a client one budget per protocol. */
  limiter: RateLimiter;
}

export async function createAccess(config: Config, core: Core): Promise<Access> {
  const keys =
    config.authEnabled || config.oauthClientsFile
      ? (await import('./keys.js')).keyMaterial(config)
      : undefined;
  if (config.authEnabled && !keys) throw new Error('authEnabled without a key (the config check refuses it)');
  const verifier =
    config.authEnabled && keys ? new (await import('./verifier.js')).TokenVerifier(keys, config) : null;
  const limiter = new RateLimiter({
    windowMs: config.rateLimitWindowMs,
    redis: core.redis,
    policy: config.redisFailurePolicy,
    log: core.log.child({ component: 'rate-limit' }),
  });
  return { keys, verifier, limiter };
}
