// On-demand models end to end: a real server process with three models and SERVAL_MAX_LOADED_MODELS=2, ready with
// none loaded, loading each by its first request over HTTP or gRPC, evicting the least recently used, and saying so
// in the repository index of both protocols and in its metrics.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { grpcClient, rawRequest, type GrpcClient } from '../grpc.js';
import { MODELS, tempRepository } from '../helpers.js';
import { startServer, type Running } from '../server.js';

interface Row {
  name: string;
  state: string;
  reason: string;
}

describe('on-demand models in a server process', () => {
  let server: Running;
  let grpc: GrpcClient;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository({
      'iris/1': { from: join(MODELS, 'iris/1') },
      'iris-b/1': { from: join(MODELS, 'iris/1') },
      'diabetes/1': { from: join(MODELS, 'diabetes/1') },
    });
    cleanup = repo.cleanup;
    server = await startServer({
      SERVAL_MODEL_REPOSITORY: repo.root,
      SERVAL_MODEL_CONTROL: 'on-demand',
      SERVAL_MAX_LOADED_MODELS: '2',
      SERVAL_WORKERS: '1',
    });
    grpc = grpcClient(server.grpcAddress);
  });
  after(async () => {
    grpc.close();
    server.child.kill('SIGTERM');
    await cleanup();
  });

  const index = async (): Promise<Record<string, string>> => {
    const res = await fetch(`${server.base}/v2/repository/index`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 200);
    const rows = (await res.json()) as Row[];
    return Object.fromEntries(rows.map((r) => [r.name, `${r.state} ${r.reason}`]));
  };
  const predictIris = (model: string) =>
    fetch(`${server.base}/v1/models/${model}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
    });
  const inferGrpc = (model: string) =>
    grpc.call<{ model_name: string }>(
      'ModelInfer',
      rawRequest(model, [
        { name: 'input', datatype: 'FP32', shape: [1, 4], data: Float32Array.of(5.1, 3.5, 1.4, 0.2) },
      ]),
    );

  it('is ready with no model loaded, every model listed as not loaded', async () => {
    assert.equal((await fetch(`${server.base}/readyz`)).status, 200);
    assert.deepEqual(await index(), {
      diabetes: 'UNAVAILABLE not loaded',
      iris: 'UNAVAILABLE not loaded',
      'iris-b': 'UNAVAILABLE not loaded',
    });
  });

  it('does not load a model for its ready probe, over HTTP or gRPC', async () => {
    const res = await fetch(`${server.base}/v2/models/iris/ready`);
    assert.equal(((await res.json()) as { code: string }).code, 'MODEL_NOT_LOADED');
    assert.deepEqual(await grpc.call('ModelReady', { name: 'iris' }), { ready: false });
    assert.equal((await index()).iris, 'UNAVAILABLE not loaded');
  });

  it('loads models by their first request over HTTP and gRPC, evicting the least recently used past two', async () => {
    assert.equal((await predictIris('iris')).status, 200);
    assert.equal((await inferGrpc('iris-b')).model_name, 'iris-b');
    assert.equal((await predictIris('iris-b')).status, 200); // iris is now the least recently used
    const diabetes = await fetch(`${server.base}/v2/models/diabetes/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 10], data: new Array(10).fill(0.01) }],
      }),
    });
    assert.equal(diabetes.status, 200);
    assert.deepEqual(await index(), {
      diabetes: 'READY ',
      iris: 'UNAVAILABLE evicted: least recently used, past maxLoadedModels (2)',
      'iris-b': 'READY ',
    });
    const { models } = await grpc.call<{ models: Row[] }>('RepositoryIndex', {});
    assert.equal(models.find((m) => m.name === 'iris')?.state, 'UNAVAILABLE');
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    assert.match(metrics, /serval_model_evictions_total\{model="iris",bound="models"\} 1/);
  });

  it('loads an evicted model again for its metadata over gRPC, evicting the next least recently used', async () => {
    const metadata = await grpc.call<{ name: string }>('ModelMetadata', { name: 'iris' });
    assert.equal(metadata.name, 'iris');
    const states = await index();
    assert.equal(states.iris, 'READY ');
    assert.match(states['iris-b'] ?? '', /^UNAVAILABLE evicted/);
  });
});
