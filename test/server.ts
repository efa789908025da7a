// The built server (dist/server.js) as a real process on a free port, for the tests that talk to it over real HTTP.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT } from './helpers.js';

export interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>;
  base: string;
  /** The JSON log lines written so far. */
  lines: () => Record<string, unknown>[];
}

/** Starts dist/server.js with the given environment and resolves once /readyz answers 200. */
export async function startServer(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
    cwd: ROOT,
    env: { ...process.env, SERVAL_PORT: String(port), SERVAL_HOST: '127.0.0.1', ...env },
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
    const ready = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return { child, base, lines };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready: ${out}`);
}
