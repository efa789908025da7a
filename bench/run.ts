// `npm run bench`: the built Serval against a bare node:http ceiling, plus cache hit/miss and heavy-model runs;
// Markdown out, JSON saved.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { binaryBody, grpcBytesRequest, grpcRequest, MODEL_INFER } from './bodies.js';
import { checkCnnTools, cnnScenario } from './cnn.js';
import { cnnTargets } from './cnn-report.js';
import { startRedis } from '../test/helpers.js';
import { payloadEvents } from '../test/receiver.js';
import { runChainLoad, type ChainSpec, type ChainStep } from './chain-load.js';
import { runGrpcLoad, waitForGrpc, type GrpcLoadSpec } from './grpc-load.js';
import { IMAGE_SIDE, imageRepository, photo } from './images.js';
import {
  runLoad,
  summarize,
  warmUntilSteady,
  type LoadResult,
  type LoadRun,
  type LoadSpec,
  type WarmUp,
} from './load.js';
import {
  freePort,
  startServer,
  stopAll,
  stopServer,
  treeCpuSeconds,
  treeMemory,
  waitReady,
  type Server,
} from './processes.js';
import {
  cacheShare,
  renderReport,
  type BenchResults,
  type CacheRow,
  type EnsembleOverhead,
  type MatrixRow,
  type PairRow,
  type ReloadRun,
  type Target,
} from './report.js';
import {
  heavyRepository,
  modelCounters,
  startCeiling,
  checkSinkTools,
  startDiscardSink,
  startFloor,
  startServal,
  type ServerContext,
  type Started,
} from './servers.js';

function positiveEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

const ctx: ServerContext = {
  root: fileURLToPath(new URL('..', import.meta.url)),
  runDir: mkdtempSync(join(tmpdir(), 'serval-bench-')),
  // autocannon runs here and needs a core of its own: on a 2-core machine that leaves one core, so Serval and the
  // ceiling each get one HTTP process (two would be three busy processes on two cores). BENCH_WORKERS overrides.
  workers: Math.round(positiveEnv('BENCH_WORKERS', Math.max(1, availableParallelism() - 1))),
};
const DURATION_S = positiveEnv('BENCH_DURATION', 5);
// The least and the most warm-up of each side before it is measured: warmUp runs until the side is steady.
const WARMUP_S = positiveEnv('BENCH_WARMUP', 3);
const WARMUP_MAX_S = positiveEnv('BENCH_WARMUP_MAX', 20);
const CONNECTIONS = [1, 16, 64];
const HEAVY_CONNECTIONS = 8;

// Real iris rows from all three classes; the 32-row body cycles through them.
const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [4.9, 3.0, 1.4, 0.2],
  [7.0, 3.2, 4.7, 1.4],
  [6.4, 3.2, 4.5, 1.5],
  [6.3, 3.3, 6.0, 2.5],
  [5.8, 2.7, 5.1, 1.9],
  [5.7, 2.8, 4.1, 1.3],
  [6.7, 3.0, 5.2, 2.3],
];
const instances = (n: number): string =>
  JSON.stringify({ instances: Array.from({ length: n }, (_, i) => IRIS_ROWS[i % IRIS_ROWS.length]) });
const IRIS_1 = { name: 'iris ×1', body: instances(1) };
const IRIS_32 = { name: 'iris ×32', body: instances(32) };
const HEAVY_BODY = JSON.stringify({ instances: [[1, 2, 3, 4]] });

const V2_IRIS_JSON = JSON.stringify({
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: IRIS_ROWS[0] }],
});
const V2_IRIS_BINARY = binaryBody('input', [1, 4], Float32Array.from(IRIS_ROWS[0] ?? []), {
  binary_data_output: true,
});

/** The large fixture's input (the formula of its golden.json): [1, 3, 224, 224] FP32, 588 KiB as binary. */
const LARGE_SHAPE = [1, 3, 224, 224];
const LARGE_DATA = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => {
  const [c, h, w] = [Math.floor(i / 50176), Math.floor(i / 224) % 224, i % 224];
  return ((c * 3 + h + w) % 17) / 16;
});
const LARGE_BINARY = binaryBody('image', LARGE_SHAPE, LARGE_DATA);
const LARGE_JSON = JSON.stringify({
  inputs: [{ name: 'image', shape: LARGE_SHAPE, datatype: 'FP32', data: Array.from(LARGE_DATA) }],
});
const LARGE_CONNECTIONS = 8;

const GRPC_IRIS = grpcRequest('iris', 'input', [1, 4], Float32Array.from(IRIS_ROWS[0] ?? []));
const GRPC_LARGE = grpcRequest('large', 'image', LARGE_SHAPE, LARGE_DATA);

const CACHE_HIT = 'serval; hit';
const CACHE_MISS = 'serval; fwd=miss; stored';

interface CacheCase {
  name: string;
  model: string;
  body: string;
  connections: number;
  /** Per side (hit, miss), split in two halves. */
  durationS: number;
}

const CACHE_CASES: CacheCase[] = [
  { name: IRIS_32.name, model: 'iris', body: IRIS_32.body, connections: 16, durationS: DURATION_S },
  // A few connections only: a heavy miss holds an inference thread (one per worker) for ~80 ms.
  { name: 'heavy ×1', model: 'heavy', body: HEAVY_BODY, connections: 4, durationS: DURATION_S },
];

const warnings: string[] = [];
function expectAllOk(label: string, result: LoadResult): void {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    warnings.push(
      `${label}: ${result.non2xx} non-2xx ${JSON.stringify(result.statusCodes)}, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
}

/** Fails early unless Serval answers 32 predictions, so that the numbers measure real work. */
async function checkPredict(base: string): Promise<void> {
  const res = await fetch(`${base}/v1/models/iris:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: IRIS_32.body,
  });
  const payload = (await res.json()) as { predictions?: unknown[] };
  if (res.status !== 200 || payload.predictions?.length !== 32) {
    throw new Error(`iris predict answered ${res.status}: ${JSON.stringify(payload).slice(0, 300)}`);
  }
}

interface Side {
  server: Server;
  spec: Omit<LoadSpec, 'durationS'>;
  /** Present for a gRPC side: its calls instead of spec's HTTP requests. */
  grpc?: Omit<GrpcLoadSpec, 'durationS'>;
  /** Present for a side of chained requests (each built from the previous answer) instead of spec's. */
  chain?: Omit<ChainSpec, 'durationS'>;
  runs: LoadRun[];
  cpuSeconds: number;
}

type Load = Pick<Side, 'spec' | 'grpc' | 'chain'>;

function runSide(side: Load, durationS: number): Promise<LoadRun> {
  if (side.grpc) return runGrpcLoad({ ...side.grpc, durationS });
  if (side.chain) return runChainLoad({ ...side.chain, durationS });
  return runLoad({ ...side.spec, durationS });
}

const WARMUP: WarmUp = { leastS: WARMUP_S, mostS: WARMUP_MAX_S };

/** Each side warms up until steady (`warmUntilSteady`) before it is measured. */
async function warmUp(load: Load): Promise<void> {
  const { spec, grpc } = load;
  if (grpc) await waitForGrpc(grpc.address, grpc.method, grpc.body);
  const last = await warmUntilSteady((durationS) => runSide(load, durationS), WARMUP);
  if (last && (last.non2xx > 0 || last.errors > 0)) {
    process.stderr.write(
      `  warm-up of ${grpc ? grpc.address : spec.url}: ${JSON.stringify(last.statusCodes)}, ${last.errors} errors\n`,
    );
  }
}

async function timedSlice(side: Side, durationS: number): Promise<void> {
  const before = treeCpuSeconds(side.server.pid);
  side.runs.push(await runSide(side, durationS));
  side.cpuSeconds += treeCpuSeconds(side.server.pid) - before;
}

/** One side of a comparison: a server and the request it is sent (over HTTP to path, or gRPC's ModelInfer). */
interface Ask {
  started: Started;
  path: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  /** Sent as a gRPC ModelInfer request (body is the encoded message) to the server's gRPC port. */
  grpc?: boolean;
  /** Sent as chained JSON requests, each built from the previous answer (path and body are then unused). */
  chain?: readonly ChainStep[];
}

/** Two sides in A-B-B-A halves, so that a noisy neighbour's burst or drift hits both alike. */
async function compareSides(asks: [Ask, Ask], connections: number): Promise<[LoadResult, LoadResult]> {
  const [a, b] = asks.map((ask): Side => {
    const grpc = ask.grpc && ask.started.grpc;
    return {
      server: ask.started.server,
      spec: {
        url: `${ask.started.base}${ask.path}`,
        body: ask.body,
        ...(ask.headers ? { headers: ask.headers } : {}),
        connections,
      },
      ...(grpc
        ? { grpc: { address: grpc, method: MODEL_INFER, body: ask.body as Buffer, concurrency: connections } }
        : {}),
      ...(ask.chain ? { chain: { base: ask.started.base, steps: ask.chain, connections } } : {}),
      runs: [],
      cpuSeconds: 0,
    };
  }) as [Side, Side];
  await warmUp(a);
  await warmUp(b);
  for (const side of [a, b, b, a]) await timedSlice(side, DURATION_S / 2);
  return [summarize(connections, a.runs, a.cpuSeconds), summarize(connections, b.runs, b.cpuSeconds)];
}

/** Serval and the ceiling asked the same V1 question. */
function compare(serval: Started, ceiling: Started, body: string, connections: number) {
  const path = '/v1/models/iris:predict';
  return compareSides(
    [
      { started: serval, path, body },
      { started: ceiling, path, body },
    ],
    connections,
  );
}

async function pair(
  scenario: string,
  asks: [Ask & { name: string }, Ask & { name: string }],
  connections: number,
): Promise<PairRow> {
  const [a, b] = await compareSides(asks, connections);
  expectAllOk(`${scenario}: ${asks[0].name}`, a);
  expectAllOk(`${scenario}: ${asks[1].name}`, b);
  process.stderr.write(
    `  ${scenario} at ${connections} conns: ${asks[0].name} ${a.rps.toFixed(0)} req/s, ${asks[1].name} ${b.rps.toFixed(0)} req/s\n`,
  );
  return { scenario, connections, aName: asks[0].name, a, bName: asks[1].name, b, ratio: a.rps / b.rps };
}

/** Single-row Iris at 64 connections over V1: `on` (named `name`) against `off` (named `offName`). */
function irisOnOff(name: string, on: Started, offName: string, off: Started): Promise<PairRow> {
  const path = '/v1/models/iris:predict';
  return pair(
    'iris ×1',
    [
      { name, started: on, path, body: IRIS_1.body },
      { name: offName, started: off, path, body: IRIS_1.body },
    ],
    64,
  );
}

/**
 * Single-row Iris at 64 connections with metrics on and off, on two fresh servers, so that nothing but metrics
 * differs: the main server has served every protocol by then, and its request path is no longer the one a server
 * asked V1 alone compiles (with it as the metrics-on side the ratio reads 76-93%; by hand, two fresh servers in
 * A-B-A-B slots differ by 2% of server CPU per request).
 */
async function metricsRows(): Promise<PairRow[]> {
  const on = await startServal(ctx, 'serval (metrics on)');
  const off = await startServal(ctx, 'serval (metrics off)', { env: { SERVAL_METRICS_ENABLED: 'false' } });
  try {
    return [await irisOnOff('metrics on', on, 'metrics off', off)];
  } finally {
    await stopServer(on.server);
    await stopServer(off.server);
  }
}

/**
 * Single-row Iris at 64 connections with payload logging (every request and answer) and without, on fresh servers as
 * metricsRows does: to a loopback HTTP sink that discards (KServe's contract, an HTTP request per event), and to a
 * Redis stream on a loopback redis-server; with what each logging server counted of its events.
 */
async function payloadLogRows(): Promise<{ rows: PairRow[]; events: Record<string, number>[] }> {
  const sink = await startDiscardSink(ctx);
  const redis = await startRedis();
  const off = await startServal(ctx, 'serval (payload log off)');
  const rows: PairRow[] = [];
  const events: Record<string, number>[] = [];
  try {
    for (const [name, env] of [
      ['payload log to HTTP', { SERVAL_PAYLOAD_LOG_URL: `${sink.base}/` }],
      [
        'payload log to Redis',
        { SERVAL_REDIS_URL: redis.url, SERVAL_PAYLOAD_LOG_URL: 'redis-stream://serval:payloads' },
      ],
    ] as const) {
      const on = await startServal(ctx, `serval (${name})`, { env });
      try {
        rows.push(await irisOnOff(name, on, 'payload log off', off));
        events.push(await payloadEvents(on.base));
      } finally {
        await stopServer(on.server);
      }
    }
    return { rows, events };
  } finally {
    await stopServer(off.server);
    await stopServer(sink.server);
    await redis.stop();
  }
}

/** Payload logging costs at most 15% of single-row Iris, and every event reached the sink. */
function payloadLogTargets(rows: readonly PairRow[], events: readonly Record<string, number>[]): Target[] {
  return rows.map((row, i) => {
    const counted = events[i] ?? {};
    const lost = (counted.dropped ?? 0) + (counted.failed ?? 0);
    return {
      name: `iris ×1 at 64 conns: ${row.aName} vs off`,
      goal: '≥ 85%, no event lost',
      measured: `${(row.ratio * 100).toFixed(0)}% (${counted.sent ?? 0} events sent, ${lost} dropped or failed)`,
      pass: row.ratio >= 0.85 && lost === 0 && (counted.sent ?? 0) > 0,
    };
  });
}

/** What the tracing bench's collector (bench/otlp-sink.ts) received. */
async function sinkReceived(base: string): Promise<{ exports: number; bytes: number }> {
  return (await (await fetch(base)).json()) as { exports: number; bytes: number };
}

/**
 * Single-row Iris at 64 connections with tracing off against tracing on, exporting OTLP/HTTP protobuf to a loopback
 * collector that discards (its own process): on with the sampler at 0 (traceidratio, ratio 0: the sampler operators
 * turn down, which still makes a trace id and decides on it per request, so it measures the whole path of an unsampled
 * request; always_off would decide without one), and on at 1 (always_on: every request's spans are made and exported).
 * Fresh servers, one pair at a time, as metricsRows() does.
 */
async function tracingRows(): Promise<PairRow[]> {
  const port = await freePort();
  const sink = startServer({
    name: 'OTLP sink',
    args: [join(ctx.root, 'bench/otlp-sink.ts')],
    cwd: ctx.root,
    env: { SINK_PORT: String(port) },
    logPath: join(ctx.runDir, 'otlp-sink.log'),
  });
  const sinkBase = `http://127.0.0.1:${port}`;
  await waitReady(sink, sinkBase, 100);
  const off = await startServal(ctx, 'serval (tracing off)');
  const traced = (sampler: string, arg: string) => ({
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkBase,
      OTEL_TRACES_SAMPLER: sampler,
      OTEL_TRACES_SAMPLER_ARG: arg,
    },
  });
  const rows: PairRow[] = [];
  try {
    for (const [name, sampler, arg] of [
      ['tracing on, sampler 0', 'traceidratio', '0'],
      ['tracing on, rate 1', 'always_on', '1'],
    ] as const) {
      const on = await startServal(ctx, `serval (${name})`, traced(sampler, arg));
      try {
        const before = await sinkReceived(sinkBase);
        rows.push(await irisOnOff(name, on, 'tracing off', off));
        await stopServer(on.server); // its last spans are sent as it stops
        const sent = await sinkReceived(sinkBase);
        const exports = sent.exports - before.exports;
        process.stderr.write(
          `  ${name}: ${exports} exports, ${(sent.bytes - before.bytes) >> 10} KiB of spans\n`,
        );
        if (exports > 0 !== (sampler === 'always_on'))
          throw new Error(`${name}: ${exports} exports reached the collector`);
      } finally {
        await stopServer(on.server);
      }
    }
    return rows;
  } finally {
    await stopServer(off.server);
    await stopServer(sink);
  }
}

function tracingTargets(rows: readonly PairRow[]): Target[] {
  const [zero, one] = [rows[0]?.ratio ?? 0, rows[1]?.ratio ?? 0];
  return [
    {
      name: 'iris ×1 at 64 conns: tracing on, sampler 0 vs off',
      goal: '≥ 95%',
      measured: `${(zero * 100).toFixed(0)}%`,
      pass: zero >= 0.95,
    },
    {
      name: 'iris ×1 at 64 conns: tracing on at rate 1 vs off',
      goal: '≥ 85%',
      measured: `${(one * 100).toFixed(0)}%`,
      pass: one >= 0.85,
    },
  ];
}

const RELOAD_CYCLES = 100;

/**
 * A thread-mode copy of Iris whose model.json changes before each of RELOAD_CYCLES loads (a new generation: a real
 * reload), with predictions between them: every load and prediction must answer 200, and memory must stay flat
 * (worker-thread sessions of replaced versions are freed).
 */
async function reloadScenario(): Promise<{ started: Started; reloads: ReloadRun }> {
  const repo = join(ctx.runDir, 'reload-models');
  const version = join(repo, 'reloaded', '1');
  mkdirSync(version, { recursive: true });
  cpSync(join(ctx.root, 'models/iris/1/model.onnx'), join(version, 'model.onnx'));
  const descriptor = JSON.parse(readFileSync(join(ctx.root, 'models/iris/1/model.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const write = (cycle: number) =>
    writeFileSync(
      join(version, 'model.json'),
      JSON.stringify({ ...descriptor, execution: 'thread', description: `reload ${cycle}` }),
    );
  write(0);
  const started = await startServal(ctx, 'serval (reloads)', { modelRepository: repo });
  const run: ReloadRun = {
    cycles: RELOAD_CYCLES,
    loadsOk: 0,
    predictionsOk: 0,
    predictionsFailed: 0,
    rssMbEarly: 0,
    rssMbEnd: 0,
    threadSessions: 0,
    seconds: 0,
  };
  const begin = performance.now();
  const post = (path: string, body: string) =>
    fetch(started.base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  for (let cycle = 1; cycle <= RELOAD_CYCLES; cycle++) {
    write(cycle);
    if ((await post('/v2/repository/models/reloaded/load', '{}')).status === 200) run.loadsOk++;
    for (let i = 0; i < 4; i++) {
      const res = await post('/v1/models/reloaded:predict', IRIS_1.body);
      await res.arrayBuffer();
      if (res.status === 200) run.predictionsOk++;
      else run.predictionsFailed++;
    }
    if (cycle === RELOAD_CYCLES / 10) run.rssMbEarly = treeMemory(started.server.pid).rssMb;
  }
  run.seconds = (performance.now() - begin) / 1000;
  // Released versions go once their last calls are done: a moment after the last load.
  await new Promise((resolve) => setTimeout(resolve, 500));
  run.rssMbEnd = treeMemory(started.server.pid).rssMb;
  const text = await (await fetch(`${started.base}/metrics`)).text();
  run.threadSessions = Number(/^serval_thread_sessions (\d+)/m.exec(text)?.[1] ?? NaN);
  process.stderr.write(
    `  reloads: ${run.loadsOk}/${RELOAD_CYCLES} loads, ${run.predictionsFailed} failed predictions, RSS ${run.rssMbEarly.toFixed(0)} → ${run.rssMbEnd.toFixed(0)} MB, ${run.threadSessions} thread sessions\n`,
  );
  started.facts.memoryAfterLoad = treeMemory(started.server.pid);
  await stopServer(started.server);
  return { started, reloads: run };
}

/**
 * The same single-row Iris question through V1, V2 JSON, V2 binary and gRPC, on one server; and the transports'
 * own costs: Serval's gRPC against bare node:http2 answering the same call, and bare node:http2 against bare node:http.
 */
async function protocolRows(serval: Started, ceiling: Started): Promise<PairRow[]> {
  const v1 = { name: 'V1 instances', started: serval, path: '/v1/models/iris:predict', body: IRIS_1.body };
  const v2 = '/v2/models/iris/infer';
  const v2json = { name: 'V2 JSON', started: serval, path: v2, body: V2_IRIS_JSON };
  const grpc = { name: 'gRPC raw', started: serval, path: '', body: GRPC_IRIS, grpc: true };
  return [
    await pair('iris ×1', [v2json, v1], 64),
    await pair('iris ×1', [{ name: 'V2 binary', started: serval, path: v2, ...V2_IRIS_BINARY }, v1], 64),
    await pair('iris ×1', [grpc, v2json], 64),
    await pair('iris ×1', [grpc, v1], 64),
    await pair('iris ×1', [grpc, { ...grpc, name: 'ceiling, node:http2', started: ceiling }], 64),
    await pair(
      'iris ×1',
      [
        { ...grpc, name: 'ceiling, node:http2', started: ceiling },
        { ...v1, name: 'ceiling, node:http', started: ceiling },
      ],
      64,
    ),
  ];
}

/**
 * A 224 × 224 photo as its JPEG file (V2 binary BYTES, V1 image/jpeg body, gRPC raw BYTES) against the FP32 tensor
 * a client would have made of it (V2 binary), to a model whose input declares the processing.
 */
async function imageRows(): Promise<{ started: Started; rows: PairRow[] }> {
  const started = await startServal(ctx, 'serval (images)', {
    modelRepository: imageRepository(ctx),
    bodyLimitBytes: 8 * 1024 * 1024,
  });
  const { jpeg, tensor, element } = await photo();
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  const path = '/v2/models/photo/infer';
  const tensorAsk = {
    name: `FP32 tensor ${kb(tensor.byteLength)}, V2 binary`,
    started,
    path,
    ...binaryBody('image', [1, 3, IMAGE_SIDE, IMAGE_SIDE], tensor),
  };
  const scenario = `${IMAGE_SIDE} × ${IMAGE_SIDE} RGB photo`;
  const rows = [
    await pair(
      scenario,
      [
        { name: `JPEG ${kb(jpeg.length)}, V2 binary`, started, path, ...binaryBody('image', [1], element) },
        tensorAsk,
      ],
      LARGE_CONNECTIONS,
    ),
    await pair(
      scenario,
      [
        {
          name: `JPEG ${kb(jpeg.length)}, V1 image/jpeg body`,
          started,
          path: '/v1/models/photo:predict',
          body: jpeg,
          headers: { 'content-type': 'image/jpeg' },
        },
        tensorAsk,
      ],
      LARGE_CONNECTIONS,
    ),
    await pair(
      scenario,
      [
        {
          name: `JPEG ${kb(jpeg.length)}, gRPC raw`,
          started,
          path: '',
          body: grpcBytesRequest('photo', 'image', element),
          grpc: true,
        },
        tensorAsk,
      ],
      LARGE_CONNECTIONS,
    ),
  ];
  started.facts.memoryAfterLoad = treeMemory(started.server.pid);
  await stopServer(started.server);
  return { started, rows };
}

const ENSEMBLE_MM_ROW = [51, 35, 14, 2];
const tensorBody = (name: string, data: readonly number[]): string =>
  JSON.stringify({ inputs: [{ name, datatype: 'FP32', shape: [1, data.length], data }] });

/** An output's data from a V2 JSON answer. */
function outputData(answer: unknown, name: string): number[] {
  const outputs = (answer as { outputs?: { name: string; data: number[] }[] }).outputs ?? [];
  const output = outputs.find((o) => o.name === name);
  if (output === undefined) throw new Error(`no output ${name} in ${JSON.stringify(answer).slice(0, 200)}`);
  return output.data;
}

/** iris_mm in one request, and the client calling its two models itself: millimetres, then iris with its answer. */
const ENSEMBLE_CHAIN: ChainStep[] = [
  { path: '/v2/models/iris_mm/infer', body: () => tensorBody('MILLIMETRES', ENSEMBLE_MM_ROW) },
];
const SEQUENCE_CHAIN: ChainStep[] = [
  { path: '/v2/models/millimetres/infer', body: () => tensorBody('millimetres', ENSEMBLE_MM_ROW) },
  {
    path: '/v2/models/iris/infer',
    body: (previous) => tensorBody('input', outputData(previous, 'centimetres')),
  },
];

/**
 * The ensemble's own cost: at one connection (no queueing), the ensemble's mean time in the server against the sum
 * of its composing models' mean times over the same requests (the statistics extension counts both).
 */
async function ensembleOverhead(started: Started): Promise<EnsembleOverhead> {
  const models = ['iris_mm', 'millimetres', 'iris'] as const;
  const before = await Promise.all(models.map(async (m) => (await modelCounters(started.base, m)).success));
  const run = await runChainLoad({
    base: started.base,
    steps: ENSEMBLE_CHAIN,
    connections: 1,
    durationS: DURATION_S,
  });
  const after = await Promise.all(models.map(async (m) => (await modelCounters(started.base, m)).success));
  const [ensemble, ...steps] = models.map((_, i) => {
    const [a, b] = [after[i], before[i]] as [{ count: number; ns: number }, { count: number; ns: number }];
    return (a.ns - b.ns) / Math.max(1, a.count - b.count) / 1000;
  }) as [number, ...number[]];
  const stepsUs = steps.reduce((a, b) => a + b, 0);
  return { requests: run.ok, ensembleUs: ensemble, stepsUs, overheadUs: ensemble - stepsUs };
}

async function ensembleRows(): Promise<{ started: Started; rows: PairRow[]; overhead: EnsembleOverhead }> {
  const started = await startServal(ctx, 'serval (ensembles)', {
    modelRepository: join(ctx.root, 'test/fixtures/triton/ensemble'),
  });
  const rows: PairRow[] = [];
  for (const connections of [1, 64]) {
    rows.push(
      await pair(
        'iris_mm: millimetres, then iris',
        [
          { name: 'ensemble, 1 request', started, path: '', body: '', chain: ENSEMBLE_CHAIN },
          { name: 'client calls both', started, path: '', body: '', chain: SEQUENCE_CHAIN },
        ],
        connections,
      ),
    );
  }
  const overhead = await ensembleOverhead(started);
  started.facts.memoryAfterLoad = treeMemory(started.server.pid);
  await stopServer(started.server);
  return { started, rows, overhead };
}

/** The large tensor through V2 binary against the ceiling receiving the same bytes, and against V2 JSON. */
async function largeRows(ceiling: Started): Promise<{ started: Started; rows: PairRow[] }> {
  const started = await startServal(ctx, 'serval (large tensor)', {
    modelRepository: heavyRepository(ctx),
    bodyLimitBytes: 8 * 1024 * 1024,
  });
  const path = '/v2/models/large/infer';
  const binary = { name: 'V2 binary', started, path, ...LARGE_BINARY };
  const rows = [
    await pair(
      '[1, 3, 224, 224] FP32',
      [binary, { name: 'ceiling, same bytes', started: ceiling, path, ...LARGE_BINARY }],
      LARGE_CONNECTIONS,
    ),
    await pair(
      '[1, 3, 224, 224] FP32',
      [binary, { name: 'V2 JSON', started, path, body: LARGE_JSON }],
      LARGE_CONNECTIONS,
    ),
    await pair(
      '[1, 3, 224, 224] FP32',
      [{ name: 'gRPC raw', started, path: '', body: GRPC_LARGE, grpc: true }, binary],
      LARGE_CONNECTIONS,
    ),
  ];
  started.facts.memoryAfterLoad = treeMemory(started.server.pid);
  await stopServer(started.server);
  return { started, rows };
}

async function throughputMatrix(serval: Started, ceiling: Started): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  for (const { name, body } of [IRIS_1, IRIS_32]) {
    for (const connections of CONNECTIONS) {
      const [s, c] = await compare(serval, ceiling, body, connections);
      expectAllOk(`Serval ${name} at ${connections} conns`, s);
      rows.push({ body: name, connections, serval: s, ceiling: c, ratio: s.rps / c.rps });
      process.stderr.write(
        `  ${name} at ${connections} conns: Serval ${s.rps.toFixed(0)} req/s, ceiling ${c.rps.toFixed(0)} req/s\n`,
      );
    }
  }
  return rows;
}

/**
 * The floor against the ceiling at the three points of the ceiling targets: what bare node:http reaches once it runs
 * the model per request, the part of the gap to the ceiling that is inference's and not the server's. Then the
 * Fastify floor (the same on a Fastify app with no plugins) and Serval against the floor at the same points, in the
 * same run: the ceiling's own noise (its req/s can move by a fifth between the matrix and these rows) stays out of
 * those ratios, and what is left between Fastify and Serval is Serval's own request path.
 */
async function floorRows(
  serval: Started,
  ceiling: Started,
): Promise<{ started: Started[]; rows: PairRow[]; fastify: PairRow[]; serval: PairRow[] }> {
  const floor = await startFloor(ctx);
  const fastifyFloor = await startFloor(ctx, 'fastify');
  const path = '/v1/models/iris:predict';
  const rows: PairRow[] = [];
  const fastify: PairRow[] = [];
  const against: PairRow[] = [];
  for (const [{ name, body }, connections] of [
    [IRIS_1, 1],
    [IRIS_1, 64],
    [IRIS_32, 64],
  ] as const) {
    const floorSide = { name: 'floor', started: floor, path, body };
    rows.push(await pair(name, [floorSide, { name: 'ceiling', started: ceiling, path, body }], connections));
    const fastifySide = { name: 'Fastify floor', started: fastifyFloor, path, body };
    fastify.push(await pair(name, [fastifySide, floorSide], connections));
    against.push(await pair(name, [{ name: 'Serval', started: serval, path, body }, floorSide], connections));
  }
  for (const started of [floor, fastifyFloor]) {
    started.facts.memoryAfterLoad = treeMemory(started.server.pid);
    await stopServer(started.server);
  }
  return { started: [floor, fastifyFloor], rows, fastify, serval: against };
}

let keySerial = 0;

/**
 * Bodies of the same shape as `body` with the first instance's first feature moved by n / 2^20, n counting up over
 * the whole run: still distinct once rounded to float32 (the bytes the cache key hashes) for millions of requests,
 * so that every request is a new cache key. A string splice, to keep the load generator's own cost low.
 */
function uniqueBodies(body: string): () => string {
  const match = /^(\{"instances":\[\[)(-?[\d.]+)(.*)$/s.exec(body);
  const [head, first, tail] = [match?.[1], match?.[2], match?.[3]];
  if (head === undefined || first === undefined || tail === undefined)
    throw new Error(`no leading feature value to vary in ${body.slice(0, 60)}`);
  const base = Number(first);
  return () => `${head}${base + ++keySerial / 2 ** 20}${tail}`;
}

/** One POST; its cache-status header. */
async function cacheStatusOf(url: string, body: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return res.headers.get('cache-status') ?? '(none)';
}

/** Hits and misses of one request shape on one cache-enabled server, in A-B-B-A halves. */
async function cacheCompare(started: Started, c: CacheCase): Promise<CacheRow> {
  const url = `${started.base}/v1/models/${c.model}:predict`;
  const newBody = uniqueBodies(c.body);
  const sampleMiss = await cacheStatusOf(url, newBody());
  if (sampleMiss !== CACHE_MISS)
    throw new Error(`${c.name}: a new body answered cache-status "${sampleMiss}", not "${CACHE_MISS}"`);
  await cacheStatusOf(url, c.body); // the warm request
  // Both sides rebuild every request (setupRequest), so that the load generator costs them the same.
  const [hit, miss] = [(): string => c.body, newBody].map((nextBody): Side => ({
    server: started.server,
    spec: { url, nextBody, tallyHeader: 'cache-status', connections: c.connections },
    runs: [],
    cpuSeconds: 0,
  })) as [Side, Side];
  // Each HTTP process has its own cache: the warm-up's connections reach them all and fill each with the hit body.
  await warmUp(hit);
  const sampleHit = await cacheStatusOf(url, c.body);
  if (sampleHit !== CACHE_HIT)
    throw new Error(`${c.name}: the repeated body answered cache-status "${sampleHit}", not "${CACHE_HIT}"`);
  await warmUp(miss);
  for (const side of [hit, miss, miss, hit]) await timedSlice(side, c.durationS / 2);
  const [h, m] = [hit, miss].map((side) => summarize(c.connections, side.runs, side.cpuSeconds)) as [
    LoadResult,
    LoadResult,
  ];
  expectAllOk(`Serval cache hits, ${c.name} at ${c.connections} conns`, h);
  expectAllOk(`Serval cache misses, ${c.name} at ${c.connections} conns`, m);
  for (const [label, result, expected] of [
    ['hit', h, CACHE_HIT],
    ['miss', m, CACHE_MISS],
  ] as const) {
    if (cacheShare(result, expected) < 0.99)
      warnings.push(
        `cache ${label} run, ${c.name}: cache-status ${JSON.stringify(result.headerValues)}, expected "${expected}"`,
      );
  }
  return {
    body: c.name,
    connections: c.connections,
    hit: h,
    miss: m,
    rpsRatio: h.rps / m.rps,
    p50Ratio: h.p50Ms / m.p50Ms,
    p50Speedup: m.p50Ms / h.p50Ms,
  };
}

async function cacheScenario(): Promise<{ started: Started; cache: CacheRow[] }> {
  const t0 = performance.now();
  const started = await startServal(ctx, 'serval (cache on)', {
    modelRepository: heavyRepository(ctx),
    cache: true,
  });
  const cache: CacheRow[] = [];
  for (const c of CACHE_CASES) {
    const row = await cacheCompare(started, c);
    cache.push(row);
    process.stderr.write(
      `  cache ${c.name} at ${c.connections} conns: hit ${row.hit.rps.toFixed(0)} req/s p50 ${row.hit.p50Ms.toFixed(2)} ms, ` +
        `miss ${row.miss.rps.toFixed(0)} req/s p50 ${row.miss.p50Ms.toFixed(2)} ms\n`,
    );
  }
  started.facts.memoryAfterLoad = treeMemory(started.server.pid);
  await stopServer(started.server);
  process.stderr.write(`  cache scenario: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return { started, cache };
}

async function heavyScenario(): Promise<{ started: Started; heavy: BenchResults['heavy'] }> {
  const started = await startServal(ctx, 'serval (iris + heavy)', { modelRepository: heavyRepository(ctx) });
  const url = `${started.base}/v1/models/heavy:predict`;
  const singleCallMs: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: HEAVY_BODY,
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`heavy predict answered ${res.status}`);
    if (i > 0) singleCallMs.push(performance.now() - t0); // the first call also opens the connection
  }
  const cpuBefore = treeCpuSeconds(started.server.pid);
  const [predict, healthz] = await Promise.all([
    runLoad({ url, body: HEAVY_BODY, connections: HEAVY_CONNECTIONS, durationS: DURATION_S }),
    runLoad({ url: `${started.base}/healthz`, connections: 1, durationS: DURATION_S }),
  ]);
  const predictResult = summarize(
    HEAVY_CONNECTIONS,
    [predict],
    treeCpuSeconds(started.server.pid) - cpuBefore,
  );
  const healthzResult = summarize(1, [healthz]);
  expectAllOk('/healthz during heavy load', healthzResult);
  started.facts.memoryAfterLoad = treeMemory(started.server.pid);
  await stopServer(started.server);
  const overloaded503 = predictResult.statusCodes['503'] ?? 0;
  return {
    started,
    heavy: {
      connections: HEAVY_CONNECTIONS,
      singleCallMs,
      predict: predictResult,
      healthz: healthzResult,
      overloaded503,
    },
  };
}

/** The cache target, per request shape: a hit's p50 latency at most half a miss's. */
function cacheTargets(cache: readonly CacheRow[]): Target[] {
  return cache.map((row) => ({
    name: `cache hit ≥ 2x faster than a miss, ${row.body} at ${row.connections} conns (p50 miss ÷ hit)`,
    goal: '≥ 2x',
    measured:
      `${row.p50Speedup.toFixed(2)}x (p50 ${row.hit.p50Ms.toFixed(2)} vs ${row.miss.p50Ms.toFixed(2)} ms; ` +
      `req/s ${row.rpsRatio.toFixed(2)}x)`,
    pass: row.p50Speedup >= 2,
  }));
}

function protocolTargets(protocols: readonly PairRow[], large: readonly PairRow[]): Target[] {
  const [v2json] = protocols;
  const [ceiling, json, grpcLarge] = large;
  const grpc = protocols.find((r) => r.aName === 'gRPC raw' && r.bName === 'V2 JSON');
  if (!v2json || !ceiling || !json || !grpc || !grpcLarge)
    throw new Error('missing protocol or large-tensor rows');
  return [
    {
      name: 'gRPC ModelInfer iris ×1 at 64 concurrent calls: req/s vs V2 JSON in the same run',
      goal: '≥ 100%',
      measured: `${(grpc.ratio * 100).toFixed(0)}%`,
      pass: grpc.ratio >= 1,
    },
    {
      name: `large tensor at ${LARGE_CONNECTIONS} concurrent calls: gRPC raw req/s vs V2 binary`,
      goal: 'reported',
      measured: `${(grpcLarge.ratio * 100).toFixed(0)}%`,
      pass: true,
    },
    {
      name: 'V2 JSON iris ×1 at 64 conns: req/s vs V1 in the same run',
      goal: '≥ 90%',
      measured: `${(v2json.ratio * 100).toFixed(0)}%`,
      pass: v2json.ratio >= 0.9,
    },
    {
      name: `large tensor, V2 binary at ${LARGE_CONNECTIONS} conns: req/s vs the ceiling receiving the same bytes`,
      goal: '≥ 50%',
      measured: `${(ceiling.ratio * 100).toFixed(0)}%`,
      pass: ceiling.ratio >= 0.5,
    },
    {
      name: `large tensor at ${LARGE_CONNECTIONS} conns: V2 binary req/s vs V2 JSON`,
      goal: '≥ 10x',
      measured: `${json.ratio.toFixed(1)}x`,
      pass: json.ratio >= 10,
    },
  ];
}

function targets(
  top: MatrixRow,
  heavy: BenchResults['heavy'],
  cache: readonly CacheRow[],
  serval: Started,
  protocols: readonly PairRow[],
  large: readonly PairRow[],
): Target[] {
  const ready = serval.facts.readiness.firstReadyMs;
  return [
    ...protocolTargets(protocols, large),
    {
      name: 'iris ×1 at 64 conns: p99',
      goal: '≤ 10 ms',
      measured: `${top.serval.p99Ms.toFixed(2)} ms`,
      pass: top.serval.p99Ms <= 10,
    },
    {
      name: '/healthz p99 while heavy is under load',
      goal: '≤ 20 ms',
      measured: `${heavy.healthz.p99Ms.toFixed(2)} ms`,
      pass: heavy.healthz.p99Ms <= 20,
    },
    ...cacheTargets(cache),
    { name: 'start to ready', goal: '< 2000 ms', measured: `${ready.toFixed(0)} ms`, pass: ready < 2000 },
  ];
}

/**
 * The ceiling targets: Serval's req/s and p99 against the ceiling measured in the same run (at 1 and the default
 * number of workers); each says what the floor reached against the ceiling at the same point, and the Fastify floor
 * and Serval against the floor.
 */
function speedTargets(
  matrix: readonly MatrixRow[],
  floor: readonly PairRow[],
  fastify: readonly PairRow[],
  overFloor: readonly PairRow[],
): Target[] {
  const row = (body: string, connections: number) => {
    const found = matrix.find((r) => r.body === body && r.connections === connections);
    if (!found) throw new Error(`no ${body} row at ${connections} connections`);
    return found;
  };
  const ratioTarget = (body: string, connections: number, least: number): Target => {
    const { ratio } = row(body, connections);
    const at = (rows: readonly PairRow[]) =>
      rows.find((r) => r.scenario === body && r.connections === connections)?.ratio ?? Number.NaN;
    const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
    return {
      name: `${body} at ${connections} conn${connections === 1 ? '' : 's'}: req/s vs ceiling`,
      goal: `≥ ${least * 100}%`,
      measured:
        `${percent(ratio)} (floor ${percent(at(floor))}, Fastify floor vs floor ${percent(at(fastify))}, ` +
        `Serval vs floor ${percent(at(overFloor))})`,
      pass: ratio >= least,
    };
  };
  const rows32 = row(IRIS_32.name, 64);
  const tail = rows32.serval.p99Ms / rows32.ceiling.p99Ms;
  return [
    ratioTarget(IRIS_1.name, 1, 0.5),
    ratioTarget(IRIS_1.name, 64, 0.6),
    ratioTarget(IRIS_32.name, 64, 0.5),
    {
      name: `${IRIS_32.name} at 64 conns: p99 vs the ceiling's`,
      goal: '≤ 3x',
      measured: `${tail.toFixed(1)}x (${rows32.serval.p99Ms.toFixed(1)} vs ${rows32.ceiling.p99Ms.toFixed(1)} ms)`,
      pass: tail <= 3,
    },
  ];
}

function operationTargets(metrics: readonly PairRow[], reloads: ReloadRun): Target[] {
  const ratio = metrics[0]?.ratio ?? 0;
  const growth = reloads.rssMbEnd - reloads.rssMbEarly;
  return [
    {
      name: 'iris ×1 at 64 conns: metrics on vs off',
      goal: '≥ 95%',
      measured: `${(ratio * 100).toFixed(0)}%`,
      pass: ratio >= 0.95,
    },
    {
      name: `${reloads.cycles} reloads under requests: failures`,
      goal: '0',
      measured: String(reloads.cycles - reloads.loadsOk + reloads.predictionsFailed),
      pass: reloads.loadsOk === reloads.cycles && reloads.predictionsFailed === 0,
    },
    {
      name: `${reloads.cycles} reloads: RSS growth after the first ${reloads.cycles / 10}`,
      goal: '≤ 5%',
      measured: `${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MB (${((growth / reloads.rssMbEarly) * 100).toFixed(1)}%)`,
      pass: growth <= reloads.rssMbEarly * 0.05,
    },
  ];
}

async function main(): Promise<void> {
  checkCnnTools();
  checkSinkTools();
  const load1 = loadavg()[0] ?? 0;
  process.stderr.write(
    `bench: ${ctx.workers} worker(s), ${WARMUP_S}-${WARMUP_MAX_S} s of warm-up and ${DURATION_S} s per server and scenario, load average ${load1.toFixed(2)}; logs in ${ctx.runDir}\n`,
  );

  // Serval starts alone, so that its start-to-ready time is not shared with the ceiling's start.
  const serval = await startServal(ctx, 'serval');
  await checkPredict(serval.base);
  const ceiling = await startCeiling(ctx);
  const matrix = await throughputMatrix(serval, ceiling);
  const { started: floorServers, rows: floor, fastify, serval: overFloor } = await floorRows(serval, ceiling);
  const protocols = await protocolRows(serval, ceiling);
  const metricsCost = await metricsRows();
  const payloadLog = await payloadLogRows();
  const tracing = await tracingRows();
  serval.facts.memoryAfterLoad = treeMemory(serval.server.pid);
  ceiling.facts.memoryAfterLoad = treeMemory(ceiling.server.pid);
  await stopServer(serval.server);

  // Production logs at info: one access line per request, written to /dev/null so that no terminal slows it.
  const verbose = await startServal(ctx, 'serval (log info)', { logLevel: 'info', stdoutPath: '/dev/null' });
  const [infoRun, infoCeiling] = await compare(verbose, ceiling, IRIS_1.body, 64);
  expectAllOk('Serval iris ×1 at 64 conns, log info', infoRun);
  verbose.facts.memoryAfterLoad = treeMemory(verbose.server.pid);
  await stopServer(verbose.server);
  const { started: largeServer, rows: large } = await largeRows(ceiling);
  await stopServer(ceiling.server);
  const { started: imageServer, rows: images } = await imageRows();
  const { started: ensembleServer, rows: ensembles, overhead: ensembleCost } = await ensembleRows();
  const logInfo = {
    body: 'iris ×1, log info',
    connections: 64,
    serval: infoRun,
    ceiling: infoCeiling,
    ratio: infoRun.rps / infoCeiling.rps,
  };

  const { started: cnnServers, results: cnn } = await cnnScenario(ctx, DURATION_S, WARMUP);
  const { started: cacheServer, cache } = await cacheScenario();
  const { started: heavyServer, heavy } = await heavyScenario();
  const { started: reloadServer, reloads } = await reloadScenario();
  const top = matrix.find((r) => r.body === IRIS_1.name && r.connections === 64);
  if (!top) throw new Error('no iris ×1 row at 64 connections');

  const results: BenchResults = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    loadAverage: { start: load1, end: loadavg()[0] ?? 0 },
    workers: ctx.workers,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    warmupMaxS: WARMUP_MAX_S,
    servers: [
      serval.facts,
      verbose.facts,
      largeServer.facts,
      imageServer.facts,
      ensembleServer.facts,
      cacheServer.facts,
      heavyServer.facts,
      reloadServer.facts,
      ...cnnServers.map((s) => s.facts),
      ceiling.facts,
      ...floorServers.map((s) => s.facts),
    ],
    matrix,
    floor: [...floor, ...fastify, ...overFloor],
    logInfo,
    cache,
    protocols,
    large,
    images,
    ensembles,
    ensembleOverhead: ensembleCost,
    cnn,
    metrics: metricsCost,
    payloadLog: payloadLog.rows,
    tracing,
    reloads,
    heavy,
    targets: [
      ...targets(top, heavy, cache, serval, protocols, large),
      ...speedTargets(matrix, floor, fastify, overFloor),
      ...operationTargets(metricsCost, reloads),
      ...cnnTargets(cnn),
      ...payloadLogTargets(payloadLog.rows, payloadLog.events),
      ...tracingTargets(tracing),
    ],
  };
  process.stdout.write('\n' + renderReport(results) + '\n');
  if (warnings.length > 0) {
    process.stdout.write(
      '\nNon-2xx or errors in Serval runs:\n' + warnings.map((w) => `- ${w}`).join('\n') + '\n',
    );
  }
  const jsonPath = join(ctx.runDir, 'latest.json');
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\nJSON results: ${jsonPath}\n`);
}

async function cleanUp(): Promise<void> {
  await stopAll();
  rmSync(join(ctx.runDir, 'models'), { recursive: true, force: true });
  rmSync(join(ctx.runDir, 'reload-models'), { recursive: true, force: true });
  rmSync(join(ctx.runDir, 'image-models'), { recursive: true, force: true });
  rmSync(join(ctx.runDir, 'cnn-models'), { recursive: true, force: true });
}

const interruption = { requested: false };
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interruption.requested = true;
    process.stderr.write(`bench: ${signal}, stopping servers\n`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

try {
  await main();
} catch (err) {
  if (!interruption.requested)
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  process.exitCode = 1;
} finally {
  await cleanUp();
}
