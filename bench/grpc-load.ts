// A gRPC load generator, the counterpart of autocannon for the bench: a fixed number of unary calls kept in flight
// over a few HTTP/2 connections, each request pre-encoded (as autocannon sends fixed bytes), every OK latency kept
// for percentiles that merge with the HTTP runs'. The calls are gRPC's wire format written on node:http2 (a length-
// prefixed message, grpc-status in the trailers): @grpc/grpc-js's client costs about 300 µs of CPU per call here,
// six times autocannon's per request, and on two shared cores the bench would measure the client. @grpc/grpc-js
// checks the server first (waitForGrpc) and docs/benchmarks.md says what it does under the same load.
import { connect, type ClientHttp2Session } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import type { LoadRun } from './load.js';

export interface GrpcLoadSpec {
  /** host:port */
  address: string;
  /** The full method path, e.g. /inference.GRPCInferenceService/ModelInfer. */
  method: string;
  /** The encoded request message. */
  body: Buffer;
  /** Calls in flight at any time. */
  concurrency: number;
  durationS: number;
}

/** Calls in flight per connection: gRPC multiplexes, so 64 calls go over 4 connections. */
const CALLS_PER_CONNECTION = 16;

const same = (value: Buffer): Buffer => value;

const STATUS_NAMES = Object.fromEntries(
  Object.entries(status)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([n, c]) => [c, n]),
);

function clients(address: string, count: number): Client[] {
  return Array.from(
    { length: count },
    () =>
      new Client(address, credentials.createInsecure(), {
        'grpc.max_receive_message_length': 2 ** 31 - 1,
        'grpc.max_send_message_length': 2 ** 31 - 1,
        // Connections of their own: grpc-js would otherwise share one between clients with equal settings.
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
}

/** One call; resolves with its status code and the answer's bytes. */
export function callOnce(
  client: Client,
  method: string,
  body: Buffer,
): Promise<{ code: status; answer?: Buffer; details?: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, same, same, body, new Metadata(), {}, (err, answer) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ code: status.OK, ...(answer ? { answer } : {}) });
    });
  });
}

/** Waits until a gRPC server answers a call (it listens just after HTTP says ready). */
export async function waitForGrpc(
  address: string,
  method: string,
  body: Buffer,
  timeoutMs = 10_000,
): Promise<void> {
  const [client] = clients(address, 1) as [Client];
  const until = performance.now() + timeoutMs;
  try {
    for (;;) {
      const { code, details } = await callOnce(client, method, body);
      if (code === status.OK) return;
      if (performance.now() > until)
        throw new Error(`gRPC ${address} answered ${STATUS_NAMES[code]}: ${details}`);
      await sleep(50);
    }
  } finally {
    client.close();
  }
}

/** A message as gRPC frames it: a compression flag (0), its length (4 bytes, big-endian), the bytes. */
function framed(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** One unary call on a session; resolves with its grpc-status (-1: none came, -2: the stream failed). */
function h2call(session: ClientHttp2Session, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let code = -1;
    // A trailers-only answer (an error before any message) carries grpc-status in its headers.
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) code = Number(headers['grpc-status']);
    });
    stream.on('trailers', (trailers) => {
      code = Number(trailers['grpc-status']);
    });
    stream.on('data', () => undefined);
    stream.on('end', () => resolve(code));
    stream.on('error', () => resolve(-2));
    stream.end(body);
  });
}

export async function runGrpcLoad(spec: GrpcLoadSpec): Promise<LoadRun> {
  const sessions = Array.from(
    { length: Math.max(1, Math.ceil(spec.concurrency / CALLS_PER_CONNECTION)) },
    () => connect(`http://${spec.address}`),
  );
  const body = framed(spec.body);
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const end = started + spec.durationS * 1000;
  const loop = async (session: ClientHttp2Session) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const code = await h2call(session, spec.method, body);
      const name = STATUS_NAMES[code] ?? String(code);
      statusCodes[name] = (statusCodes[name] ?? 0) + 1;
      if (code === 0) {
        ok++;
        latencies.push(performance.now() - t0);
      } else failed++;
    }
  };
  await Promise.all(
    Array.from({ length: spec.concurrency }, (_, i) =>
      loop(sessions[i % sessions.length] as ClientHttp2Session),
    ),
  );
  const durationS = (performance.now() - started) / 1000;
  for (const session of sessions) session.close();
  return {
    durationS,
    ok,
    non2xx: failed,
    errors: 0,
    timeouts: 0,
    statusCodes,
    headerValues: {},
    latenciesMs: Float64Array.from(latencies),
  };
}
