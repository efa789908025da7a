// JWT bearer authentication: token attacks, scopes, public routes, RS256 and JWKS keys.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { exportJWK, SignJWT, type JWTPayload } from 'jose';
import { loadedApp } from '../../helpers.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const secretKey = new TextEncoder().encode(SECRET);
const body = { instances: [[5.1, 3.5, 1.4, 0.2]] };

async function hs256(
  claims: JWTPayload,
  options: { exp?: string | number; nbf?: number } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('client-a').setIssuedAt();
  jwt.setExpirationTime(options.exp ?? '5m');
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(secretKey);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('JWT bearer authentication (HS256)', () => {
  let app: FastifyInstance;
  let inferences = 0;
  before(async () => {
    app = await loadedApp({
      authEnabled: true,
      jwtSecret: SECRET,
      jwtIssuer: 'https://issuer.test',
      jwtAudience: 'serval-api',
    });
    const runtime = app.models.ready('iris').runtime;
    const predict = runtime.predict.bind(runtime);
    Object.assign(runtime, {
      predict: (feeds: Parameters<typeof predict>[0]) => (inferences++, predict(feeds)),
    });
  });
  after(() => app.close());

  const claims = { iss: 'https://issuer.test', aud: 'serval-api', scope: 'serval:predict serval:read' };
  const call = (token: string | undefined, url = '/v1/models/iris:predict') =>
    app.inject({
      method: url.endsWith(':predict') ? 'POST' : 'GET',
      url,
      ...(url.endsWith(':predict') && { payload: body }),
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  async function assertRejected(token: string | undefined, reason: RegExp) {
    const before = inferences;
    const res = await call(token);
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().code, 'UNAUTHORIZED');
    assert.match(
      String(res.headers['www-authenticate']),
      /^Bearer realm="serval", error="invalid_token", error_description="/,
    );
    assert.match(String(res.headers['www-authenticate']), reason);
    assert.equal(inferences, before, 'the model must not run');
  }

  it('accepts a valid token with the predict scope', async () => {
    const res = await call(await hs256(claims));
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().predictions[0].label, 'setosa');
  });

  it('answers 401 with a Bearer challenge when the token is missing or not a bearer token', async () => {
    await assertRejected(undefined, /required/);
    const basic = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: body,
      headers: { authorization: 'Basic abc' },
    });
    assert.equal(basic.statusCode, 401);
  });

  it('rejects a validly signed token whose "sub" is not a string (RFC 7519), so it never becomes a principal', async () => {
    for (const sub of [['alice'], { name: 'alice' }, 7, '']) {
      const token = await new SignJWT({ ...claims, sub } as unknown as JWTPayload)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(secretKey);
      await assertRejected(token, /sub/);
    }
  });

  it('rejects alg "none"', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 })}.`;
    await assertRejected(token, /invalid|not allowed/);
  });

  it('rejects an expired token and one not yet valid, with a small clock skew allowed', async () => {
    const now = Math.floor(Date.now() / 1000);
    await assertRejected(await hs256(claims, { exp: now - 120 }), /expired/);
    await assertRejected(await hs256(claims, { nbf: now + 600 }), /not yet valid/);
    assert.equal((await call(await hs256(claims, { exp: now - 5 }))).statusCode, 200, 'within the 30 s skew');
  });

  it('rejects a wrong audience or issuer', async () => {
    await assertRejected(await hs256({ ...claims, aud: 'someone-else' }), /"aud"/);
    await assertRejected(await hs256({ ...claims, iss: 'https://evil.test' }), /"iss"/);
  });

  it('rejects a tampered payload and a token signed with another secret', async () => {
    const [header, , signature] = (await hs256(claims)).split('.');
    const forged = `${header}.${b64({ ...claims, sub: 'admin', scope: 'serval:admin', exp: 9999999999 })}.${signature}`;
    await assertRejected(forged, /signature/);
    const other = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters'));
    await assertRejected(other, /signature/);
  });

  it('answers 403 insufficient_scope when the token lacks the route scope', async () => {
    const reader = await hs256({ ...claims, scope: 'serval:read' });
    const res = await call(reader);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'INSUFFICIENT_SCOPE');
    assert.match(
      String(res.headers['www-authenticate']),
      /error="insufficient_scope".*scope="serval:predict"/,
    );
    assert.equal((await call(reader, '/v1/models/iris')).statusCode, 200);
    const predictor = await hs256({ ...claims, scope: 'serval:predict' });
    assert.equal((await call(predictor, '/v1/models')).statusCode, 403);
    const admin = await hs256({ ...claims, scope: 'serval:admin' });
    assert.equal((await call(admin)).statusCode, 200);
    assert.equal((await call(admin, '/v1/models')).statusCode, 200);
  });

  it('keeps /, health, readiness and the docs public', async () => {
    for (const url of ['/', '/healthz', '/readyz', '/openapi.json', '/docs/']) {
      assert.equal((await app.inject(url)).statusCode, 200, url);
    }
    const doc = (await app.inject('/openapi.json')).json();
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
    assert.deepEqual(doc.paths['/v1/models/{model}:predict'].post.security, [{ bearerAuth: [] }]);
  });
});

describe('JWT bearer authentication with public keys', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('verifies RS256 and refuses an HS256 token signed with the RSA public key (key confusion)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-keys-'));
    await writeFile(join(dir, 'public.pem'), rsaPem);
    const app = await loadedApp({ authEnabled: true, jwtPublicKeyFile: join(dir, 'public.pem') });
    t.after(() => app.close());
    const good = await new SignJWT({ scope: 'serval:predict' })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('a')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: body,
      headers: { authorization: `Bearer ${good}` },
    });
    assert.equal(ok.statusCode, 200);
    const confused = await new SignJWT({ scope: 'serval:predict' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(rsaPem));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: body,
      headers: { authorization: `Bearer ${confused}` },
    });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['www-authenticate']), /not allowed/);
  });

  it('fetches and caches keys from a JWKS URL (ES256)', async (t) => {
    const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    let fetches = 0;
    const jwksServer = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    }).listen(0, '127.0.0.1');
    await once(jwksServer, 'listening');
    const { port } = jwksServer.address() as { port: number };
    const app = await loadedApp({
      authEnabled: true,
      jwtJwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    });
    t.after(async () => {
      await app.close();
      jwksServer.close();
    });
    const token = await new SignJWT({ scope: 'serval:predict' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('a')
      .setExpirationTime('5m')
      .sign(ec.privateKey);
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/models/iris:predict',
        payload: body,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.statusCode, 200);
    }
    assert.equal(fetches, 1, 'keys are cached');
  });
});

describe('authentication off', () => {
  it('serves model routes without a token', async (t) => {
    const app = await loadedApp();
    t.after(() => app.close());
    assert.equal(
      (await app.inject({ method: 'POST', url: '/v1/models/iris:predict', payload: body })).statusCode,
      200,
    );
  });
});
