// Turns the auth configuration into verification and signing keys (secret, PEM files or a remote JWKS).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
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
    return {
      verifyKey: secret,
      algorithms: (configured ?? ['HS256']).filter((a) => a.startsWith('HS')),
      ...(signing && { signing }),
    };
  }
  const asymmetric = (configured ?? ['RS256', 'ES256']).filter((a) => !a.startsWith('HS'));
  if (config.jwtPublicKeyFile) {
    const key = createPublicKey(readFileSync(config.jwtPublicKeyFile, 'utf8'));
    return { verifyKey: key, algorithms: asymmetric, ...(signing && { signing }) };
  }
  if (config.jwtJwksUrl) {
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
