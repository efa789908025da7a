// Open Inference Protocol health, server and model metadata, readiness and configuration routes, as the OIP
// specification (inference_rest.md) and Triton's model_configuration extension describe them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FIXTURE_MODELS, loadedApp, MODELS, tempRepository, testApp, signedToken } from '../../helpers.js';

describe('V2 health and server metadata', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp();
  });
  after(() => app.close());

  it('GET /v2/health/live and /v2/health/ready answer 200 when live and ready', async () => {
    const live = await app.inject('/v2/health/live');
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { live: true });
    const ready = await app.inject('/v2/health/ready');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true });
  });

  it('GET /v2 names the server, its version and the extensions it really serves', async () => {
    const res = await app.inject('/v2');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.name, 'serval');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(body.extensions.sort(), [
      'binary_tensor_data',
      'classification',
      'logging',
      'model_configuration',
      'model_repository',
      'schedule_policy',
      'statistics',
      'trace',
    ]);
  });

  it('documents the V2 routes in the OpenAPI document', async () => {
    const paths = Object.keys((await app.inject('/openapi.json')).json().paths);
    for (const path of ['/v2', '/v2/health/ready', '/v2/models/{model}', '/v2/models/{model}/infer']) {
      assert.ok(paths.includes(path), path);
    }
    assert.ok(paths.includes('/v2/models/{model}/versions/{version}/infer'));
  });
});

describe('V2 readiness while models load or fail', () => {
  it('answers /v2/health/ready 503 with a JSON error until the models have loaded; live stays 200', async (t) => {
    const app = await testApp();
    t.after(() => app.close());
    await app.ready();
    const loading = app.core.start();
    assert.equal((await app.inject('/v2/health/live')).statusCode, 200);
    const early = await app.inject('/v2/health/ready');
    assert.equal(early.statusCode, 503);
    assert.equal(typeof early.json().error, 'string');
    await loading;
    assert.equal((await app.inject('/v2/health/ready')).statusCode, 200);
  });

  it('answers a failed model ready 503 with the reason, and an unknown one 404', async (t) => {
    const repo = await tempRepository({
      'iris/1': { from: join(MODELS, 'iris/1') },
      'broken/1': { files: { 'model.onnx': 'not an onnx file' } },
    });
    const app = await loadedApp({ modelRepository: repo.root });
    t.after(async () => {
      await app.close();
      await repo.cleanup();
    });
    const broken = await app.inject('/v2/models/broken/ready');
    assert.equal(broken.statusCode, 503);
    assert.equal(broken.json().code, 'MODEL_NOT_READY');
    assert.match(broken.json().error, /not ready: failed to load/);
    const unknown = await app.inject('/v2/models/nosuch/ready');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'MODEL_NOT_FOUND');
    const iris = await app.inject('/v2/models/iris/versions/1/ready');
    assert.equal(iris.statusCode, 200);
    assert.deepEqual(iris.json(), { name: 'iris', ready: true });
  });
});

describe('V2 model metadata and configuration', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository({
      iris: { files: { 'model.json': JSON.stringify({ versionPolicy: 'all' }) } },
      'iris/1': { from: join(MODELS, 'iris/1') },
      'iris/2': { from: join(MODELS, 'iris/1') },
      'fraud/1': { from: join(MODELS, 'fraud/1') },
      'fixed-batch/1': { from: join(FIXTURE_MODELS, 'fixed-batch/1') },
      'large/1': { from: join(FIXTURE_MODELS, 'large/1') },
    });
    cleanup = repo.cleanup;
    app = await loadedApp({ modelRepository: repo.root });
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  it('describes a model with its versions, the OIP platform, V2 datatypes and -1 for the batch', async () => {
    const res = await app.inject('/v2/models/iris');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      name: 'iris',
      versions: ['2', '1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      ],
    });
    assert.equal((await app.inject('/v2/models/iris/versions/1')).json().name, 'iris');
  });

  it('names BYTES and BOOL tensors of a multi-input model', async () => {
    const body = (await app.inject('/v2/models/fraud')).json();
    assert.deepEqual(
      body.inputs.map((i: { datatype: string }) => i.datatype),
      ['FP32', 'INT64', 'BYTES'],
    );
    assert.equal(body.outputs[2].datatype, 'BOOL');
  });

  it('answers an unknown model or version 404 with {"error"}', async () => {
    const model = await app.inject('/v2/models/nosuch');
    assert.equal(model.statusCode, 404);
    assert.equal(model.json().code, 'MODEL_NOT_FOUND');
    assert.equal(typeof model.json().error, 'string');
    const version = await app.inject('/v2/models/iris/versions/9');
    assert.equal(version.statusCode, 404);
    assert.equal(version.json().code, 'VERSION_NOT_FOUND');
  });

  it('gives the configuration Serval applies, in the JSON shape of Triton’s ModelConfig', async () => {
    const config = (await app.inject('/v2/models/iris/config')).json();
    assert.equal(config.name, 'iris');
    assert.equal(config.max_batch_size, 1024);
    assert.deepEqual(config.input, [
      { name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4] },
    ]);
    assert.deepEqual(config.output[0], {
      name: 'label',
      data_type: 'TYPE_INT64',
      format: 'FORMAT_NONE',
      dims: [1],
      reshape: { shape: [] },
    });
    assert.deepEqual(config.dynamic_batching, {
      preferred_batch_size: [256], // batchMaxRows, the most rows concurrent calls merge into
      max_queue_delay_microseconds: 0,
    });
    assert.equal(config.instance_group[0].kind, 'KIND_CPU');
    const fraud = (await app.inject('/v2/models/fraud/versions/1/config')).json();
    assert.equal(fraud.input[2].data_type, 'TYPE_STRING');
  });

  it('says that calls of a model whose rows take hundreds of KB never merge: no dynamic_batching', async () => {
    const config = (await app.inject('/v2/models/large/config')).json();
    assert.deepEqual(config.input[0].dims, [3, 224, 224]);
    assert.ok(config.max_batch_size > 1, 'one call may still carry many rows');
    assert.equal(config.dynamic_batching, undefined);
  });

  it('reports a model with a fixed batch as max_batch_size 0 with its full dims', async () => {
    const config = (await app.inject('/v2/models/fixed-batch/config')).json();
    assert.equal(config.max_batch_size, 0);
    assert.deepEqual(config.input[0].dims, [1, 4]);
    assert.equal(config.dynamic_batching, undefined);
  });
});

describe('V2 routes with authentication on', () => {
  const secret = 'a-test-secret-of-at-least-32-characters!';
  const token = (scope: string) => signedToken(secret, scope, 'client');
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ authEnabled: true, jwtSecret: secret });
  });
  after(() => app.close());
  const infer = (headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v2/models/iris/infer',
      headers,
      payload: { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] },
    });

  it('keeps health and server metadata public', async () => {
    for (const url of ['/v2', '/v2/health/live', '/v2/health/ready']) {
      assert.equal((await app.inject(url)).statusCode, 200, url);
    }
  });

  it('needs serval:read for metadata and serval:predict for inference', async () => {
    assert.equal((await app.inject('/v2/models/iris')).statusCode, 401);
    const reader = { authorization: `Bearer ${await token('serval:read')}` };
    assert.equal((await app.inject({ url: '/v2/models/iris/config', headers: reader })).statusCode, 200);
    const refused = await infer(reader);
    assert.equal(refused.statusCode, 403);
    assert.match(refused.headers['www-authenticate'] as string, /insufficient_scope/);
    assert.equal((await infer()).statusCode, 401);
    const predictor = { authorization: `Bearer ${await token('serval:predict')}` };
    assert.equal((await infer(predictor)).statusCode, 200);
  });
});
