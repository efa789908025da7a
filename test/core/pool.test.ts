// The inference threads: which session a run takes (a lone run on every core, the others on their own threads).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSession, specsOf, tensorOutputs, zeroFeeds } from '../../src/core/runtime/onnx.js';
import { InferencePool } from '../../src/core/runtime/pool.js';
import { MODELS } from '../helpers.js';

const path = join(MODELS, 'iris/1/model.onnx');
const model = { path, key: `${path}#test` };

async function irisCall() {
  const session = await createSession(path, 1);
  const { inputs, outputs } = specsOf(session);
  await session.release();
  // Fresh feeds each call: a run moves its buffers to the thread.
  return { feeds: () => zeroFeeds(inputs), fetch: tensorOutputs(outputs) };
}

function poolOf(loneIntraOpThreads: number): InferencePool {
  return new InferencePool({ threads: 1, maxQueue: 8, intraOpThreads: 1, loneIntraOpThreads });
}

describe('InferencePool', () => {
  it('runs a lone call on a session of its own, with the lone intra-op threads', async (t) => {
    const { feeds, fetch } = await irisCall();
    const pool = poolOf(2);
    t.after(() => pool.close());
    await pool.run(model, feeds(), fetch, undefined, true);
    assert.equal(pool.sessions, 1, 'the lone session only');
    await pool.run(model, feeds(), fetch);
    assert.equal(pool.sessions, 2, 'and the session of calls that are not alone');
    await pool.run(model, feeds(), fetch, undefined, true);
    assert.equal(pool.sessions, 2, 'each kept for the next runs');
  });

  it('runs a lone call on the shared session while another call runs in the pool', async (t) => {
    const { feeds, fetch } = await irisCall();
    const pool = poolOf(2);
    t.after(() => pool.close());
    await Promise.all([
      pool.run(model, feeds(), fetch, undefined, true),
      pool.run(model, feeds(), fetch, undefined, true),
    ]);
    assert.equal(pool.sessions, 2, 'the first took the lone session, the second the other');
  });

  it('keeps one session when lone runs take no more threads than the others', async (t) => {
    const { feeds, fetch } = await irisCall();
    const pool = poolOf(1);
    t.after(() => pool.close());
    await pool.run(model, feeds(), fetch, undefined, true);
    await pool.run(model, feeds(), fetch);
    assert.equal(pool.sessions, 1);
  });

  it('frees every session of a version that goes', async (t) => {
    const { feeds, fetch } = await irisCall();
    const pool = poolOf(2);
    t.after(() => pool.close());
    await pool.run(model, feeds(), fetch, undefined, true);
    await pool.run(model, feeds(), fetch);
    await pool.retire(model.key);
    assert.equal(pool.sessions, 0);
  });
});
