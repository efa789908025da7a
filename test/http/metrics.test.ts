// Prometheus metrics (GET /metrics, read with a real text-format parser) and Triton's statistics extension
// (GET /v2/models/.../stats), after traffic whose counts are known.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedApp, signedToken } from '../helpers.js';
import { parserSkip, Scrape, type Histogram } from '../prometheus.js';

const skip = parserSkip();

const row = [5.1, 3.5, 1.4, 0.2];
const v1 = (app: FastifyInstance, instances: unknown[], headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/models/iris:predict', headers, payload: { instances } });
const v2 = (app: FastifyInstance, inputs: unknown[]) =>
  app.inject({ method: 'POST', url: '/v2/models/iris/infer', payload: { inputs } });
const irisInput = (rows: number) => ({
  name: 'input',
  shape: [rows, 4],
  datatype: 'FP32',
  data: Array.from({ length: rows }, () => row).flat(),
});

async function scrape(app: FastifyInstance): Promise<Scrape> {
  const res = await app.inject('/metrics');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  return new Scrape(res.body);
}

/** Cumulative buckets never decrease and end at the count. */
function assertSaneHistogram(h: Histogram): void {
  const bounds = Object.entries(h.buckets)
    .map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count] as const)
    .sort((a, b) => a[0] - b[0]);
  bounds.reduce((previous, [, count]) => {
    assert.ok(count >= previous, 'buckets are cumulative');
    return count;
  }, 0);
  assert.equal(bounds.at(-1)?.[0], Infinity);
  assert.equal(bounds.at(-1)?.[1], h.count);
  assert.ok(h.sum >= 0);
}

describe('GET /metrics after known traffic', { skip }, () => {
  let app: FastifyInstance;
  let metrics: Scrape;
  before(async () => {
    app = await loadedApp({ batchMaxRows: 1 });
    for (let i = 0; i < 3; i++) assert.equal((await v1(app, [row, row])).statusCode, 200);
    for (let i = 0; i < 2; i++) assert.equal((await v2(app, [irisInput(1)])).statusCode, 200);
    // Refused for their tensors: counted as the model's failures with reason invalid_input.
    assert.equal((await v1(app, [[1, 2, 3]])).statusCode, 400);
    assert.equal((await v2(app, [{ ...irisInput(1), name: 'nope' }])).statusCode, 400);
    // Not a model's request: no model label to count it under.
    assert.equal(
      (await app.inject({ method: 'POST', url: '/v1/models/nope:predict', payload: { instances: [row] } }))
        .statusCode,
      404,
    );
    metrics = await scrape(app);
  });
  after(() => app.close());

  it('counts requests per model, version, protocol and outcome, failures with their reason', () => {
    const iris = { model: 'iris', version: '1' };
    assert.equal(
      metrics.value('serval_inference_requests_total', { ...iris, protocol: 'v1', outcome: 'success' }),
      3,
    );
    assert.equal(
      metrics.value('serval_inference_requests_total', { ...iris, protocol: 'v2', outcome: 'success' }),
      2,
    );
    for (const protocol of ['v1', 'v2']) {
      assert.equal(
        metrics.value('serval_inference_requests_total', {
          ...iris,
          protocol,
          outcome: 'failure',
          reason: 'invalid_input',
        }),
        1,
      );
    }
    assert.equal(metrics.value('serval_inference_requests_total', { model: 'nope' }), 0);
    assert.equal(metrics.family('serval_inference_requests_total').type, 'counter');
  });

  it('counts rows and executions (Triton’s inference and execution counts) and their batch sizes', () => {
    const iris = { model: 'iris', version: '1' };
    assert.equal(metrics.value('serval_inference_rows_total', iris), 3 * 2 + 2);
    assert.equal(metrics.value('serval_inference_executions_total', iris), 5);
    const batch = metrics.histogram('serval_inference_batch_size', iris);
    assertSaneHistogram(batch);
    assert.equal(batch.count, 5);
    assert.equal(batch.sum, 8);
    assert.equal(batch.buckets['1'], 2, 'two executions of one row');
    assert.equal(batch.buckets['2'], 5, 'and three of two');
  });

  it('has duration histograms (not summaries) of requests, queue waits and computations', () => {
    const iris = { model: 'iris', version: '1' };
    for (const [name, labels, count] of [
      ['serval_inference_request_duration_seconds', { ...iris, protocol: 'v1' }, 4],
      ['serval_inference_request_duration_seconds', { ...iris, protocol: 'v2' }, 3],
      ['serval_inference_queue_duration_seconds', iris, 5],
      ['serval_inference_compute_duration_seconds', iris, 5],
    ] as const) {
      assert.equal(metrics.family(name).type, 'histogram');
      const h = metrics.histogram(name, labels);
      assertSaneHistogram(h);
      assert.equal(h.count, count, name);
    }
  });

  it('records every model load, the ready models and the pending calls', () => {
    for (const model of ['diabetes', 'digits', 'digits-cnn', 'fraud', 'iris']) {
      const loads = metrics.histogram('serval_model_load_duration_seconds', { model, version: '1' });
      assert.equal(loads.count, 1, model);
      assert.ok(loads.sum > 0);
    }
    assert.equal(metrics.value('serval_models_ready'), 5);
    assert.equal(metrics.value('serval_model_load_failures_total'), 0);
    assert.equal(metrics.value('serval_inference_pending', { model: 'iris' }), 0);
    assert.equal(metrics.value('serval_worker_restarts_total'), 0);
  });

  it('counts HTTP requests by route template and status class, never by raw URL', () => {
    const predict = { route: '/v1/models/:model:predict', method: 'POST' };
    assert.equal(metrics.value('serval_http_requests_total', { ...predict, status: '2xx' }), 3);
    assert.equal(metrics.value('serval_http_requests_total', { ...predict, status: '4xx' }), 2);
    assert.equal(
      metrics.value('serval_http_requests_total', { route: '/v2/models/:model/infer', status: '2xx' }),
      2,
    );
    const routes = metrics.samples('serval_http_requests_total').map((s) => s.labels.route ?? '');
    assert.ok(!routes.some((r) => r.includes('iris') || r.includes('nope')), routes.join(', '));
  });

  it('has the process metrics of this worker', () => {
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'serval_event_loop_utilization',
    ]) {
      const [sample] = metrics.samples(name);
      assert.equal(sample?.labels.worker, '0', name);
    }
    const utilization = metrics.value('serval_event_loop_utilization');
    assert.ok(utilization >= 0 && utilization <= 1);
  });
});

describe('cache and exact-repeat metrics', { skip }, () => {
  it('counts hits, misses and the V1 exact repeats answered before parsing', async (t) => {
    const app = await loadedApp({ cacheEnabled: true });
    t.after(() => app.close());
    const body = [row];
    assert.equal((await v1(app, body)).headers['cache-status'], 'serval; fwd=miss; stored');
    assert.equal((await v1(app, body)).headers['cache-status'], 'serval; hit');
    assert.equal((await v2(app, [irisInput(1)])).statusCode, 200);
    assert.equal((await v2(app, [irisInput(1)])).statusCode, 200);
    const metrics = await scrape(app);
    const iris = { model: 'iris', version: '1' };
    assert.equal(metrics.value('serval_cache_requests_total', { ...iris, result: 'miss' }), 2);
    assert.equal(metrics.value('serval_cache_requests_total', { ...iris, result: 'hit' }), 2);
    assert.equal(metrics.value('serval_inference_requests_total', { ...iris, outcome: 'success' }), 4);
    // Only the misses ran.
    assert.equal(metrics.value('serval_inference_executions_total', iris), 2);
  });
});

describe('metrics configuration', { skip }, () => {
  it('metricsEnabled: false serves no /metrics', async (t) => {
    const app = await loadedApp({ metricsEnabled: false });
    t.after(() => app.close());
    assert.equal((await app.inject('/metrics')).statusCode, 404);
    assert.equal((await v1(app, [row])).statusCode, 200);
  });

  it('/metrics is public by default, and behind the admin scope with metricsAuth', async (t) => {
    const secret = 'x'.repeat(40);
    const token = (scope: string) => signedToken(secret, scope);
    const open = await loadedApp({ authEnabled: true, jwtSecret: secret });
    t.after(() => open.close());
    assert.equal((await open.inject('/metrics')).statusCode, 200);
    const locked = await loadedApp({ authEnabled: true, jwtSecret: secret, metricsAuth: true });
    t.after(() => locked.close());
    assert.equal((await locked.inject('/metrics')).statusCode, 401);
    const read = await locked.inject({
      url: '/metrics',
      headers: { authorization: `Bearer ${await token('serval:read')}` },
    });
    assert.equal(read.statusCode, 403);
    const admin = await locked.inject({
      url: '/metrics',
      headers: { authorization: `Bearer ${await token('serval:admin')}` },
    });
    assert.equal(admin.statusCode, 200);
  });
});

describe('GET /v2/models/.../stats (Triton’s statistics extension)', { skip }, () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ batchMaxRows: 1 });
    for (let i = 0; i < 4; i++) assert.equal((await v2(app, [irisInput(3)])).statusCode, 200);
    assert.equal((await v1(app, [[1, 2]])).statusCode, 400);
  });
  after(() => app.close());

  it('answers the counts and cumulative durations in Triton’s shape', async () => {
    const res = await app.inject('/v2/models/iris/stats');
    assert.equal(res.statusCode, 200);
    const { model_stats: stats } = res.json();
    assert.equal(stats.length, 1);
    const [iris] = stats;
    assert.equal(iris.name, 'iris');
    assert.equal(iris.version, '1');
    assert.equal(iris.inference_count, 12);
    assert.equal(iris.execution_count, 4);
    assert.ok(iris.last_inference > Date.now() - 60_000);
    const s = iris.inference_stats;
    assert.equal(s.success.count, 4);
    assert.equal(s.fail.count, 1);
    assert.equal(s.queue.count, 4);
    assert.equal(s.compute_infer.count, 4);
    assert.equal(s.compute_input.count, 4);
    assert.equal(s.compute_output.count, 4);
    for (const [name, d] of Object.entries<{ count: number; ns: number }>(s)) {
      assert.ok(Number.isInteger(d.ns) && d.ns >= 0);
      // An inline call of an unbatched model never waits: its queue time is truly 0.
      if (name !== 'queue') assert.ok(d.count === 0 || d.ns > 0, name);
    }
    assert.ok(s.success.ns >= s.compute_infer.ns, 'a request lasts at least its computation');
    assert.deepEqual(
      iris.batch_stats.map((b: { batch_size: number; compute_infer: { count: number } }) => [
        b.batch_size,
        b.compute_infer.count,
      ]),
      [[3, 4]],
    );
  });

  it('lists every served version, with zeros for those never asked; one version; unknown ones 404', async () => {
    const all = (await app.inject('/v2/models/stats')).json().model_stats as {
      name: string;
      inference_count: number;
    }[];
    assert.deepEqual(
      all.map((s) => s.name),
      ['diabetes', 'digits', 'digits-cnn', 'fraud', 'iris'],
    );
    assert.equal(all.find((s) => s.name === 'digits')?.inference_count, 0);
    const one = (await app.inject('/v2/models/iris/versions/1/stats')).json().model_stats;
    assert.equal(one.length, 1);
    assert.equal(one[0].inference_count, 12);
    assert.equal((await app.inject('/v2/models/nope/stats')).json().code, 'MODEL_NOT_FOUND');
    assert.equal((await app.inject('/v2/models/iris/versions/9/stats')).json().code, 'VERSION_NOT_FOUND');
  });
});
