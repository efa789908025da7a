// Triton's trace extension over gRPC (TraceSetting), as tritonclient.grpc's get_trace_settings and
// update_trace_settings call it: no settings reads them, some change them; a setting with no value resets it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { signedToken } from '../helpers.js';
import { loadedGrpc, rejection, type RunningGrpc } from '../grpc.js';

interface Settings {
  settings: Record<string, { value: string[] }>;
}

/** The settings of a TraceSettingResponse, as REST writes them: the level a list, the others one string. */
const flat = ({ settings }: Settings) =>
  Object.fromEntries(
    Object.entries(settings).map(([k, { value }]) => [k, k === 'trace_level' ? value : value.join()]),
  );

const DEFAULTS = {
  trace_file: '',
  trace_level: ['TIMESTAMPS'],
  trace_rate: '1',
  trace_count: '-1',
  log_frequency: '0',
};

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

const values = (settings: Record<string, readonly string[]>) =>
  Object.fromEntries(Object.entries(settings).map(([k, value]) => [k, { value }]));

describe('TraceSetting', () => {
  let grpc: RunningGrpc;
  const call = async (settings: Record<string, string[]>, model_name = '') =>
    flat(await grpc.client.call<Settings>('TraceSetting', { settings: values(settings), model_name }));

  before(async () => {
    grpc = await loadedGrpc({}, pino({ level: 'silent' }), {
      spans: new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }),
    });
  });
  after(() => grpc.close());

  it('answers the global settings, or a model’s, when none are given, and lists the extension', async () => {
    assert.deepEqual(await call({}), DEFAULTS);
    assert.deepEqual(
      await call({}, 'iris'),
      DEFAULTS,
      'a model with no settings of its own has the global ones',
    );
    const metadata = await grpc.client.call<{ extensions: string[] }>('ServerMetadata', {});
    assert.ok(metadata.extensions.includes('trace'));
  });

  it('applies the settings given, globally or to a model, and answers them all', async () => {
    const global = await call({ trace_rate: ['100'], log_frequency: ['5'] });
    assert.deepEqual(global, { ...DEFAULTS, trace_rate: '100', log_frequency: '5' });
    const iris = await call({ trace_level: ['OFF'], trace_count: ['20'] }, 'iris');
    assert.deepEqual(iris, { ...global, trace_level: ['OFF'], trace_count: '20' });
    assert.deepEqual(await call({}), global, 'the global settings stay');
    assert.deepEqual(await call({}, 'iris'), iris);
  });

  it("resets a model's setting to the global one when it has no value", async () => {
    await call({ trace_rate: ['7'] });
    await call({ trace_rate: ['1000'], log_frequency: ['3'] }, 'digits');
    const reset = await call({ trace_rate: [] }, 'digits');
    assert.equal(reset.trace_rate, '7');
    assert.equal(reset.log_frequency, '3', 'the setting not reset stays the model’s own');
  });

  it('refuses a bad value, an unknown setting and a new trace_file with INVALID_ARGUMENT', async () => {
    const before = await call({});
    for (const [settings, model] of [
      [{ trace_rate: ['-1'] }, ''],
      [{ trace_rate: ['1', '2'] }, ''],
      [{ trace_count: ['many'] }, 'iris'],
      [{ log_frequency: ['4294967296'] }, ''],
      [{ trace_level: ['TENSORS'] }, ''],
      [{ trace_level: ['OFF', 'TIMESTAMPS'] }, 'iris'],
      [{ trace_mode: ['opentelemetry'] }, ''],
      [{ trace_file: ['/tmp/trace.json'] }, ''],
    ] as const) {
      const err = await rejection(
        grpc.client.call('TraceSetting', { settings: values(settings), model_name: model }),
      );
      assert.equal(err.code, status.INVALID_ARGUMENT, JSON.stringify(settings));
      assert.equal(err.metadata.get('serval-error-code')[0], 'INVALID_TRACE_SETTING');
    }
    assert.deepEqual(await call({}), before, 'nothing changed');
  });

  it('answers NOT_FOUND for a model the repository does not have', async () => {
    for (const settings of [{}, { trace_rate: ['5'] }] as Record<string, string[]>[]) {
      const err = await rejection(
        grpc.client.call('TraceSetting', { settings: values(settings), model_name: 'nope' }),
      );
      assert.equal(err.code, status.NOT_FOUND, JSON.stringify(settings));
      assert.equal(err.metadata.get('serval-error-code')[0], 'MODEL_NOT_FOUND');
    }
  });
});

describe('TraceSetting with authentication on', () => {
  it('needs serval:admin: UNAUTHENTICATED without a token, PERMISSION_DENIED with another scope', async (t) => {
    const grpc = await loadedGrpc({ authEnabled: true, jwtSecret: SECRET });
    t.after(() => grpc.close());
    const bearer = async (scope: string) => ({
      authorization: `Bearer ${await signedToken(SECRET, scope)}`,
    });
    const request = { settings: values({ trace_rate: ['5'] }) };
    assert.equal((await rejection(grpc.client.call('TraceSetting', request))).code, status.UNAUTHENTICATED);
    const read = await bearer('serval:read serval:predict');
    const denied = await rejection(grpc.client.call('TraceSetting', request, read));
    assert.equal(denied.code, status.PERMISSION_DENIED);
    const changed = await grpc.client.call<Settings>('TraceSetting', request, await bearer('serval:admin'));
    assert.deepEqual(changed.settings.trace_rate?.value, ['5']);
  });
});
