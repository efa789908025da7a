// A hung Redis (TCP open, no answers: SIGSTOP) behind rate limits and the cache: the circuit breaker keeps
// throughput up and errors out, and sharing resumes by itself once Redis answers again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedApp, redisConnected, redisSkip, startRedis, type RunningRedis } from '../../helpers.js';
import { waitFor } from '../../wait.js';

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
    await redisConnected(a, b);
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

    // Back up: a prediction cached by A is a hit on B within seconds. Each try asks for another instance: a repeat
    // would be a hit from B's own local cache, shared or not.
    let tries = 0;
    await waitFor(
      async () => {
        const body = { instances: [[5.5, 2.5, 4.0, 1 + ++tries / 1000]] };
        await a.inject({ method: 'POST', url: '/v1/models/iris:predict', payload: body });
        const res = await b.inject({ method: 'POST', url: '/v1/models/iris:predict', payload: body });
        return res.headers['cache-status'] === 'serval; hit';
      },
      { what: 'B hits what A stored', intervalMs: 100 },
    );
  });
});
