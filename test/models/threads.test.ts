// Heavy models on worker threads: the event loop stays free, a full queue sheds load, a deadline answers 504.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config/schema.js';
import { FIXTURE_MODELS, loadedApp, tempRepository } from '../helpers.js';

const heavyPredict = (app: FastifyInstance) =>
  app.inject({ method: 'POST', url: '/v1/models/heavy:predict', payload: { instances: [[1, 2, 3, 4]] } });

async function heavyApp(t: { after: (fn: () => Promise<void>) => void }, overrides: Partial<Config> = {}) {
  const repo = await tempRepository({ 'heavy/1': { from: join(FIXTURE_MODELS, 'heavy/1') } });
  const app = await loadedApp({ modelRepository: repo.root, ...overrides });
  t.after(async () => {
    await app.close();
    await repo.cleanup();
  });
  return app;
}

describe('heavy models on worker threads', () => {
  it('answers /healthz while heavy inferences are running', async (t) => {
    const app = await heavyApp(t);
    const order: string[] = [];
    const heavy = Promise.all(
      [1, 2, 3].map(() => heavyPredict(app).then((r) => order.push(`heavy:${r.statusCode}`))),
    );
    const health = await app.inject('/healthz');
    order.push(`healthz:${health.statusCode}`);
    await heavy;
    // Each heavy call takes tens of milliseconds on its thread; the event loop answered the probe first.
    assert.equal(order[0], 'healthz:200');
    assert.deepEqual(order.slice(1), ['heavy:200', 'heavy:200', 'heavy:200']);
  });

  it('answers 503 OVERLOADED with Retry-After when the queue is full', async (t) => {
    const app = await heavyApp(t, { inferenceThreads: 1, inferenceQueueSize: 1 });
    const results = await Promise.all(Array.from({ length: 5 }, () => heavyPredict(app)));
    const statuses = results.map((r) => r.statusCode);
    // One running and one or two waiting (piscina may count the task handed to a thread) succeed; the rest are shed.
    assert.ok(
      statuses.every((s) => s === 200 || s === 503),
      String(statuses),
    );
    assert.ok(statuses.filter((s) => s === 503).length >= 2, String(statuses));
    const rejected = results.find((r) => r.statusCode === 503)!;
    assert.equal(rejected.json().code, 'OVERLOADED');
    assert.equal(rejected.headers['retry-after'], '1');
  });

  it('refuses at once (503, Retry-After) the calls that could not finish before their deadline: none waits for a 504', async (t) => {
    // One call at a time (a process alone would run one per core): 40 calls of ~40 ms cannot all fit in 1 s.
    const app = await heavyApp(t, {
      batchMaxRows: 1,
      inferenceTimeoutMs: 1000,
      inferenceQueueSize: 64,
      ortLoneIntraOpThreads: 1,
    });
    const results = await Promise.all(Array.from({ length: 40 }, () => heavyPredict(app)));
    const statuses = results.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 504).length, 0, String(statuses));
    assert.ok(statuses.filter((s) => s === 200).length >= 5, String(statuses));
    const refused = results.filter((r) => r.statusCode === 503);
    assert.ok(refused.length >= 10, String(statuses));
    for (const r of refused) {
      assert.equal(r.json().code, 'OVERLOADED');
      assert.match(r.json().error, /calls ahead would take about \d+ ms, past the \d+ ms deadline/);
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
  });

  it('answers 504 INFERENCE_TIMEOUT when an inference runs past its deadline, then recovers', async (t) => {
    const app = await heavyApp(t, { inferenceTimeoutMs: 5 });
    const res = await heavyPredict(app);
    assert.equal(res.statusCode, 504);
    assert.equal(res.json().code, 'INFERENCE_TIMEOUT');
    assert.equal((await app.inject('/healthz')).statusCode, 200);
  });
});
