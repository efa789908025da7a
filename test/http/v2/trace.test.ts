// Triton's trace extension over REST (docs/protocol/extension_trace.md), as tritonclient's get_trace_settings and
// update_trace_settings call it: the global settings, a model's own over them, null resets, refusals and the scope.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import type { Config } from '../../../src/config/schema.js';
import { loadedApp, signedToken } from '../../helpers.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const GLOBAL = '/v2/trace/setting';
const IRIS = '/v2/models/iris/trace/setting';

/** An app whose spans go to memory: tracing is on, as with an OTLP endpoint. */
async function tracedApp(t: TestContext, overrides: Partial<Config> = {}) {
  const app = await loadedApp(overrides, pino({ level: 'silent' }), {
    spans: new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }),
  });
  t.after(() => app.close());
  return app;
}

type App = Awaited<ReturnType<typeof tracedApp>>;

// tritonclient posts JSON with no Content-Type.
const post = (app: App, url: string, settings: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, headers, payload: JSON.stringify(settings) });

const DEFAULTS = {
  trace_file: '',
  trace_level: ['TIMESTAMPS'],
  trace_rate: '1',
  trace_count: '-1',
  log_frequency: '0',
};

describe('GET|POST /v2/trace/setting', () => {
  it('answers the global settings as strings (the level a list), and lists the extension', async (t) => {
    const app = await tracedApp(t);
    const res = await app.inject(GLOBAL);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), DEFAULTS);
    assert.ok(((await app.inject('/v2')).json().extensions as string[]).includes('trace'));
  });

  it('changes only the settings given and answers them all, as a GET then does', async (t) => {
    const app = await tracedApp(t);
    const changed = await post(app, GLOBAL, { trace_rate: '100', trace_count: 10, log_frequency: '50' });
    assert.equal(changed.statusCode, 200, changed.body);
    const expected = { ...DEFAULTS, trace_rate: '100', trace_count: '10', log_frequency: '50' };
    assert.deepEqual(changed.json(), expected);
    assert.deepEqual((await app.inject(GLOBAL)).json(), expected);
    const off = await post(app, GLOBAL, { trace_level: ['OFF'] });
    assert.deepEqual(off.json(), { ...expected, trace_level: ['OFF'] });
  });

  it('takes back the settings as a GET answered them, trace_file included', async (t) => {
    const app = await tracedApp(t);
    const res = await post(app, GLOBAL, (await app.inject(GLOBAL)).json());
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), DEFAULTS);
  });

  it('refuses a bad value with 400 INVALID_TRACE_SETTING naming it, and changes nothing', async (t) => {
    const app = await tracedApp(t);
    for (const [url, settings, named] of [
      [GLOBAL, { trace_rate: '-1' }, 'trace_rate'],
      [GLOBAL, { trace_rate: 'often' }, 'trace_rate'],
      [GLOBAL, { trace_rate: 2.5 }, 'trace_rate'],
      [GLOBAL, { trace_count: '-2' }, 'trace_count'],
      [GLOBAL, { log_frequency: '4294967296' }, 'log_frequency'],
      [GLOBAL, { trace_level: ['VERBOSE'] }, 'trace_level'],
      [GLOBAL, { trace_level: ['TENSORS'] }, 'TENSORS'],
      [GLOBAL, { trace_mode: 'opentelemetry' }, 'trace_mode'],
      [IRIS, { trace_rate: 'x' }, 'trace_rate'],
      [IRIS, { trace_level: 'OFF', trace_count: true }, 'trace_count'],
    ] as const) {
      const res = await post(app, url, settings);
      assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(settings)}: ${res.body}`);
      assert.equal(res.json().code, 'INVALID_TRACE_SETTING');
      assert.match(res.json().error, new RegExp(named));
    }
    assert.deepEqual((await app.inject(GLOBAL)).json(), DEFAULTS);
    assert.deepEqual((await app.inject(IRIS)).json(), DEFAULTS);
  });

  it('refuses to change trace_file over the network', async (t) => {
    const app = await tracedApp(t);
    for (const url of [GLOBAL, IRIS]) {
      const res = await post(app, url, { trace_file: '/tmp/trace.json', trace_rate: '5' });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'INVALID_TRACE_SETTING');
      assert.match(res.json().error, /trace_file/);
      assert.equal((await app.inject(url)).json().trace_rate, '1', 'nothing of the request was applied');
    }
  });

  it('refuses a body that is not an object of settings with 400', async (t) => {
    const app = await tracedApp(t);
    for (const body of ['[]', '"TIMESTAMPS"', '{"trace_rate": "1"']) {
      const res = await app.inject({ method: 'POST', url: GLOBAL, payload: body });
      assert.equal(res.statusCode, 400, `${body}: ${res.body}`);
      assert.match(res.json().code, /^INVALID_/);
    }
  });
});

describe('GET|POST /v2/models/{m}/trace/setting', () => {
  it("answers a model's own settings over the global ones, and leaves the global ones and other models alone", async (t) => {
    const app = await tracedApp(t);
    await post(app, GLOBAL, { trace_rate: '10' });
    const own = await post(app, IRIS, { trace_rate: '1000', trace_level: ['OFF'] });
    assert.equal(own.statusCode, 200, own.body);
    // What the model does not set is the global setting.
    const iris = { ...DEFAULTS, trace_rate: '1000', trace_level: ['OFF'] };
    assert.deepEqual(own.json(), iris);
    assert.deepEqual((await app.inject(IRIS)).json(), iris);
    assert.deepEqual((await app.inject(GLOBAL)).json(), { ...DEFAULTS, trace_rate: '10' });
    assert.deepEqual((await app.inject('/v2/models/digits/trace/setting')).json(), {
      ...DEFAULTS,
      trace_rate: '10',
    });
  });

  it('resets a setting to the global one with null, one setting at a time', async (t) => {
    const app = await tracedApp(t);
    await post(app, GLOBAL, { trace_rate: '10', log_frequency: '7' });
    await post(app, IRIS, { trace_rate: '1000', log_frequency: '3' });
    const reset = await post(app, IRIS, { trace_rate: null });
    assert.equal(reset.statusCode, 200, reset.body);
    assert.equal(reset.json().trace_rate, '10', 'the global rate');
    assert.equal(reset.json().log_frequency, '3', 'the setting not reset stays the model’s own');
    await post(app, GLOBAL, { trace_rate: '20' });
    assert.equal((await app.inject(IRIS)).json().trace_rate, '20', 'a reset setting follows the global one');
    const all = await post(app, IRIS, { log_frequency: null, trace_level: null });
    assert.deepEqual(all.json(), (await app.inject(GLOBAL)).json());
  });

  it('answers 404 MODEL_NOT_FOUND for a model the repository does not have', async (t) => {
    const app = await tracedApp(t);
    for (const res of [
      await app.inject('/v2/models/nope/trace/setting'),
      await post(app, '/v2/models/nope/trace/setting', { trace_rate: '5' }),
    ]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 'MODEL_NOT_FOUND');
    }
  });
});

describe('the trace settings without an exporter', () => {
  it('answers the level OFF and refuses to turn it on with 400 TRACING_NOT_CONFIGURED', async (t) => {
    const app = await loadedApp();
    t.after(() => app.close());
    assert.deepEqual((await app.inject(GLOBAL)).json().trace_level, ['OFF']);
    for (const url of [GLOBAL, IRIS]) {
      const res = await post(app, url, { trace_level: ['TIMESTAMPS'] });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'TRACING_NOT_CONFIGURED');
    }
    assert.equal(
      (await post(app, GLOBAL, { trace_rate: '5' })).json().trace_rate,
      '5',
      'the rest can be set',
    );
  });
});

describe('the trace settings with authentication on', () => {
  it('needs serval:admin to read or change them', async (t) => {
    const app = await tracedApp(t, { authEnabled: true, jwtSecret: SECRET });
    const token = (scope: string) => signedToken(SECRET, scope);
    const read = { authorization: `Bearer ${await token('serval:read serval:predict')}` };
    const admin = { authorization: `Bearer ${await token('serval:admin')}` };
    for (const url of [GLOBAL, IRIS]) {
      assert.equal((await app.inject(url)).statusCode, 401, url);
      assert.equal((await post(app, url, { trace_rate: '5' })).statusCode, 401, url);
      const denied = await app.inject({ url, headers: read });
      assert.equal(denied.statusCode, 403, url);
      assert.equal(denied.json().code, 'INSUFFICIENT_SCOPE');
      assert.equal((await post(app, url, { trace_rate: '5' }, read)).statusCode, 403, url);
      assert.equal((await app.inject({ url, headers: admin })).statusCode, 200, url);
      const changed = await post(app, url, { trace_rate: '5' }, admin);
      assert.equal(changed.statusCode, 200, changed.body);
      assert.equal(changed.json().trace_rate, '5');
    }
  });
});
