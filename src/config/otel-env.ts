// The OpenTelemetry SDK's standard variables (OTEL_*) read as the tracing keys they set, as the specification says:
// the traces endpoint as given, the general endpoint with /v1/traces appended, the traces protocol over the general one.
import type { Config } from './schema.js';

type TraceKey = Extract<keyof Config, `trace${string}`>;

/** The general endpoint is a base: the signal's path is appended (with one slash), per the OTLP exporter spec. */
const tracesUrl = (base: string) => `${base.replace(/\/+$/, '')}/v1/traces`;

/** Each variable as the key it sets, with the env variable named for error messages. */
export function otelVariables(
  env: NodeJS.ProcessEnv,
): Partial<Record<TraceKey, { value: string; name: string }>> {
  const out: Partial<Record<TraceKey, { value: string; name: string }>> = {};
  const take = (key: TraceKey, name: string, map: (v: string) => string = (v) => v) => {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '' && out[key] === undefined) out[key] = { value: map(value), name };
  };
  take('traceEndpoint', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  take('traceEndpoint', 'OTEL_EXPORTER_OTLP_ENDPOINT', tracesUrl);
  take('traceProtocol', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
  take('traceProtocol', 'OTEL_EXPORTER_OTLP_PROTOCOL');
  // The specification: only "true" (any case) disables; any other value leaves the SDK on.
  take('traceDisabled', 'OTEL_SDK_DISABLED', (v) => String(v.toLowerCase() === 'true'));
  take('traceServiceName', 'OTEL_SERVICE_NAME');
  take('traceResourceAttributes', 'OTEL_RESOURCE_ATTRIBUTES');
  take('traceSampler', 'OTEL_TRACES_SAMPLER');
  take('traceSamplerArg', 'OTEL_TRACES_SAMPLER_ARG');
  // The batch span processor's: the SDK's TracerProvider does not read them itself.
  take('traceExportDelayMs', 'OTEL_BSP_SCHEDULE_DELAY');
  take('traceExportTimeoutMs', 'OTEL_BSP_EXPORT_TIMEOUT');
  take('traceQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE');
  take('traceExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  return out;
}
