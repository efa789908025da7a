// ModelStreamInfer's flow control: a stream whose reader stalls stops reading requests past its bound in bytes, and
// all streams of a process past theirs; it reads on as the client reads, and answers every request it read, in order.
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MethodDefinition } from '@grpc/grpc-js';
import type { Config } from '../../src/config/schema.js';
import { loadDefinitions, SERVICE_NAME } from '../../src/grpc/definitions.js';
import { irisRequest, loadedGrpc, type StreamAnswer } from '../grpc.js';

const methods = loadDefinitions().packageDefinition[SERVICE_NAME] as Record<
  string,
  MethodDefinition<unknown, unknown>
>;
const infer = methods.ModelInfer!;
const stream = methods.ModelStreamInfer!;

// 500 rows: 8,000 bytes of request, about 10,000 of answer.
const ROWS = Array.from({ length: 500 }, (_, i) => [5 + (i % 3), 3, 1.4, 0.2]);
const REQUESTS = 2000;

function framed(id: string): Buffer {
  const message = infer.requestSerialize(irisRequest({ id }, ROWS));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** A ModelStreamInfer stream on a raw HTTP/2 session, its REQUESTS requests written, nothing read. */
function stalledStream(session: ClientHttp2Session, prefix: string): ClientHttp2Stream {
  const call = session.request({
    ':method': 'POST',
    ':path': `/${SERVICE_NAME}/ModelStreamInfer`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  call.pause();
  for (let i = 0; i < REQUESTS; i++) call.write(framed(`${prefix}${i}`));
  return call;
}

/** Reads every answer, ends the stream; resolves with the ids in the order they came and the grpc-status. */
async function readAll(call: ClientHttp2Stream): Promise<{ ids: string[]; status: unknown }> {
  const ids: string[] = [];
  let buffered = Buffer.alloc(0);
  const trailers = new Promise<Record<string, unknown>>((resolve) => call.on('trailers', resolve));
  call.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const length = buffered.readUInt32BE(1);
      const answer = stream.responseDeserialize(buffered.subarray(5, 5 + length)) as StreamAnswer;
      ids.push(answer.infer_response?.id ?? answer.error_message);
      buffered = buffered.subarray(5 + length);
    }
  });
  call.resume();
  call.end();
  return { ids, status: (await trailers)['grpc-status'] };
}

/** Stalls `streams` readers on a server with these bounds; how many requests ran while they stalled. */
async function stall(overrides: Partial<Config>, streams: number) {
  const grpc = await loadedGrpc(overrides);
  const ran = async () => {
    const [iris] = await grpc.core.statistics('iris');
    return iris?.inference_stats.success.count ?? 0;
  };
  const start = await ran();
  const session = connect(`http://127.0.0.1:${grpc.port}`, { maxSessionMemory: 512 });
  const calls = Array.from({ length: streams }, (_, i) => stalledStream(session, `${i}-`));
  await sleep(1500);
  const whileStalled = (await ran()) - start;
  const outcomes = [];
  for (const call of calls) outcomes.push(await readAll(call));
  session.close();
  await grpc.close();
  return { whileStalled, outcomes };
}

const inOrder = (ids: string[], prefix: string) => ids.every((id, i) => id === `${prefix}${i}`);

describe('ModelStreamInfer flow control', () => {
  it('stops reading requests past grpcStreamMaxPendingBytes while the reader stalls; then answers all, in order', async () => {
    const { whileStalled, outcomes } = await stall({ grpcStreamMaxPendingBytes: 65_536 }, 1);
    // 64 KiB hold about 8 requests in progress or answers unsent: the stream stopped reading after about as many.
    assert.ok(whileStalled < 40, `${whileStalled} of ${REQUESTS} requests ran while the reader stalled`);
    const [{ ids, status } = { ids: [], status: undefined }] = outcomes;
    assert.equal(status, '0');
    assert.equal(ids.length, REQUESTS);
    assert.ok(inOrder(ids, '0-'), 'every request answered, in order');
  });

  it('holds all streams of a process to grpcAllStreamsMaxPendingBytes: past it, each runs one request at a time', async () => {
    const { whileStalled, outcomes } = await stall(
      { grpcStreamMaxPendingBytes: 64 * 2 ** 20, grpcAllStreamsMaxPendingBytes: 65_536 },
      3,
    );
    assert.ok(whileStalled < 60, `${whileStalled} of ${3 * REQUESTS} requests ran while the readers stalled`);
    outcomes.forEach(({ ids, status }, i) => {
      assert.equal(status, '0');
      assert.equal(ids.length, REQUESTS);
      assert.ok(inOrder(ids, `${i}-`), `stream ${i}: every request answered, in order`);
    });
  });

  it('bounds the calls open at once on one connection: grpcMaxConcurrentStreams, in HTTP/2 SETTINGS', async () => {
    const grpc = await loadedGrpc({ grpcMaxConcurrentStreams: 7 });
    const session = connect(`http://127.0.0.1:${grpc.port}`);
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    assert.equal(session.remoteSettings.maxConcurrentStreams, 7);
    session.close();
    await grpc.close();
  });
});
