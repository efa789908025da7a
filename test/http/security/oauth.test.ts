// POST /oauth/token: the client-credentials grant, its client authentication and OAuth errors.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { hashSecret } from '../../../src/auth/clients.js';
import { loadedApp } from '../../helpers.js';

const SCORER_SECRET = 'scorer-secret-0123456789';
const READER_SECRET = 'reader-secret-9876543210';
const JWT_SECRET = 'a-forty-character-secret-for-hs256-tests';
const setosa = [5.1, 3.5, 1.4, 0.2];

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** The claims of a compact JWS, read without verifying it. */
function claimsOf(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  assert.ok(payload, 'the token has three parts');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function assertOAuthError(res: LightMyRequestResponse, status: number, error: string, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  assert.equal(body.error, error);
  assert.equal(body.code, code);
  assert.equal(typeof body.error_description, 'string');
  assert.ok(body.error_description.length > 0);
  assert.equal(body.request_id, res.headers['x-request-id']);
  assert.equal(res.headers['cache-control'], 'no-store');
}

describe('POST /oauth/token (client credentials grant)', () => {
  let app: FastifyInstance;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'serval-oauth-'));
    const clientsFile = join(dir, 'clients.json');
    const clients = [
      {
        client_id: 'scorer',
        secret_hash: await hashSecret(SCORER_SECRET),
        scopes: ['serval:predict', 'serval:read'],
      },
      { client_id: 'reader', secret_hash: await hashSecret(READER_SECRET), scopes: ['serval:read'] },
    ];
    await writeFile(clientsFile, JSON.stringify({ clients }));
    app = await loadedApp({ authEnabled: true, jwtSecret: JWT_SECRET, oauthClientsFile: clientsFile });
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const token = (payload: string, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload,
    });
  const grant = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    token(form({ grant_type: 'client_credentials', ...fields }), headers);
  const predict = (accessToken: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      headers: { authorization: `Bearer ${accessToken}` },
      payload: { instances: [setosa] },
    });

  it('issues a Bearer token for form-encoded credentials, not to be cached', async () => {
    const res = await grant({ client_id: 'scorer', client_secret: SCORER_SECRET });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 300);
    assert.equal(body.scope, 'serval:predict serval:read');
    assert.match(body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('signs the client id, issuer, audience and a lifetime of exactly the configured TTL', async () => {
    const res = await grant({ client_id: 'scorer', client_secret: SCORER_SECRET });
    const claims = claimsOf(res.json().access_token);
    assert.equal(claims.sub, 'scorer');
    assert.equal(claims.iss, 'serval');
    assert.equal(claims.aud, 'serval');
    assert.equal(claims.scope, 'serval:predict serval:read');
    assert.equal(typeof claims.iat, 'number');
    assert.equal(typeof claims.exp, 'number');
    assert.equal(Number(claims.exp) - Number(claims.iat), 300);
    assert.ok(Math.abs(Number(claims.iat) - Date.now() / 1000) < 5);
    assert.equal(typeof claims.jti, 'string');
  });

  it('issues a token that the predict route accepts', async () => {
    const issued = (await grant({ client_id: 'scorer', client_secret: SCORER_SECRET })).json();
    const res = await predict(issued.access_token);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().predictions[0].label, 'setosa');
  });

  it('refuses predict to a read-only client with 403 but lets it list the models', async () => {
    const issued = (await grant({ client_id: 'reader', client_secret: READER_SECRET })).json();
    assert.equal(issued.scope, 'serval:read');
    const denied = await predict(issued.access_token);
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 'INSUFFICIENT_SCOPE');
    const list = await app.inject({
      url: '/v1/models',
      headers: { authorization: `Bearer ${issued.access_token}` },
    });
    assert.equal(list.statusCode, 200);
    assert.ok(Array.isArray(list.json().models));
  });

  it('accepts HTTP Basic client authentication', async () => {
    const res = await grant({}, { authorization: basic('scorer', SCORER_SECRET) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(claimsOf(res.json().access_token).sub, 'scorer');
    assert.equal((await predict(res.json().access_token)).statusCode, 200);
  });

  it('accepts a JSON body', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      payload: { grant_type: 'client_credentials', client_id: 'reader', client_secret: READER_SECRET },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().scope, 'serval:read');
    assert.equal(claimsOf(res.json().access_token).sub, 'reader');
  });

  it('returns 401 invalid_client for a wrong secret, with no token in the body', async () => {
    const res = await grant({ client_id: 'scorer', client_secret: 'wrong-secret-0123456789' });
    assertOAuthError(res, 401, 'invalid_client', 'INVALID_CLIENT');
    assert.equal(res.json().access_token, undefined);
  });

  it('returns 401 invalid_client with a Basic challenge for a wrong secret sent with Basic', async () => {
    const res = await grant({}, { authorization: basic('scorer', 'wrong-secret-0123456789') });
    assertOAuthError(res, 401, 'invalid_client', 'INVALID_CLIENT');
    assert.equal(res.headers['www-authenticate'], 'Basic realm="serval"');
  });

  it('returns 401 invalid_client for an unknown client, the same as for a wrong secret', async () => {
    const res = await grant({ client_id: 'nobody', client_secret: SCORER_SECRET });
    assertOAuthError(res, 401, 'invalid_client', 'INVALID_CLIENT');
    const wrong = await grant({ client_id: 'scorer', client_secret: 'x' });
    assert.equal(res.json().error_description, wrong.json().error_description);
  });

  it('returns 400 invalid_scope for a scope the client may not have', async () => {
    const res = await grant({ client_id: 'scorer', client_secret: SCORER_SECRET, scope: 'serval:admin' });
    assertOAuthError(res, 400, 'invalid_scope', 'INVALID_SCOPE');
    assert.match(res.json().error_description, /serval:admin/);
  });

  it('issues a token with only the requested subset of the client scopes', async () => {
    const res = await grant({ client_id: 'scorer', client_secret: SCORER_SECRET, scope: 'serval:read' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().scope, 'serval:read');
    assert.equal(claimsOf(res.json().access_token).scope, 'serval:read');
    const denied = await predict(res.json().access_token);
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 'INSUFFICIENT_SCOPE');
  });

  it('returns 400 unsupported_grant_type for the password grant', async () => {
    const res = await token(
      form({ grant_type: 'password', client_id: 'scorer', client_secret: SCORER_SECRET }),
    );
    assertOAuthError(res, 400, 'unsupported_grant_type', 'UNSUPPORTED_GRANT_TYPE');
  });

  it('returns 400 invalid_request when client_secret is missing', async () => {
    const res = await grant({ client_id: 'scorer' });
    assertOAuthError(res, 400, 'invalid_request', 'INVALID_TOKEN_REQUEST');
  });

  it('returns 400 invalid_request when grant_type is missing', async () => {
    const res = await token(form({ client_id: 'scorer', client_secret: SCORER_SECRET }));
    assertOAuthError(res, 400, 'invalid_request', 'INVALID_TOKEN_REQUEST');
  });

  it('returns 400 invalid_request when credentials come both in Basic and in the body', async () => {
    const res = await grant(
      { client_id: 'scorer', client_secret: SCORER_SECRET },
      { authorization: basic('scorer', SCORER_SECRET) },
    );
    assertOAuthError(res, 400, 'invalid_request', 'INVALID_TOKEN_REQUEST');
  });

  it('returns 400 invalid_request for Basic credentials without a colon or with bad percent-encoding', async () => {
    const noColon = await grant({}, { authorization: `Basic ${Buffer.from('scorer').toString('base64')}` });
    assertOAuthError(noColon, 400, 'invalid_request', 'INVALID_TOKEN_REQUEST');
    const badEscape = await grant({}, { authorization: basic('scorer', '%E0%A4%A') });
    assertOAuthError(badEscape, 400, 'invalid_request', 'INVALID_TOKEN_REQUEST');
  });

  it('decodes percent-encoded Basic credentials (RFC 6749 section 2.3.1)', async () => {
    const encoded = encodeURIComponent(SCORER_SECRET).replaceAll('-', '%2D');
    const res = await grant({}, { authorization: basic('scorer', encoded) });
    assert.equal(res.statusCode, 200, res.body);
  });
});

describe('POST /oauth/token without a clients file', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ authEnabled: true, jwtSecret: JWT_SECRET });
  });
  after(() => app.close());

  it('is absent: 404 ROUTE_NOT_FOUND', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ grant_type: 'client_credentials', client_id: 'scorer', client_secret: SCORER_SECRET }),
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });
});
