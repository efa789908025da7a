// The pieces under the spans: a batched run told to each of its calls (when it waited and computed, the batch's size,
// the calls it served), the run's compute span linking to every request of the batch (and the others' to it), and the
// trace settings' checks.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { Batcher } from '../../src/core/runtime/batcher.js';
import { ServalError } from '../../src/core/errors.js';
import { checkTraceSettings, TraceSettings } from '../../src/core/tracing/settings.js';
import { recordOf, wireOf, type SpanRecord } from '../../src/core/tracing/records.js';
import { createTracer } from '../../src/core/tracing/sdk.js';
import type { RunRecord, RunTrace } from '../../src/core/tracing/trace.js';
import type { TensorMap } from '../../src/core/tensor/tensor.js';
import { testConfig } from '../helpers.js';

const feeds = (): TensorMap => ({ x: { datatype: 'FP32', dims: [1, 2], data: new Float32Array(2) } });

describe('a batched run in traces', () => {
  it('tells each call when it waited and ran, the rows of its batch and every call it served', async () => {
    const records = new Map<RunTrace, RunRecord>();
    const traceOf = (): RunTrace => {
      const trace: RunTrace = {
        ran: (run) => records.set(trace, run),
        step: () => assert.fail('no ensemble here'),
      };
      return trace;
    };
    // When each run really began and ended, by the same clock: the compute the calls are told must contain it.
    const runs: { entered: number; left: number }[] = [];
    const epochNow = () => performance.timeOrigin + performance.now();
    const batcher = new Batcher(
      async (f) => {
        const entered = epochNow();
        await sleep(20);
        runs.push({ entered, left: epochNow() });
        return { y: f.x! };
      },
      { concurrency: 1, maxRows: 16, maxWaiting: 10, timeoutMs: Infinity, expectedRunMs: 1 },
    );
    const [first, second, third] = [traceOf(), traceOf(), traceOf()];
    await Promise.all([first, second, third].map((trace) => batcher.submit(feeds(), { trace })));
    // The idle model runs the first call at once; the two that came meanwhile run together.
    assert.equal(runs.length, 2);
    const alone = records.get(first)!;
    assert.deepEqual(alone.calls, [first]);
    assert.equal(alone.rows, 1);
    for (const trace of [second, third]) {
      const run = records.get(trace)!;
      assert.deepEqual(run.calls, [second, third]);
      assert.equal(run.rows, 2);
      assert.ok(run.queued <= alone.compute.end, 'it came while the first run computed');
      assert.ok(run.started >= alone.compute.end, 'and waited for it to end');
    }
    for (const [i, run] of [alone, records.get(second)!].entries()) {
      assert.ok(run.compute.start <= runs[i]!.entered, 'the compute starts before the run began');
      assert.ok(run.compute.end >= runs[i]!.left, 'and ends after it ended');
      assert.ok(run.compute.start >= run.started, 'after the call left the queue');
    }
  });

  it("reports the compute a thread-mode run timed by its thread's clock", async () => {
    const records: RunRecord[] = [];
    const reported = { start: 1_700_000_000_000, end: 1_700_000_000_020 };
    const batcher = new Batcher(
      async (f, timing) => {
        Object.assign(timing!, reported);
        return { y: f.x! };
      },
      { concurrency: 1, maxRows: 16, maxWaiting: 10, timeoutMs: Infinity, expectedRunMs: 1 },
    );
    const trace: RunTrace = { ran: (run) => records.push(run), step: () => assert.fail('no ensemble here') };
    await batcher.submit(feeds(), { trace });
    assert.equal(records.length, 1);
    assert.deepEqual(records[0]!.compute, reported);
  });

  it("links the run's compute span to the model span of every request it served, and each other compute span to it", async () => {
    const exporter = new InMemorySpanExporter();
    const settings = new TraceSettings({ exporting: true, rate: 1 });
    const tracer = await createTracer(
      testConfig(),
      settings,
      pino({ level: 'silent' }),
      new SimpleSpanProcessor({ exporter }),
    );
    const serve = (reqId: string) =>
      tracer.serve({
        name: 'x',
        header: () => undefined,
        attributes: () => ({}),
        reqId,
        started: performance.now(),
      })!;
    const calls = [
      serve('a').model('iris', '1'),
      serve('b').model('iris', '1'),
      serve('c').model('iris', '1'),
    ];
    const now = performance.timeOrigin + performance.now();
    const compute = { start: now, end: now + 1 };
    // Each call is told of the run in an object of its own (its own queue time), with the same calls.
    for (const call of [...calls].reverse()) call.ran({ queued: now, started: now, compute, calls, rows: 3 });
    for (const call of calls) call.end('off');
    const spans = exporter.getFinishedSpans();
    const models = spans.filter((s) => s.name === 'iris');
    const modelOf = (reqId: string) => models.find((s) => s.attributes['triton.request_id'] === reqId)!;
    const computeOf = (reqId: string) =>
      spans.find(
        (s) => s.name === 'compute' && s.parentSpanContext?.spanId === modelOf(reqId).spanContext().spanId,
      )!;
    assert.equal(
      spans.filter((s) => s.name === 'compute').length,
      3,
      "one compute span in each request's trace",
    );
    const run = computeOf('a');
    assert.deepEqual(
      run.links.map((l) => l.context.spanId).sort(),
      models.map((s) => s.spanContext().spanId).sort(),
      "the first request's compute span stands for the run: it links to every request",
    );
    for (const reqId of ['b', 'c'])
      assert.deepEqual(
        computeOf(reqId).links.map((l) => l.context),
        [run.spanContext()].map(({ traceId, spanId, traceFlags }) => ({
          traceId,
          spanId,
          traceFlags,
          isRemote: false,
        })),
        "the others' link to the run",
      );
    for (const span of spans.filter((s) => s.name === 'compute')) {
      assert.equal(span.attributes['serval.batch.size'], 3);
      assert.equal(span.attributes['serval.batch.requests'], 3);
    }
    await tracer.close();
  });
});

describe('a span on its way to the export thread', () => {
  const full: SpanRecord = {
    name: 'InferRequest',
    kind: SpanKind.SERVER,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
    traceState: 'vendor=a,other=b',
    parent: { spanId: '53995c3f42cd8ad8', remote: true },
    start: 1_796_667_170_507.125,
    end: 1_796_667_170_508.5,
    attributes: { 'http.route': '/v2/models/:model/infer', 'http.response.status_code': 200, retried: false },
    events: [
      { name: 'REQUEST_START', time: 1_796_667_170_507.25 },
      { name: 'REQUEST_END', time: 1_796_667_170_508.25 },
    ],
    links: [
      { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '1111111111111111', traceFlags: 1 },
      {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: '2222222222222222',
        traceFlags: 0,
        traceState: 'x=y',
      },
    ],
    status: { code: SpanStatusCode.ERROR, message: 'INTERNAL' },
  };

  it('arrives as it left, every field and every value type', () => {
    assert.deepEqual(recordOf(structuredClone(wireOf(full))), full);
  });

  it('arrives as it left without its optional fields', () => {
    const bare: SpanRecord = {
      name: 'compute',
      kind: SpanKind.INTERNAL,
      traceId: full.traceId,
      spanId: full.spanId,
      traceFlags: 1,
      start: full.start,
      end: full.end,
      attributes: {},
      events: [],
      links: [],
      status: { code: SpanStatusCode.UNSET },
    };
    assert.deepEqual(recordOf(structuredClone(wireOf(bare))), { ...bare, parent: undefined });
  });
});

describe("Triton's trace settings", () => {
  const refused = (patch: unknown, code = 'INVALID_TRACE_SETTING') =>
    assert.throws(
      () => checkTraceSettings(patch),
      (err: unknown) => err instanceof ServalError && err.code === code,
      JSON.stringify(patch),
    );

  it('refuses what Triton would not take, and what Serval cannot do', () => {
    for (const patch of [
      { trace_rate: '-1' },
      { trace_rate: 'often' },
      { trace_rate: 1.5 },
      { trace_count: '-2' },
      { log_frequency: '4294967296' },
      { trace_level: ['TENSORS'] },
      { trace_level: ['OFF', 'TIMESTAMPS'] },
      { trace_level: 'ALL' },
      { trace_file: '/tmp/trace.json' },
      { trace_mode: 'triton' },
      [],
    ])
      refused(patch);
  });

  it('reads strings and numbers, and keeps null as a reset', () => {
    assert.deepEqual(
      checkTraceSettings({ trace_rate: '10', trace_count: -1, trace_level: 'OFF', log_frequency: null }),
      {
        trace_rate: '10',
        trace_count: '-1',
        trace_level: ['OFF'],
        log_frequency: null,
      },
    );
  });

  it("keeps a model's own settings over the global ones until they are reset, and refuses a level with no exporter", () => {
    const settings = new TraceSettings({ exporting: true, rate: 1 });
    settings.apply({ trace_rate: '100' }, 'iris');
    settings.apply({ trace_rate: '7', log_frequency: '3' });
    assert.equal(settings.values('iris').trace_rate, '100');
    assert.equal(settings.values('iris').log_frequency, '3', 'what the model did not set follows the global');
    settings.apply({ trace_rate: null }, 'iris');
    assert.equal(settings.values('iris').trace_rate, '7');
    settings.apply({ trace_rate: null });
    assert.equal(settings.values().trace_rate, '1', 'a global null is the default');
    const off = new TraceSettings({ exporting: false, rate: 1 });
    assert.deepEqual(off.values().trace_level, ['OFF']);
    assert.throws(
      () => off.apply({ trace_level: ['TIMESTAMPS'] }),
      (err: unknown) => err instanceof ServalError && err.code === 'TRACING_NOT_CONFIGURED',
    );
  });
});
