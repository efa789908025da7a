// Triton's logging extension over gRPC, as tritonclient.grpc's get_log_settings and update_log_settings call it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { loadedGrpc, type RunningGrpc } from '../grpc.js';

interface Settings {
  settings: Record<
    string,
    { parameter_choice: string; bool_param?: boolean; uint32_param?: number; string_param?: string }
  >;
}

describe('LogSettings', () => {
  let grpc: RunningGrpc;
  before(async () => {
    grpc = await loadedGrpc({ logLevel: 'warn' });
  });
  after(() => grpc.close());

  it('answers the settings when none are given, each in its oneof', async () => {
    const { settings } = await grpc.client.call<Settings>('LogSettings', { settings: {} });
    assert.equal(settings.log_info?.bool_param, false);
    assert.equal(settings.log_warning?.bool_param, true);
    assert.equal(settings.log_verbose_level?.uint32_param, 0);
    assert.equal(settings.log_format?.string_param, 'default');
    assert.equal(settings.log_file?.string_param, '');
  });

  it('applies the settings given and answers them all', async () => {
    const { settings } = await grpc.client.call<Settings>('LogSettings', {
      settings: { log_info: { bool_param: true }, log_verbose_level: { uint32_param: 1 } },
    });
    assert.equal(settings.log_info?.bool_param, true);
    assert.equal(settings.log_verbose_level?.uint32_param, 1);
    assert.equal(grpc.core.log.level, 'debug');
    const metadata = await grpc.client.call<{ extensions: string[] }>('ServerMetadata', {});
    assert.ok(metadata.extensions.includes('logging'));
  });

  it('refuses a log file to change, an unknown setting and a wrong type with INVALID_ARGUMENT', async () => {
    for (const settings of [
      { log_file: { string_param: '/tmp/serval.log' } },
      { log_colour: { bool_param: true } },
      { log_info: { string_param: 'yes' } },
      { log_info: {} },
    ]) {
      const err = await grpc.client.call('LogSettings', { settings }).then(
        () => assert.fail('the call succeeded'),
        (e: unknown) => e as ServiceError,
      );
      assert.equal(err.code, status.INVALID_ARGUMENT, JSON.stringify(settings));
      assert.equal(err.metadata.get('serval-error-code')[0], 'INVALID_REQUEST');
    }
  });
});
