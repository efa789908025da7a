// Dynamic batching with a fake model: merging, splitting, limits and failures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchMajor } from '../../src/core/models/signature.js';
import { Batcher, mergeRows } from '../../src/core/runtime/batcher.js';
import { schedulePolicy } from '../../src/core/runtime/schedule.js';
import type { TensorMap } from '../../src/core/tensor/tensor.js';
import { spec } from '../fakes.js';
import { waitFor } from '../wait.js';

/** No deadline, no first estimate: what these tests of merging need. */
const base = { timeoutMs: Infinity, expectedRunMs: 0 };

const rows = (...values: number[][]): TensorMap => ({
  input: {
    datatype: 'FP32',
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
    return { sum: { datatype: 'FP32', data: sums, dims: [n, 1] } };
  };
  return { calls, run };
}

/** Holds every run of `run` until released: a busy model, so that calls queue behind it. */
function gated(run: (feeds: TensorMap) => Promise<TensorMap>) {
  let gate: Promise<void> | undefined;
  let open = () => undefined as unknown;
  return {
    run: async (feeds: TensorMap) => {
      if (gate) await gate;
      return run(feeds);
    },
    hold: () => (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => {
      gate = undefined;
      open();
    },
  };
}

describe('Batcher', () => {
  it('runs a call at once on an idle model', async () => {
    const { calls, run } = model();
    const batcher = new Batcher(run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    const started = batcher.submit(rows([1, 2]));
    assert.deepEqual(calls, [1], 'started before any turn of the event loop');
    await started;
  });

  it('asks how many calls may run at once before each start: the count follows the load', async () => {
    const { run } = model();
    const gate = gated(run);
    let started = 0;
    let slots = 1;
    const counted = (feeds: TensorMap) => (started++, gate.run(feeds));
    const batcher = new Batcher(counted, {
      ...base,
      concurrency: () => slots,
      maxRows: 1,
      maxWaiting: Infinity,
    });
    gate.hold();
    const first = [batcher.submit(rows([1])), batcher.submit(rows([2])), batcher.submit(rows([3]))];
    await new Promise(setImmediate);
    assert.equal(started, 1);
    slots = 2;
    const fourth = batcher.submit(rows([4]));
    await new Promise(setImmediate);
    assert.equal(started, 2, 'a second run beside the first, the others still waiting');
    gate.release();
    const sums = (await Promise.all([...first, fourth])).map((out) =>
      Array.from(out.sum!.data as Float32Array),
    );
    assert.deepEqual(sums, [[1], [2], [3], [4]]);
    assert.equal(started, 4);
  });

  it('merges the calls that arrive while the model is busy into one run and gives each caller its own rows', async () => {
    const { calls, run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    gate.hold();
    const busy = batcher.submit(rows([0, 0]));
    const waiting = [
      batcher.submit(rows([1, 2])),
      batcher.submit(rows([3, 4], [5, 6])),
      batcher.submit(rows([7, 8])),
    ];
    gate.release();
    const [, ...results] = await Promise.all([busy, ...waiting]);
    assert.deepEqual(calls, [1, 4]);
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
      await new Promise((resolve) => setTimeout(resolve, 20)); // a slow run: calls arrive while it is busy
      return run(feeds);
    };
    const batcher = new Batcher(slow, { ...base, concurrency: 1, maxRows: 3, maxWaiting: Infinity });
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
    const batcher = new Batcher(run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    await Promise.all([batcher.submit(rows([1, 2])), batcher.submit(rows([1, 2, 3]))]);
    assert.deepEqual(calls, [1, 1]);
  });

  it('refuses with 503 OVERLOADED past maxWaiting', async () => {
    const { run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 1, maxWaiting: 2 });
    gate.hold();
    const calls = [1, 2, 3, 4].map(() => batcher.submit(rows([1])));
    gate.release();
    const results = await Promise.allSettled(calls);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
    );
    assert.equal(((results[3] as PromiseRejectedResult).reason as { code: string }).code, 'OVERLOADED');
  });

  it('rejects every caller of a batch whose run fails', async () => {
    const batcher = new Batcher(async () => Promise.reject(new Error('boom')), {
      ...base,
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

describe('Batcher with several inputs and failing rows', () => {
  const pair = (a: number[], b: bigint[]): TensorMap => ({
    a: { datatype: 'FP32', data: Float32Array.from(a), dims: [a.length, 1] },
    b: { datatype: 'INT64', data: BigInt64Array.from(b), dims: [b.length, 1] },
  });
  /** out[i] = a[i] + b[i]; a row with b = 13 makes the whole call fail, as a bad index does in a graph. */
  function twoInputModel() {
    const calls: number[] = [];
    const run = async (feeds: TensorMap): Promise<TensorMap> => {
      const a = feeds.a!.data as Float32Array;
      const b = feeds.b!.data as BigInt64Array;
      calls.push(a.length);
      if (b.includes(13n)) throw new Error('Status Message: index 13 out of range');
      const out = Float32Array.from(a, (v, i) => v + Number(b[i]));
      return { out: { datatype: 'FP32', data: out, dims: [a.length, 1] } };
    };
    return { calls, run };
  }

  it('merges multi-input calls and gives each caller the sums of its own rows', async () => {
    const { calls, run } = twoInputModel();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    gate.hold();
    const busy = batcher.submit(pair([0], [0n]));
    const waiting = [batcher.submit(pair([1, 2], [10n, 20n])), batcher.submit(pair([3], [30n]))];
    gate.release();
    const [, ...results] = await Promise.all([busy, ...waiting]);
    assert.deepEqual(calls, [1, 3]);
    assert.deepEqual(
      results.map((r) => [...(r.out!.data as Float32Array)]),
      [[11, 22], [33]],
    );
  });

  it('gives the failure only to the caller whose rows the model refuses', async () => {
    const { calls, run } = twoInputModel();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    gate.hold();
    const busy = batcher.submit(pair([0], [0n]));
    const waiting = [
      batcher.submit(pair([1], [1n])),
      batcher.submit(pair([2], [13n])),
      batcher.submit(pair([3], [3n])),
    ];
    gate.release();
    const [, ...results] = await Promise.allSettled([busy, ...waiting]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(calls, [1, 3, 1, 1, 1], 'the merged call failed, then each ran alone');
    assert.deepEqual(
      [...((results[2] as PromiseFulfilledResult<TensorMap>).value.out!.data as Float32Array)],
      [6],
    );
  });

  it('runs a call alone when its inputs disagree on the batch size', async () => {
    const { calls, run } = twoInputModel();
    const batcher = new Batcher(run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    const odd: TensorMap = { ...pair([1, 2], [1n, 2n]), b: pair([1], [1n]).b! };
    await Promise.allSettled([
      batcher.submit(pair([1], [1n])),
      batcher.submit(odd),
      batcher.submit(pair([1], [1n])),
    ]);
    assert.deepEqual(calls, [1, 2, 1]);
  });

  it('stops merging for good when the outputs are not one row per input row', async () => {
    const calls: number[] = [];
    const total = async (feeds: TensorMap): Promise<TensorMap> => {
      const a = feeds.a!.data as Float32Array;
      calls.push(a.length);
      return { sum: { datatype: 'FP32', data: Float32Array.of(a.reduce((x, y) => x + y, 0)), dims: [1] } };
    };
    const gate = gated(total);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    gate.hold();
    const busy = batcher.submit(pair([9], [0n]));
    const waiting = [batcher.submit(pair([1, 2], [0n, 0n])), batcher.submit(pair([5], [0n]))];
    gate.release();
    const [, ...first] = await Promise.all([busy, ...waiting]);
    assert.deepEqual(
      first.map((r) => (r.sum!.data as Float32Array)[0]),
      [3, 5],
    );
    gate.hold();
    const again = [
      batcher.submit(pair([9], [0n])),
      batcher.submit(pair([1], [0n])),
      batcher.submit(pair([2], [0n])),
    ];
    gate.release();
    await Promise.all(again);
    assert.deepEqual(calls, [1, 3, 2, 1, 1, 1, 1], 'merged once, then each alone, and never merged again');
  });
});

describe('Batcher deadlines and admission', () => {
  it('refuses at once, with Retry-After, a call the queue ahead could not serve before its deadline', async () => {
    const { run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, {
      concurrency: 1,
      maxRows: 1,
      maxWaiting: 64,
      timeoutMs: 150,
      expectedRunMs: 50,
    });
    gate.hold();
    const running = batcher.submit(rows([1])); // finishes in about 50 ms
    const next = batcher.submit(rows([2])); // 50 ms for the running one, 50 for its own: within 80% of 150
    let refused: { code: string; retryAfter: number } | undefined;
    const late = batcher
      .submit(rows([3]))
      .catch((err: unknown) => (refused = err as { code: string; retryAfter: number }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(refused?.code, 'OVERLOADED', 'refused before anything ran');
    assert.equal(refused.retryAfter, 1);
    gate.release();
    await Promise.all([running, next, late]);
  });

  it('answers 504 at the deadline and never runs a call whose deadline passed while it was queued', async () => {
    const { calls, run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, {
      concurrency: 1,
      maxRows: 1,
      maxWaiting: 64,
      timeoutMs: 40,
      expectedRunMs: 0,
    });
    gate.hold();
    const running = batcher.submit(rows([1, 1]));
    const queued = batcher.submit(rows([2, 2, 2]));
    const [a, b] = await Promise.allSettled([running, queued]);
    assert.equal(((a as PromiseRejectedResult).reason as { code: string }).code, 'INFERENCE_TIMEOUT');
    assert.equal(((b as PromiseRejectedResult).reason as { code: string }).code, 'INFERENCE_TIMEOUT');
    gate.release();
    await waitFor(() => batcher.pending === 0, { what: 'the running call has finished' });
    assert.deepEqual(calls, [1], 'the running call finished (and was dropped); the queued one never ran');
  });

  it('takes a deadline sooner than its timeout (a gRPC client’s own)', async () => {
    const { run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, {
      concurrency: 1,
      maxRows: 1,
      maxWaiting: 64,
      timeoutMs: 10_000,
      expectedRunMs: 0,
    });
    gate.hold();
    const result = await Promise.allSettled([batcher.submit(rows([1]), { deadline: Date.now() + 30 })]);
    assert.equal(((result[0] as PromiseRejectedResult).reason as { code: string }).code, 'INFERENCE_TIMEOUT');
    gate.release();
  });
});

describe('Batcher cancellation', () => {
  it('takes a queued call whose client went away out of the queue: it never runs, and the others still merge', async () => {
    const { calls, run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    gate.hold();
    const busy = batcher.submit(rows([0, 0]));
    const gone = new AbortController();
    const cancelled = batcher.submit(rows([9, 9], [9, 9]), { signal: gone.signal });
    const kept = batcher.submit(rows([1, 2]));
    gone.abort();
    await assert.rejects(cancelled, { code: 'REQUEST_CANCELLED' });
    assert.equal(batcher.pending, 2, 'the busy call and the kept one');
    gate.release();
    await busy;
    assert.deepEqual([...((await kept).sum!.data as Float32Array)], [3]);
    assert.deepEqual(calls, [1, 1], 'the cancelled rows never reached the model');
  });

  it('drops the answer of a running call whose client went away, and gives the calls merged with it theirs', async () => {
    const { calls, run } = model();
    const gate = gated(run);
    const batcher = new Batcher(gate.run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    gate.hold();
    const busy = batcher.submit(rows([0, 0]));
    const gone = new AbortController();
    const merged = [batcher.submit(rows([1, 1]), { signal: gone.signal }), batcher.submit(rows([2, 3]))];
    gate.release();
    gate.hold(); // the busy run has passed the gate; the merged run will wait at the new one
    await busy;
    for (let i = 0; i < 10 && batcher.pending !== 1; i++)
      await new Promise((resolve) => setImmediate(resolve));
    assert.equal(batcher.pending, 1, 'the merged run has started');
    gone.abort();
    gate.release();
    await assert.rejects(merged[0]!, { code: 'REQUEST_CANCELLED' });
    assert.deepEqual([...((await merged[1]!).sum!.data as Float32Array)], [5]);
    assert.deepEqual(calls, [1, 2], 'one run of both: the one that went away ran, its answer dropped');
  });

  it('refuses a call whose client has already gone, without queueing it', async () => {
    const { calls, run } = model();
    const batcher = new Batcher(run, { ...base, concurrency: 1, maxRows: 64, maxWaiting: Infinity });
    await assert.rejects(batcher.submit(rows([1, 1]), { signal: AbortSignal.abort() }), {
      code: 'REQUEST_CANCELLED',
    });
    assert.deepEqual(calls, []);
    assert.equal(batcher.pending, 0);
  });
});

describe('Batcher priorities and queue policies (Triton’s schedule policy)', () => {
  /** A model that records the first value of each call it runs, one call a run. */
  function recorder() {
    const ran: number[] = [];
    const gate = gated(async (feeds: TensorMap) => {
      ran.push((feeds.input!.data as Float32Array)[0]!);
      return { sum: { datatype: 'FP32', data: Float32Array.of(0), dims: [1, 1] } };
    });
    return { ran, gate };
  }
  const twoLevels = schedulePolicy({ priority_levels: 2, default_priority_level: 2 });
  const one = { ...base, concurrency: 1, maxRows: 1, maxWaiting: Infinity };

  it('takes the highest priority first, in arrival order within a level', async () => {
    const { ran, gate } = recorder();
    const batcher = new Batcher(gate.run, { ...one, schedule: twoLevels });
    gate.hold();
    const calls = [
      batcher.submit(rows([0])),
      batcher.submit(rows([1])),
      batcher.submit(rows([2]), { priority: 2 }),
      batcher.submit(rows([3]), { priority: 1 }),
      batcher.submit(rows([4]), { priority: 1 }),
    ];
    gate.release();
    await Promise.all(calls);
    assert.deepEqual(ran, [0, 3, 4, 1, 2]);
  });

  it('refuses a priority past the levels, and a full level’s queue with 503', async () => {
    const { gate } = recorder();
    const policy = schedulePolicy({
      priority_levels: 2,
      default_priority_level: 2,
      priority_queue_policy: { '1': { max_queue_size: 1 } },
    });
    const batcher = new Batcher(gate.run, { ...one, schedule: policy });
    await assert.rejects(batcher.submit(rows([1]), { priority: 3 }), { code: 'INVALID_REQUEST' });
    gate.hold();
    const busy = batcher.submit(rows([0]));
    const first = batcher.submit(rows([1]), { priority: 1 });
    await assert.rejects(
      batcher.submit(rows([2]), { priority: 1 }),
      (err: { code: string; retryAfter: number; message: string }) => {
        assert.equal(err.code, 'OVERLOADED');
        assert.equal(err.retryAfter, 1);
        assert.match(err.message, /priority level 1/);
        return true;
      },
    );
    const other = batcher.submit(rows([3]), { priority: 2 });
    gate.release();
    await Promise.all([busy, first, other]);
  });

  it('answers a request whose timeout passes while it waits at that moment, and never runs it (REJECT)', async () => {
    const { ran, gate } = recorder();
    const batcher = new Batcher(gate.run, { ...one, schedule: twoLevels });
    gate.hold();
    const busy = batcher.submit(rows([0]));
    const started = performance.now();
    await assert.rejects(batcher.submit(rows([7]), { timeoutUs: 30_000 }), { code: 'INFERENCE_TIMEOUT' });
    const waited = performance.now() - started;
    assert.ok(waited >= 25, `answered after ${waited} ms, at its timeout`);
    assert.equal(batcher.pending, 1, 'only the busy call is left: the run it waited for has not ended');
    gate.release();
    await busy;
    assert.deepEqual(ran, [0]);
  });

  it('takes a request’s timeout only where the policy lets it, and moves a DELAY one behind those in time', async () => {
    const { ran, gate } = recorder();
    const policy = schedulePolicy({
      default_queue_policy: {
        timeout_action: 'DELAY',
        default_timeout_microseconds: 20_000,
        allow_timeout_override: false,
      },
    });
    const batcher = new Batcher(gate.run, { ...one, schedule: policy });
    gate.hold();
    const busy = batcher.submit(rows([0]));
    const late = batcher.submit(rows([1]), { timeoutUs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    const inTime = batcher.submit(rows([2]));
    gate.release();
    await Promise.all([busy, late, inTime]);
    assert.deepEqual(ran, [0, 2, 1], 'the delayed call ran after the one still in time, and was not refused');
  });
});

describe('mergeRows', () => {
  it('merges up to maxRows rows, fewer when a row’s bytes from the graph would pass 1 MiB', () => {
    assert.equal(mergeRows([spec('x', 'FP32', ['batch', 4])], 256), 256);
    assert.equal(mergeRows([spec('x', 'FP32', ['batch', 3, 100, 100])], 256), 8); // 120,000 bytes a row
    assert.equal(mergeRows([spec('x', 'FP32', ['batch', 3, 224, 224])], 256), 1); // 602,112 bytes a row
    assert.equal(
      mergeRows([spec('a', 'FP32', ['batch', 1000]), spec('b', 'INT64', ['batch', 500])], 256),
      131,
    );
  });

  it('leaves the byte bound to run time when a row’s size is not in the graph', () => {
    assert.equal(mergeRows([spec('x', 'FP32', ['batch', 'height', 'width'])], 256), 256);
    assert.equal(mergeRows([spec('x', 'BYTES', ['batch', 1])], 256), 256);
  });
});

describe('batchMajor', () => {
  it('needs a dynamic first dimension on every input and tensor output', () => {
    const dynamic = [spec('x', 'FP32', ['batch', 4])];
    assert.equal(batchMajor(dynamic, [spec('y', 'INT64', ['batch'])]), true);
    assert.equal(batchMajor(dynamic, [spec('y', 'FP32', [1, 3])]), false);
    assert.equal(batchMajor([spec('x', 'FP32', [1, 4])], [spec('y', 'INT64', ['batch'])]), false);
  });
});
