// The circuit breaker: open after failures in a row, fail fast while open, one probe after the cooldown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitBreaker, CircuitOpenError } from '../../src/core/breaker.js';

describe('CircuitBreaker', () => {
  const failing = () => Promise.reject(new Error('timeout'));

  it('opens after the failures in a row, then fails at once without calling', async () => {
    const changes: string[] = [];
    const breaker = new CircuitBreaker({ failures: 3, cooldownMs: 10_000, onChange: (s) => changes.push(s) });
    for (let i = 0; i < 3; i++) await assert.rejects(breaker.call(failing), /timeout/);
    assert.equal(breaker.open, true);
    let called = false;
    await assert.rejects(
      breaker.call(async () => (called = true)),
      CircuitOpenError,
    );
    assert.equal(called, false);
    assert.deepEqual(changes, ['open']);
  });

  it('counts only failures in a row: a success in between resets the count', async () => {
    const breaker = new CircuitBreaker({ failures: 2, cooldownMs: 10_000 });
    await assert.rejects(breaker.call(failing));
    await breaker.call(async () => 1);
    await assert.rejects(breaker.call(failing));
    assert.equal(breaker.open, false);
  });

  it('lets one call probe after the cooldown: its success closes, its failure opens again', async () => {
    const changes: string[] = [];
    const breaker = new CircuitBreaker({ failures: 1, cooldownMs: 30, onChange: (s) => changes.push(s) });
    await assert.rejects(breaker.call(failing));
    await sleep(40); // the 30 ms cooldown passes
    await assert.rejects(breaker.call(failing), /timeout/, 'the probe is called');
    await assert.rejects(
      breaker.call(async () => 1),
      CircuitOpenError,
      'open again for a cooldown',
    );
    await sleep(40); // the 30 ms cooldown passes
    let release: () => void = () => undefined;
    const probe = breaker.call(() => new Promise<number>((resolve) => (release = () => resolve(2))));
    await assert.rejects(
      breaker.call(async () => 1),
      CircuitOpenError,
      'one probe at a time',
    );
    release();
    assert.equal(await probe, 2);
    assert.equal(breaker.open, false);
    assert.deepEqual(changes, ['open', 'closed']);
  });
});
