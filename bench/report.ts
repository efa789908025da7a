// The bench's results shape and its rendering as Markdown tables (readable in a terminal, pasteable in docs/benchmarks.md).
import type { CnnResults } from './cnn.js';
import { cnnSection } from './cnn-report.js';
import type { LoadResult } from './load.js';
import type { Readiness, TreeMemory } from './processes.js';

export interface MatrixRow {
  body: string;
  connections: number;
  serval: LoadResult;
  ceiling: LoadResult;
  /** Serval req/s over ceiling req/s. */
  ratio: number;
}

/** Two ways to ask one question, measured in A-B-B-A halves: `ratio` is a's req/s over b's. */
export interface PairRow {
  scenario: string;
  connections: number;
  aName: string;
  a: LoadResult;
  bName: string;
  b: LoadResult;
  ratio: number;
}

export interface ReloadRun {
  cycles: number;
  /** Every reload answered 200, and the predictions sent between them. */
  loadsOk: number;
  predictionsOk: number;
  predictionsFailed: number;
  /** The server's process tree after the first tenth of the cycles and after all of them. */
  rssMbEarly: number;
  rssMbEnd: number;
  /** serval_thread_sessions summed over workers at the end: one per thread that ran the model. */
  threadSessions: number;
  seconds: number;
}

/** Cache hits (one body repeated) against misses (a new body each request) on one cache-enabled server. */
export interface CacheRow {
  body: string;
  connections: number;
  hit: LoadResult;
  miss: LoadResult;
  /** Hit req/s over miss req/s. */
  rpsRatio: number;
  /** Hit p50 over miss p50 (below 1 when hits are faster). */
  p50Ratio: number;
  /** Miss p50 over hit p50: how many times faster a hit is served; the cache target's measure. */
  p50Speedup: number;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  pass: boolean;
}

/** An ensemble's mean time in the server against the sum of its composing models' own mean times. */
export interface EnsembleOverhead {
  requests: number;
  ensembleUs: number;
  stepsUs: number;
  overheadUs: number;
}

export interface ServerFacts {
  name: string;
  processes: number;
  readiness: Readiness;
  memoryReady: TreeMemory;
  memoryAfterLoad: TreeMemory;
}

export interface BenchResults {
  date: string;
  node: string;
  cpus: number;
  /** 1-minute load average at start and end: how busy the (shared) machine was. */
  loadAverage: { start: number; end: number };
  workers: number;
  durationS: number;
  /** Each side's warm-up: one-second runs until its req/s stops rising, at least warmupS, at most warmupMaxS. */
  warmupS: number;
  warmupMaxS: number;
  servers: ServerFacts[];
  matrix: MatrixRow[];
  /** The floor (bare node:http running the model per request) against the ceiling, then Serval against it. */
  floor: PairRow[];
  logInfo: MatrixRow;
  cache: CacheRow[];
  /** V1 against V2 JSON and V2 binary on one server; the large tensor through binary, JSON and the ceiling. */
  protocols: PairRow[];
  large: PairRow[];
  /** A photo as its JPEG file through V2 binary, V1 and gRPC against the FP32 tensor made of it. */
  images: PairRow[];
  /** An ensemble of two models against the client calling the two one after the other. */
  ensembles: PairRow[];
  ensembleOverhead: EnsembleOverhead;
  /** MobileNetV2: onnxruntime alone, the floor, and Serval at its defaults over V2 binary and gRPC. */
  cnn: CnnResults;
  /** Single-row Iris with metrics on against off, on two otherwise equal servers. */
  metrics: PairRow[];
  /** Single-row Iris with payload logging to a loopback sink against off, on two otherwise equal servers. */
  payloadLog: PairRow[];
  /** Single-row Iris with tracing on (sampler at 0, then at 1) against off, exporting to a loopback collector. */
  tracing: PairRow[];
  /** A thread-mode model reloaded (file changed, then load) again and again while it serves. */
  reloads: ReloadRun;
  heavy: {
    connections: number;
    singleCallMs: number[];
    predict: LoadResult;
    healthz: LoadResult;
    overloaded503: number;
  };
  targets: Target[];
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : 'n/a');
const rps = (v: number): string => Math.round(v).toLocaleString('en-US');
const mb = (v: number): string => v.toFixed(0);

function table(headers: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, 3, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    '| ' +
    cells
      .map((cell, c) => (rightAligned[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join(' | ') +
    ' |';
  const rule = widths.map((w, c) => (rightAligned[c] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2)));
  return [line(headers), '|' + rule.join('|') + '|', ...rows.map(line)].join('\n');
}

const cpu = (r: LoadResult): string => (r.cpuUsPerRequest === null ? 'n/a' : r.cpuUsPerRequest.toFixed(0));

/** req/s, p50, p99 and CPU per request of one load result: the cells every table repeats per side. */
const loadCells = (r: LoadResult): string[] => [rps(r.rps), ms(r.p50Ms), ms(r.p99Ms), cpu(r)];

function throughputTable(r: BenchResults): string {
  const rows = [...r.matrix, r.logInfo].map((row) => [
    row.body,
    String(row.connections),
    ...loadCells(row.serval),
    ...loadCells(row.ceiling),
    `${(row.ratio * 100).toFixed(0)}%`,
  ]);
  return table(
    [
      'Scenario',
      'Conns',
      'Serval req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'Ceiling req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'req/s vs ceiling',
    ],
    rows,
    [false, ...Array<boolean>(10).fill(true)],
  );
}

function pairTable(title: string, rows: readonly PairRow[]): string {
  return table(
    [
      title,
      'Conns',
      'A',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'B',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'A ÷ B req/s',
    ],
    rows.map((row) => [
      row.scenario,
      String(row.connections),
      row.aName,
      ...loadCells(row.a),
      row.bName,
      ...loadCells(row.b),
      `${(row.ratio * 100).toFixed(0)}%`,
    ]),
    [false, true, false, true, true, true, true, false, true, true, true, true, true],
  );
}

/** The share of a run's responses whose cache-status is the expected one, from the tallied headers. */
export function cacheShare(result: LoadResult, expected: string): number {
  const counts = result.headerValues ?? {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : (counts[expected] ?? 0) / total;
}

const percent = (v: number): string => `${(v * 100).toFixed(2)}%`;

function cacheTable(r: BenchResults): string {
  const rows = r.cache.map((row) => [
    row.body,
    String(row.connections),
    ...loadCells(row.hit),
    percent(cacheShare(row.hit, 'serval; hit')),
    ...loadCells(row.miss),
    percent(cacheShare(row.miss, 'serval; fwd=miss; stored')),
    `${row.rpsRatio.toFixed(2)}x`,
    row.p50Ratio.toFixed(3),
    `${row.p50Speedup.toFixed(2)}x`,
  ]);
  return table(
    [
      'Cache on',
      'Conns',
      'Hit req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'hits',
      'Miss req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'misses',
      'req/s hit÷miss',
      'p50 hit÷miss',
      'p50 miss÷hit',
    ],
    rows,
    [false, ...Array<boolean>(14).fill(true)],
  );
}

function heavyTable(r: BenchResults): string {
  const { heavy } = r;
  const single = [...heavy.singleCallMs].sort((a, b) => a - b);
  const spread = [single[0], single[Math.floor(single.length / 2)], single.at(-1)];
  const rows = [
    [
      'heavy predict, one call at a time: min / median / max',
      spread.map((v) => ms(v ?? Number.NaN)).join(' / ') + ' ms',
    ],
    [`heavy predict at ${heavy.connections} conns: req/s`, heavy.predict.rps.toFixed(1)],
    [
      `heavy predict at ${heavy.connections} conns: server CPU ms/req`,
      ((heavy.predict.cpuUsPerRequest ?? Number.NaN) / 1000).toFixed(1),
    ],
    [
      `heavy predict at ${heavy.connections} conns: p50 / p99`,
      `${ms(heavy.predict.p50Ms)} / ${ms(heavy.predict.p99Ms)} ms`,
    ],
    [
      'heavy predict: 503 overloaded / other non-2xx / errors',
      `${heavy.overloaded503} / ${heavy.predict.non2xx - heavy.overloaded503} / ${heavy.predict.errors}`,
    ],
    ['/healthz at 1 conn meanwhile: req/s', rps(heavy.healthz.rps)],
    [
      '/healthz meanwhile: p50 / p99 / max',
      `${ms(heavy.healthz.p50Ms)} / ${ms(heavy.healthz.p99Ms)} / ${ms(heavy.healthz.maxMs)} ms`,
    ],
  ];
  return table(['Heavy model (~80 ms/call, worker thread)', 'Value'], rows, [false, true]);
}

function serverTable(r: BenchResults): string {
  const rows = r.servers.map((s) => [
    s.name,
    String(s.processes),
    ms(s.readiness.firstReadyMs),
    ms(s.readiness.settledMs),
    `${mb(s.memoryReady.rssMb)} / ${mb(s.memoryReady.pssMb)}`,
    `${mb(s.memoryAfterLoad.rssMb)} / ${mb(s.memoryAfterLoad.pssMb)}`,
  ]);
  return table(
    [
      'Server',
      'Processes',
      'Start→ready ms',
      'Start→all ready ms',
      'MB RSS / PSS at ready',
      'MB RSS / PSS after load',
    ],
    rows,
    [false, true, true, true, true, true],
  );
}

function reloadTable(r: BenchResults): string {
  const x = r.reloads;
  return table(
    [
      'Reloads (thread mode, file changed, then load)',
      'Loads 200',
      'Predictions 200 / failed',
      'MB RSS early → end',
      'Thread sessions',
      's',
    ],
    [
      [
        `${x.cycles} cycles`,
        String(x.loadsOk),
        `${x.predictionsOk} / ${x.predictionsFailed}`,
        `${mb(x.rssMbEarly)} → ${mb(x.rssMbEnd)}`,
        String(x.threadSessions),
        x.seconds.toFixed(1),
      ],
    ],
    [false, true, true, true, true, true],
  );
}

function targetTable(r: BenchResults): string {
  const rows = r.targets.map((t) => [t.name, t.goal, t.measured, t.pass ? 'PASS' : 'MISS']);
  return table(['Target', 'Goal', 'Measured', 'Result'], rows, [false, false, false, false]);
}

export function renderReport(r: BenchResults): string {
  const load = `${r.loadAverage.start.toFixed(1)} → ${r.loadAverage.end.toFixed(1)}`;
  return [
    `Serval bench, ${r.date}: node ${r.node}, ${r.cpus} CPUs (load average ${load}), ${r.workers} HTTP process(es) ` +
      `for Serval, the ceiling and the floor, ${r.durationS} s per server and scenario (A-B-B-A halves) after ${r.warmupS}-${r.warmupMaxS} s ` +
      'of warm-up (one-second runs until req/s stops rising). autocannon runs in the bench process and shares the CPUs; CPU µs/req is server CPU (all processes ' +
      'and threads) per response, the steadier figure on a shared machine.',
    '',
    throughputTable(r),
    '',
    "The floor: the ceiling's node:http running the bundled iris model once per request through onnxruntime-node " +
      "(Serval's session options) and answering the predictions it computed, against the ceiling (A-B-B-A " +
      'halves): what a server that runs the model per request can reach. Then the Fastify floor (the same served ' +
      'by a Fastify app with no plugins: the framework by itself) and Serval against the floor at the same points; ' +
      'Serval batches the rows of concurrent requests into one run, so at 64 connections it can pass it.',
    '',
    pairTable('Floor', r.floor),
    '',
    'Protocols on one Serval server (A-B-B-A halves): the same single-row Iris question as V1 instances, V2 JSON ' +
      'tensors, V2 binary tensors and gRPC ModelInfer with raw contents (as tritonclient.grpc sends it; a load ' +
      "generator writing gRPC's wire format on node:http2 keeps that many calls in flight, 16 per connection). The " +
      'last two rows are the transports by themselves: the ceiling answers the same gRPC call on bare node:http2 ' +
      "(a fixed ModelInferResponse of Serval's size, grpc-status in the trailers) and the V1 question on node:http.",
    '',
    pairTable('Protocols', r.protocols),
    '',
    'The large-tensor fixture ([1, 3, 224, 224] FP32, 588 KiB as binary, cheap compute) through V2 binary tensors, ' +
      'V2 JSON tensors, gRPC raw contents, and the ceiling receiving the same binary bytes (it reads the JSON header ' +
      'and answers a fixed V2 response of the same size).',
    '',
    pairTable('Large tensor', r.large),
    '',
    'Image files: a 224 × 224 RGB photo to a model whose input declares image processing (crop to 224 × 224, ' +
      "ImageNet's mean and std; the large fixture's graph, so the run costs little), sent as its JPEG file (V2 " +
      'binary BYTES, the V1 file body, gRPC raw BYTES) against the FP32 tensor a client would have made of it (V2 ' +
      'binary), A-B-B-A halves. The names give the bytes each request carries.',
    '',
    pairTable('Images', r.images),
    '',
    "Ensembles: Triton's iris_mm (test/fixtures/triton/ensemble: a graph converting millimetres to centimetres, " +
      'then the Iris classifier) asked in one V2 JSON request, against the client calling the two models itself ' +
      '(millimetres, then iris with its answer), each chain timed from its first request to its last answer by the ' +
      'same node:http client, A-B-B-A halves.',
    '',
    pairTable('Ensembles', r.ensembles),
    '',
    `The ensemble's own cost, at 1 connection over ${r.ensembleOverhead.requests} requests (the statistics ` +
      `extension's mean success time): the ensemble ${r.ensembleOverhead.ensembleUs.toFixed(0)} µs, its two ` +
      `models' own ${r.ensembleOverhead.stepsUs.toFixed(0)} µs together, ${r.ensembleOverhead.overheadUs.toFixed(0)} µs ` +
      'of overhead.',
    '',
    'Prediction cache (SERVAL_CACHE_ENABLED=true, one server, hit and miss runs in A-B-B-A halves): hits repeat one ' +
      'body; misses send the same shape with one feature value changed per request, a new cache key each time. ' +
      '"hits" / "misses": share of responses with cache-status "serval; hit" / "serval; fwd=miss; stored".',
    '',
    cacheTable(r),
    '',
    'Metrics cost: the same single-row Iris question to two servers, metrics on (the default) and off ' +
      '(SERVAL_METRICS_ENABLED=false), A-B-B-A halves.',
    '',
    pairTable('Metrics', r.metrics),
    '',
    "A real CNN: torchvision's MobileNetV2 with seeded random weights (training/mobilenet.py, made at bench time), " +
      'one 224 × 224 FP32 image per request, each client sending its next request when the last is answered; ' +
      'Serval with its defaults (SERVAL_WORKERS=0: one HTTP process per core). Mean batch: requests per model ' +
      'execution (statistics extension).',
    '',
    cnnSection(r.cnn),
    '',
    'Payload logging cost: the same single-row Iris question to a server logging every request and answer (two ' +
      'CloudEvents per request) and to one that does not: to HTTP (SERVAL_PAYLOAD_LOG_URL), HAProxy on loopback ' +
      'answering 200 to each event after reading it; to Redis, a stream on a loopback redis-server ' +
      '(redis-stream://serval:payloads). Each sink is a process of its own on the same two cores; fresh logging ' +
      'servers, A-B-B-A halves.',
    '',
    pairTable('Payload logging', r.payloadLog),
    '',
    'Tracing cost: the same single-row Iris question to a server with tracing off (no endpoint) and one exporting ' +
      'OTLP/HTTP protobuf to a loopback collector that discards, with OTEL_TRACES_SAMPLER=traceidratio and ratio 0 ' +
      '(nothing sampled), then always_on (every request traced: three spans each, batched exports), fresh servers, ' +
      'A-B-B-A halves.',
    '',
    pairTable('Tracing', r.tracing),
    '',
    reloadTable(r),
    '',
    heavyTable(r),
    '',
    serverTable(r),
    '',
    targetTable(r),
  ].join('\n');
}
