// Triton's trace extension over gRPC (tritonclient.grpc's get_trace_settings and update_trace_settings): TraceSetting
// with no settings answers them, global or of model_name; with some, applies them in every worker and answers them.
import { Scopes } from '../auth/scopes.js';
import type { Core } from '../core/core.js';
import { checkTraceSettings, type TraceSettingsValues } from '../core/tracing/settings.js';
import { unary, type RpcDeps } from './rpc.js';

interface TraceSettingMessage {
  settings: Record<string, { value: string[] }>;
  model_name?: string;
}

/** A setting with no value is a reset (null in REST); trace_level is a list, the others one string. */
function valueOf(key: string, value: string[]): unknown {
  if (value.length === 0) return null;
  return key === 'trace_level' ? value : value.length === 1 ? value[0] : value;
}

function answer(values: TraceSettingsValues): TraceSettingMessage {
  const settings: TraceSettingMessage['settings'] = {};
  for (const [key, value] of Object.entries(values) as [string, string | string[]][])
    settings[key] = { value: typeof value === 'string' ? [value] : value };
  return { settings };
}

export function traceSettingRpc(deps: RpcDeps, core: Core) {
  return unary<TraceSettingMessage, TraceSettingMessage>(
    deps,
    'TraceSetting',
    { scope: Scopes.admin, bucket: 'api' },
    async (request) => {
      const model = request.model_name || undefined;
      const entries = Object.entries(request.settings);
      if (entries.length === 0) return answer(await core.tracing(model));
      const settings = checkTraceSettings(
        Object.fromEntries(entries.map(([k, v]) => [k, valueOf(k, v.value)])),
      );
      return answer(await core.tracing(model, settings));
    },
  );
}
