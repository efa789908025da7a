// The built server (dist/server.js) as a real process on a free port, for the tests that talk to it over real HTTP.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { freePort, ROOT } from './helpers.js';
import { waitFor } from './wait.js';

/** The repository index lists models and none is still loading. */
async function modelsLoaded(base: string): Promise<boolean> {
  const res = await fetch(`${base}/v2/repository/index`, { method: 'POST', body: '{}' });
  if (res.status !== 200) return false;
  const rows = (await res.json()) as { state: string }[];
  return rows.length > 0 && rows.every((r) => r.state !== 'LOADING');
}

export interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>;
  base: string;
  /** host:port of its gRPC service. */
  grpcAddress: string;
  /** The JSON log lines written so far. */
  lines: () => Record<string, unknown>[];
  /** Everything it wrote so far. */
  log: () => string;
}

export interface StartOptions {
  /** Wait for the models to have loaded whatever their outcome (a model that fails on purpose is never ready). */
  loaded?: boolean;
  /** Wait for this many workers to have logged "worker ready" (which they do once HTTP and gRPC listen). */
  workers?: number;
}

/** Starts dist/server.js with the given environment and resolves once /readyz answers 200 (or as `options` say). */
export async function startServer(env: Record<string, string>, options: StartOptions = {}): Promise<Running> {
  const port = await freePort();
  const grpcPort = env.SERVAL_GRPC_PORT ?? String(await freePort());
  const child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVAL_PORT: String(port),
      SERVAL_GRPC_PORT: grpcPort,
      SERVAL_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const { loaded = false, workers } = options;
  const isReady = async () => {
    if (workers !== undefined) return lines().filter((l) => l.msg === 'worker ready').length >= workers;
    return (loaded ? modelsLoaded(base) : fetch(`${base}/readyz`).then((r) => r.status === 200)).catch(
      () => false,
    );
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}`);
        return isReady();
      },
      {
        what:
          workers === undefined
            ? loaded
              ? 'its models have loaded'
              : '/readyz answers 200'
            : `${workers} workers are ready`,
        // Two workers start in turn.
        timeoutMs: workers === undefined ? 10_000 : 15_000,
      },
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`server not ready: ${(err as Error).message}\n${out}`, { cause: err });
  }
  return { child, base, grpcAddress: `127.0.0.1:${grpcPort}`, lines, log: () => out };
}

/** The access lines of the requests whose ids start with `prefix` (a worker writes one once it has answered). */
export function accessLines(
  lines: readonly Record<string, unknown>[],
  prefix: string,
): Record<string, unknown>[] {
  return lines.filter(
    (l) => typeof l.reqId === 'string' && l.reqId.startsWith(prefix) && l.msg === 'request',
  );
}

/** The pids of the processes whose access lines answered the requests whose ids start with `prefix`. */
export function answeredBy(lines: readonly Record<string, unknown>[], prefix: string): Set<unknown> {
  return new Set(accessLines(lines, prefix).map((l) => l.pid));
}

/**
 * The requests for `model` that the server's workers have taken in so far: queued or running (the pending gauge) and
 * answered (the request counter), summed over every worker from one scrape of /metrics.
 */
export async function takenIn(base: string, model: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const [, labels, value] of text.matchAll(
    /^serval_inference_(?:pending|requests_total)\{([^}]*)\} (\S+)$/gm,
  )) {
    if (labels?.split(',').includes(`model="${model}"`)) sum += Number(value);
  }
  return sum;
}
