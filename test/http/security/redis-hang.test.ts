// A hung Redis (TCP open, no answers: SIGSTOP) behind rate limits and the cache: the circuit breaker keeps
// throughput up and errors out, and sharing resumes by itself once Redis answers again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedApp, redisSkip, startRedis, type RunningRedis } from '../../helpers.js';

const row = () => [4 + Math.random(), 3, 1.4, 0.2];

/** Requests answered in `ms` by 16 concurrent senders, and every status seen. */
async function load(app: FastifyInstance, ms: number): Promise<{ count: number; statuses: Set<number> }> {
  const end = Date.now() + ms;
  const statuses = new Set<number>();
  let count = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (Date.now() < end) {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/models/iris:predict',
          payload: { instances: [row()] },
        });
        statuses.add(res.statusCode);
        count++;
      }
    }),
  );
  return { count, statuses };
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

describe('a hung Redis behind rate limits and the prediction cache', { skip: redisSkip() }, () => {
  let redis: RunningRedis;
  let a: FastifyInstance;
  let b: FastifyInstance;
  before(async () => {
    redis = await startRedis();
    const config = {
      rateLimitEnabled: true,
      rateLimitPredictMax: 1_000_000,
      cacheEnabled: true,
      redisUrl: redis.url,
      logLevel: 'silent' as const,
    };
    a = await loadedApp(config);
    b = await loadedApp(config);
    await until(
      async () => a.core.redis?.client.status === 'ready' && b.core.redis?.client.status === 'ready',
      3000,
      'both reach Redis',
    );
  });
  after(async () => {
    redis.resume();
    await a.close();
    await b.close();
    await redis.stop();
  });

  it('keeps at least half its throughput and answers no 5xx while Redis hangs, then shares again', async () => {
    const healthy = await load(a, 2000);
    redis.pause();
    const hung = await load(a, 2000);
    redis.resume();
    assert.deepEqual([...healthy.statuses], [200]);
    assert.deepEqual([...hung.statuses], [200], 'the failure policy (open) serves every request');
    assert.ok(hung.count >= healthy.count / 2, `hung ${hung.count} vs healthy ${healthy.count} in 2 s`);

    // Back up: a prediction cached by A is a hit on B within seconds, and a limit is shared again.
    const body = { instances: [[5.5, 2.5, 4.0, 1.3]] };
    await until(
      async () => {
        await a.inject({ method: 'POST', url: '/v1/models/iris:predict', payload: body });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const res = await b.inject({ method: 'POST', url: '/v1/models/iris:predict', payload: body });
        return res.headers['cache-status'] === 'serval; hit';
      },
      5000,
      'B hits what A stored',
    );
  });
});
