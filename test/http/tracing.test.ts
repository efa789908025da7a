// Spans of requests, read from an in-memory exporter: the tree Triton's OpenTelemetry mode makes (InferRequest, a span
// named after the model, compute), their attributes, the caller's context followed, what is not traced, the trace
// settings' gate, ensemble steps, the cache, thread-mode runs, and the ids on the access line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import type { Config } from '../../src/config/schema.js';
import { loadedApp, ROOT } from '../helpers.js';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const IRIS = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

async function tracedApp(t: TestContext, overrides: Partial<Config> = {}, lines?: string[]) {
  const exporter = new InMemorySpanExporter();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines?.push(chunk.toString());
      done();
    },
  });
  const log = pino({ level: lines ? 'info' : 'silent' }, stream);
  const app = await loadedApp(overrides, log, { spans: new SimpleSpanProcessor({ exporter }) });
  t.after(() => app.close());
  return { app, spans: () => exporter.getFinishedSpans(), reset: () => exporter.reset() };
}

const infer = (
  app: Awaited<ReturnType<typeof tracedApp>>['app'],
  headers: Record<string, string> = {},
  model = 'iris',
) => app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, headers, payload: IRIS });

const named = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  assert.ok(found.length > 0, `a span named ${name} among ${spans.map((s) => s.name).join(', ')}`);
  return found;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('traces of inference requests', () => {
  it("makes Triton's tree under the caller's span: InferRequest, the model's span, inputs, queue and compute", async (t) => {
    const { app, spans } = await tracedApp(t);
    const res = await infer(app, {
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
      'x-request-id': 'traced-1',
    });
    assert.equal(res.statusCode, 200, res.body);
    const all = spans();
    const [server] = named(all, 'InferRequest');
    assert.equal(server!.spanContext().traceId, CALLER_TRACE, "the caller's trace");
    assert.equal(parentOf(server!), CALLER_SPAN, "a child of the caller's span");
    assert.equal(server!.kind, 1, 'SERVER');
    assert.equal(server!.attributes['http.request.method'], 'POST');
    assert.equal(server!.attributes['http.route'], '/v2/models/:model/infer');
    assert.equal(server!.attributes['http.response.status_code'], 200);
    const [model] = named(all, 'iris');
    assert.equal(parentOf(model!), server!.spanContext().spanId);
    assert.equal(model!.attributes['triton.model_name'], 'iris');
    assert.equal(model!.attributes['triton.model_version'], '1');
    assert.equal(model!.attributes['triton.request_id'], 'traced-1');
    assert.deepEqual(
      model!.events.map((e) => e.name),
      ['REQUEST_START', 'INPUTS_END', 'QUEUE_START', 'REQUEST_END'],
    );
    const [compute] = named(all, 'compute');
    assert.equal(parentOf(compute!), model!.spanContext().spanId, "compute is the model span's child");
    assert.equal(compute!.spanContext().traceId, CALLER_TRACE);
    assert.equal(all.length, 3, 'three spans a request: the server, the model, its compute');
    assert.equal(compute!.attributes['serval.batch.size'], 1);
    assert.deepEqual(
      compute!.events.map((e) => e.name),
      ['COMPUTE_START', 'COMPUTE_END'],
    );
  });

  it("gives the model span the request's own id when it has one, as Triton does, else the server's", async (t) => {
    const { app, spans } = await tracedApp(t);
    const own = await app.inject({
      method: 'POST',
      url: '/v2/models/iris/infer',
      headers: { 'x-request-id': 'server-side' },
      payload: { id: 'client-side', ...IRIS },
    });
    assert.equal(own.json().id, 'client-side');
    await infer(app, { 'x-request-id': 'server-only' });
    assert.deepEqual(
      named(spans(), 'iris').map((s) => s.attributes['triton.request_id']),
      ['client-side', 'server-only'],
    );
  });

  it('follows a caller that did not sample, and traces nothing of its request', async (t) => {
    const { app, spans } = await tracedApp(t);
    assert.equal((await infer(app, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` })).statusCode, 200);
    assert.deepEqual(spans(), []);
  });

  it('traces no health, readiness or metrics route, and other routes by their semantic-convention name', async (t) => {
    const { app, spans } = await tracedApp(t);
    for (const url of [
      '/healthz',
      '/readyz',
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/iris/ready',
      '/metrics',
    ])
      assert.equal((await app.inject(url)).statusCode, 200, url);
    assert.deepEqual(spans(), []);
    assert.equal((await app.inject('/v2/models/iris')).statusCode, 200);
    assert.deepEqual(
      spans().map((s) => s.name),
      ['GET /v2/models/:model'],
    );
  });

  it('marks a server error on the server span and the failure on the model span', async (t) => {
    const { app, spans } = await tracedApp(t);
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/iris/infer',
      payload: { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] },
    });
    assert.equal(res.statusCode, 400);
    const [model] = named(spans(), 'iris');
    assert.equal(model!.status.code, 2, 'ERROR');
    assert.equal(model!.attributes['error.type'], res.json().code);
    const [server] = named(spans(), 'InferRequest');
    assert.equal(server!.status.code, 0, 'a 4xx is not the server span’s error');
  });

  it('says whether the cache answered', async (t) => {
    const { app, spans } = await tracedApp(t, { cacheEnabled: true });
    await infer(app);
    await infer(app);
    assert.deepEqual(
      named(spans(), 'iris').map((s) => s.attributes['serval.cache']),
      ['miss', 'hit'],
    );
    assert.equal(named(spans(), 'compute').length, 1, 'a hit does not run the model');
  });

  it('records a thread-mode run with the times measured in its thread', async (t) => {
    const { app, spans } = await tracedApp(t, { inferenceMode: 'thread' });
    assert.equal((await infer(app)).statusCode, 200);
    const [model] = named(spans(), 'iris');
    const [compute] = named(spans(), 'compute');
    const ms = (time: [number, number]) => time[0] * 1000 + time[1] / 1e6;
    assert.ok(ms(compute!.startTime) >= ms(model!.startTime), 'compute starts within the model span');
    assert.ok(ms(compute!.endTime) <= ms(model!.endTime), 'and ends within it');
    assert.equal(parentOf(compute!), model!.spanContext().spanId);
  });

  it("shows each ensemble step as its composing model's span under the ensemble's", async (t) => {
    const { app, spans } = await tracedApp(t, {
      modelRepository: join(ROOT, 'test/fixtures/triton/ensemble'),
      modelControl: 'explicit',
      startupModels: ['embed_classify', 'iris', 'embedding'],
    });
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/embed_classify/infer',
      payload: {
        inputs: [
          {
            name: 'TOKENS',
            datatype: 'INT64',
            shape: [1, 5],
            data: [0, 1, 2, 3, 4],
          },
        ],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const [ensemble] = named(spans(), 'embed_classify');
    for (const step of ['embedding', 'iris']) {
      const [span] = named(spans(), step);
      assert.equal(parentOf(span!), ensemble!.spanContext().spanId, `${step} is a step of the ensemble`);
      assert.equal(typeof span!.attributes['serval.ensemble.step'], 'number');
      const compute = named(spans(), 'compute').filter((c) => parentOf(c) === span!.spanContext().spanId);
      assert.equal(compute.length, 1, `${step} has its compute span`);
    }
  });

  it('writes the trace and span ids on the access line', async (t) => {
    const lines: string[] = [];
    const { app, spans } = await tracedApp(t, {}, lines);
    await infer(app, { 'x-request-id': 'joined' });
    const line = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.reqId === 'joined' && l.msg === 'request');
    const [server] = named(spans(), 'InferRequest');
    assert.ok(line, 'the access line');
    assert.equal(line.traceId, server!.spanContext().traceId);
    assert.equal(line.spanId, server!.spanContext().spanId);
  });
});

describe('the trace settings before the sampler', () => {
  it('traces one request in trace_rate, trace_count of them, none at OFF, and a caller’s trace whatever the rate', async (t) => {
    const { app, spans, reset } = await tracedApp(t);
    const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
    const traced = () => spans().filter((s) => s.name === 'InferRequest').length;
    assert.equal((await post('/v2/trace/setting', { trace_rate: '2' })).statusCode, 200);
    for (let i = 0; i < 4; i++) await infer(app);
    assert.equal(traced(), 2, 'one in two');
    reset();
    await post('/v2/trace/setting', { trace_rate: 1, trace_count: '1' });
    for (let i = 0; i < 3; i++) await infer(app);
    assert.equal(traced(), 1, 'one trace left, then none');
    reset();
    await post('/v2/trace/setting', { trace_count: null, trace_rate: '0' });
    await infer(app);
    assert.equal(traced(), 0, 'rate 0: no request of its own is traced');
    await infer(app, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    assert.equal(traced(), 1, "a caller's sampled trace is followed whatever the rate");
    reset();
    await post('/v2/trace/setting', { trace_rate: '1' });
    await post('/v2/models/iris/trace/setting', { trace_level: ['OFF'] });
    await infer(app, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    assert.equal(traced(), 0, "OFF for the model: not even a caller's trace");
    await post('/v2/models/iris/trace/setting', { trace_level: null });
    await infer(app);
    assert.equal(traced(), 1, 'null: the model follows the global level again');
  });
});
