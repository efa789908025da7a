// Hardening: security headers, CORS, ETag/304, header limits, and no internals in error bodies.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { loadedApp, postBody, tempRepository } from '../../helpers.js';

const APP_ORIGIN = 'https://app.example';
const setosa = [5.1, 3.5, 1.4, 0.2];
/** What a leaked stack trace or server path looks like in a response body. */
const LEAK = /\/work\/|\/tmp\/|node_modules|at .*\(|\.ts:\d+/;

function assertSecurityHeaders(res: LightMyRequestResponse): void {
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.match(String(res.headers['x-frame-options']), /^(DENY|SAMEORIGIN)$/);
  assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin');
  // A JSON API may forbid everything ('none') or allow only itself ('self'); never anything looser.
  const csp = String(res.headers['content-security-policy']);
  assert.match(csp, /default-src '(none|self)'/);
  assert.match(csp, /frame-ancestors '(none|self)'/);
  assert.doesNotMatch(csp, /unsafe-eval|\*/);
  assert.equal(res.headers['x-powered-by'], undefined);
}

function assertNoLeak(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().code, code);
  assert.deepEqual(
    Object.keys(res.json())
      .filter((k) => k !== 'details')
      .sort(),
    ['code', 'error', 'request_id'],
  );
  assert.doesNotMatch(res.body, LEAK);
  assert.doesNotMatch(res.body, /stack/i);
}

describe('security headers and error bodies', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp();
  });
  after(() => app.close());

  it('sets helmet security headers and no x-powered-by on a JSON response', async () => {
    const res = await app.inject('/v1/models');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assertSecurityHeaders(res);
  });

  it('sets the same security headers on error responses', async () => {
    const res = await app.inject('/nosuch');
    assert.equal(res.statusCode, 404);
    assertSecurityHeaders(res);
  });

  it('keeps the headers that only act on HTML documents for the Swagger UI pages', async () => {
    const api = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: { instances: [setosa] },
    });
    assert.equal(api.statusCode, 200);
    assertSecurityHeaders(api);
    assert.equal(api.headers['x-frame-options'], 'DENY');
    assert.equal(api.headers['origin-agent-cluster'], undefined);
    assert.equal(api.headers['x-xss-protection'], undefined);
    const page = await app.inject('/docs/');
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['origin-agent-cluster'], '?1');
    assert.equal(page.headers['x-xss-protection'], '0');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  });

  it('sends no CORS headers when no origin is configured', async () => {
    const res = await app.inject({ url: '/v1/models', headers: { origin: APP_ORIGIN } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers['access-control-expose-headers'], undefined);
  });

  it('answers model metadata with a weak ETag and cache-control: no-cache, then 304 for that ETag', async () => {
    const first = await app.inject('/v1/models/iris');
    assert.equal(first.statusCode, 200);
    const etag = first.headers.etag;
    assert.equal(typeof etag, 'string');
    assert.match(String(etag), /^W\/".+"$/);
    assert.equal(first.headers['cache-control'], 'no-cache');
    const again = await app.inject({ url: '/v1/models/iris', headers: { 'if-none-match': String(etag) } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers.etag, etag);
    const changed = await app.inject({ url: '/v1/models/iris', headers: { 'if-none-match': 'W/"other"' } });
    assert.equal(changed.statusCode, 200);
  });

  it('repeats cache-control: no-cache on a 304 (RFC 9110 section 15.4.5)', async () => {
    const etag = String((await app.inject('/v1/models/iris')).headers.etag);
    const res = await app.inject({ url: '/v1/models/iris', headers: { 'if-none-match': etag } });
    assert.equal(res.statusCode, 304);
    assert.equal(res.headers['cache-control'], 'no-cache');
  });

  it('sends no ETag on predictions', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: { instances: [setosa] },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.etag, undefined);
  });

  it('shows no stack trace or file path in a 404, a 400 for invalid input or one for invalid JSON', async () => {
    assertNoLeak(await app.inject('/v1/nosuch/route'), 404, 'ROUTE_NOT_FOUND');
    assertNoLeak(
      await app.inject({
        method: 'POST',
        url: '/v1/models/iris:predict',
        payload: { instances: [[1, 2, 3]] },
      }),
      400,
      'INVALID_INPUT',
    );
    assertNoLeak(await postBody(app, '{"instances": [[1,2,3,4]'), 400, 'INVALID_JSON');
  });

  it('answers a failing inference with a generic 500 that hides the error message and stack', async () => {
    const model = app.models.ready('iris');
    const original = model.runtime.predict.bind(model.runtime);
    model.runtime.predict = async () => {
      throw new Error(`cannot open ${import.meta.filename}`);
    };
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/models/iris:predict',
        payload: { instances: [setosa] },
      });
      assertNoLeak(res, 500, 'INFERENCE_FAILED');
      assert.equal(res.json().error, 'Inference failed');
    } finally {
      model.runtime.predict = original;
    }
  });
});

describe('a model that failed to load', () => {
  let app: FastifyInstance;
  let repo: Awaited<ReturnType<typeof tempRepository>>;
  before(async () => {
    repo = await tempRepository({ 'broken/1': { files: { 'model.onnx': 'not onnx', 'model.json': '{}' } } });
    app = await loadedApp({ modelRepository: repo.root });
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });

  it('reports why without the repository path', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/broken:predict',
      payload: { instances: [[1]] },
    });
    assertNoLeak(res, 503, 'MODEL_NOT_READY');
    assert.match(res.json().error, /model\.onnx cannot be loaded: .*protobuf parsing failed/);
    const metadata = await app.inject('/v1/models/broken');
    assert.equal(metadata.statusCode, 200);
    assert.ok(!metadata.body.includes(repo.root));
  });
});

describe('CORS with an allowed origin', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ corsOrigins: [APP_ORIGIN] });
  });
  after(() => app.close());

  it('allows the configured origin and exposes x-request-id', async () => {
    const res = await app.inject({ url: '/v1/models', headers: { origin: APP_ORIGIN } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN);
    const exposed = String(res.headers['access-control-expose-headers']).split(/,\s*/);
    assert.ok(exposed.includes('x-request-id'), exposed.join());
    assert.ok(exposed.includes('cache-status'), exposed.join());
    assert.match(String(res.headers.vary), /origin/i);
  });

  it('sends no allow-origin header to another origin', async () => {
    const res = await app.inject({ url: '/v1/models', headers: { origin: 'https://evil.example' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  it('answers a preflight from the allowed origin with 204 and the allowed methods and headers', async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/models/iris:predict',
      headers: {
        origin: APP_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN);
    assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, POST');
    const headers = String(res.headers['access-control-allow-headers']).split(/,\s*/);
    assert.ok(headers.includes('authorization') && headers.includes('content-type'), headers.join());
    assert.equal(res.headers['access-control-max-age'], '600');
  });

  it('answers a preflight from another origin without allowing it', async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/models/iris:predict',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  it('answers an OPTIONS that is no preflight with 400 INVALID_REQUEST in the JSON envelope', async () => {
    for (const headers of [{}, { origin: APP_ORIGIN }, { 'access-control-request-method': 'POST' }]) {
      const res = await app.inject({ method: 'OPTIONS', url: '/v1/models/iris:predict', headers });
      assert.equal(res.statusCode, 400, JSON.stringify(headers));
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(res.json().code, 'INVALID_REQUEST');
      assert.match(res.json().error, /Origin and Access-Control-Request-Method/);
      assertSecurityHeaders(res);
    }
  });

  it('still answers 404 ROUTE_NOT_FOUND for an unknown route', async () => {
    const res = await app.inject('/nosuch');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });
});

describe('a header block over maxHeaderBytes', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = await loadedApp({ maxHeaderBytes: 2048 });
    // app.inject bypasses Node's HTTP parser, which is what enforces the limit: use a real socket.
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(() => app.close());

  it('is refused with 431 while a small one is served', async () => {
    const big = await fetch(`${base}/healthz`, { headers: { 'x-padding': 'a'.repeat(4096) } });
    assert.equal(big.status, 431);
    assert.equal(((await big.json()) as { code: string }).code, 'HEADERS_TOO_LARGE');
    const small = await fetch(`${base}/healthz`, { headers: { 'x-padding': 'a'.repeat(512) } });
    assert.equal(small.status, 200);
    assert.deepEqual(await small.json(), { status: 'ok' });
  });
});

describe('the Swagger UI', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp();
  });
  after(() => app.close());

  it('loads at /docs with its own content-security-policy', async () => {
    const res = await app.inject('/docs');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /swagger-ui/i);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    // Browsers would upgrade every asset to https over plain HTTP on a non-local host: a blank page.
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });
});
