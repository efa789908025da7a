// Requests whose clients go away, over real connections: an HTTP request whose connection closes and a gRPC call
// that is cancelled while they wait behind a slow thread-mode model never reach the model, and are counted as
// cancelled in the statistics and the metrics; the request running ahead of them is answered as usual.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { Core } from '../../src/core/core.js';
import { frontEnds, rawRequest, type FrontEnds, type GrpcClient } from '../grpc.js';
import { FIXTURE_MODELS, tempRepository } from '../helpers.js';
import { waitFor } from '../wait.js';

/** The heavy fixture (about 80 ms a call on its one thread), its input one row of four. */
const HEAVY = JSON.stringify({ instances: [[1, 2, 3, 4]] });

describe('cancelled requests never run', () => {
  let both: FrontEnds;
  let core: Core;
  let grpc: GrpcClient;
  let base: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository({ 'heavy/1': { from: `${FIXTURE_MODELS}/heavy/1` } });
    cleanup = repo.cleanup;
    both = await frontEnds(
      {
        modelRepository: repo.root,
        inferenceMode: 'thread',
        inferenceThreads: 1,
        // One call at a time, even for a process alone (it would run one per core): the next ones wait.
        ortLoneIntraOpThreads: 1,
        batchMaxRows: 1,
        cacheEnabled: false,
      },
      true,
    );
    ({ core, client: grpc } = both);
    base = both.base as string;
  });
  after(async () => {
    await both.close();
    await cleanup();
  });

  const predict = (signal?: AbortSignal) =>
    fetch(`${base}/v1/models/heavy:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: HEAVY,
      ...(signal ? { signal } : {}),
    });
  const stats = async () => {
    const [s] = await core.statistics('heavy', '1');
    assert.ok(s);
    return s;
  };
  /** Waits until the statistics have counted `count` failed requests (a cancellation is counted as it happens). */
  const failures = async (count: number) => {
    await waitFor(async () => (await stats()).inference_stats.fail.count >= count, {
      what: `${count} failed requests are counted`,
      timeoutMs: 2000,
    });
    return (await stats()).inference_stats.fail.count;
  };
  /** Waits until the heavy model has `count` calls queued or running. */
  const pending = (count: number, what: string) =>
    waitFor(() => core.models.pending().find((p) => p.model === 'heavy')?.count === count, {
      what,
      intervalMs: 2,
    });

  it('takes an HTTP request whose connection closed out of the queue', async () => {
    const before = await stats();
    const ahead = predict();
    await pending(1, 'the request ahead runs on the one thread');
    const gone = new AbortController();
    const behind = predict(gone.signal);
    await pending(2, 'the request behind is queued');
    gone.abort();
    await assert.rejects(behind, { name: 'AbortError' });
    assert.equal((await ahead).status, 200);
    assert.equal(
      await failures(before.inference_stats.fail.count + 1),
      before.inference_stats.fail.count + 1,
    );
    const after = await stats();
    assert.equal(after.execution_count - before.execution_count, 1, 'only the request ahead ran');
    assert.equal(after.inference_stats.success.count - before.inference_stats.success.count, 1);
  });

  it('takes a cancelled gRPC call out of the queue', async () => {
    const before = await stats();
    const request = rawRequest('heavy', [
      { name: 'input', datatype: 'FP32', shape: [1, 4], data: Float32Array.of(1, 2, 3, 4) },
    ]);
    const ahead = grpc.start('ModelInfer', request);
    await pending(1, 'the call ahead runs on the one thread');
    const behind = grpc.start('ModelInfer', request);
    await pending(2, 'the call behind is queued');
    behind.cancel();
    await assert.rejects(behind.answer, (err: ServiceError) => err.code === status.CANCELLED);
    await ahead.answer;
    assert.equal(
      await failures(before.inference_stats.fail.count + 1),
      before.inference_stats.fail.count + 1,
    );
    const after = await stats();
    assert.equal(after.execution_count - before.execution_count, 1, 'only the call ahead ran');
  });

  it('counts them as cancelled in the metrics', async () => {
    const text = await core.metricsText();
    const cancelled = (protocol: string) =>
      text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('serval_inference_requests_total{') &&
            l.includes(`protocol="${protocol}"`) &&
            l.includes('reason="cancelled"'),
        );
    assert.match(cancelled('v1') ?? '', / 1$/, text.slice(0, 2000));
    assert.match(cancelled('grpc') ?? '', / 1$/);
  });
});
