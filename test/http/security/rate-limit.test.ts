// Rate limits in memory and through a real Redis, including Redis stopping mid-run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSecret } from '../../../src/auth/clients.js';
import { loadedApp, redisConnected, redisSkip, startRedis, signedToken } from '../../helpers.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const body = { instances: [[5.1, 3.5, 1.4, 0.2]] };
const token = (sub: string) => signedToken(SECRET, 'serval:predict serval:read', sub);

const predict = (app: FastifyInstance, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/models/iris:predict', payload: body, headers });

describe('rate limiting in memory', () => {
  it('answers 429 with Retry-After and RateLimit headers past the predict limit', async (t) => {
    const app = await loadedApp({ rateLimitEnabled: true, rateLimitPredictMax: 3 });
    t.after(() => app.close());
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await predict(app)).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const limited = await predict(app);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    assert.equal(limited.headers['ratelimit-limit'], '3');
    assert.equal(limited.headers['ratelimit-remaining'], '0');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.ok(Number(limited.headers['ratelimit-reset']) > 0);
  });

  it('counts per principal when tokens are used, and never limits the probes', async (t) => {
    const app = await loadedApp({
      rateLimitEnabled: true,
      rateLimitPredictMax: 2,
      authEnabled: true,
      jwtSecret: SECRET,
    });
    t.after(() => app.close());
    const alice = { authorization: `Bearer ${await token('alice')}` };
    const bob = { authorization: `Bearer ${await token('bob')}` };
    assert.deepEqual(
      [
        (await predict(app, alice)).statusCode,
        (await predict(app, alice)).statusCode,
        (await predict(app, alice)).statusCode,
      ],
      [200, 200, 429],
    );
    assert.equal((await predict(app, bob)).statusCode, 200, 'bob has his own bucket');
    for (let i = 0; i < 5; i++) assert.equal((await app.inject('/healthz')).statusCode, 200);
  });

  it('limits by client IP, trusting X-Forwarded-For only from a configured proxy', async (t) => {
    const app = await loadedApp({ rateLimitEnabled: true, rateLimitPredictMax: 1, trustProxy: '127.0.0.1' });
    t.after(() => app.close());
    const from = (ip: string) => predict(app, { 'x-forwarded-for': ip });
    assert.equal((await from('203.0.113.1')).statusCode, 200);
    assert.equal((await from('203.0.113.1')).statusCode, 429);
    assert.equal((await from('203.0.113.2')).statusCode, 200);

    const untrusting = await loadedApp({ rateLimitEnabled: true, rateLimitPredictMax: 1 });
    t.after(() => untrusting.close());
    const spoof = (ip: string) => predict(untrusting, { 'x-forwarded-for': ip });
    assert.equal((await spoof('203.0.113.1')).statusCode, 200);
    assert.equal((await spoof('203.0.113.2')).statusCode, 429, 'a spoofed header does not make a new client');
  });
});

describe('rate limits on tokens', () => {
  it('counts requests with a refused token against the client IP: guessing is not free', async (t) => {
    const app = await loadedApp({
      rateLimitEnabled: true,
      rateLimitPredictMax: 3,
      authEnabled: true,
      jwtSecret: SECRET,
    });
    t.after(() => app.close());
    const forged = { authorization: 'Bearer not.a.token' };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await predict(app, forged)).statusCode);
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
  });

  it('limits the token endpoint per IP even with rate limiting off', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-oauth-'));
    const clientsFile = join(dir, 'clients.json');
    const secret = 'a-client-secret-of-some-length';
    await writeFile(
      clientsFile,
      JSON.stringify({
        clients: [{ client_id: 'c', secret_hash: await hashSecret(secret), scopes: ['serval:predict'] }],
      }),
    );
    const app = await loadedApp({ jwtSecret: SECRET, oauthClientsFile: clientsFile, rateLimitTokenMax: 2 });
    t.after(() => app.close());
    const ask = () =>
      app.inject({
        method: 'POST',
        url: '/oauth/token',
        payload: { grant_type: 'client_credentials', client_id: 'c', client_secret: 'wrong guess' },
      });
    const statuses = [(await ask()).statusCode, (await ask()).statusCode, (await ask()).statusCode];
    assert.deepEqual(statuses, [401, 401, 429]);
  });
});

describe('rate limiting through Redis', { skip: redisSkip() }, () => {
  it('shares one limit between two apps (workers or replicas)', async (t) => {
    const redis = await startRedis();
    const config = { rateLimitEnabled: true, rateLimitPredictMax: 4, redisUrl: redis.url };
    const a = await loadedApp(config);
    const b = await loadedApp(config);
    t.after(async () => {
      await a.close();
      await b.close();
      await redis.stop();
    });
    await redisConnected(a, b);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await predict(i % 2 === 0 ? a : b)).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  });

  it('fails open when Redis stops: no 5xx, the limit holds per process', async (t) => {
    const redis = await startRedis();
    const app = await loadedApp({ rateLimitEnabled: true, rateLimitPredictMax: 3, redisUrl: redis.url });
    t.after(async () => {
      await app.close();
      await redis.stop();
    });
    await redisConnected(app);
    assert.equal((await predict(app)).statusCode, 200);
    await redis.stop();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await predict(app)).statusCode);
    assert.ok(
      statuses.every((s) => s === 200 || s === 429),
      String(statuses),
    );
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.equal(statuses[4], 429, 'the local fallback still limits');
  });

  it('fails closed with 503 RATE_LIMIT_UNAVAILABLE when so configured', async (t) => {
    const redis = await startRedis();
    const app = await loadedApp({
      rateLimitEnabled: true,
      rateLimitPredictMax: 3,
      redisUrl: redis.url,
      redisFailurePolicy: 'closed',
    });
    t.after(async () => {
      await app.close();
      await redis.stop();
    });
    await redisConnected(app);
    assert.equal((await predict(app)).statusCode, 200);
    await redis.stop();
    const res = await predict(app);
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'RATE_LIMIT_UNAVAILABLE');
    assert.equal((await app.inject('/healthz')).statusCode, 200);
  });
});
