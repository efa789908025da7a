// The playground's routes: GET / negotiates (a browser gets the page, API clients JSON), the page's own headers
// and CSP, and its content-hashed assets cached for a year. Needs the build (npm test runs it first).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import errorsPlugin from '../../src/http/plugins/app/errors.js';
import playgroundRoutes from '../../src/http/routes/playground.js';
import { prefersHtml } from '../../src/lib/accept.js';
import { ROOT, testApp } from '../helpers.js';

const BUILD = join(ROOT, 'dist/playground');
const CHROME_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8';

interface Manifest {
  script: string;
  style: string;
  assets: Record<string, { bytes: number; gzip: number; brotli: number }>;
}

async function manifest(): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(join(BUILD, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    throw new Error('dist/playground is missing: run npm run build first (npm test does)');
  }
}

describe('prefersHtml', () => {
  it('is true for what browsers send when they open a page', () => {
    assert.equal(prefersHtml(CHROME_ACCEPT), true);
    assert.equal(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
  });

  it('is false for API clients: no header, */*, JSON, or a tie', () => {
    for (const accept of [undefined, '', '*/*', 'application/json', 'application/json, text/html']) {
      assert.equal(prefersHtml(accept), false, String(accept));
    }
  });

  it('weighs qualities, the most specific range first', () => {
    assert.equal(prefersHtml('text/html;q=0.5, application/json'), false);
    assert.equal(prefersHtml('application/json;q=0.2, text/html'), true);
    assert.equal(prefersHtml('application/json;q=0, */*'), true);
    assert.equal(prefersHtml('text/html;q=0, */*'), false);
  });
});

describe('the playground routes', () => {
  let app: FastifyInstance;
  let built: Manifest;
  before(async () => {
    built = await manifest();
    app = await testApp();
    await app.ready();
  });
  after(() => app.close());

  it('GET / stays JSON for API clients, with a link to the playground', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await app.inject({ url: '/', headers: accept === undefined ? {} : { accept } });
      assert.equal(res.statusCode, 200, String(accept));
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(res.json().links.playground, '/playground');
      assert.match(String(res.headers.vary), /accept/i);
    }
  });

  it('GET / sends a browser to /playground with 303', async () => {
    const res = await app.inject({ url: '/', headers: { accept: CHROME_ACCEPT } });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/playground');
    assert.match(String(res.headers.vary), /accept/i);
  });

  it('serves the page revalidated on every load, with its own strict CSP and the document headers', async () => {
    const res = await app.inject({ url: '/playground', headers: { accept: CHROME_ACCEPT } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    const csp = String(res.headers['content-security-policy']);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
    ]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    }
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
    assert.ok(res.body.includes(`src="${built.script}"`), 'the page loads the hashed script');
    assert.ok(res.body.includes(`href="${built.style}"`), 'the page loads the hashed stylesheet');
    assert.doesNotMatch(
      res.body,
      /<script>|<style|\sstyle=|\son[a-z]+=/i,
      'no inline script, style or handler',
    );
  });

  it('serves every hashed asset for a year, immutable, precompressed when the client accepts it', async () => {
    const names = Object.keys(built.assets);
    assert.equal(names.length, 2);
    for (const url of names) {
      assert.match(url, /^\/playground\/assets\/playground-[A-Z0-9]{8}\.(js|css)$/);
      const plain = await app.inject({ url });
      assert.equal(plain.statusCode, 200, url);
      assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.match(String(plain.headers['content-type']), url.endsWith('.js') ? /javascript/ : /^text\/css/);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.rawPayload.length, built.assets[url]?.bytes);
      assert.match(String(plain.headers.vary), /accept-encoding/i);
      const br = await app.inject({ url, headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.equal(br.rawPayload.length, built.assets[url]?.brotli);
    }
  });

  it('answers an unknown asset with the API 404 envelope', async () => {
    const res = await app.inject({ url: '/playground/assets/nope-12345678.js' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });
});

describe('the playground with authentication on', () => {
  it('is public like /docs while the model routes want a token', async (t) => {
    const app = await testApp({ authEnabled: true, jwtSecret: 'a-test-secret-of-at-least-32-characters!' });
    t.after(() => app.close());
    await app.ready();
    assert.equal((await app.inject('/playground')).statusCode, 200);
    const script = (await manifest()).script;
    assert.equal((await app.inject(script)).statusCode, 200);
    const models = await app.inject('/v1/models');
    assert.equal(models.statusCode, 401);
    assert.match(String(models.headers['www-authenticate']), /^Bearer/);
  });
});

describe('a server whose playground is not built', () => {
  it('answers /playground with 503 PLAYGROUND_NOT_BUILT and keeps serving', async (t) => {
    const empty = await mkdtemp(join(tmpdir(), 'serval-playground-'));
    const app = Fastify({ logger: false });
    t.after(async () => {
      await app.close();
      await rm(empty, { recursive: true, force: true });
    });
    await app.register(errorsPlugin, { bodyLimitBytes: 1024 });
    await app.register(playgroundRoutes, { root: empty });
    const res = await app.inject('/playground');
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'PLAYGROUND_NOT_BUILT');
    assert.match(res.json().error, /npm run build/);
  });
});
