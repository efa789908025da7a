// Requests whose bytes are not a valid message, sent as they are over a real gRPC connection (a grpc-js client with
// identity serializers): INVALID_ARGUMENT saying where decoding stopped, on unary and streaming RPCs of every service.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Client,
  credentials,
  Metadata,
  status,
  type MethodDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadDefinitions, SERVICE_NAME } from '../../src/grpc/definitions.js';
import { irisRequest, loadedGrpc, type InferAnswer, type RunningGrpc } from '../grpc.js';

const { packageDefinition } = loadDefinitions();
const methods = packageDefinition[SERVICE_NAME] as Record<string, MethodDefinition<unknown, unknown>>;
const infer = methods.ModelInfer!;
const stream = methods.ModelStreamInfer!;
const same = (value: Buffer): Buffer => value;
const path = (method: string) => `/${SERVICE_NAME}/${method}`;

/** The error a call ended with; fails the test if it was answered. */
function refused(result: ServiceError | Buffer, what: string): ServiceError {
  if (Buffer.isBuffer(result)) throw new Error(`${what}: answered OK`);
  return result;
}

const VALID = infer.requestSerialize(irisRequest({ id: 'ok' }));

/** The hostile trial's messages: what no valid message holds. */
const MALFORMED: [string, Buffer][] = [
  ['a truncated varint', Buffer.concat([VALID, Buffer.from([0x78, 0x80])])],
  ['wire type 7', Buffer.concat([VALID, Buffer.from([0x7f, 0x00])])],
  ['a stray end-group', Buffer.concat([VALID, Buffer.from([0x7c])])],
  ['groups nested 5,000 deep', Buffer.concat([VALID, Buffer.alloc(10_000, Buffer.from([0xa3, 0x01]))])],
  ['a length prefix of 2^32', Buffer.concat([VALID, Buffer.from([0x1a, 0x80, 0x80, 0x80, 0x80, 0x10])])],
  ['a length prefix of 2^63', Buffer.concat([VALID, Buffer.from([0x1a, ...Array<number>(9).fill(0x80), 1])])],
  // A valid request, then an id whose length claims 4 GB (2^32 + 3) with 3 bytes present: protobufjs read "abc".
  [
    'an id claiming 4 GB',
    Buffer.concat([VALID, Buffer.from([0x1a, 0x83, 0x80, 0x80, 0x80, 0x10, 0x61, 0x62, 0x63])]),
  ],
  ['random bytes', Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7919 + 13) % 256))],
];

describe('malformed requests over gRPC', () => {
  let grpc: RunningGrpc;
  let client: Client;

  before(async () => {
    grpc = await loadedGrpc();
    client = new Client(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await grpc.close();
  });

  /** One unary call with these bytes as its request; resolves with the error or the answer's bytes. */
  const unary = (method: string, body: Buffer, metadata = new Metadata()) =>
    new Promise<ServiceError | Buffer>((resolve) => {
      client.makeUnaryRequest(method, same, same, body, metadata, {}, (err, answer) =>
        resolve(err ?? (answer as Buffer)),
      );
    });

  it('answers ModelInfer INVALID_ARGUMENT saying where decoding stopped, never INTERNAL', async () => {
    for (const [name, body] of MALFORMED) {
      const metadata = new Metadata();
      metadata.set('x-request-id', 'bad-1');
      const err = refused(await unary(path('ModelInfer'), body, metadata), name);
      assert.equal(err.code, status.INVALID_ARGUMENT, `${name}: ${err.code} ${err.details}`);
      assert.match(
        err.details,
        /^the request is not a valid inference\.ModelInferRequest: .+ \(at byte \d+ of \d+\)$/,
      );
      assert.deepEqual(err.metadata.get('serval-error-code'), ['INVALID_MESSAGE']);
      assert.deepEqual(err.metadata.get('x-request-id'), ['bad-1']);
    }
    const answer = await unary(path('ModelInfer'), VALID);
    assert.ok(answer instanceof Buffer, 'the valid request is answered');
    assert.equal((infer.responseDeserialize(answer) as InferAnswer).id, 'ok');
  });

  it('refuses the id that claims 4 GB with 3 bytes present, which decoded as "abc"', async () => {
    const err = refused(await unary(path('ModelInfer'), MALFORMED[6]![1]), 'the 4 GB id');
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /field 3 \(id\) claims 4294967299 bytes, but 3 remain/);
  });

  it('answers INVALID_ARGUMENT on every service: metadata RPCs, health and reflection', async () => {
    const garbage = Buffer.from([0x0a, 0x05, 0x61]);
    for (const method of [path('ServerLive'), path('ModelReady'), '/grpc.health.v1.Health/Check']) {
      const err = refused(await unary(method, garbage), method);
      assert.equal(err.code, status.INVALID_ARGUMENT, `${method}: ${err.details}`);
      assert.match(err.details, /is not a valid .+: field 1 .*claims 5 bytes, but 1 remain/);
    }
    const reflection = client.makeBidiStreamRequest(
      '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      same,
      same,
    );
    const ended = new Promise<ServiceError>((resolve) => reflection.on('error', resolve));
    reflection.on('data', () => undefined);
    reflection.write(garbage);
    reflection.end();
    assert.equal((await ended).code, status.INVALID_ARGUMENT);
  });

  it(
    'streams: answers the requests before a malformed one, in order, then ends INVALID_ARGUMENT',
    { timeout: 10_000 },
    async () => {
      const call = client.makeBidiStreamRequest(path('ModelStreamInfer'), same, same);
      const answers: string[] = [];
      call.on('data', (bytes: Buffer) => {
        const answer = stream.responseDeserialize(bytes) as { infer_response: InferAnswer | null };
        answers.push(answer.infer_response?.id ?? 'error');
      });
      const ended = new Promise<ServiceError>((resolve) => call.on('error', resolve));
      for (let i = 0; i < 5; i++) call.write(infer.requestSerialize(irisRequest({ id: `s${i}` })));
      call.write(MALFORMED[4]![1]);
      call.write(VALID); // after the malformed one: not taken
      const err = await ended;
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.match(
        err.details,
        /not a valid inference\.ModelInferRequest: field 3 \(id\) claims 4294967296 bytes/,
      );
      assert.deepEqual(answers, ['s0', 's1', 's2', 's3', 's4']);
    },
  );
});
