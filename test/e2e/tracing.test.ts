// Traces from a real cluster (2 workers) to a real OTLP/HTTP receiver on loopback, which decodes the protobuf it gets
// with its own schema of the OTLP messages (protobufjs, field numbers from opentelemetry-proto): a caller's traceparent
// is honoured over REST and gRPC (its trace id, its span as the parent), with the model's spans under the server's.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { freePort } from '../helpers.js';
import { grpcClient, irisRequest } from '../grpc.js';
import { startServer, type Running } from '../server.js';
import { waitFor } from '../wait.js';

const OTLP = protobuf.Root.fromJSON({
  nested: {
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      fields: {
        string_value: { type: 'string', id: 1 },
        bool_value: { type: 'bool', id: 2 },
        int_value: { type: 'int64', id: 3 },
        double_value: { type: 'double', id: 4 },
      },
    },
    Span: {
      fields: {
        trace_id: { type: 'bytes', id: 1 },
        span_id: { type: 'bytes', id: 2 },
        parent_span_id: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
      },
    },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ResourceSpans: {
      fields: {
        resource: { type: 'Resource', id: 1 },
        scope_spans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
      },
    },
    ExportTraceServiceRequest: {
      fields: { resource_spans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } },
    },
  },
});

interface Received {
  traceId: string;
  spanId: string;
  parent: string;
  name: string;
  attributes: Record<string, unknown>;
  pid: unknown;
}

type Message = Record<string, unknown>;
const hex = (bytes: unknown) => Buffer.from((bytes as Uint8Array | undefined) ?? []).toString('hex');
const attributesOf = (list: unknown) =>
  Object.fromEntries(
    ((list as Message[] | undefined) ?? []).map((kv) => {
      const value = (kv.value ?? {}) as Message;
      return [
        kv.key,
        value.string_value ?? value.int_value?.toString() ?? value.bool_value ?? value.double_value,
      ];
    }),
  );

/** A loopback OTLP/HTTP traces receiver: every span it was sent, decoded. */
async function receiver(): Promise<{ server: Server; url: string; spans: Received[] }> {
  const spans: Received[] = [];
  const Request = OTLP.lookupType('ExportTraceServiceRequest');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      assert.equal(req.headers['content-type'], 'application/x-protobuf');
      const message = Request.toObject(Request.decode(Buffer.concat(chunks)));
      for (const rs of (message.resource_spans as Message[] | undefined) ?? []) {
        const pid = attributesOf((rs.resource as Message | undefined)?.attributes)['process.pid'];
        for (const ss of (rs.scope_spans as Message[] | undefined) ?? [])
          for (const s of (ss.spans as Message[] | undefined) ?? [])
            spans.push({
              traceId: hex(s.trace_id),
              spanId: hex(s.span_id),
              parent: hex(s.parent_span_id),
              name: s.name as string,
              attributes: attributesOf(s.attributes),
              pid,
            });
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${port}`, spans };
}

const IRIS = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

describe('traces exported over OTLP/HTTP from 2 workers', () => {
  let otlp: Awaited<ReturnType<typeof receiver>>;
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

  /** The trace a caller started, as the receiver got it: the server span, and the model span under it. */
  const joined = async (traceId: string, callerSpan: string) => {
    const spans = () => otlp.spans.filter((s) => s.traceId === traceId);
    await waitFor(
      () => spans().some((s) => s.name === 'InferRequest') && spans().some((s) => s.name === 'compute'),
      {
        what: `the spans of trace ${traceId} arrive`,
      },
    );
    const root = spans().find((s) => s.name === 'InferRequest')!;
    assert.equal(root.parent, callerSpan, "the server span is the caller's span's child");
    const model = spans().find((s) => s.name === 'iris');
    assert.ok(model, 'the model span');
    assert.equal(model.parent, root.spanId);
    assert.equal(model.attributes['triton.model_name'], 'iris');
    return root;
  };

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
    assert.ok(otlp.spans.every((s) => s.pid !== undefined));
    assert.ok(new Set(otlp.spans.map((s) => s.pid)).size >= 1);
  });
});
