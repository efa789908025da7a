// Traces from a real cluster (2 workers) to a real OTLP/HTTP receiver on loopback that decodes what it gets on its
// own: a caller's traceparent is honoured over REST, gRPC and each request of a gRPC stream (its trace id, its span as
// the parent), with the model's spans under the server's; OTLP/JSON when the protocol asks for it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { grpcClient, irisRequest, type StreamAnswer } from '../grpc.js';
import { startServer, type Running } from '../server.js';
import { waitFor } from '../wait.js';
import { receiver, type OtlpReceiver, type Received } from './otlp.js';

const IRIS = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

/** The trace a caller started, as the receiver got it: the server span, and the model span under it. */
async function joinedTrace(otlp: OtlpReceiver, traceId: string, callerSpan: string): Promise<Received> {
  const spans = () => otlp.spans.filter((s) => s.traceId === traceId);
  await waitFor(
    () => spans().some((s) => s.name === 'InferRequest') && spans().some((s) => s.name === 'compute'),
    { what: `the spans of trace ${traceId} arrive` },
  );
  const root = spans().find((s) => s.name === 'InferRequest')!;
  assert.equal(root.parent, callerSpan, "the server span is the caller's span's child");
  const model = spans().find((s) => s.name === 'iris');
  assert.ok(model, 'the model span');
  assert.equal(model.parent, root.spanId);
  assert.equal(model.attributes['triton.model_name'], 'iris');
  return root;
}

describe('traces exported over OTLP/HTTP from 2 workers', () => {
  let otlp: OtlpReceiver;
  let server: Running;
  before(async () => {
    otlp = await receiver();
    server = await startServer(
      {
        SERVAL_WORKERS: '2',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_SERVICE_NAME: 'serval-e2e',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
      { workers: 2 },
    );
  });
  after(() => {
    server.child.kill('SIGKILL');
    otlp.server.close();
  });

  const joined = (traceId: string, callerSpan: string) => joinedTrace(otlp, traceId, callerSpan);

  it("honours a caller's traceparent over V1, V2 and gRPC, in whichever worker answers", async () => {
    const cases = [
      { traceId: 'a'.repeat(32), span: '1'.repeat(16) },
      { traceId: 'b'.repeat(32), span: '2'.repeat(16) },
      { traceId: 'c'.repeat(32), span: '3'.repeat(16) },
    ];
    const traceparent = (c: (typeof cases)[number]) => `00-${c.traceId}-${c.span}-01`;
    const v1 = await fetch(`${server.base}/v1/models/iris:predict`, {
      method: 'POST',
      headers: {
        traceparent: traceparent(cases[0]!),
        connection: 'close',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
    });
    assert.equal(v1.status, 200);
    const v2 = await fetch(`${server.base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: {
        traceparent: traceparent(cases[1]!),
        connection: 'close',
        'content-type': 'application/json',
      },
      body: JSON.stringify(IRIS),
    });
    assert.equal(v2.status, 200);
    const client = grpcClient(server.grpcAddress);
    try {
      await client.call('ModelInfer', irisRequest(), { traceparent: traceparent(cases[2]!) });
    } finally {
      client.close();
    }
    const [rest1, rest2, grpc] = [
      await joined(cases[0]!.traceId, cases[0]!.span),
      await joined(cases[1]!.traceId, cases[1]!.span),
      await joined(cases[2]!.traceId, cases[2]!.span),
    ];
    assert.equal(rest1.attributes['http.route'], '/v1/models/:model:predict');
    assert.equal(rest2.attributes['http.response.status_code'], '200');
    assert.equal(grpc.attributes['rpc.method'], 'ModelInfer');
    assert.equal(grpc.attributes['rpc.grpc.status_code'], '0');
    for (const { path, contentType } of otlp.exports) {
      assert.equal(path, '/v1/traces', 'OTEL_EXPORTER_OTLP_ENDPOINT with the signal path appended');
      assert.equal(contentType, 'application/x-protobuf', 'http/protobuf by default');
    }
  });

  it('traces each request of a ModelStreamInfer call as its own, under the caller’s context of the call', async () => {
    const traceId = 'e'.repeat(32);
    const caller = '6'.repeat(16);
    const client = grpcClient(server.grpcAddress);
    try {
      const stream = client.stream({ traceparent: `00-${traceId}-${caller}-01` });
      const answers: StreamAnswer[] = [];
      stream.on('data', (answer: StreamAnswer) => answers.push(answer));
      stream.write(irisRequest({ id: 'first' }));
      stream.write(irisRequest({ id: 'second' }));
      await waitFor(() => answers.length === 2, { what: 'both answers of the stream' });
      stream.end();
      assert.deepEqual(
        answers.map((a) => a.error_message),
        ['', ''],
      );
    } finally {
      client.close();
    }
    const spans = () => otlp.spans.filter((s) => s.traceId === traceId);
    const roots = () => spans().filter((s) => s.name === 'InferRequest');
    await waitFor(() => roots().length === 2 && spans().filter((s) => s.name === 'compute').length === 2, {
      what: 'the spans of both requests arrive',
    });
    for (const root of roots()) {
      assert.equal(root.parent, caller, "each request's server span is the caller's span's child");
      assert.equal(root.attributes['rpc.method'], 'ModelStreamInfer');
      assert.equal(root.attributes['rpc.grpc.status_code'], '0');
    }
    const models = spans().filter((s) => s.name === 'iris');
    assert.deepEqual(
      models.map((m) => m.attributes['triton.request_id']).sort(),
      ['first', 'second'],
      'a model span per request, with its id',
    );
    assert.deepEqual(
      models.map((m) => m.parent).sort(),
      roots()
        .map((r) => r.spanId)
        .sort(),
      'each under its own server span',
    );
  });

  it('applies trace settings in every worker', async () => {
    const res = await fetch(`${server.base}/v2/trace/setting`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ trace_level: ['OFF'] }),
    });
    assert.equal(res.status, 200);
    for (let i = 0; i < 6; i++) {
      const traceId = `${i}`.repeat(32);
      const answer = await fetch(`${server.base}/v2/models/iris/infer`, {
        method: 'POST',
        headers: {
          traceparent: `00-${traceId}-${'4'.repeat(16)}-01`,
          connection: 'close',
          'content-type': 'application/json',
        },
        body: JSON.stringify(IRIS),
      });
      assert.equal(answer.status, 200);
    }
    // A traced request after them, to know the exporters had their time: nothing of the six arrived.
    await fetch(`${server.base}/v2/trace/setting`, {
      method: 'POST',
      body: JSON.stringify({ trace_level: ['TIMESTAMPS'] }),
    });
    const marker = 'd'.repeat(32);
    await fetch(`${server.base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { traceparent: `00-${marker}-${'5'.repeat(16)}-01`, 'content-type': 'application/json' },
      body: JSON.stringify(IRIS),
    });
    await joined(marker, '5'.repeat(16));
    const off = otlp.spans.filter((s) => /^(\d)\1{31}$/.test(s.traceId));
    assert.deepEqual(off, [], 'no worker traced a request while the level was OFF');
    assert.ok(
      otlp.spans.every((s) => s.pid !== undefined),
      'the resource names the process',
    );
  });
});

describe('traces exported as OTLP/JSON', () => {
  let otlp: OtlpReceiver;
  let server: Running;
  before(async () => {
    otlp = await receiver();
    server = await startServer({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'serval-e2e',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  });
  after(() => {
    server.child.kill('SIGKILL');
    otlp.server.close();
  });

  it("posts the spans as JSON to the traces endpoint as it is, with the caller's trace joined", async () => {
    const traceId = 'f'.repeat(32);
    const res = await fetch(`${server.base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { traceparent: `00-${traceId}-${'7'.repeat(16)}-01`, 'content-type': 'application/json' },
      body: JSON.stringify(IRIS),
    });
    assert.equal(res.status, 200);
    const root = await joinedTrace(otlp, traceId, '7'.repeat(16));
    assert.equal(root.attributes['http.route'], '/v2/models/:model/infer');
    assert.equal(root.attributes['http.response.status_code'], '200');
    assert.ok(otlp.exports.length > 0);
    for (const { path, contentType } of otlp.exports) {
      assert.equal(path, '/v1/traces');
      assert.equal(contentType, 'application/json');
    }
  });
});
