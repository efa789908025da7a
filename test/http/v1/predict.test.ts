// The predict route: answers, validation errors with their codes, and limits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedApp, postBody } from '../../helpers.js';

const setosa = [5.1, 3.5, 1.4, 0.2];
const named = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

describe('POST /v1/models/{model}:predict', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ maxInstances: 8, bodyLimitBytes: 2048 });
  });
  after(() => app.close());

  const predict = (payload: unknown, url = '/v1/models/iris:predict') =>
    app.inject({ method: 'POST', url, payload: payload as object });

  it('predicts the species with per-class probabilities', async () => {
    const res = await predict({ instances: [setosa] });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.model_name, 'iris');
    assert.equal(body.model_version, '1');
    assert.equal(body.predictions[0].label, 'setosa');
    const p = body.predictions[0].probabilities;
    assert.deepEqual(Object.keys(p), ['setosa', 'versicolor', 'virginica']);
    assert.ok(Math.abs(p.setosa + p.versicolor + p.virginica - 1) < 1e-5);
  });

  it('gives the same answer for an array and for the same named features, in instance order', async () => {
    const virginica = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 };
    const body = (await predict({ instances: [setosa, virginica, named] })).json();
    assert.deepEqual(
      body.predictions.map((p: { label: string }) => p.label),
      ['setosa', 'virginica', 'setosa'],
    );
    assert.deepEqual(body.predictions[0], body.predictions[2]);
  });

  it('serves a pinned version and a regression model', async () => {
    const pinned = await predict({ instances: [setosa] }, '/v1/models/iris/versions/1:predict');
    assert.equal(pinned.statusCode, 200);
    const diabetes = await predict(
      { instances: [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]] },
      '/v1/models/diabetes:predict',
    );
    assert.equal(diabetes.statusCode, 200);
    assert.equal(typeof diabetes.json().predictions[0], 'number');
  });

  it('returns 400 INVALID_INPUT naming the instance and field for a value out of the FP32 range', async () => {
    const res = await predict({ instances: [setosa, [1, 2, 1e39, 4]] });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'INVALID_INPUT');
    assert.match(res.json().error, /instances\[1\]\.petal_length/);
    assert.equal(res.json().details.instance, 1);
  });

  it('returns 400 INVALID_INPUT for a wrong width and for unknown features', async () => {
    const width = await predict({ instances: [[1, 2, 3]] });
    assert.equal(width.statusCode, 400);
    assert.equal(width.json().code, 'INVALID_INPUT');
    assert.match(width.json().error, /has 3 values; the model expects 4/);
    const unknown = await predict({ instances: [{ ...named, colour: 1 }] });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json().error, /unknown feature\(s\) "colour"/);
  });

  it('returns 400 INVALID_INPUT naming the field for a string value (no type coercion)', async () => {
    const res = await predict({ instances: [[5.1, '3.5', 1.4, 0.2]] });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'INVALID_INPUT');
    assert.match(res.json().error, /instances\[0\]\.sepal_width must be a finite number .*got "3\.5"/);
    const field = await predict({ instances: [{ ...named, sepal_width: 'x' }] });
    assert.match(field.json().error, /instances\[0\]\.sepal_width must be a finite number/);
  });

  it('gives a number too large for JSON (1e400) the same 400 INVALID_INPUT as any value out of range', async () => {
    const res = await postBody(app, '{"instances": [[5.1, 3.5, 1e400, 0.2]]}');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'INVALID_INPUT');
    assert.match(res.json().error, /instances\[0\]\.petal_length must be a finite number/);
  });

  it('returns 400 for a missing, empty or oversized instances list and for extra keys', async () => {
    assert.equal((await predict({})).json().code, 'INVALID_REQUEST');
    assert.match((await predict({ instances: [] })).json().error, /instances/);
    const many = await predict({ instances: Array.from({ length: 9 }, () => setosa) });
    assert.equal(many.statusCode, 400);
    assert.match(many.json().error, /more than 8 items/);
    const extra = await predict({ instances: [setosa], colour: 'x' });
    assert.equal(extra.statusCode, 400);
    assert.match(extra.json().error, /additional properties \("colour"\)/);
    const both = await predict({ instances: [setosa], inputs: [setosa] });
    assert.match(
      both.json().error,
      /"instances" \(row format\) or "inputs" \(columnar format\), exactly one/,
    );
  });

  it('rejects __proto__ and constructor.prototype keys', async () => {
    for (const body of [
      '{"instances":[[1,2,3,4]],"__proto__":{"x":1}}',
      '{"instances":[{"constructor":{"prototype":{}}}]}',
    ]) {
      const res = await postBody(app, body);
      assert.equal(res.statusCode, 400, body);
      assert.equal(res.json().code, 'INVALID_REQUEST');
    }
  });

  it('returns 400 INVALID_JSON without quoting the body', async () => {
    const res = await postBody(app, '{"instances": [[1,2,3,4]], secret-token-123');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'INVALID_JSON');
    assert.doesNotMatch(res.body, /secret-token/);
  });

  it('returns 413 for a body over the limit and 415 for another content type', async () => {
    const big = await predict({ instances: [Array.from({ length: 600 }, () => 1.234)] });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'PAYLOAD_TOO_LARGE');
    const text = await postBody(app, 'x', 'text/plain');
    assert.equal(text.statusCode, 415);
    assert.equal(text.json().code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('returns 404 for an unknown model or version', async () => {
    const model = await predict({ instances: [setosa] }, '/v1/models/nosuch:predict');
    assert.equal(model.statusCode, 404);
    assert.equal(model.json().code, 'MODEL_NOT_FOUND');
    const version = await predict({ instances: [setosa] }, '/v1/models/iris/versions/7:predict');
    assert.equal(version.statusCode, 404);
    assert.equal(version.json().code, 'VERSION_NOT_FOUND');
  });

  it('never echoes more than a short excerpt of a long model name', async () => {
    const res = await predict({ instances: [setosa] }, `/v1/models/${'a'.repeat(60)}:predict`);
    assert.equal(res.statusCode, 404);
    assert.ok(res.json().error.length < 80);
  });
});

// 800 KB of "[" nested 400,000 deep (under the default 1 MiB limit) is refused as the flat body of its size would
// be, with a 400 naming the depth, and the server goes on answering.
describe('deeply nested JSON on :predict', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({});
  });
  after(() => app.close());

  it('refuses 400,000 nested arrays with 400 and the depth, then serves the next request', async () => {
    for (const body of [
      '{"instances":' + '['.repeat(400_000) + ']'.repeat(400_000) + '}',
      '{"instances":' + '['.repeat(400_000), // never closed
      '{"instances":[' + '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000) + ']}',
    ]) {
      const res = await postBody(app, body);
      assert.equal(res.statusCode, 400, res.body.slice(0, 200));
      assert.equal(res.json().code, 'INVALID_REQUEST');
      assert.match(res.json().error, /nests arrays and objects more than 32 deep/);
    }
    const ok = await postBody(app, JSON.stringify({ instances: [setosa] }));
    assert.equal(ok.statusCode, 200);
  });
});
