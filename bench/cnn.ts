// A real CNN: torchvision's MobileNetV2 (random weights, made at bench time by training/mobilenet.py), one 224 × 224
// image per request. In one run: onnxruntime-node's own limit on this machine (no server: batches 1 to 32, one and
// two intra-op threads, one process and two), the floor (bare node:http running each request through onnxruntime
// with the batch-1 setting of the most images/s), and Serval with its defaults over V2 binary and gRPC at 1, 8, 32 and 64 clients.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { binaryBody, grpcRequest, MODEL_INFER } from './bodies.js';
import { runGrpcLoad } from './grpc-load.js';
import { runLoad, summarize, warmUntilSteady, type LoadResult, type LoadRun, type WarmUp } from './load.js';
import { stopServer, treeMemory } from './processes.js';
import {
  benchScript,
  modelCounters,
  startCnnFloor,
  startServal,
  type ServerContext,
  type Started,
} from './servers.js';

export const CNN_CLIENTS = [1, 8, 32, 64];
/** The floor with the setting of the best batch-1 latency, at one client (when it is not the throughput setting). */
export const FASTEST_FLOOR = 'floor, fastest batch-1 setting';
const BATCHES = [1, 2, 4, 8, 16, 32];

export interface LimitCell {
  processes: number;
  threads: number;
  batch: number;
  imagesPerS: number;
  /** The slowest process's median run time. */
  p50Ms: number;
}

export interface CnnRow {
  server: string;
  clients: number;
  result: LoadResult;
  /** Requests per model execution over the cell (Serval's statistics extension); undefined for the floor. */
  meanBatch?: number;
}

/**
 * The settings the scenario and its report name: the most images/s (the limit), the batch-1 setting of the most
 * images/s (the floor's), and the best batch-1 latency.
 */
export function limitSettings(limit: readonly LimitCell[]): {
  best: LimitCell;
  batch1: LimitCell;
  fastest: LimitCell;
} {
  const byImages = [...limit].sort((a, b) => b.imagesPerS - a.imagesPerS);
  const batch1 = limit.filter((c) => c.batch === 1);
  return {
    best: byImages[0] as LimitCell,
    batch1: byImages.find((c) => c.batch === 1) as LimitCell,
    fastest: batch1.sort((a, b) => a.p50Ms - b.p50Ms)[0] as LimitCell,
  };
}

/** Whether two cells run the same processes and threads. */
export const sameSetting = (a: LimitCell, b: LimitCell): boolean =>
  a.processes === b.processes && a.threads === b.threads;

export interface CnnResults {
  limit: LimitCell[];
  rows: CnnRow[];
}

const TOOLS_NEEDED =
  "the CNN scenario makes MobileNetV2 with Debian's python3-torch, python3-torchvision and python3-onnx " +
  '(apt-get install python3-torch python3-torchvision python3-onnx)';

/** Fails at once, not minutes into a run, when the model cannot be made on this machine. */
export function checkCnnTools(): void {
  const found = spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision, onnx'], {
    encoding: 'utf8',
  });
  if (found.status !== 0)
    throw new Error(`${TOOLS_NEEDED}: ${found.stderr || found.error?.message || 'not found'}`);
}

/** Makes the model with Debian's python3-torch and python3-torchvision, once per run; the repository's folder. */
function makeModel(ctx: ServerContext): string {
  const repo = join(ctx.runDir, 'cnn-models');
  if (existsSync(join(repo, 'mobilenet/1/model.onnx'))) return repo;
  const made = spawnSync('/usr/bin/python3', [join(ctx.root, 'training/mobilenet.py'), repo], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`training/mobilenet.py failed (${TOOLS_NEEDED}): ${made.stderr}`);
  return repo;
}

function limitProcess(ctx: ServerContext, args: string[]): Promise<{ imagesPerS: number; p50Ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [benchScript(ctx, 'ort-limit'), ...args], {
      cwd: ctx.root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as { imagesPerS: number; p50Ms: number });
      else reject(new Error(`ort-limit ${args.join(' ')} exited with ${code}`));
    });
  });
}

/** onnxruntime-node alone, every setting in turn (processes of one setting run at the same time). */
async function measureLimit(ctx: ServerContext, model: string, seconds: number): Promise<LimitCell[]> {
  const cells: LimitCell[] = [];
  for (const processes of [1, 2])
    for (const threads of [1, 2])
      for (const batch of BATCHES) {
        const args = [model, String(threads), String(batch), String(seconds)];
        const runs = await Promise.all(Array.from({ length: processes }, () => limitProcess(ctx, args)));
        const cell = {
          processes,
          threads,
          batch,
          imagesPerS: runs.reduce((sum, r) => sum + r.imagesPerS, 0),
          p50Ms: Math.max(...runs.map((r) => r.p50Ms)),
        };
        process.stderr.write(
          `  onnxruntime alone: ${processes} process(es) × ${threads} thread(s), batch ${batch}: ${cell.imagesPerS.toFixed(0)} images/s, p50 ${cell.p50Ms.toFixed(1)} ms\n`,
        );
        cells.push(cell);
      }
  return cells;
}

const IMAGE = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => ((i * 7919) % 256) / 255);
const V2_BINARY = binaryBody('image', [1, 3, 224, 224], IMAGE, { binary_data_output: true });
const GRPC_IMAGE = grpcRequest('mobilenet', 'image', [1, 3, 224, 224], IMAGE);

type Send = (connections: number, durationS: number) => Promise<LoadRun>;

/** A cell after its warm-up (until steady); the mean batch from the statistics extension when the server is Serval. */
async function cell(
  server: string,
  started: Started,
  send: Send,
  clients: number,
  timing: { durationS: number; warmUp: WarmUp },
  serval: boolean,
): Promise<CnnRow> {
  const { durationS, warmUp } = timing;
  await warmUntilSteady((seconds) => send(clients, seconds), warmUp);
  const before = serval ? await modelCounters(started.base, 'mobilenet') : undefined;
  const result = summarize(clients, [await send(clients, durationS)]);
  const after = serval ? await modelCounters(started.base, 'mobilenet') : undefined;
  const meanBatch =
    before && after
      ? (after.inferences - before.inferences) / Math.max(1, after.executions - before.executions)
      : undefined;
  process.stderr.write(
    `  ${server} at ${clients} clients: ${result.rps.toFixed(0)} images/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms${meanBatch === undefined ? '' : `, mean batch ${meanBatch.toFixed(2)}`}\n`,
  );
  return { server, clients, result, ...(meanBatch === undefined ? {} : { meanBatch }) };
}

const overHttp =
  (started: Started): Send =>
  (connections, durationS) =>
    runLoad({
      url: `${started.base}/v2/models/mobilenet/infer`,
      ...V2_BINARY,
      connections,
      durationS,
    });

export async function cnnScenario(
  ctx: ServerContext,
  durationS: number,
  warmUp: WarmUp,
): Promise<{ started: Started[]; results: CnnResults }> {
  const timing = { durationS, warmUp };
  const repo = makeModel(ctx);
  const model = join(repo, 'mobilenet/1/model.onnx');
  const limit = await measureLimit(ctx, model, Math.max(2, durationS / 2));
  const { batch1, fastest } = limitSettings(limit);
  const rows: CnnRow[] = [];

  const floor = await startCnnFloor(ctx, model, batch1);
  for (const clients of CNN_CLIENTS)
    rows.push(await cell('floor', floor, overHttp(floor), clients, timing, false));
  floor.facts.memoryAfterLoad = treeMemory(floor.server.pid);
  await stopServer(floor.server);
  const floors = [floor];
  // One client against the setting of the best batch-1 latency too: what a bare server gets of that latency.
  if (!sameSetting(fastest, batch1)) {
    const quick = await startCnnFloor(ctx, model, fastest);
    rows.push(await cell(FASTEST_FLOOR, quick, overHttp(quick), 1, timing, false));
    quick.facts.memoryAfterLoad = treeMemory(quick.server.pid);
    await stopServer(quick.server);
    floors.push(quick);
  }

  // Serval's defaults: one HTTP process per core, no setting of the bench's.
  const serval = await startServal(ctx, 'serval (mobilenet, defaults)', {
    modelRepository: repo,
    env: { SERVAL_WORKERS: '0' },
  });
  const grpc: Send = (concurrency, seconds) =>
    runGrpcLoad({
      address: serval.grpc ?? '',
      method: MODEL_INFER,
      body: GRPC_IMAGE,
      concurrency,
      durationS: seconds,
    });
  for (const clients of CNN_CLIENTS) {
    rows.push(await cell('Serval, V2 binary', serval, overHttp(serval), clients, timing, true));
    rows.push(await cell('Serval, gRPC', serval, grpc, clients, timing, true));
  }
  serval.facts.memoryAfterLoad = treeMemory(serval.server.pid);
  await stopServer(serval.server);
  return { started: [...floors, serval], results: { limit, rows } };
}
