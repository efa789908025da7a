// The service routes: /, liveness, readiness, request ids and the API documentation.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadedApp, MODELS, tempRepository, testApp } from '../helpers.js';

describe('service routes', () => {
  it('GET / names the service and links docs, models and health', async (t) => {
    const app = await loadedApp();
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.name, 'serval');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(Object.keys(body.links).sort(), [
      'docs',
      'health',
      'models',
      'openapi',
      'playground',
      'ready',
    ]);
  });

  it('GET /healthz answers even before models load, /readyz only after', async (t) => {
    const app = await testApp();
    t.after(() => app.close());
    await app.ready();
    const loading = app.core.start(); // loading has started but not finished
    assert.equal((await app.inject('/healthz')).statusCode, 200);
    const early = await app.inject('/readyz');
    assert.equal(early.statusCode, 503);
    assert.equal(early.json().code, 'NOT_READY');
    assert.equal(early.headers['retry-after'], '1');
    await loading;
    const ready = await app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().models_ready, readdirSync(MODELS).length, 'every bundled model');
  });

  it('GET /readyz stays 503 when no model could be loaded', async (t) => {
    const repo = await tempRepository({ 'broken/1': { files: { 'model.onnx': 'not an onnx file' } } });
    const app = await loadedApp({ modelRepository: repo.root });
    t.after(async () => {
      await app.close();
      await repo.cleanup();
    });
    const res = await app.inject('/readyz');
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'NOT_READY');
    assert.match(res.json().error, /no model could be loaded/);
  });

  it('returns the client X-Request-Id, or makes one when it is missing or unsafe', async (t) => {
    const app = await loadedApp();
    t.after(() => app.close());
    const kept = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    assert.equal(kept.headers['x-request-id'], 'abc-123');
    const replaced = await app.inject({
      url: '/healthz',
      headers: { 'x-request-id': 'a b\u00e9'.repeat(60) },
    });
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('serves an OpenAPI 3 document with the predict route and an Iris example, and Swagger UI', async (t) => {
    const app = await loadedApp();
    t.after(() => app.close());
    const doc = (await app.inject('/openapi.json')).json();
    assert.match(doc.openapi, /^3\./);
    const predict = doc.paths['/v1/models/{model}:predict'].post;
    const example = predict.requestBody.content['application/json'].example;
    assert.equal(example.instances[0].length, 4);
    assert.ok(doc.paths['/v1/models/{model}/versions/{version}:predict']);
    assert.equal(predict.parameters[0].example, 'iris');
    const ui = await app.inject('/docs/');
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
  });
});
