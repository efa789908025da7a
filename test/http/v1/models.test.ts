// Model metadata routes, 404/405 answers, and how the repository loads, fails and picks versions.
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedApp, MODELS, tempRepository } from '../../helpers.js';

describe('model metadata routes', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp();
  });
  after(() => app.close());

  it('lists every bundled model with its versions', async () => {
    const res = await app.inject('/v1/models');
    assert.equal(res.statusCode, 200);
    const names = res.json().models.map((m: { name: string }) => m.name);
    assert.deepEqual(names, ['diabetes', 'digits', 'digits-cnn', 'fraud', 'iris']);
  });

  it('describes Iris from its graph and descriptor', async () => {
    const body = (await app.inject('/v1/models/iris')).json();
    assert.equal(body.default_version, '1');
    assert.equal(body.ready, true);
    assert.equal(body.task, 'classification');
    assert.equal(body.execution, 'inline');
    assert.deepEqual(body.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    assert.deepEqual(body.outputs, [
      { name: 'label', datatype: 'INT64', shape: [-1] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    ]);
    assert.deepEqual(body.features, ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    assert.deepEqual(body.labels, ['setosa', 'versicolor', 'virginica']);
  });

  it('describes the 64-input digits model and one version', async () => {
    const res = await app.inject('/v1/models/digits/versions/1');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().features.length, 64);
    assert.equal(res.json().labels.length, 10);
  });

  it('answers 404 ROUTE_NOT_FOUND for an unknown path', async () => {
    const res = await app.inject('/v2/nothing');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const get = await app.inject('/v1/models/iris:predict');
    assert.equal(get.statusCode, 405);
    assert.equal(get.json().code, 'METHOD_NOT_ALLOWED');
    assert.equal(get.headers.allow, 'POST');
    const del = await app.inject({ method: 'DELETE', url: '/v1/models/iris' });
    assert.equal(del.statusCode, 405);
    assert.equal(del.headers.allow, 'GET, HEAD');
  });
});

describe('model repository behaviour', () => {
  it('reports a model that fails to load, with its reason, serves the others, and is not ready meanwhile', async (t) => {
    const iris = join(MODELS, 'iris/1');
    const repo = await tempRepository({
      'iris/1': { from: iris },
      'broken/1': { files: { 'model.onnx': 'this is not an onnx file' } },
      'mismatch/1': { from: iris, files: { 'model.json': JSON.stringify({ features: ['only', 'two'] }) } },
    });
    const app = await loadedApp({ modelRepository: repo.root });
    t.after(async () => {
      await app.close();
      await repo.cleanup();
    });
    const broken = (await app.inject('/v1/models/broken')).json();
    assert.equal(broken.state, 'FAILED');
    assert.equal(broken.ready, false);
    assert.ok(broken.reason.length > 0);
    assert.doesNotMatch(broken.reason, new RegExp(repo.root));
    const mismatch = (await app.inject('/v1/models/mismatch')).json();
    assert.match(mismatch.reason, /2 features but input "input" has 4/);
    const predict = await app.inject({
      method: 'POST',
      url: '/v1/models/broken:predict',
      payload: { instances: [[1]] },
    });
    assert.equal(predict.statusCode, 503);
    assert.equal(predict.json().code, 'MODEL_NOT_READY');
    // A startup model that failed keeps the server not ready (it must be fixed and reloaded, or unloaded).
    const readiness = await app.inject('/readyz');
    assert.equal(readiness.statusCode, 503);
    assert.match(readiness.json().error, /startup model\(s\) failed to load: broken\/1, mismatch\/1/);
    assert.equal((await app.inject('/healthz')).statusCode, 200, 'liveness never depends on models');
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: { instances: [[1, 2, 3, 4]] },
    });
    assert.equal(ok.statusCode, 200);
  });

  it('follows symbolic links to model and version folders (volume mounts)', async (t) => {
    const repo = await tempRepository({});
    await symlink(join(MODELS, 'iris'), join(repo.root, 'iris-linked'));
    await mkdir(join(repo.root, 'digits'));
    await symlink(join(MODELS, 'digits/1'), join(repo.root, 'digits/3'));
    const app = await loadedApp({ modelRepository: repo.root });
    t.after(async () => {
      await app.close();
      await repo.cleanup();
    });
    assert.equal((await app.inject('/v1/models/iris-linked')).json().state, 'READY');
    assert.equal((await app.inject('/v1/models/digits')).json().default_version, '3');
  });

  it('uses the highest ready version by default, among those the version policy serves', async (t) => {
    const iris = join(MODELS, 'iris/1');
    const repo = await tempRepository({
      iris: { files: { 'model.json': JSON.stringify({ versionPolicy: 'all' }) } },
      'iris/1': { from: iris },
      'iris/2': { from: iris },
      'iris/10': { from: iris, files: { 'model.json': '{"task": "nonsense"}' } },
      'iris/latest': { from: iris },
    });
    const app = await loadedApp({ modelRepository: repo.root });
    t.after(async () => {
      await app.close();
      await repo.cleanup();
    });
    const body = (await app.inject('/v1/models/iris')).json();
    assert.equal(body.default_version, '2');
    assert.deepEqual(
      body.versions.map((v: { version: string; state: string }) => `${v.version}:${v.state}`),
      ['10:FAILED', '2:READY', '1:READY'],
    );
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: { instances: [[1, 2, 3, 4]] },
    });
    assert.equal(res.json().model_version, '2');
  });
});

describe('the model list on demand', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ modelControl: 'on-demand' });
  });
  after(() => app.close());

  it('lists the models not loaded yet with their state and why, and a loaded one once asked for', async () => {
    const listed = async () =>
      (await app.inject('/v1/models')).json().models as {
        name: string;
        state: string;
        ready: boolean;
        reason?: string;
        inputs: unknown[];
      }[];
    const before = await listed();
    assert.deepEqual(
      before.map((m) => m.name),
      ['diabetes', 'digits', 'digits-cnn', 'fraud', 'iris'],
    );
    for (const model of before) {
      assert.equal(model.state, 'UNAVAILABLE');
      assert.equal(model.ready, false);
      assert.equal(model.reason, 'not loaded');
      assert.deepEqual(model.inputs, []);
    }
    const predicted = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: { instances: [[5.1, 3.5, 1.4, 0.2]] },
    });
    assert.equal(predicted.statusCode, 200);
    const iris = (await listed()).find((m) => m.name === 'iris');
    assert.ok(iris);
    assert.equal(iris.state, 'READY');
    assert.equal(iris.inputs.length, 1);
  });
});
