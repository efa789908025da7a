// Turns the auth configuration into verification and signing keys (secret, PEM files or a remote JWKS).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../config/create-config.js';
import type { Config } from '../config/schema.js';

export type VerifyKey = Uint8Array | KeyObject | JWTVerifyGetKey;

export interface KeyMaterial {
  verifyKey: VerifyKey;
  algorithms: string[];
  /** Present when this server may issue tokens (client credentials). */
  signing?: { key: Uint8Array | KeyObject; alg: string };
}

function secretOf(config: Config): Uint8Array | undefined {
  const secret =
    config.jwtSecret || (config.jwtSecretFile && readFileSync(config.jwtSecretFile, 'utf8').trim());
  if (!secret) return undefined;
  if (secret.length < 32) throw new Error('the JWT secret must have at least 32 characters');
  return new TextEncoder().encode(secret);
}

/** The signing algorithm that fits an asymmetric key: RS256 for RSA, ES256/ES384 for P-256/P-384, EdDSA. */
function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec':
      return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new Error(`unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

/** The algorithms that can verify with a key: HS* with a secret; by key type for a public key. */
function fits(algorithm: string, key: KeyObject | 'secret' | 'jwks'): boolean {
  if (key === 'secret') return algorithm.startsWith('HS');
  if (key === 'jwks') return !algorithm.startsWith('HS');
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return /^(RS|PS)/.test(algorithm);
    case 'ec':
      return algorithm === (key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256');
    case 'ed25519':
      return algorithm === 'EdDSA';
    default:
      return false;
  }
}

/**
 * Configured algorithms that cannot verify with the configured key would refuse every token: the start stops
 * instead (exit 78), naming them (HS256 with a public key file, ES256 with an RSA key...).
 */
function checkAlgorithms(
  configured: string[] | undefined,
  key: KeyObject | 'secret' | 'jwks',
  what: string,
): void {
  const misfits = configured?.filter((a) => !fits(a, key)) ?? [];
  if (misfits.length > 0) {
    throw new ConfigError(
      `Invalid configuration: jwtAlgorithms ${misfits.join(', ')} cannot verify tokens with ${what}`,
    );
  }
}

export function keyMaterial(config: Config): KeyMaterial | undefined {
  const secret = secretOf(config);
  const privateKey = config.oauthPrivateKeyFile
    ? createPrivateKey(readFileSync(config.oauthPrivateKeyFile, 'utf8'))
    : undefined;
  const configured = config.jwtAlgorithms.length > 0 ? [...config.jwtAlgorithms] : undefined;
  const signing = privateKey
    ? { key: privateKey, alg: algorithmFor(privateKey) }
    : secret && config.oauthClientsFile
      ? { key: secret, alg: 'HS256' }
      : undefined;

  // HS algorithms only ever verify with a secret and RS/ES only with a public key: no key confusion.
  if (secret) {
    checkAlgorithms(configured, 'secret', 'a shared secret (jwtSecret); use HS256, HS384 or HS512');
    return {
      verifyKey: secret,
      algorithms: (configured ?? ['HS256']).filter((a) => a.startsWith('HS')),
      ...(signing && { signing }),
    };
  }
  const asymmetric = (configured ?? ['RS256', 'ES256']).filter((a) => !a.startsWith('HS'));
  if (config.jwtPublicKeyFile) {
    const key = createPublicKey(readFileSync(config.jwtPublicKeyFile, 'utf8'));
    checkAlgorithms(configured, key, `the ${String(key.asymmetricKeyType)} key of jwtPublicKeyFile`);
    return { verifyKey: key, algorithms: asymmetric, ...(signing && { signing }) };
  }
  if (config.jwtJwksUrl) {
    checkAlgorithms(configured, 'jwks', 'a JWKS (public keys only)');
    const jwks = createRemoteJWKSet(new URL(config.jwtJwksUrl), {
      cacheMaxAge: 10 * 60_000,
      cooldownDuration: 30_000,
      timeoutDuration: 5_000,
    });
    return { verifyKey: jwks, algorithms: asymmetric, ...(signing && { signing }) };
  }
  if (privateKey && signing) {
    return {
      verifyKey: createPublicKey(privateKey),
      algorithms: configured ? asymmetric : [signing.alg],
      signing,
    };
  }
  return undefined;
}
