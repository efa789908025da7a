// The built server (dist/server.js) as a real process on a free port, for the tests that talk to it over real HTTP.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT } from './helpers.js';

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
  /** The JSON log lines written so far. */
  lines: () => Record<string, unknown>[];
}

/**
 * Starts dist/server.js with the given environment and resolves once /readyz answers 200, or with `loaded` once
 * the models have loaded whatever their outcome (a repository with a model that fails on purpose is never ready).
 */
export async function startServer(
  env: Record<string, string>,
  { loaded = false }: { loaded?: boolean } = {},
): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVAL_PORT: String(port),
      SERVAL_GRPC_PORT: String(await freePort()),
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
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${out}`);
    const ready = await (
      loaded ? modelsLoaded(base) : fetch(`${base}/readyz`).then((r) => r.status === 200)
    ).catch(() => false);
    if (ready) return { child, base, lines };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready: ${out}`);
}

/** The pids of the processes whose access lines answered the requests whose ids start with `prefix`. */
export function answeredBy(lines: readonly Record<string, unknown>[], prefix: string): Set<unknown> {
  return new Set(
    lines
      .filter((l) => typeof l.reqId === 'string' && l.reqId.startsWith(prefix) && l.msg === 'request')
      .map((l) => l.pid),
  );
}
