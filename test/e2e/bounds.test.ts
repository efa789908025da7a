// The server's bounds end to end, on the built server as a real process: error messages that quote a bounded excerpt
// on every protocol, deep load overrides refused over REST and gRPC, and a stalled stream reader that costs the
// server's process at most its bound.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type ClientHttp2Stream } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadDefinitions, SERVICE_NAME } from '../../src/grpc/definitions.js';
import { grpcClient, irisRequest, rejection, type GrpcClient, type StreamAnswer } from '../grpc.js';
import { startServer, type Running } from '../server.js';

const methods = loadDefinitions().packageDefinition[SERVICE_NAME] as Record<
  string,
  MethodDefinition<unknown, unknown>
>;
const infer = methods.ModelInfer!;
const streamMethod = methods.ModelStreamInfer!;

/** A process's resident memory in MB, from /proc. */
function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** A message as gRPC frames it: no compression, a 4-byte big-endian length, the bytes. */
function framed(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** Reads gRPC frames from a stream's data, each decoded as a ModelStreamInferResponse. */
function answersOf(stream: ClientHttp2Stream, onAnswer: (answer: StreamAnswer) => void): void {
  let buffered = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const length = buffered.readUInt32BE(1);
      onAnswer(streamMethod.responseDeserialize(buffered.subarray(5, 5 + length)) as StreamAnswer);
      buffered = buffered.subarray(5 + length);
    }
  });
}

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

  it(
    'holds at most its bound for a stream whose reader stalls over 10,000 requests, then answers them all in order',
    {
      timeout: 120_000,
    },
    async () => {
      const pid = server.child.pid!;
      // 500 rows: 8,000 bytes of request and about 10,000 of answer each.
      const rows = Array.from({ length: 500 }, (_, i) => [5 + (i % 3), 3, 1.4, 0.2]);
      const request = (id: string) => framed(infer.requestSerialize(irisRequest({ id }, rows)));
      // The client keeps what the server does not read yet (80 MB): past Node's default 10 MB it would refuse it.
      const session = connect(`http://${server.grpcAddress}`, { maxSessionMemory: 512 });
      const open = () =>
        session.request({
          ':method': 'POST',
          ':path': `/${SERVICE_NAME}/ModelStreamInfer`,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
      // Warm up: a stream of 500 read as it goes, so that what follows measures holding, not first use.
      const warm = open();
      let warmed = 0;
      answersOf(warm, () => warmed++);
      for (let i = 0; i < 500; i++) warm.write(request(`w${i}`));
      warm.end();
      await new Promise((resolve) => warm.on('end', resolve));
      assert.equal(warmed, 500);
      await sleep(500);
      const before = rssMb(pid);

      const stalled = open();
      stalled.pause(); // nothing read: the client's HTTP/2 window fills and the server's writes wait
      for (let i = 0; i < 10_000; i++) stalled.write(request(`s${i}`));
      let peak = before;
      for (let i = 0; i < 16; i++) {
        await sleep(250);
        peak = Math.max(peak, rssMb(pid));
      }
      // The server stopped reading: most of the 80 MB of requests are still the client's to send.
      const unsent = stalled.writableLength / 2 ** 20;
      assert.ok(
        unsent > 40,
        `only ${unsent.toFixed(0)} MB of the requests are still unsent: the server read on`,
      );
      const grown = peak - before;
      // The stream's 8 MiB of requests and answers (answers also in grpc-js's framed copies), the requests that the
      // server's 16 MiB HTTP/2 window lets in unread, and the garbage of the answers computed until then.
      assert.ok(
        grown < 80,
        `the server grew ${grown.toFixed(0)} MB (from ${before.toFixed(0)} MB) for a stalled reader`,
      );

      const ids: string[] = [];
      const trailers = new Promise<Record<string, unknown>>((resolve) => stalled.on('trailers', resolve));
      answersOf(stalled, (answer) => ids.push(answer.infer_response?.id ?? answer.error_message));
      stalled.resume();
      stalled.end();
      assert.equal((await trailers)['grpc-status'], '0');
      assert.equal(ids.length, 10_000);
      assert.ok(
        ids.every((id, i) => id === `s${i}`),
        'every request answered, in order',
      );
      session.close();
    },
  );
});
