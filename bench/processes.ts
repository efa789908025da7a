// Server child processes for the bench: free ports, spawn, readiness, process-tree memory and sure cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

// The same free-port probe as the tests'.
export { freePort } from '../test/net.js';

export interface Server {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  startedAt: number;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

const running = new Set<Server>();

export interface StartOptions {
  name: string;
  /** The program: node itself unless given. */
  command?: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Where stderr (and stdout unless stdoutPath says otherwise) goes. */
  logPath: string;
  stdoutPath?: string;
}

/** Spawns `node <args>` (or `<command> <args>`); output goes to files, so the bench's own event loop never pumps the child's logs. */
export function startServer(options: StartOptions): Server {
  const errFd = openSync(options.logPath, 'w');
  const outFd = options.stdoutPath === undefined ? errFd : openSync(options.stdoutPath, 'w');
  const startedAt = performance.now();
  const child = spawn(options.command ?? process.execPath, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', outFd, errFd],
  });
  closeSync(errFd);
  if (outFd !== errFd) closeSync(outFd);
  if (child.pid === undefined) throw new Error(`${options.name} did not start`);
  const server: Server = {
    name: options.name,
    child,
    pid: child.pid,
    logPath: options.logPath,
    startedAt,
    exitCode: undefined,
    exited: new Promise((resolve) => {
      child.once('exit', (code) => {
        server.exitCode = code;
        running.delete(server);
        resolve(code);
      });
    }),
  };
  running.add(server);
  return server;
}

/** GET on a fresh connection (agent: false), so that cluster round-robin can pick any worker; 0 on error. */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

export interface Readiness {
  /** Spawn to the first 200: what a readiness probe sees. */
  firstReadyMs: number;
  /** Spawn to the start of an unbroken run of 200s: by then every worker has very likely loaded its models. */
  settledMs: number;
}

/**
 * Polls on fresh connections so that cluster round-robin spreads the probes over the workers. A worker answers
 * 503 while its models load, and gets no connection at all before it listens, so one 200 says little about the
 * others: readiness counts as settled after `settleMs` of nothing but 200s.
 */
export async function waitReady(
  server: Server,
  url: string,
  settleMs: number,
  timeoutMs = 60_000,
): Promise<Readiness> {
  let firstReadyMs: number | undefined;
  let streakStart: number | undefined;
  while (performance.now() - server.startedAt < timeoutMs) {
    if (server.exitCode !== undefined) {
      throw new Error(
        `${server.name} exited with ${String(server.exitCode)} before ready:\n${logTail(server)}`,
      );
    }
    const status = await statusOf(url);
    const now = performance.now() - server.startedAt;
    if (status === 200) {
      firstReadyMs ??= now;
      streakStart ??= now;
      if (now - streakStart >= settleMs) return { firstReadyMs, settledMs: streakStart };
    } else {
      streakStart = undefined;
    }
    await sleep(status === 200 ? 20 : 10);
  }
  throw new Error(`${server.name} not ready within ${timeoutMs} ms:\n${logTail(server)}`);
}

export function logTail(server: Server, lines = 20): string {
  try {
    return readFileSync(server.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .split(/\s+/)
        .filter((s) => s !== '')
        .map(Number),
    );
  } catch {
    return []; // gone already
  }
}

function processTree(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(processTree)];
}

/** A "Name:   123 kB" field of a /proc file, in kB; 0 if the process is gone. */
function procField(path: string, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(path, 'utf8'));
    return match?.[1] === undefined ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

export interface TreeMemory {
  processes: number;
  /** Sum of VmRSS: counts shared pages (the node binary, onnxruntime's .so) once per process. */
  rssMb: number;
  /** Sum of Pss: shared pages split between sharers, so the sum is what the tree really costs. */
  pssMb: number;
}

export function treeMemory(pid: number): TreeMemory {
  const pids = processTree(pid);
  const kb = (field: string, file: string): number =>
    pids.reduce((sum, p) => sum + procField(`/proc/${p}/${file}`, field), 0);
  return {
    processes: pids.length,
    rssMb: kb('VmRSS', 'status') / 1024,
    pssMb: kb('Pss', 'smaps_rollup') / 1024,
  };
}

/** utime + stime (all threads) of the tree, in seconds; /proc counts in USER_HZ, which Linux fixes at 100. */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      // Fields after the ")" that closes the command name: state is [0], utime [11], stime [12].
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return sum;
    }
  }, 0);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM (Serval drains and stops its workers), then SIGKILL whatever of the tree is left after the grace. */
export async function stopServer(server: Server, graceMs = 10_000): Promise<void> {
  const tree = processTree(server.pid);
  if (server.exitCode === undefined) {
    signal(server.pid, 'SIGTERM');
    const timedOut = await Promise.race([server.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) signal(server.pid, 'SIGKILL');
    await server.exited;
  }
  // Workers of a primary that died abruptly would linger as orphans: kill those of our tree still running node.
  await sleep(200);
  for (const pid of tree.slice(1)) if (isNode(pid)) signal(pid, 'SIGKILL');
}

function isNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(process.execPath);
  } catch {
    return false;
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => stopServer(server)));
}
