// The server's bounds end to end, on the built server as a real process: error messages that quote a bounded excerpt
// on every protocol, deep load overrides refused over REST and gRPC, and a stalled stream reader that costs the
// server's process at most its bound.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { grpcClient, irisRequest, rejection, type GrpcClient, type StreamAnswer } from '../grpc.js';
import { startServer, type Running } from '../server.js';

/** The 8 KiB of metadata grpc-js and grpcio clients accept: status details must stay well within it. */
const METADATA_LIMIT = 8 * 1024;

describe('bounds, end to end', () => {
  let server: Running;
  let client: GrpcClient;

  before(async () => {
    server = await startServer({ SERVAL_WORKERS: '1', SERVAL_LOG_LEVEL: 'warn' });
    client = grpcClient(server.grpcAddress);
  });
  after(() => {
    client.close();
    server.child.kill('SIGKILL');
  });

  it('refuses a shape of 100,000 dims with a short message naming the limit, on REST and gRPC', async () => {
    const shape = Array<number>(100_000).fill(1);
    const request = irisRequest();
    const unary = await rejection(
      client.call('ModelInfer', { ...request, inputs: [{ ...request.inputs[0], shape }] }),
    );
    assert.equal(unary.code, status.INVALID_ARGUMENT, `${unary.code}: ${unary.details.slice(0, 200)}`);
    assert.match(unary.details, /has 100000 dimensions; at most 16 are allowed/);
    assert.ok(unary.details.length < METADATA_LIMIT / 4, `${unary.details.length} characters`);

    const stream = client.stream();
    const answers: StreamAnswer[] = [];
    stream.on('data', (m: StreamAnswer) => answers.push(m));
    const ended = new Promise<ServiceError | null>((resolve) => {
      stream.on('error', resolve);
      stream.on('end', () => resolve(null));
    });
    stream.write({ ...request, inputs: [{ ...request.inputs[0], shape }] });
    stream.end();
    assert.equal(await ended, null);
    assert.match(answers[0]?.error_message ?? '', /at most 16 are allowed/);
    assert.ok((answers[0]?.error_message.length ?? Infinity) < METADATA_LIMIT / 4);

    const res = await fetch(`${server.base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape, data: [] }] }),
    });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: string };
    assert.match(error, /shape must NOT have more than 16 items/);
    assert.ok(error.length < 300, `${error.length} characters`);
  });

  it('refuses a load override whose features nest 5,000 deep, over REST and gRPC, and keeps serving', async () => {
    const config = `{"features": ${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const res = await fetch(`${server.base}/v2/repository/models/iris/load`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parameters: { config } }),
    });
    assert.equal(res.status, 400);
    assert.match(
      ((await res.json()) as { error: string }).error,
      /parameters\.config nests arrays and objects more than 32 deep/,
    );
    const err = await rejection(
      client.call('RepositoryModelLoad', {
        model_name: 'iris',
        parameters: { config: { string_param: config } },
      }),
    );
    assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    assert.match(err.details, /parameters\.config nests arrays and objects more than 32 deep/);
    await client.call('ModelInfer', irisRequest());
  });

  it('quotes at most an excerpt of a long name, over gRPC whose schema has no length limit', async () => {
    const request = irisRequest();
    const name = 'n'.repeat(1_000_000);
    const err = await rejection(
      client.call('ModelInfer', { ...request, inputs: [{ ...request.inputs[0], name }] }),
    );
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /unknown input "n{64}…"; the model's inputs are "input"/);
  });
});
