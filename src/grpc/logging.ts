// Triton's logging extension over gRPC (tritonclient.grpc's get_log_settings and update_log_settings): LogSettings
// with no settings answers them; with some, applies them in every worker and answers them all.
import { Scopes } from '../auth/scopes.js';
import type { Core } from '../core/core.js';
import { errors } from '../core/errors.js';
import { checkLogSettings, type LogSettingsValues } from '../core/log-settings.js';
import { unary, type RpcDeps } from './rpc.js';

interface SettingValue {
  parameter_choice?: 'bool_param' | 'uint32_param' | 'string_param';
  bool_param?: boolean;
  uint32_param?: number;
  string_param?: string;
}

interface LogSettingsMessage {
  settings: Record<string, SettingValue>;
}

/** A setting's value as its oneof holds it; a setting sent with none is refused. */
function valueOf(key: string, value: SettingValue): unknown {
  const choice = value.parameter_choice;
  if (choice === undefined)
    throw new errors.INVALID_REQUEST(`log setting "${key.slice(0, 32)}" has no value`);
  return value[choice];
}

/** The settings as SettingValue entries: booleans, the verbose level as uint32, strings. */
function answer(values: LogSettingsValues): LogSettingsMessage {
  const settings: LogSettingsMessage['settings'] = {};
  for (const [key, value] of Object.entries(values) as [string, boolean | number | string][]) {
    settings[key] =
      typeof value === 'boolean'
        ? { bool_param: value }
        : typeof value === 'number'
          ? { uint32_param: value }
          : { string_param: value };
  }
  return { settings };
}

export function logSettingsRpc(deps: RpcDeps, core: Core) {
  return unary<LogSettingsMessage, LogSettingsMessage>(
    deps,
    'LogSettings',
    { scope: Scopes.admin, bucket: 'api' },
    async (request) => {
      const entries = Object.entries(request.settings);
      if (entries.length === 0) return answer(await core.logging());
      const settings = checkLogSettings(Object.fromEntries(entries.map(([k, v]) => [k, valueOf(k, v)])));
      return answer(await core.logging(settings));
    },
  );
}
