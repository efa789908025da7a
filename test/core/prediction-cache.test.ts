// The prediction cache alone: its LRU bounds and TTL, single flight, the exact-repeat index, its keys, and the Redis
// tier over a real redis-server. How the routes use it (Cache-Status, bypass, opt-out) is in test/http/security.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import {
  bypassRequested,
  cacheKey,
  exactKey,
  PredictionCache,
  type KeySpace,
} from '../../src/core/cache/prediction-cache.js';
import { createRedis, type SharedRedis } from '../../src/core/redis.js';
import type { TensorMap } from '../../src/core/tensor/tensor.js';
import { freePort, redisSkip, startRedis, type RunningRedis } from '../helpers.js';
import { waitFor } from '../wait.js';

const silent = pino({ level: 'silent' });

function cache(
  options: { maxEntries?: number; maxBytes?: number; ttlMs?: number; redis?: SharedRedis } = {},
) {
  return new PredictionCache({
    maxEntries: options.maxEntries ?? 100,
    maxBytes: options.maxBytes ?? 1 << 20,
    ttlMs: options.ttlMs ?? 60_000,
    redis: options.redis ?? null,
    log: silent,
  });
}

/** A compute that counts its calls and answers `text`'s bytes. */
function counted(text = 'answer') {
  const counter = {
    calls: 0,
    compute: async () => {
      counter.calls++;
      return Buffer.from(text);
    },
  };
  return counter;
}

/** A compute held until released (or failed), for calls that must overlap; `started` once it is first called. */
function held() {
  const waiting: { resolve: (value: Buffer) => void; reject: (err: Error) => void }[] = [];
  let begin: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (begin = resolve));
  const compute = () => {
    begin();
    return new Promise<Buffer>((resolve, reject) => waiting.push({ resolve, reject }));
  };
  return {
    compute,
    started,
    release: (value: Buffer) => waiting.forEach((w) => w.resolve(value)),
    fail: (err: Error) => waiting.forEach((w) => w.reject(err)),
    calls: () => waiting.length,
  };
}

describe('PredictionCache', () => {
  it('computes a first call once and answers the same key again as a hit, with the same bytes', async () => {
    const c = cache();
    const counter = counted('one');
    const first = await c.wrap('k', counter.compute);
    assert.equal(first.status, 'miss');
    assert.equal(first.value.toString(), 'one');
    const second = await c.wrap('k', counter.compute);
    assert.equal(second.status, 'hit');
    assert.equal(second.value, first.value);
    assert.equal(counter.calls, 1);
    assert.equal(c.size, 1);
  });

  it('evicts the least recently used entry past maxEntries', async () => {
    const c = cache({ maxEntries: 2 });
    const runs: string[] = [];
    const compute = (key: string) => async () => (runs.push(key), Buffer.from(key));
    await c.wrap('a', compute('a'));
    await c.wrap('b', compute('b'));
    assert.equal((await c.wrap('a', compute('a'))).status, 'hit', 'a is now the most recently used');
    await c.wrap('c', compute('c'));
    assert.equal(c.size, 2);
    assert.equal((await c.wrap('a', compute('a'))).status, 'hit');
    assert.equal((await c.wrap('b', compute('b'))).status, 'miss', 'b was the least recently used');
    assert.deepEqual(runs, ['a', 'b', 'c', 'b']);
  });

  it('keeps its entries within maxBytes (each counted with 64 bytes of overhead), and none bigger than that', async () => {
    const c = cache({ maxBytes: 3 * (100 + 64) });
    const value = (fill: number) => async () => Buffer.alloc(100, fill);
    for (const key of ['a', 'b', 'c']) await c.wrap(key, value(1));
    assert.equal(c.size, 3);
    await c.wrap('d', value(2));
    assert.equal(c.size, 3, 'a fourth entry of the same size evicts one');
    assert.equal((await c.wrap('a', value(1))).status, 'miss', 'the oldest one');
    const big = await c.wrap('big', async () => Buffer.alloc(3 * 164));
    assert.equal(big.status, 'miss');
    assert.equal(big.value.length, 3 * 164, 'an answer too big to keep is still answered');
    assert.equal((await c.wrap('big', async () => Buffer.alloc(1))).status, 'miss', 'and never kept');
  });

  it('forgets an entry once its TTL has passed', async () => {
    const c = cache({ ttlMs: 30 });
    const { compute } = counted();
    await c.wrap('k', compute);
    assert.equal((await c.wrap('k', compute)).status, 'hit');
    await sleep(60); // the 30 ms TTL passes
    assert.equal((await c.wrap('k', compute)).status, 'miss');
  });

  it('computes once for identical concurrent calls: the followers are collapsed onto the first', async () => {
    const c = cache();
    const gate = held();
    const calls = Array.from({ length: 5 }, () => c.wrap('k', gate.compute));
    const other = c.wrap('other', async () => Buffer.from('other'));
    await gate.started;
    gate.release(Buffer.from('shared'));
    const results = await Promise.all(calls);
    assert.equal(gate.calls(), 1);
    assert.deepEqual(
      results.map((r) => r.status),
      ['miss', 'collapsed', 'collapsed', 'collapsed', 'collapsed'],
    );
    for (const r of results) assert.equal(r.value, results[0]!.value);
    assert.equal((await other).status, 'miss', 'another key is not collapsed onto it');
    assert.equal((await c.wrap('k', gate.compute)).status, 'hit');
  });

  it('caches no failure: concurrent callers share it, and the next call computes again', async () => {
    const c = cache();
    const gate = held();
    const calls = Array.from({ length: 3 }, () => c.wrap('k', gate.compute));
    const boom = new Error('inference exploded');
    await gate.started;
    gate.fail(boom);
    for (const settled of await Promise.allSettled(calls)) {
      assert.equal(settled.status, 'rejected');
      assert.equal(settled.reason, boom);
    }
    assert.equal(gate.calls(), 1);
    assert.equal(c.size, 0);
    const { compute } = counted('fine');
    const retry = await c.wrap('k', compute);
    assert.equal(retry.status, 'miss');
    assert.equal(retry.value.toString(), 'fine');
  });

  it('files an answer under its exact key too, the same bytes with the number of instances, on a miss and a hit', async () => {
    const c = cache();
    assert.equal(c.exact('body-1'), undefined);
    const first = await c.wrap('k', counted('v').compute, { key: 'body-1', instances: 2 });
    const filed = c.exact('body-1');
    assert.ok(filed);
    assert.equal(filed.value, first.value, 'the same buffer, not a copy');
    assert.equal(filed.instances, 2);
    // Another spelling of the same request: a hit by its tensors, filed under its own text as well.
    const second = await c.wrap('k', counted('never').compute, { key: 'body-2', instances: 2 });
    assert.equal(second.status, 'hit');
    assert.equal(c.exact('body-2')?.value, first.value);
    await assert.rejects(
      c.wrap('failing', () => Promise.reject(new Error('no')), { key: 'body-3', instances: 1 }),
    );
    assert.equal(c.exact('body-3'), undefined, 'a failure is filed under no exact key');
  });

  it('bounds the exact index by maxEntries as well', async () => {
    const c = cache({ maxEntries: 2 });
    for (const body of ['x', 'y', 'z']) await c.wrap('k', counted().compute, { key: body, instances: 1 });
    assert.equal(c.exact('x'), undefined);
    assert.ok(c.exact('y') && c.exact('z'));
  });
});

describe('cache keys', () => {
  const space: KeySpace = { format: 'v1', model: 'iris', version: '1', generation: 'g1' };
  const feeds = (data: Float32Array, dims = [1, 4], datatype: 'FP32' | 'INT32' = 'FP32'): TensorMap => ({
    input: { datatype, dims, data },
  });
  const row = Float32Array.of(5.1, 3.5, 1.4, 0.2);

  it('files the same tensors under the same key, wherever their bytes sit in memory', () => {
    const backing = new Float32Array(12);
    backing.set(row, 4);
    assert.equal(cacheKey(space, '*', feeds(row)), cacheKey(space, '*', feeds(backing.subarray(4, 8))));
  });

  it('keeps apart what shapes the answer: format, model, version, generation, variant, name, type, dims, values', () => {
    const base = cacheKey(space, '*', feeds(row));
    const others = [
      cacheKey({ ...space, format: 'v2-json' }, '*', feeds(row)),
      cacheKey({ ...space, model: 'iris2' }, '*', feeds(row)),
      cacheKey({ ...space, version: '2' }, '*', feeds(row)),
      cacheKey({ ...space, generation: 'g2' }, '*', feeds(row)),
      cacheKey(space, 'label', feeds(row)),
      cacheKey(space, '*', { other: feeds(row).input! }),
      cacheKey(space, '*', feeds(row, [1, 4], 'INT32')),
      cacheKey(space, '*', feeds(row, [2, 2])),
      cacheKey(space, '*', feeds(Float32Array.of(5.1, 3.5, 1.4, 0.3))),
    ];
    assert.equal(new Set([base, ...others]).size, others.length + 1);
  });

  it('files an exact repeat by its key space and its text, byte for byte', () => {
    const body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}';
    assert.equal(exactKey(space, body), exactKey({ ...space }, body));
    assert.notEqual(exactKey(space, body), exactKey(space, body.replace(' ', '')));
    assert.notEqual(exactKey(space, body), exactKey({ ...space, generation: 'g2' }, body));
    assert.notEqual(exactKey(space, body), exactKey({ ...space, format: 'v2-json' }, body));
  });

  it('takes no-cache and no-store, in any case and among other directives, as a request to compute afresh', () => {
    for (const header of ['no-cache', 'No-Store', 'max-age=0, no-cache'])
      assert.equal(bypassRequested(header), true, header);
    for (const header of [undefined, '', 'max-age=0', 'no-transform', 'nocache'])
      assert.equal(bypassRequested(header), false, String(header));
  });
});

describe('PredictionCache with Redis', { skip: redisSkip() }, () => {
  let redis: RunningRedis;
  let shared: SharedRedis;
  before(async () => {
    redis = await startRedis();
    shared = await createRedis(redis.url, silent);
    await waitFor(() => shared.client.status === 'ready', { what: 'the client reaches Redis' });
  });
  after(async () => {
    shared.client.disconnect();
    await redis.stop();
  });

  it("stores a miss in Redis with the TTL, and another process's cache answers it as a hit it keeps", async () => {
    const a = cache({ redis: shared, ttlMs: 60_000 });
    const b = cache({ redis: shared, ttlMs: 60_000 });
    const stored = await a.wrap('shared-key', counted('from a').compute);
    assert.equal(stored.status, 'miss');
    // The write goes out after the answer: wait for it.
    const bytes = await waitFor(() => shared.client.getBuffer('serval-cache:shared-key'), {
      what: "A's entry is in Redis",
    });
    assert.equal(bytes.toString(), 'from a');
    const ttl = await shared.client.pttl('serval-cache:shared-key');
    assert.ok(ttl > 0 && ttl <= 60_000, `TTL ${ttl} ms`);
    const never = counted('from b');
    const hit = await b.wrap('shared-key', never.compute);
    assert.equal(hit.status, 'hit');
    assert.equal(hit.value.toString(), 'from a');
    assert.equal(never.calls, 0);
    assert.equal(b.size, 1, 'kept locally');
  });

  it('computes and caches locally, raising nothing and reporting it once, when Redis cannot be reached', async () => {
    const lines: { msg: string }[] = [];
    const stream = { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) };
    const unreachable = await createRedis(`redis://127.0.0.1:${await freePort()}`, silent);
    const c = new PredictionCache({
      maxEntries: 10,
      maxBytes: 1 << 20,
      ttlMs: 60_000,
      redis: unreachable,
      log: pino({ level: 'warn' }, stream),
    });
    try {
      const miss = await c.wrap('k', counted('local').compute);
      assert.equal(miss.status, 'miss');
      assert.equal(miss.value.toString(), 'local');
      assert.equal((await c.wrap('k', counted('never').compute)).status, 'hit');
      assert.equal((await c.wrap('other', counted('other').compute)).status, 'miss');
      assert.deepEqual(
        lines.map((l) => l.msg),
        ['shared prediction cache unavailable; caching locally'],
      );
    } finally {
      unreachable.client.disconnect();
    }
  });
});
