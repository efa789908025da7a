// Triton's log settings over a real pino logger writing to memory: what each setting lets through, the time format,
// children following the root, and the checks of a request's settings.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { checkLogSettings, LogSettings } from '../../src/core/log-settings.js';

function logger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const settings = new LogSettings(level);
  const root = pino({ level, ...settings.pinoOptions() }, sink);
  settings.attach(root);
  const child = root.child({ component: 'models' });
  const all = () => {
    child.trace('trace');
    child.debug('debug');
    child.info('info');
    child.warn('warn');
    child.error('error');
  };
  const written = async () => {
    all();
    await new Promise((resolve) => setImmediate(resolve));
    return lines.splice(0);
  };
  const messages = async () => (await written()).map((l) => l.msg);
  return { settings, written, messages, lines };
}

/** The time field of every line one round of logging writes. */
async function timesOf(written: () => Promise<Record<string, unknown>[]>): Promise<unknown[]> {
  return (await written()).map((l) => l.time);
}

describe('LogSettings', () => {
  it('starts from the configured level, as Triton names its settings', () => {
    assert.deepEqual(new LogSettings('info').values, {
      log_file: '',
      log_info: true,
      log_warning: true,
      log_error: true,
      log_verbose_level: 0,
      log_format: 'default',
    });
    assert.equal(new LogSettings('warn').values.log_info, false);
    assert.equal(new LogSettings('debug').values.log_verbose_level, 1);
    assert.equal(new LogSettings('silent').values.log_error, false);
  });

  it('lets through what the settings turn on, in the children of the root too', async () => {
    const { settings, messages } = logger('info');
    assert.deepEqual(await messages(), ['info', 'warn', 'error']);
    settings.apply({ log_verbose_level: 1 });
    assert.deepEqual(await messages(), ['debug', 'info', 'warn', 'error']);
    settings.apply({ log_verbose_level: 0, log_info: false, log_warning: false });
    assert.deepEqual(await messages(), ['error']);
    settings.apply({ log_info: true });
    assert.deepEqual(await messages(), ['info', 'error'], 'warnings off between info and error');
    settings.apply({ log_info: false, log_error: false });
    assert.deepEqual(await messages(), []);
  });

  it('writes the time as epoch milliseconds, or as ISO 8601', async () => {
    const { settings, written } = logger('info');
    const epoch = await timesOf(written);
    assert.ok(
      epoch.every((t) => typeof t === 'number'),
      JSON.stringify(epoch),
    );
    settings.apply({ log_format: 'ISO8601' });
    const iso = await timesOf(written);
    assert.ok(
      iso.every((t) => typeof t === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(t)),
      JSON.stringify(iso),
    );
  });
});

describe('checkLogSettings', () => {
  it('takes known settings of the right types', () => {
    assert.deepEqual(
      checkLogSettings({ log_info: false, log_verbose_level: 2, log_format: 'ISO8601', log_file: '' }),
      {
        log_info: false,
        log_verbose_level: 2,
        log_format: 'ISO8601',
      },
    );
  });

  it('refuses unknown settings, wrong types and a log file to change, naming the setting', () => {
    const refusals: [unknown, RegExp][] = [
      [{ log_infos: true }, /unknown log setting "log_infos"/],
      [{ log_info: 'yes' }, /"log_info" must be true or false/],
      [{ log_verbose_level: -1 }, /"log_verbose_level" must be an unsigned integer/],
      [{ log_verbose_level: 1.5 }, /unsigned integer/],
      [{ log_format: 'iso' }, /"log_format" must be "default" or "ISO8601"/],
      [{ log_file: '/tmp/x.log' }, /log_file cannot be changed over the network/],
      [[], /must be an object/],
      [null, /must be an object/],
    ];
    for (const [body, message] of refusals) {
      assert.throws(
        () => checkLogSettings(body),
        (err: { code: string; message: string }) => {
          assert.equal(err.code, 'INVALID_REQUEST');
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });
});
