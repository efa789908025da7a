// The shared rate limiter in this process: fixed windows per key, the allowance it reports, bounded memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { RateLimiter } from '../../src/limits/rate-limiter.js';

const limiter = (windowMs: number) =>
  new RateLimiter({ windowMs, redis: null, policy: 'open', log: pino({ level: 'silent' }) });

describe('RateLimiter without Redis', () => {
  it('allows max requests per key and window, reporting what remains and when it resets', async () => {
    const rl = limiter(60_000);
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await rl.consume('predict:sub:alice', 3));
    assert.deepEqual(
      seen.map((a) => [a.allowed, a.remaining]),
      [
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ],
    );
    assert.equal(seen[0]!.limit, 3);
    assert.ok(seen[0]!.resetSeconds > 0 && seen[0]!.resetSeconds <= 60);
    assert.equal((await rl.consume('predict:sub:bob', 3)).allowed, true, 'another key has its own window');
  });

  it('starts a new window once the old one has passed', async () => {
    const rl = limiter(50);
    assert.equal((await rl.consume('k', 1)).allowed, true);
    assert.equal((await rl.consume('k', 1)).allowed, false);
    await sleep(70); // the 50 ms window passes
    assert.equal((await rl.consume('k', 1)).allowed, true);
  });
});
