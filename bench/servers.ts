// The servers the bench compares: built Serval (a chosen model repository and log level) and the node:http ceiling.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { freePort, startServer, treeMemory, waitReady, type Server } from './processes.js';
import type { ServerFacts } from './report.js';

/** Long enough of nothing but 200s on /readyz that every worker has very likely loaded its models. */
const SETTLE_MS = 500;

export interface Started {
  server: Server;
  base: string;
  facts: ServerFacts;
  /** host:port of Serval's gRPC service. */
  grpc?: string;
}

export interface ServerContext {
  root: string;
  runDir: string;
  workers: number;
}

async function start(
  ctx: ServerContext,
  name: string,
  args: string[],
  env: (port: number) => Record<string, string>,
  readyPath: string,
  stdoutPath?: string,
  command?: string,
): Promise<Started> {
  const port = await freePort();
  const server = startServer({
    name,
    ...(command === undefined ? {} : { command }),
    args,
    cwd: ctx.root,
    env: env(port),
    logPath: join(ctx.runDir, `${name}.log`),
    ...(stdoutPath === undefined ? {} : { stdoutPath }),
  });
  const base = `http://127.0.0.1:${port}`;
  const readiness = await waitReady(server, base + readyPath, SETTLE_MS);
  const memory = treeMemory(server.pid);
  return {
    server,
    base,
    facts: { name, processes: memory.processes, readiness, memoryReady: memory, memoryAfterLoad: memory },
  };
}

export interface ServalOptions {
  logLevel?: string;
  modelRepository?: string;
  /** The prediction cache: off unless a scenario is about the cache. */
  cache?: boolean;
  /** Where Serval's stdout (its log lines) goes; stderr always goes to the run's log file. */
  stdoutPath?: string;
  /** bodyLimitBytes, for JSON bodies larger than the default 1 MiB. */
  bodyLimitBytes?: number;
  /** Any other SERVAL_* settings of a scenario. */
  env?: Record<string, string>;
}

export async function startServal(
  ctx: ServerContext,
  name: string,
  options: ServalOptions = {},
): Promise<Started> {
  // Every Serval serves gRPC too, each on a port of its own.
  const grpcPort = await freePort();
  const started = await start(
    ctx,
    name,
    ['dist/server.js'],
    (port) => ({
      SERVAL_PORT: String(port),
      SERVAL_GRPC_PORT: String(grpcPort),
      SERVAL_HOST: '127.0.0.1',
      SERVAL_WORKERS: String(ctx.workers),
      SERVAL_LOG_LEVEL: options.logLevel ?? 'warn',
      // Pinned off whatever serval.config.json says: the bench repeats one body, which a cache would answer from
      // memory, and measures the open server rather than 401s or 429s. Only the cache scenario turns the cache on.
      SERVAL_CACHE_ENABLED: String(options.cache ?? false),
      SERVAL_AUTH_ENABLED: 'false',
      SERVAL_RATE_LIMIT_ENABLED: 'false',
      ...(options.modelRepository === undefined ? {} : { SERVAL_MODEL_REPOSITORY: options.modelRepository }),
      ...(options.bodyLimitBytes === undefined
        ? {}
        : { SERVAL_BODY_LIMIT_BYTES: String(options.bodyLimitBytes) }),
      ...options.env,
    }),
    '/readyz',
    options.stdoutPath,
  );
  return { ...started, grpc: `127.0.0.1:${grpcPort}` };
}

/**
 * A bench script (bench/<name>.ts) as plain JS in the run folder: under tsx its processes would carry loader hooks
 * and memory.
 */
export function benchScript(ctx: ServerContext, name: string): string {
  const file = join(ctx.runDir, `${name}.mjs`);
  if (existsSync(file)) return file;
  const source = readFileSync(join(ctx.root, `bench/${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  writeFileSync(file, outputText);
  return file;
}

const rawServerFile = (ctx: ServerContext): string => benchScript(ctx, 'raw-server');

/** The ceiling: bare node:http answering a fixed prediction, and its node:http2 twin gRPC calls beside it. */
export async function startCeiling(ctx: ServerContext): Promise<Started> {
  const grpcPort = await freePort();
  const started = await start(
    ctx,
    'ceiling (node:http)',
    [rawServerFile(ctx)],
    (port) => ({ RAW_PORT: String(port), RAW_GRPC_PORT: String(grpcPort), RAW_WORKERS: String(ctx.workers) }),
    '/',
  );
  return { ...started, grpc: `127.0.0.1:${grpcPort}` };
}

/**
 * The floor: the ceiling's node:http running the bundled iris model once per request (onnxruntime-node); with
 * `fastify`, the same served by a Fastify app with no plugins.
 */
export function startFloor(ctx: ServerContext, framework?: 'fastify'): Promise<Started> {
  return start(
    ctx,
    framework ? 'Fastify floor (fastify + onnxruntime)' : 'floor (node:http + onnxruntime)',
    [rawServerFile(ctx)],
    (port) => ({
      RAW_PORT: String(port),
      RAW_WORKERS: String(ctx.workers),
      RAW_MODEL: join(ctx.root, 'models/iris/1'),
      ...(framework ? { RAW_FRAMEWORK: framework } : {}),
    }),
    '/',
  );
}

/** The CNN's floor (bench/cnn-floor.ts): bare node:http running each request through onnxruntime-node. */
export function startCnnFloor(
  ctx: ServerContext,
  model: string,
  setting: { processes: number; threads: number },
): Promise<Started> {
  return start(
    ctx,
    `CNN floor (node:http + onnxruntime, ${setting.processes} × ${setting.threads} threads)`,
    [benchScript(ctx, 'cnn-floor')],
    (port) => ({
      FLOOR_PORT: String(port),
      FLOOR_MODEL: model,
      FLOOR_WORKERS: String(setting.processes),
      FLOOR_THREADS: String(setting.threads),
    }),
    '/',
  );
}

/**
 * A model repository with iris, the slow fixture model and the large-tensor one. The folders are real and only the
 * files are links.
 */
export function heavyRepository(ctx: ServerContext): string {
  const repo = join(ctx.runDir, 'models');
  if (existsSync(repo)) return repo; // made by an earlier scenario of this run
  const models = {
    iris: join(ctx.root, 'models/iris/1'),
    heavy: join(ctx.root, 'test/fixtures/models/heavy/1'),
    large: join(ctx.root, 'test/fixtures/models/large/1'),
  };
  for (const [name, source] of Object.entries(models)) {
    mkdirSync(join(repo, name, '1'), { recursive: true });
    for (const file of ['model.onnx', 'model.json'])
      symlinkSync(join(source, file), join(repo, name, '1', file));
  }
  return repo;
}

/**
 * What payload logging sends to in the bench: HAProxy (Debian's, which .ci/run installs for the tests) answering 200
 * to every request, after reading its body. It costs a few µs an event where a node:http sink costs about 60 on this
 * machine, and the sink shares the two cores with Serval and the load generator: the cell measures Serval's cost
 * rather than the sink's.
 */
const DISCARD_SINK = `global
  maxconn 4096
defaults
  mode http
  timeout client 60s
  timeout server 60s
  timeout connect 5s
  option http-buffer-request
frontend sink
  bind 127.0.0.1:"\${SINK_PORT}"
  http-request return status 200
`;

/** Fails at once, not minutes into a run, when the payload log's sinks cannot run here. */
export function checkSinkTools(): void {
  for (const [program, flag] of [
    ['haproxy', '-v'],
    ['redis-server', '--version'],
  ] as const) {
    if (spawnSync(program, [flag]).status !== 0)
      throw new Error(
        `the payload log scenario runs Debian's ${program} as a sink (apt-get install haproxy redis-server)`,
      );
  }
}

/** A CloudEvents sink that discards what it gets, in a process of its own (not the load generator's). */
export function startDiscardSink(ctx: ServerContext): Promise<Started> {
  const file = join(ctx.runDir, 'discard-sink.cfg');
  if (!existsSync(file)) writeFileSync(file, DISCARD_SINK);
  return start(
    ctx,
    'payload log sink (discards)',
    ['-db', '-f', file],
    (port) => ({ SINK_PORT: String(port) }),
    '/',
    undefined,
    'haproxy',
  );
}

/** A model's counters from Serval's statistics extension, summed over its versions (the server sums its workers). */
export interface ModelCounters {
  inferences: number;
  executions: number;
  success: { count: number; ns: number };
}

export async function modelCounters(base: string, model: string): Promise<ModelCounters> {
  const res = await fetch(`${base}/v2/models/${model}/stats`);
  const body = (await res.json()) as {
    model_stats: {
      inference_count: number;
      execution_count: number;
      inference_stats: { success: { count: number; ns: number } };
    }[];
  };
  return body.model_stats.reduce<ModelCounters>(
    (sum, s) => ({
      inferences: sum.inferences + s.inference_count,
      executions: sum.executions + s.execution_count,
      success: {
        count: sum.success.count + s.inference_stats.success.count,
        ns: sum.success.ns + s.inference_stats.success.ns,
      },
    }),
    { inferences: 0, executions: 0, success: { count: 0, ns: 0 } },
  );
}
