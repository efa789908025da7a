// Helpers for the container test: the plain docker CLI through child_process, free ports and HTTP polling.
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output whatever the code (rejects only if it cannot start). */
export function run(command: string, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function docker(args: string[], timeoutMs?: number): Promise<CommandResult> {
  return run('docker', args, timeoutMs);
}

/** `docker ...args` that must succeed; returns its trimmed stdout, or throws with its output. */
export async function dockerOk(args: string[], timeoutMs?: number): Promise<string> {
  const { code, stdout, stderr } = await docker(args, timeoutMs);
  if (code !== 0) {
    const tail = (stdout + stderr).trim().split('\n').slice(-40).join('\n');
    throw new Error(`docker ${args.join(' ')} exited with ${code}:\n${tail}`);
  }
  return stdout.trim();
}

/** Why no Docker engine answers (the message of `docker info`), or undefined when one does. */
export function engineProblem(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (info.error) return info.error.message;
  if (info.status !== 0) return (info.stderr || info.stdout).trim().split('\n')[0] ?? 'docker info failed';
  return undefined;
}

export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export { freePort } from '../net.js';

/** One GET over a fresh connection (no keep-alive), so that a clustered server may route it to any worker. */
export function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls GET `path` until it answers 200 `times` times in a row; returns the milliseconds waited. In cluster
 * mode each answer comes from one worker, so several in a row are needed to know that every worker is ready.
 */
export async function waitFor200(port: number, path: string, times = 1, timeoutMs = 30_000): Promise<number> {
  const start = performance.now();
  let streak = 0;
  let last = 'no answer';
  while (performance.now() - start < timeoutMs) {
    try {
      const status = await getStatus(port, path);
      streak = status === 200 ? streak + 1 : 0;
      if (streak >= times) return performance.now() - start;
      last = `HTTP ${status}`;
    } catch (err) {
      streak = 0;
      last = (err as Error).message;
    }
    if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(
    `GET :${port}${path} did not answer 200 ${times} times within ${timeoutMs} ms (last: ${last})`,
  );
}

export interface Outcome {
  /** HTTP status, or 0 when the connection failed. */
  status: number;
  body: string;
}

/**
 * POSTs JSON over a fresh connection. `written` settles once the whole request is on the socket, so a
 * caller can act (docker stop) while the server is known to hold the request.
 */
export function postJson(
  port: number,
  path: string,
  payload: unknown,
): { written: Promise<void>; response: Promise<Outcome> } {
  const body = JSON.stringify(payload);
  let markWritten = (): void => undefined;
  const written = new Promise<void>((resolve) => (markWritten = resolve));
  const response = new Promise<Outcome>((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (err) => resolve({ status: 0, body: err.message }));
      },
    );
    req.on('error', (err) => {
      markWritten();
      resolve({ status: 0, body: err.message });
    });
    req.end(body, markWritten);
  });
  return { written, response };
}
