// gRPC for tests: a server over its own loaded core on a free port, a @grpc/grpc-js client of
// inference.GRPCInferenceService built from the same .proto, and requests as tritonclient.grpc builds them.
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { Config } from '../src/config/schema.js';
import type { FastifyInstance } from 'fastify';
import { createAccess } from '../src/auth/access.js';
import { createCore, type Core, type CoreOptions } from '../src/core/core.js';
import { buildApp } from '../src/http/app.js';
import { loadDefinitions } from '../src/grpc/definitions.js';
import { createGrpcServer, type GrpcServer } from '../src/grpc/server.js';
import { testConfig } from './helpers.js';
import { rawBytes } from './oip.js';

type UnaryMethod = (
  request: unknown,
  metadata: Metadata,
  options: CallOptions,
  callback: (err: ServiceError | null, response: unknown) => void,
) => unknown;

export interface GrpcClient {
  /** One unary call; rejects with the ServiceError (code, details, metadata). */
  call<T = Record<string, unknown>>(
    method: string,
    request: unknown,
    metadata?: Record<string, string>,
    options?: CallOptions,
  ): Promise<T>;
  /** A unary call that can be cancelled while in flight, as a client that goes away does. */
  start<T = Record<string, unknown>>(
    method: string,
    request: unknown,
  ): { answer: Promise<T>; cancel(): void };
  /** A ModelStreamInfer call. */
  stream(metadata?: Record<string, string>): ClientDuplexStream<unknown, StreamAnswer>;
  close(): void;
}

export interface StreamAnswer {
  error_message: string;
  infer_response: InferAnswer | null;
}

export interface InferAnswer {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

const definitions = loadDefinitions();
const Service = (loadPackageDefinition(definitions.packageDefinition).inference as Record<string, unknown>)
  .GRPCInferenceService as new (
  address: string,
  credentials: ChannelCredentials,
  options: Record<string, number | string>,
) => Record<string, unknown> & { close(): void };

const metadataOf = (values: Record<string, string>) => {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(values)) metadata.set(key, value);
  return metadata;
};

/** A client on its own connection (no subchannel shared with other clients), allowing 2 GiB as tritonclient does. */
export function grpcClient(
  address: string,
  channel: ChannelCredentials = credentials.createInsecure(),
  options: Record<string, number | string> = {},
): GrpcClient {
  const client = new Service(address, channel, {
    'grpc.max_receive_message_length': 2 ** 31 - 1,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc.use_local_subchannel_pool': 1,
    ...options,
  });
  return {
    call: <T>(method: string, request: unknown, metadata = {}, callOptions: CallOptions = {}) =>
      new Promise<T>((resolve, reject) => {
        const fn = client[method] as UnaryMethod;
        fn.call(client, request, metadataOf(metadata), callOptions, (err, response) =>
          err ? reject(err) : resolve(response as T),
        );
      }),
    start: <T>(method: string, request: unknown) => {
      let cancel = () => undefined as unknown;
      const answer = new Promise<T>((resolve, reject) => {
        const fn = client[method] as UnaryMethod;
        const call = fn.call(client, request, new Metadata(), {}, (err, response) =>
          err ? reject(err) : resolve(response as T),
        ) as { cancel(): void };
        cancel = () => call.cancel();
      });
      return { answer, cancel: () => void cancel() };
    },
    stream: (metadata = {}) =>
      (client.ModelStreamInfer as (m: Metadata) => ClientDuplexStream<unknown, StreamAnswer>).call(
        client,
        metadataOf(metadata),
      ),
    close: () => client.close(),
  };
}

export interface RunningGrpc {
  core: Core;
  server: GrpcServer;
  port: number;
  client: GrpcClient;
  close(): Promise<void>;
}

/**
 * A gRPC server over its own core with every model loaded, on 127.0.0.1 and a free port, with a client; `options`
 * go to the core (where spans go, in tracing tests).
 */
export async function loadedGrpc(
  overrides: Partial<Config> = {},
  logger?: Logger,
  options: CoreOptions = {},
): Promise<RunningGrpc> {
  const config = testConfig({ grpcHost: '127.0.0.1', grpcPort: 0, ...overrides });
  const core = await createCore(config, logger ?? pino({ level: config.logLevel }), options);
  await core.start();
  const server = await createGrpcServer(config, core);
  const port = await server.listen();
  const client = grpcClient(`127.0.0.1:${port}`);
  return {
    core,
    server,
    port,
    client,
    close: async () => {
      client.close();
      await server.close(2000);
      await core.close();
    },
  };
}

export interface FrontEnds {
  core: Core;
  /** Ready; listening on 127.0.0.1 at `base` when asked to. */
  app: FastifyInstance;
  base: string | undefined;
  client: GrpcClient;
  close(): Promise<void>;
}

/**
 * One core behind both front ends, as the entry point builds them (one verifier and one limiter for both): the HTTP
 * app and a gRPC server on a free port, with a client; every model loaded.
 */
export async function frontEnds(overrides: Partial<Config> = {}, listen = false): Promise<FrontEnds> {
  const config = testConfig({ grpcHost: '127.0.0.1', grpcPort: 0, ...overrides });
  const core = await createCore(config, pino({ level: config.logLevel }));
  await core.start();
  const access = await createAccess(config, core);
  const app = await buildApp(config, core, access);
  await app.ready();
  const base = listen ? await app.listen({ host: '127.0.0.1', port: 0 }) : undefined;
  const server = await createGrpcServer(config, core, access);
  const client = grpcClient(`127.0.0.1:${await server.listen()}`);
  return {
    core,
    app,
    base,
    client,
    close: async () => {
      client.close();
      await server.close(2000);
      await app.close();
      await core.close();
    },
  };
}

/** A ModelInferRequest with raw contents, as tritonclient.grpc always sends. */
export function rawRequest(
  model: string,
  inputs: { name: string; datatype: string; shape: number[]; data: ArrayBufferView | string[] }[],
  rest: { id?: string; outputs?: unknown[]; model_version?: string } = {},
) {
  return {
    model_name: model,
    ...rest,
    inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_input_contents: inputs.map((i) => Buffer.from(rawBytes(i.data))),
  };
}

export const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

export function irisRequest(rest: Parameters<typeof rawRequest>[2] = {}, rows = IRIS_ROWS) {
  return rawRequest(
    'iris',
    [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: Float32Array.from(rows.flat()) }],
    rest,
  );
}

/** An output's raw contents as a typed array or strings, by the response's outputs. */
export function outputOf(answer: InferAnswer, name: string): { shape: number[]; values: unknown[] } {
  const index = answer.outputs.findIndex((o) => o.name === name);
  const output = answer.outputs[index];
  const raw = answer.raw_output_contents[index];
  if (!output || !raw) throw new Error(`no output ${name}`);
  const bytes = new Uint8Array(raw).buffer;
  const values: Record<string, () => unknown[]> = {
    FP32: () => Array.from(new Float32Array(bytes)),
    INT64: () => Array.from(new BigInt64Array(bytes)),
    BOOL: () => Array.from(new Uint8Array(bytes), (b) => b === 1),
    BYTES: () => {
      const out: string[] = [];
      for (let at = 0; at < raw.length;) {
        const length = raw.readUInt32LE(at);
        out.push(raw.subarray(at + 4, at + 4 + length).toString('utf8'));
        at += 4 + length;
      }
      return out;
    },
  };
  const read = values[output.datatype];
  if (!read) throw new Error(`no reader for ${output.datatype}`);
  return { shape: output.shape.map(Number), values: read() };
}

/** The error a call failed with; fails the test if it succeeded. */
export function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error('the call succeeded');
    },
    (err: unknown) => err as ServiceError,
  );
}
