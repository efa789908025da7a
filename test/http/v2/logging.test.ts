// Triton's logging extension over REST, as tritonclient's get_log_settings and update_log_settings call it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadedApp, signedToken } from '../../helpers.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';

describe('GET|POST /v2/logging', () => {
  it('answers the settings, changes them and answers them all, and lists the extension', async (t) => {
    const app = await loadedApp({ logLevel: 'warn' });
    t.after(() => app.close());
    const before = await app.inject('/v2/logging');
    assert.equal(before.statusCode, 200);
    assert.deepEqual(before.json(), {
      log_file: '',
      log_info: false,
      log_warning: true,
      log_error: true,
      log_verbose_level: 0,
      log_format: 'default',
    });
    // tritonclient posts JSON with no Content-Type.
    const changed = await app.inject({
      method: 'POST',
      url: '/v2/logging',
      payload: JSON.stringify({ log_info: true, log_format: 'ISO8601' }),
    });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal(changed.json().log_info, true);
    assert.equal(changed.json().log_format, 'ISO8601');
    assert.equal(app.core.log.level, 'info', 'the root logger follows');
    assert.deepEqual((await app.inject('/v2/logging')).json(), changed.json());
    assert.ok(((await app.inject('/v2')).json().extensions as string[]).includes('logging'));
  });

  it('refuses bad settings with 400 INVALID_REQUEST naming the setting, and changes nothing', async (t) => {
    const app = await loadedApp();
    t.after(() => app.close());
    const before = (await app.inject('/v2/logging')).json();
    for (const payload of [{ log_info: 'yes' }, { log_level: 3 }, { log_file: '/tmp/serval.log' }]) {
      const res = await app.inject({ method: 'POST', url: '/v2/logging', payload });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'INVALID_REQUEST');
      assert.match(res.json().error, new RegExp(Object.keys(payload)[0]!));
    }
    assert.deepEqual((await app.inject('/v2/logging')).json(), before);
  });

  it('needs serval:admin when authentication is on', async (t) => {
    const app = await loadedApp({ authEnabled: true, jwtSecret: SECRET });
    t.after(() => app.close());
    const token = (scope: string) => signedToken(SECRET, scope);
    assert.equal((await app.inject('/v2/logging')).statusCode, 401);
    const read = { authorization: `Bearer ${await token('serval:read serval:predict')}` };
    assert.equal((await app.inject({ url: '/v2/logging', headers: read })).statusCode, 403);
    const admin = { authorization: `Bearer ${await token('serval:admin')}` };
    const res = await app.inject({
      method: 'POST',
      url: '/v2/logging',
      headers: admin,
      payload: { log_error: true },
    });
    assert.equal(res.statusCode, 200, res.body);
  });
});
