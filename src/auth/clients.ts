// OAuth client-credentials clients: loaded from a JSON file, secrets stored and checked as scrypt hashes.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { FILE_JSON_BOUNDS, parseBoundedJson } from '../lib/bounded-json.js';
import { ALL_SCOPES } from './scopes.js';

const scrypt = (secret: string, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => {
    scryptCallback(secret, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });

export const ClientsFileSchema = Type.Object({
  clients: Type.Array(
    Type.Object(
      {
        client_id: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
        secret_hash: Type.String({ pattern: '^scrypt\\$' }),
        scopes: Type.Array(Type.Enum(ALL_SCOPES), { minItems: 1, uniqueItems: true }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 10_000 },
  ),
});

export type Client = Static<typeof ClientsFileSchema>['clients'][number];

const PARAMS = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

/** "scrypt$N$r$p$salt$hash" (base64url): what `npm run hash-secret` prints for the clients file. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEY_LENGTH, PARAMS);
  return [
    'scrypt',
    PARAMS.N,
    PARAMS.r,
    PARAMS.p,
    salt.toString('base64url'),
    hash.toString('base64url'),
  ].join('$');
}

export async function verifySecret(secret: string, encoded: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = encoded.split('$');
  if (!n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(secret, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}

export class ClientRegistry {
  #clients: Map<string, Client>;
  // Checked when the client id is unknown, so that a wrong id costs as long as a wrong secret.
  #decoy: Promise<string>;

  constructor(clients: Client[]) {
    this.#clients = new Map(clients.map((c) => [c.client_id, c]));
    this.#decoy = hashSecret(randomBytes(16).toString('hex'));
  }

  static fromFile(path: string): ClientRegistry {
    const parsed = parseBoundedJson(readFileSync(path, 'utf8'), FILE_JSON_BOUNDS);
    const error = Value.Errors(ClientsFileSchema, parsed)[0];
    if (error) throw new Error(`clients file ${error.instancePath || '/'} ${error.message}`);
    return new ClientRegistry((parsed as Static<typeof ClientsFileSchema>).clients);
  }

  /** The client when the id and secret match, else undefined (in about the same time either way). */
  async authenticate(clientId: string, secret: string): Promise<Client | undefined> {
    const client = this.#clients.get(clientId);
    const ok = await verifySecret(secret, client?.secret_hash ?? (await this.#decoy));
    return client && ok ? client : undefined;
  }
}
