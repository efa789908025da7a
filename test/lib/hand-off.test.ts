// HandOff: items gathered for a while go on together, once; flush() hands on what is gathered at once.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { HandOff } from '../../src/lib/hand-off.js';

describe('HandOff', () => {
  it('hands on what was pushed within delayMs in one call, and nothing before', async () => {
    const calls: number[][] = [];
    const handOff = new HandOff<number>(30, (items) => calls.push(items));
    handOff.push(1);
    handOff.push(2);
    await sleep(5);
    handOff.push(3);
    assert.deepEqual(calls, [], 'nothing yet');
    await sleep(60);
    assert.deepEqual(calls, [[1, 2, 3]]);
    handOff.push(4);
    await sleep(60);
    assert.deepEqual(calls, [[1, 2, 3], [4]], 'a later push starts a new wait');
  });

  it('hands on at once when flushed, and not again when the wait ends', async () => {
    const calls: number[][] = [];
    const handOff = new HandOff<number>(20, (items) => calls.push(items));
    handOff.push(1);
    handOff.flush();
    assert.deepEqual(calls, [[1]]);
    handOff.flush();
    await sleep(40);
    assert.deepEqual(calls, [[1]], 'no empty hand-off, no second one');
  });
});
