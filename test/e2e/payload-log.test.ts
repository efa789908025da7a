// Payload logging end to end: a real server sends every protocol's requests and answers to a loopback CloudEvents
// receiver as KServe's logger does; a sink that is down, hangs or fails changes nothing for clients, and what is
// lost is counted in /metrics; SIGTERM sends what is queued before the process exits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadDefinitions, SERVICE_NAME } from '../../src/grpc/definitions.js';
import { grpcClient, irisRequest } from '../grpc.js';
import { binaryRequest, rawBytes } from '../oip.js';
import { payloadEvents, startReceiver, type Receiver } from '../receiver.js';
import { startServer, type Running } from '../server.js';
import { waitFor } from '../wait.js';

const ROW = [5.1, 3.5, 1.4, 0.2];
const V1_BODY = JSON.stringify({ instances: [ROW] });
const V2_BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] });

const post = (base: string, path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

describe('payload logging to a CloudEvents receiver', () => {
  let receiver: Receiver;
  let server: Running;
  before(async () => {
    receiver = await startReceiver();
    server = await startServer(
      {
        SERVAL_WORKERS: '2',
        SERVAL_PAYLOAD_LOG_URL: receiver.url,
        SERVAL_PAYLOAD_LOG_HEADERS: 'x-request-id,x-tenant',
        SERVAL_PAYLOAD_LOG_NAMESPACE: 'models',
      },
      { workers: 2 },
    );
  });
  after(async () => {
    server.child.kill('SIGKILL');
    await receiver.close();
  });

  const pairOf = (id: string) =>
    waitFor(
      () => {
        const pair = receiver.pair(id);
        return pair.request && pair.response && (pair as Required<typeof pair>);
      },
      { what: `both events of ${id} arrive` },
    );

  it('logs a V1 request and its answer as one pair, the bodies as they travelled', async () => {
    const res = await post(server.base, '/v1/models/iris:predict', V1_BODY, { 'ce-id': 'v1-pair' });
    assert.equal(res.status, 200);
    const answer = await res.text();
    const { request, response } = await pairOf('v1-pair');
    assert.equal(request.type, 'org.kubeflow.serving.inference.request');
    assert.equal(response.type, 'org.kubeflow.serving.inference.response');
    assert.deepEqual(request.data, JSON.parse(V1_BODY));
    assert.equal(request.datacontenttype, 'application/json');
    assert.deepEqual(response.data, JSON.parse(answer));
    for (const event of [request, response]) {
      assert.equal(event.inferenceservicename, 'iris');
      assert.equal(event.modelversion, '1');
      assert.equal(event.namespace, 'models');
      assert.equal(event.component, 'predictor');
      assert.equal(event.endpoint, 'default');
      assert.match(event.source, /^http:\/\/localhost:\d+\/$/);
    }
  });

  it('copies the allow-listed headers into metadata, and never authorization or cookies', async () => {
    const res = await post(server.base, '/v2/models/iris/infer', V2_BODY, {
      'ce-id': 'v2-headers',
      'x-request-id': 'abc-1',
      'x-tenant': 'acme',
      'x-unlisted': 'no',
      authorization: 'Bearer secret-token',
      cookie: 'session=secret',
    });
    assert.equal(res.status, 200);
    const { request, response } = await pairOf('v2-headers');
    const expected = { 'X-Request-Id': ['abc-1'], 'X-Tenant': ['acme'] };
    assert.deepEqual(JSON.parse(request.metadata as string), expected);
    assert.deepEqual(JSON.parse(response.metadata as string), expected);
    assert.deepEqual(request.data, JSON.parse(V2_BODY));
    assert.equal((response.data as { model_name: string }).model_name, 'iris');
  });

  it('logs a V2 binary request as its bytes, with the JSON header length', async () => {
    const { payload, headers } = binaryRequest([
      { name: 'input', datatype: 'FP32', shape: [1, 4], bytes: rawBytes(Float32Array.from(ROW)) },
    ]);
    const res = await post(server.base, '/v2/models/iris/infer', payload, {
      ...headers,
      'content-type': 'application/octet-stream',
      'ce-id': 'v2-binary',
    });
    assert.equal(res.status, 200);
    const { request } = await pairOf('v2-binary');
    assert.equal(request.datacontenttype, 'application/octet-stream');
    assert.ok(Buffer.from(request.data as Uint8Array).equals(payload), 'the body as sent');
    assert.equal(request.jsonheaderlength, headers['inference-header-content-length']);
  });

  it('logs a gRPC request and answer as their protobuf messages', async () => {
    const client = grpcClient(server.grpcAddress);
    try {
      await client.call('ModelInfer', irisRequest({ id: 'grpc-1' }), { 'ce-id': 'grpc-pair' });
    } finally {
      client.close();
    }
    const { request, response } = await pairOf('grpc-pair');
    assert.match(
      request.datacontenttype as string,
      /^application\/x-protobuf; messageType="inference\.ModelInferRequest"$/,
    );
    const method = loadDefinitions().packageDefinition[SERVICE_NAME] as Record<
      string,
      MethodDefinition<unknown, unknown>
    >;
    const infer = method.ModelInfer as MethodDefinition<unknown, unknown>;
    const sent = infer.requestDeserialize(Buffer.from(request.data as Uint8Array)) as {
      model_name: string;
      id: string;
    };
    assert.equal(sent.model_name, 'iris');
    assert.equal(sent.id, 'grpc-1');
    const answered = infer.responseDeserialize(Buffer.from(response.data as Uint8Array)) as {
      id: string;
      model_name: string;
    };
    assert.equal(answered.id, 'grpc-1');
    assert.equal(answered.model_name, 'iris');
  });

  it('counts the events it sent in /metrics', async () => {
    await waitFor(async () => ((await payloadEvents(server.base)).sent ?? 0) >= 8, {
      what: '8 events counted as sent',
    });
    const counts = await payloadEvents(server.base);
    assert.equal(counts.dropped, 0);
    assert.equal(counts.failed, 0);
  });
});
