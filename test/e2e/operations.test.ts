// Operating the built server (2 workers) while it serves: one scrape of /metrics for the whole process tree (also
// on its own metricsPort), statistics summed over workers, and models loaded, reloaded and unloaded through the
// repository API under load without a failed request; a worker started later gets the changes made before it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { freePort, MODELS, ROOT, tempRepository } from '../helpers.js';
import { parserSkip, Scrape } from '../prometheus.js';
import { waitFor } from '../wait.js';

interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>;
  base: string;
  metricsBase: string;
  output: () => string;
}

const IRIS = join(MODELS, 'iris/1');
const irisV2 = JSON.stringify({
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
});
const diabetesV1 = JSON.stringify({ instances: [Array(10).fill(0.01)] });
const json = { 'content-type': 'application/json' };

async function start(repo: string): Promise<Running> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVAL_PORT: String(port),
      SERVAL_METRICS_PORT: String(metricsPort),
      SERVAL_HOST: '127.0.0.1',
      SERVAL_WORKERS: '2',
      SERVAL_MODEL_REPOSITORY: repo,
      SERVAL_BATCH_MAX_ROWS: '1',
      SERVAL_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(() => (out.match(/"worker ready"/g) ?? []).length >= 2, {
    what: () => `2 workers are ready (log: ${out})`,
    timeoutMs: 15_000,
  });
  assert.equal((out.match(/"worker ready"/g) ?? []).length, 2, out);
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    metricsBase: `http://127.0.0.1:${metricsPort}`,
    output: () => out,
  };
}

/** A request on a connection of its own: the primary hands each new connection to a worker in turn. */
const call = (base: string, path: string, body?: string) =>
  fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(body === undefined ? {} : json), connection: 'close' },
    ...(body === undefined ? {} : { body }),
  });

const scrape = async (base: string) => {
  const res = await call(base, '/metrics');
  assert.equal(res.status, 200);
  return new Scrape(await res.text());
};

describe('operating a 2-worker server', { skip: parserSkip() }, () => {
  let server: Running;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await tempRepository({
      'iris/1': { from: IRIS },
      'diabetes/1': { from: join(MODELS, 'diabetes/1') },
    });
    server = await start(repo.root);
  });
  after(async () => {
    server.child.kill('SIGKILL');
    await repo.cleanup();
  });

  it('one scrape of metricsPort has the exact counts of both workers', async () => {
    for (let i = 0; i < 30; i++)
      assert.equal((await call(server.base, '/v2/models/iris/infer', irisV2)).status, 200);
    for (let i = 0; i < 10; i++)
      assert.equal((await call(server.base, '/v1/models/diabetes:predict', diabetesV1)).status, 200);
    // With a metricsPort, /metrics is served there only (as Triton's 8002).
    assert.equal((await call(server.base, '/metrics')).status, 404);
    {
      const metrics = await scrape(server.metricsBase);
      const iris = { model: 'iris', version: '1' };
      assert.equal(
        metrics.value('serval_inference_requests_total', { ...iris, protocol: 'v2', outcome: 'success' }),
        30,
      );
      assert.equal(metrics.value('serval_inference_rows_total', { model: 'diabetes' }), 10);
      assert.equal(
        metrics.histogram('serval_inference_request_duration_seconds', { ...iris, protocol: 'v2' }).count,
        30,
      );
      assert.equal(
        metrics.value('serval_http_requests_total', { route: '/v2/models/:model/infer', status: '2xx' }),
        30,
      );
      // Each worker's process metrics, apart.
      const workers = metrics.samples('process_resident_memory_bytes').map((s) => s.labels.worker);
      assert.deepEqual(workers.sort(), ['1', '2']);
      assert.equal(metrics.value('serval_models_ready'), 4, 'two models in each of two workers');
    }
    // Both workers served (the counts above are their sum).
    const pids = new Set(
      server
        .output()
        .split('\n')
        .filter((l) => l.includes('"route":"/v2/models/:model/infer"'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid),
    );
    assert.equal(pids.size, 2);
    const stats = (await (await call(server.base, '/v2/models/iris/stats')).json()) as {
      model_stats: {
        inference_count: number;
        execution_count: number;
        inference_stats: { success: { count: number } };
      }[];
    };
    const [iris] = stats.model_stats;
    assert.ok(iris);
    assert.equal(iris.inference_count, 30);
    assert.equal(iris.execution_count, 30);
    assert.equal(iris.inference_stats.success.count, 30);
    // metricsPort serves /metrics only.
    assert.equal((await call(server.metricsBase, '/v2/models')).status, 404);
  });

  it('reloads and unloads under load: no failed request, the new version answers in every worker', async () => {
    const load = autocannon({
      url: `${server.base}/v2/models/iris/infer`,
      method: 'POST',
      headers: json,
      body: irisV2,
      connections: 8,
      duration: 6,
    });
    // Another client of the model that is unloaded meanwhile: 200 until the unload, then 404 only.
    const diabetes: number[] = [];
    const running = { stop: false };
    const other = (async () => {
      while (!running.stop)
        diabetes.push((await call(server.base, '/v1/models/diabetes:predict', diabetesV1)).status);
    })();
    await sleep(1000); // the load runs a while before the changes
    await cp(IRIS, join(repo.root, 'iris/2'), { recursive: true });
    const loaded = await call(server.base, '/v2/repository/models/iris/load', '{}');
    assert.equal(loaded.status, 200, await loaded.text());
    const unloaded = await call(server.base, '/v2/repository/models/diabetes/unload', '{}');
    assert.equal(unloaded.status, 200, await unloaded.text());
    const versions = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await call(server.base, '/v2/models/iris/infer', irisV2);
      versions.add(((await res.json()) as { model_version: string }).model_version);
    }
    assert.deepEqual([...versions], ['2'], 'both workers answer with the new version');
    const result = await load;
    running.stop = true;
    await other;
    assert.ok(result['2xx'] > 100, `${result['2xx']} answers`);
    assert.equal(result.non2xx, 0, JSON.stringify(result.statusCodeStats));
    assert.equal(result.errors, 0);
    const firstGone = diabetes.indexOf(404);
    assert.ok(firstGone > 0, 'diabetes served until it was unloaded');
    assert.ok(diabetes.slice(0, firstGone).every((s) => s === 200));
    assert.ok(
      diabetes.slice(firstGone).every((s) => s === 404),
      diabetes.join(','),
    );
    const index = (await (await call(server.base, '/v2/repository/index', '{}')).json()) as {
      name: string;
      version: string;
      state: string;
    }[];
    assert.deepEqual(
      index.map((r) => `${r.name}/${r.version}:${r.state}`),
      ['diabetes/1:UNAVAILABLE', 'iris/2:READY', 'iris/1:UNAVAILABLE'],
    );
  });

  it('a broken version fails its load in every worker, named; the running version serves on', async () => {
    await mkdir(join(repo.root, 'iris/3'));
    await writeFile(join(repo.root, 'iris/3/model.onnx'), Buffer.alloc(64, 7));
    const res = await call(server.base, '/v2/repository/models/iris/load', '{}');
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; error: string };
    assert.equal(body.code, 'MODEL_LOAD_FAILED');
    assert.match(body.error, /version 3: model\.onnx cannot be loaded.*\(in 2 of 2 workers\)/);
    for (let i = 0; i < 6; i++) {
      const answer = await call(server.base, '/v2/models/iris/infer', irisV2);
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { model_version: string }).model_version, '2');
    }
  });

  it('a worker started after the changes (one died) gets them: same models, counted as a restart', async () => {
    const workerPids = [...server.output().matchAll(/"pid":(\d+)[^\n]*"msg":"worker ready"/g)].map((m) =>
      Number(m[1]),
    );
    process.kill(workerPids[0] ?? 0, 'SIGKILL');
    await waitFor(() => (server.output().match(/"worker ready"/g) ?? []).length >= 3, {
      what: () => `a third worker is ready (log: ${server.output()})`,
      timeoutMs: 15_000,
    });
    assert.equal((server.output().match(/"worker ready"/g) ?? []).length, 3, server.output());
    for (let i = 0; i < 10; i++) {
      assert.equal((await call(server.base, '/v1/models/diabetes:predict', diabetesV1)).status, 404);
      const iris = await call(server.base, '/v2/models/iris/infer', irisV2);
      assert.equal(((await iris.json()) as { model_version: string }).model_version, '2');
    }
    const metrics = await scrape(server.metricsBase);
    assert.equal(metrics.value('serval_worker_restarts_total'), 1);
  });
});
