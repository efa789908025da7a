// A loopback OTLP/HTTP traces receiver for end-to-end tests: it decodes what it gets by its content type, protobuf with
// its own schema of the OTLP messages (protobufjs, field numbers from opentelemetry-proto) or OTLP/JSON (camelCase
// fields, hex ids), so the spans are read independently of the exporter that wrote them.
import { createServer, type Server } from 'node:http';
import protobuf from 'protobufjs';
import { freePort } from '../helpers.js';

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

export interface Received {
  traceId: string;
  spanId: string;
  parent: string;
  name: string;
  attributes: Record<string, unknown>;
  pid: unknown;
}

/** Each export request as it came: its path and content type. */
export interface Export {
  path: string | undefined;
  contentType: string | undefined;
}

export interface OtlpReceiver {
  server: Server;
  url: string;
  spans: Received[];
  exports: Export[];
}

type Message = Record<string, unknown>;
const list = (value: unknown) => (value as Message[] | undefined) ?? [];

/** A value of an attribute, by the protobuf's field names or the JSON's (whose 64-bit ints may be strings). */
const valueOf = (value: Message): unknown =>
  value.string_value ??
  value.stringValue ??
  (value.int_value ?? value.intValue)?.toString() ??
  value.bool_value ??
  value.boolValue ??
  value.double_value ??
  value.doubleValue;

const attributesOf = (attributes: unknown) =>
  Object.fromEntries(list(attributes).map((kv) => [kv.key, valueOf((kv.value ?? {}) as Message)]));

/** The spans of an ExportTraceServiceRequest, its field names and its ids' encoding given. */
function spansOf(request: Message, json: boolean): Received[] {
  const field = (message: Message, snake: string, camel: string) => message[json ? camel : snake];
  const id = (value: unknown) =>
    json
      ? ((value as string | undefined) ?? '')
      : Buffer.from((value as Uint8Array | undefined) ?? []).toString('hex');
  const spans: Received[] = [];
  for (const rs of list(field(request, 'resource_spans', 'resourceSpans'))) {
    const pid = attributesOf((rs.resource as Message | undefined)?.attributes)['process.pid'];
    for (const ss of list(field(rs, 'scope_spans', 'scopeSpans')))
      for (const s of list(ss.spans))
        spans.push({
          traceId: id(field(s, 'trace_id', 'traceId')),
          spanId: id(field(s, 'span_id', 'spanId')),
          parent: id(field(s, 'parent_span_id', 'parentSpanId')),
          name: s.name as string,
          attributes: attributesOf(s.attributes),
          pid,
        });
  }
  return spans;
}

/** A loopback OTLP/HTTP traces receiver: every span it was sent, decoded, and how each export came. */
export async function receiver(): Promise<OtlpReceiver> {
  const spans: Received[] = [];
  const exports: Export[] = [];
  const Request = OTLP.lookupType('ExportTraceServiceRequest');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'];
      exports.push({ path: req.url, contentType });
      const body = Buffer.concat(chunks);
      const json = contentType === 'application/json';
      const message = json
        ? (JSON.parse(body.toString()) as Message)
        : Request.toObject(Request.decode(body));
      spans.push(...spansOf(message, json));
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : undefined);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${port}`, spans, exports };
}
