// Dynamic batching with a fake model: merging, splitting, limits and failures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batcher, batchable } from '../../src/inference/batcher.js';
import type { TensorMap } from '../../src/inference/tensor.js';

const rows = (...values: number[][]): TensorMap => ({
  input: {
    type: 'float32',
    data: Float32Array.from(values.flat()),
    dims: [values.length, values[0]!.length],
  },
});

/** A fake model: output row = sum of the input row; records each call's batch size. */
function model() {
  const calls: number[] = [];
  const run = async (feeds: TensorMap): Promise<TensorMap> => {
    const input = feeds.input!;
    const [n, width] = input.dims as [number, number];
    calls.push(n);
    const sums = Float32Array.from({ length: n }, (_, i) =>
      (input.data as Float32Array).slice(i * width, (i + 1) * width).reduce((a, b) => a + b, 0),
    );
    return { sum: { type: 'float32', data: sums, dims: [n, 1] } };
  };
  return { calls, run };
}

describe('Batcher', () => {
  it('merges calls of the same turn into one run and gives each caller its own rows', async () => {
    const { calls, run } = model();
    const batcher = new Batcher(run, { concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    const results = await Promise.all([
      batcher.submit(rows([1, 2])),
      batcher.submit(rows([3, 4], [5, 6])),
      batcher.submit(rows([7, 8])),
    ]);
    assert.deepEqual(calls, [4]);
    assert.deepEqual(
      results.map((r) => [...(r.sum!.data as Float32Array)]),
      [[3], [7, 11], [15]],
    );
    assert.deepEqual(
      results.map((r) => r.sum!.dims),
      [
        [1, 1],
        [2, 1],
        [1, 1],
      ],
    );
  });

  it('gathers calls that arrive while a run is busy into the next batch, within maxRows', async () => {
    const { calls, run } = model();
    const slow = async (feeds: TensorMap) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return run(feeds);
    };
    const batcher = new Batcher(slow, { concurrency: 1, maxRows: 3, maxWaiting: Infinity });
    const first = batcher.submit(rows([1, 1]));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 5 }, (_, i) => batcher.submit(rows([i, 0])));
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(calls, [1, 3, 2]);
    assert.deepEqual(
      results.map((r) => (r.sum!.data as Float32Array)[0]),
      [2, 0, 1, 2, 3, 4],
    );
  });

  it('keeps inputs of different widths in separate runs', async () => {
    const { calls, run } = model();
    const batcher = new Batcher(run, { concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    await Promise.all([batcher.submit(rows([1, 2])), batcher.submit(rows([1, 2, 3]))]);
    assert.deepEqual(calls, [1, 1]);
  });

  it('refuses with 503 OVERLOADED past maxWaiting', async () => {
    const { run } = model();
    const batcher = new Batcher(run, { concurrency: 1, maxRows: 64, maxWaiting: 2 });
    const results = await Promise.allSettled([1, 2, 3].map(() => batcher.submit(rows([1]))));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    );
    assert.equal(((results[2] as PromiseRejectedResult).reason as { code: string }).code, 'OVERLOADED');
  });

  it('rejects every caller of a batch whose run fails', async () => {
    const batcher = new Batcher(async () => Promise.reject(new Error('boom')), {
      concurrency: 1,
      maxRows: 64,
      maxWaiting: Infinity,
    });
    const results = await Promise.allSettled([batcher.submit(rows([1])), batcher.submit(rows([2]))]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });
});

describe('batchable', () => {
  it('needs a dynamic first dimension on every input and tensor output', () => {
    const dynamic = [{ name: 'x', type: 'float32', shape: ['batch', 4] }];
    assert.equal(batchable(dynamic, [{ name: 'y', type: 'int64', shape: ['batch'] }]), true);
    assert.equal(batchable(dynamic, [{ name: 'y', type: 'float32', shape: [1, 3] }]), false);
    assert.equal(
      batchable(
        [{ name: 'x', type: 'float32', shape: [1, 4] }],
        [{ name: 'y', type: 'int64', shape: ['batch'] }],
      ),
      false,
    );
  });
});
