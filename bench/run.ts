// `npm run bench`: the built Serval against a bare node:http ceiling, plus a heavy-model run; Markdown out, JSON saved.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runLoad, summarize, type LoadResult, type LoadRun, type LoadSpec } from './load.js';
import { stopAll, stopServer, treeCpuSeconds, treeMemory, type Server } from './processes.js';
import { renderReport, type BenchResults, type MatrixRow, type Target } from './report.js';
import { heavyRepository, startCeiling, startServal, type ServerContext, type Started } from './servers.js';

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
  workers: Math.round(positiveEnv('BENCH_WORKERS', 2)),
};
const DURATION_S = positiveEnv('BENCH_DURATION', 5);
const WARMUP_S = positiveEnv('BENCH_WARMUP', 1);
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

/** Warm-up until all 2xx (a worker still loading its models answers 503), three tries at most. */
async function warmUp(spec: Omit<LoadSpec, 'durationS'>): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const run = await runLoad({ ...spec, durationS: WARMUP_S });
    if (run.non2xx === 0 && run.errors === 0) return;
    process.stderr.write(
      `  warm-up ${attempt} of ${spec.url}: ${JSON.stringify(run.statusCodes)}, ${run.errors} errors\n`,
    );
  }
}

interface Side {
  server: Server;
  spec: Omit<LoadSpec, 'durationS'>;
  runs: LoadRun[];
  cpuSeconds: number;
}

async function timedSlice(side: Side, durationS: number): Promise<void> {
  const before = treeCpuSeconds(side.server.pid);
  side.runs.push(await runLoad({ ...side.spec, durationS }));
  side.cpuSeconds += treeCpuSeconds(side.server.pid) - before;
}

/** Serval and the ceiling in A-B-B-A halves, so that a noisy neighbour's burst or drift hits both sides alike. */
async function compare(
  serval: Started,
  ceiling: Started,
  body: string,
  connections: number,
): Promise<[LoadResult, LoadResult]> {
  const [a, b] = [serval, ceiling].map((s): Side => ({
    server: s.server,
    spec: { url: `${s.base}/v1/models/iris:predict`, body, connections },
    runs: [],
    cpuSeconds: 0,
  })) as [Side, Side];
  await warmUp(a.spec);
  await warmUp(b.spec);
  for (const side of [a, b, b, a]) await timedSlice(side, DURATION_S / 2);
  return [summarize(connections, a.runs, a.cpuSeconds), summarize(connections, b.runs, b.cpuSeconds)];
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

function targets(top: MatrixRow, heavy: BenchResults['heavy'], serval: Started): Target[] {
  const ready = serval.facts.readiness.firstReadyMs;
  return [
    {
      name: 'iris ×1 at 64 conns: req/s vs ceiling',
      goal: '≥ 50%',
      measured: `${(top.ratio * 100).toFixed(0)}%`,
      pass: top.ratio >= 0.5,
    },
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
    { name: 'start to ready', goal: '< 2000 ms', measured: `${ready.toFixed(0)} ms`, pass: ready < 2000 },
  ];
}

async function main(): Promise<void> {
  const load1 = loadavg()[0] ?? 0;
  process.stderr.write(
    `bench: ${ctx.workers} worker(s), ${WARMUP_S}+${DURATION_S} s per server and scenario, load average ${load1.toFixed(2)}; logs in ${ctx.runDir}\n`,
  );

  // Serval starts alone, so that its start-to-ready time is not shared with the ceiling's start.
  const serval = await startServal(ctx, 'serval');
  await checkPredict(serval.base);
  const ceiling = await startCeiling(ctx);
  const matrix = await throughputMatrix(serval, ceiling);
  serval.facts.memoryAfterLoad = treeMemory(serval.server.pid);
  ceiling.facts.memoryAfterLoad = treeMemory(ceiling.server.pid);
  await stopServer(serval.server);

  // Production logs at info: one access line per request, written to /dev/null so that no terminal slows it.
  const verbose = await startServal(ctx, 'serval (log info)', { logLevel: 'info', stdoutPath: '/dev/null' });
  const [infoRun, infoCeiling] = await compare(verbose, ceiling, IRIS_1.body, 64);
  expectAllOk('Serval iris ×1 at 64 conns, log info', infoRun);
  verbose.facts.memoryAfterLoad = treeMemory(verbose.server.pid);
  await Promise.all([stopServer(verbose.server), stopServer(ceiling.server)]);
  const logInfo = {
    body: 'iris ×1, log info',
    connections: 64,
    serval: infoRun,
    ceiling: infoCeiling,
    ratio: infoRun.rps / infoCeiling.rps,
  };

  const { started: heavyServer, heavy } = await heavyScenario();
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
    servers: [serval.facts, verbose.facts, heavyServer.facts, ceiling.facts],
    matrix,
    logInfo,
    heavy,
    targets: targets(top, heavy, serval),
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
