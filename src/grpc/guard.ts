// Authentication and rate limits for gRPC calls through the modules HTTP uses (authorize, the process's one
// RateLimiter, the same keys): a bearer token in the `authorization` metadata, one budget per principal or address.
import type { Metadata } from '@grpc/grpc-js';
import { authorize } from '../auth/authorize.js';
import type { Scope } from '../auth/scopes.js';
import type { Principal, TokenVerifier } from '../auth/verifier.js';
import type { Config } from '../config/schema.js';
import { ServalError } from '../core/errors.js';
import { rateLimited, rateLimitKey, type RateLimiter } from '../limits/rate-limiter.js';

/** Which budget a call draws on: inference ("predict", shared with V1 and V2 inference), the rest ("api"), none. */
export type Bucket = 'predict' | 'api' | false;

/** The client's address as HTTP's request.ip has it: "ipv4:1.2.3.4:5678" or "[::1]:5678" becomes the bare address. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const hostPort = /^(.*):\d+$/.exec(bare)?.[1] ?? bare;
  return hostPort.startsWith('[') && hostPort.endsWith(']') ? hostPort.slice(1, -1) : hostPort;
}

/** A metadata key's first value as text; keys are lower-case in gRPC (grpcio refuses others). */
export function metadataText(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : undefined;
}

export class Guard {
  #verifier: TokenVerifier | null;
  #limiter: RateLimiter;
  #config: Config;

  constructor(verifier: TokenVerifier | null, limiter: RateLimiter, config: Config) {
    this.#verifier = verifier;
    this.#limiter = limiter;
    this.#config = config;
  }

  /** Whether calls need any check at all (a token or a budget): without, handlers skip the promises. */
  get open(): boolean {
    return this.#verifier === null && !this.#config.rateLimitEnabled;
  }

  /**
   * The principal of a call that needs `scope` (null when authentication is off). A refused token counts against the
   * address's budget, so that tokens cannot be guessed for free.
   */
  async authenticate(
    metadata: Metadata,
    peer: string,
    scope: Scope,
    bucket: Bucket,
  ): Promise<Principal | null> {
    const verifier = this.#verifier;
    if (!verifier) return null;
    try {
      return await authorize(verifier, metadataText(metadata, 'authorization'), scope);
    } catch (err) {
      if (err instanceof ServalError && err.code === 'UNAUTHORIZED') await this.count(null, peer, bucket);
      throw err;
    }
  }

  /** Counts one call (or one message of a stream) against its budget; throws RATE_LIMITED past it. */
  async count(principal: Principal | null, peer: string, bucket: Bucket): Promise<void> {
    if (bucket === false || !this.#config.rateLimitEnabled) return;
    const max = bucket === 'predict' ? this.#config.rateLimitPredictMax : this.#config.rateLimitMax;
    const allowance = await this.#limiter.consume(rateLimitKey(bucket, principal, peerAddress(peer)), max);
    if (!allowance.allowed) throw rateLimited(allowance, this.#config.rateLimitWindowMs);
  }
}
