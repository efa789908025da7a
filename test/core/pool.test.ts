// The inference threads: which session a run takes (a lone run on every core, the others one core each), how many
// runs a process may start at once, what the pool tells the other serving processes, and how inputs reach a thread.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { CoreShare } from '../../src/core/runtime/core-share.js';
import { createSession, specsOf, tensorOutputs, zeroFeeds } from '../../src/core/runtime/onnx.js';
import { InferencePool } from '../../src/core/runtime/pool.js';
import { MODELS } from '../helpers.js';
import { waitFor } from '../wait.js';

const path = join(MODELS, 'iris/1/model.onnx');
const model = { path, key: `${path}#test` };

/** Iris's zero feeds (fresh each call: a run moves its buffers to the thread) and its outputs, read once. */
async function irisCall() {
  const session = await createSession(path, 1);
  const { inputs, outputs } = specsOf(session);
  await session.release();
  return { feeds: () => zeroFeeds(inputs), fetch: tensorOutputs(outputs) };
}
const { feeds, fetch } = await irisCall();

/** The other processes, as a test sets them; what the pool told them, in order. */
function fakeShare(): CoreShare & { others: boolean; told: boolean[] } {
  const share = {
    others: false,
    told: [] as boolean[],
    get othersBusy() {
      return share.others;
    },
    tell: (busy: boolean) => void share.told.push(busy),
  };
  return share;
}

/**
 * A pool that runs one call at a time, on one intra-op thread, while other processes run inference; alone, its
 * lone runs take `loneIntraOpThreads`. Closed after the test; `call` runs iris on it.
 */
function poolOf(t: TestContext, loneIntraOpThreads: number) {
  const share = fakeShare();
  const pool = new InferencePool({ threads: 1, maxQueue: 8, intraOpThreads: 1, loneIntraOpThreads, share });
  t.after(() => pool.close());
  return { pool, share, call: () => pool.run(model, feeds(), fetch) };
}

describe('InferencePool', () => {
  it('runs a lone call on a session of its own, and a call while another process runs inference on the other', async (t) => {
    const { pool, share, call } = poolOf(t, 2);
    await call();
    assert.equal(pool.sessions, 1, 'the lone session only');
    share.others = true;
    await call();
    assert.equal(pool.sessions, 2, 'and the session of runs that share the cores');
    share.others = false;
    await call();
    assert.equal(pool.sessions, 2, 'each kept for the next runs');
  });

  it('runs a call on the shared session while another call runs in the pool', async (t) => {
    const { pool, call } = poolOf(t, 2);
    await Promise.all([call(), call()]);
    assert.equal(pool.sessions, 2, 'the first took the lone session, the second the other');
  });

  it('keeps one session when lone runs take no more threads than the others', async (t) => {
    const { pool, share, call } = poolOf(t, 1);
    await call();
    share.others = true;
    await call();
    assert.equal(pool.sessions, 1);
  });

  it('tells the other processes when it starts running inference, and once it has been idle a while', async (t) => {
    const { share, call } = poolOf(t, 2);
    await call();
    await call();
    assert.deepEqual(share.told, [true], 'told once for runs in a row');
    await waitFor(() => share.told.length === 2, { what: 'the pool tells that it is idle' });
    assert.deepEqual(share.told, [true, false]);
    await call();
    assert.deepEqual(share.told, [true, false, true]);
  });

  it('runs a call on the shared session when two ran at once within the last moments', async (t) => {
    const { pool, call } = poolOf(t, 2);
    // Both threads load their sessions first: two runs at once then end together, and the next starts at once.
    await Promise.all([call(), call()]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await Promise.all([call(), call()]);
    assert.deepEqual(pool.runs, { lone: 2, shared: 2 });
    await call();
    assert.deepEqual(pool.runs, { lone: 2, shared: 3 }, 'alone, but just after two at once: under load');
    await new Promise((resolve) => setTimeout(resolve, 60));
    await call();
    assert.deepEqual(pool.runs, { lone: 3, shared: 3 }, 'one call at a time for a while: lone again');
  });

  it('lets a process alone run a call per core at once, and a model its own count while others run inference', (t) => {
    const { pool, share } = poolOf(t, 2);
    assert.equal(pool.slots(1), 2, 'two cores, runs of one thread');
    share.others = true;
    assert.equal(pool.slots(1), 1);
    assert.equal(pool.slots(3), 3);
    share.others = false;
    assert.equal(pool.slots(3), 3, 'never fewer than the model runs at once');
    assert.equal(poolOf(t, 1).pool.slots(1), 1, 'none more when lone runs are off');
  });

  it('loads both sessions before the first request, and frees them all when the version goes', async (t) => {
    const { pool } = poolOf(t, 2);
    await pool.warm(model, feeds, fetch);
    assert.equal(
      pool.sessions,
      2,
      'the session of shared runs and the lone one, in the one thread always up',
    );
    await pool.retire(model.key);
    assert.equal(pool.sessions, 0);
  });

  it('starts a second thread, with a session of its own, only when a process alone runs two calls at once', async (t) => {
    const { pool, share, call } = poolOf(t, 2);
    await pool.warm(model, feeds, fetch);
    share.others = true;
    await call();
    assert.equal(pool.sessions, 2, 'one call at a time: the one thread');
    share.others = false;
    await Promise.all([call(), call()]);
    assert.equal(pool.sessions, 3, 'the second call on a second thread, which loaded its shared session');
    await pool.retire(model.key);
    assert.equal(pool.sessions, 0, 'both threads freed theirs');
  });

  it('copies a large input that is a view into other memory to shared memory, which the next runs reuse', async (t) => {
    const { pool } = poolOf(t, 1);
    const body = rowsIn(SETOSA, ROWS);
    const first = await pool.run(model, irisFeeds(body), fetch);
    assert.equal(body.byteLength, ROWS * 16, 'the caller keeps its memory');
    assert.deepEqual(
      labels(first),
      labels(await pool.run(model, irisFeeds(body.slice()), fetch)),
      'as if owned',
    );
    assert.equal(pool.handOffHeldBytes, 128 * 1024, 'the copy is kept once the run ended');
    await pool.run(model, irisFeeds(rowsIn(SETOSA, ROWS)), fetch);
    assert.equal(pool.handOffHeldBytes, 128 * 1024, 'and taken again by the next run');
  });

  it('gives each of two runs at once its own memory', async (t) => {
    const { pool } = poolOf(t, 2);
    const [setosa, virginica] = await Promise.all([
      pool.run(model, irisFeeds(rowsIn(SETOSA, ROWS)), fetch),
      pool.run(model, irisFeeds(rowsIn(VIRGINICA, ROWS)), fetch),
    ]);
    assert.deepEqual(new Set(labels(setosa)), new Set([0n]));
    assert.deepEqual(new Set(labels(virginica)), new Set([2n]));
    assert.equal(pool.handOffHeldBytes, 2 * 128 * 1024);
  });
});

/** Rows enough for 80 KB of input: past the size that goes through shared memory. */
const ROWS = 5000;
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.9, 3.1, 5.4, 2.1];

/** `count` copies of a row, in the middle of a larger buffer (as a binary tensor in a request body). */
function rowsIn(row: number[], count: number): Float32Array {
  const body = new Float32Array(4 * count + 8);
  for (let i = 0; i < count; i++) body.set(row, 4 + 4 * i);
  return body.subarray(4, 4 + 4 * count);
}

const irisFeeds = (data: Float32Array) => ({
  input: { datatype: 'FP32' as const, dims: [data.length / 4, 4], data },
});
const labels = (outputs: Awaited<ReturnType<InferencePool['run']>>) => [
  ...(outputs.label!.data as BigInt64Array),
];
