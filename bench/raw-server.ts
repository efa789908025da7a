// The ceiling: bare node:http (node:cluster, as many processes as Serval) answering an iris-shaped prediction, and
// with RAW_GRPC_PORT bare node:http2 answering a gRPC unary call the same way: the transports' own cost. With
// RAW_MODEL (a classifier's version folder) it is the floor instead: the same server running the model once per
// request, what inference itself adds to the transport. With RAW_FRAMEWORK=fastify as well, the floor is served by a
// Fastify app with no plugins (its default JSON parser, one route): what the framework by itself adds to the floor.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Fastify from 'fastify';
import type * as Ort from 'onnxruntime-node';

const port = Number(process.env.RAW_PORT ?? '0');
const grpcPort = process.env.RAW_GRPC_PORT === undefined ? undefined : Number(process.env.RAW_GRPC_PORT);
const host = process.env.RAW_HOST ?? '127.0.0.1';
const workers = Number(process.env.RAW_WORKERS ?? '1');
const modelFolder = process.env.RAW_MODEL;
const framework = process.env.RAW_FRAMEWORK;

// One Serval iris prediction, byte for byte, so response sizes match Serval's.
const PREDICTION =
  '{"label":"setosa","probabilities":{"setosa":0.981583297252655,"versicolor":0.018416734412312508,"virginica":1.4506358780863593e-8}}';
const responses = new Map<number, string>();

function responseFor(instances: number): string {
  let body = responses.get(instances);
  if (body === undefined) {
    body = `{"model_name":"iris","model_version":"1","predictions":[${Array<string>(instances).fill(PREDICTION).join(',')}]}`;
    if (responses.size < 64) responses.set(instances, body);
  }
  return body;
}

/** The large fixture's V2 answer as Serval writes it, for requests with binary tensors. */
const V2_LARGE =
  '{"model_name":"large","model_version":"1","outputs":[{"name":"mean","datatype":"FP32","shape":[1,3],"data":[0.49993273615837097,0.4999663829803467,0.5]}]}';

/**
 * Serval's ModelInferResponse for one iris row, as gRPC frames it (a 0 flag, a 4-byte length): model_name "iris",
 * model_version "1", outputs label INT64 [1] and probabilities FP32 [1, 3], and their raw contents.
 */
const GRPC_IRIS = ((): Buffer => {
  const field = (tag: number, bytes: Buffer) => Buffer.concat([Buffer.from([tag, bytes.length]), bytes]);
  const text = (tag: number, value: string) => field(tag, Buffer.from(value));
  const output = (name: string, datatype: string, shape: number[]) =>
    field(0x2a, Buffer.concat([text(0x0a, name), text(0x12, datatype), field(0x1a, Buffer.from(shape))]));
  const message = Buffer.concat([
    text(0x0a, 'iris'),
    text(0x12, '1'),
    output('label', 'INT64', [1]),
    output('probabilities', 'FP32', [1, 3]),
    field(0x32, Buffer.alloc(8)),
    field(0x32, Buffer.from(Float32Array.from([0.98, 0.018, 1.45e-8]).buffer)),
  ]);
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  return framed;
})();

/** Every call is answered OK with GRPC_IRIS once its message is in: grpc-status in the trailers, as gRPC does. */
function serveGrpc(listenPort: number): void {
  const server = createHttp2Server({ settings: { initialWindowSize: 16 * 1024 * 1024 } });
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      Buffer.concat(chunks);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(GRPC_IRIS);
    });
  });
  server.listen(listenPort, host);
}

function instancesOf(payload: unknown): unknown[] {
  if (typeof payload !== 'object' || payload === null || !('instances' in payload)) return [];
  return Array.isArray(payload.instances) ? payload.instances : [];
}

type Predict = (instances: unknown[]) => Promise<string>;

/** This file runs from the bench's run folder: its packages are the project's (the working directory). */
const projectRequire = createRequire(join(process.cwd(), 'package.json'));

/** As Serval's default keepAliveTimeoutMs. */
const KEEP_ALIVE_MS = 5000;

/**
 * The floor's predictions: onnxruntime-node's public API with Serval's session options, one run per request of
 * every row (feature arrays), answered as Serval answers a classifier (model.json's labels and output names).
 */
async function loadModel(folder: string): Promise<Predict> {
  const ort = projectRequire('onnxruntime-node') as typeof Ort;
  const { labels, outputs } = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as {
    labels: string[];
    outputs: { label: string; probabilities: string };
  };
  const session = await ort.InferenceSession.create(join(folder, 'model.onnx'), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { force_spinning_stop: '1' } },
  });
  const input = session.inputNames[0] ?? 'input';
  return async (instances) => {
    const rows = instances as number[][];
    const width = rows[0]?.length ?? 0;
    const data = new Float32Array(rows.length * width);
    rows.forEach((row, i) => data.set(row, i * width));
    const results = await session.run({ [input]: new ort.Tensor('float32', data, [rows.length, width]) }, [
      outputs.label,
      outputs.probabilities,
    ]);
    const ids = results[outputs.label]?.data as BigInt64Array;
    const scores = results[outputs.probabilities]?.data as Float32Array;
    const predictions = rows.map((_, i) => {
      const probabilities: Record<string, number> = {};
      labels.forEach((label, k) => (probabilities[label] = scores[i * labels.length + k] ?? 0));
      return { label: labels[Number(ids[i])], probabilities };
    });
    return JSON.stringify({ model_name: 'iris', model_version: '1', predictions });
  };
}

function reply(res: ServerResponse, status: number, payload: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

const INVALID = '{"error":"invalid request"}';

/** The floor on Fastify: the route Serval answers, no plugins, hooks, schemas or logger. */
async function serveFastify(predict: Predict): Promise<void> {
  const fastify = projectRequire('fastify') as typeof Fastify;
  const app = fastify({ logger: false, keepAliveTimeout: KEEP_ALIVE_MS });
  app.get('/', () => ({ status: 'ok' }));
  app.post('/v1/models/:model::predict', async (request, reply) =>
    reply.type('application/json; charset=utf-8').send(await predict(instancesOf(request.body))),
  );
  await app.listen({ port, host });
}

/** The ceiling (no `predict`) or the floor on bare node:http, and the ceiling's node:http2 twin when asked. */
function serveHttp(predict: Predict | undefined): void {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST') return reply(res, 200, '{"status":"ok"}');
      const headerLength = req.headers['inference-header-content-length'];
      try {
        const body = Buffer.concat(chunks);
        if (headerLength !== undefined) {
          JSON.parse(body.subarray(0, Number(headerLength)).toString('utf8')); // the binary part is only received
          return reply(res, 200, V2_LARGE);
        }
        const instances = instancesOf(JSON.parse(body.toString('utf8')));
        // The ceiling answers at once; only the floor waits for its run.
        if (!predict) return reply(res, 200, responseFor(instances.length));
        predict(instances).then(
          (payload) => reply(res, 200, payload),
          () => reply(res, 400, INVALID),
        );
      } catch {
        reply(res, 400, INVALID);
      }
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.listen(port, host);
  if (grpcPort !== undefined) serveGrpc(grpcPort);
}

async function serve(): Promise<void> {
  const predict = modelFolder === undefined ? undefined : await loadModel(modelFolder);
  if (predict && framework === 'fastify') await serveFastify(predict);
  else serveHttp(predict);
  if (!cluster.isPrimary) process.on('disconnect', () => process.exit(0)); // the primary is gone
}

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await serve();
  // Exit through process.exit, not the default signal death, so that `node --cpu-prof` can write its profile.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
}
