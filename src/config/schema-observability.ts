// The config schema's observability keys: OpenTelemetry tracing, Prometheus metrics, payload logging.
import { Type } from 'typebox';
import { Milliseconds, Optional } from './schema-units.js';

export const TraceProtocols = ['http/protobuf', 'http/json'] as const;
/** The OpenTelemetry specification's built-in samplers (OTEL_TRACES_SAMPLER). */
export const TraceSamplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export const PayloadLogModes = ['all', 'request', 'response'] as const;
/** Request headers payload logging never copies into events, even when listed: credentials. */
export const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'] as const;

/** Tracing (OpenTelemetry): the exporter, the sampler, the batch processor, Triton's trace rate. */
export const TracingKeys = {
  traceEndpoint: Optional(
    'OTLP/HTTP URL spans are exported to (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces); set, tracing is on.',
  ),
  traceProtocol: Type.Enum(TraceProtocols, {
    default: 'http/protobuf',
    description: 'How spans are sent (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL).',
  }),
  traceDisabled: Type.Boolean({
    default: false,
    description: 'Tracing off whatever the endpoint (OTEL_SDK_DISABLED).',
  }),
  traceServiceName: Optional(
    "The resource's service.name (OTEL_SERVICE_NAME); empty: OTEL_RESOURCE_ATTRIBUTES' service.name, else serval.",
  ),
  traceResourceAttributes: Optional(
    'More resource attributes, key=value pairs separated by commas, values percent-encoded (OTEL_RESOURCE_ATTRIBUTES).',
  ),
  traceSampler: Type.Enum(TraceSamplers, {
    default: 'parentbased_always_on',
    description:
      "Which traces are kept (OTEL_TRACES_SAMPLER); parentbased_*: a caller's sampled trace is followed.",
  }),
  traceSamplerArg: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 1,
    description: 'The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG).',
  }),
  traceExportDelayMs: Milliseconds(
    5000,
    'The longest a finished span waits before its batch is exported (OTEL_BSP_SCHEDULE_DELAY).',
  ),
  traceExportTimeoutMs: Milliseconds(
    30_000,
    'How long one export may take before it is given up (OTEL_BSP_EXPORT_TIMEOUT).',
  ),
  traceQueueSize: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 2048,
    description: 'Finished spans held for export per process; more are dropped (OTEL_BSP_MAX_QUEUE_SIZE).',
  }),
  traceExportBatchSize: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 512,
    description: 'Most spans in one export, at most traceQueueSize (OTEL_BSP_MAX_EXPORT_BATCH_SIZE).',
  }),
  traceRate: Type.Integer({
    minimum: 0,
    maximum: 4_294_967_295,
    default: 1,
    description:
      "Triton's trace_rate at start: one request in this many (without a caller's trace) is offered to the sampler; 0: only callers' traces.",
  }),
};

/** Prometheus metrics: on or off, their own port, their auth. */
export const MetricsKeys = {
  metricsEnabled: Type.Boolean({
    default: true,
    description: 'Serve Prometheus metrics at /metrics (summed over workers).',
  }),
  metricsPort: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 0,
    description:
      '0: /metrics on the HTTP port; else its own port (as Triton 8002), unauthenticated: keep it inside the cluster.',
  }),
  metricsAuth: Type.Boolean({
    default: false,
    description: 'With authEnabled, /metrics on the HTTP port needs a token with the serval:admin scope.',
  }),
};

/** Payload logging: the sink, what is logged, the queue in front of it. */
export const PayloadLogKeys = {
  payloadLogUrl: Optional(
    'Payload logging: where each inference request and response goes as a CloudEvent (KServe logger format): an http(s):// URL, or redis-stream://<key> for a Redis stream on redisUrl; empty = off.',
  ),
  payloadLogMode: Type.Enum(PayloadLogModes, {
    default: 'all',
    description: 'What payload logging logs: all (requests and responses), request, or response.',
  }),
  payloadLogHeaders: Type.Array(Type.String({ minLength: 1, pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), {
    default: [],
    description: `Request headers copied into each event's metadata extension (comma-separated in env); never ${SECRET_HEADERS.join(', ')}.`,
  }),
  payloadLogSource: Optional("The events' ce-source; empty = http://localhost:<port>/."),
  payloadLogNamespace: Optional(
    "The events' namespace extension: the Kubernetes namespace (from the downward API's metadata.namespace).",
  ),
  payloadLogEndpoint: Type.String({
    default: 'default',
    description: "The events' endpoint extension (KServe: default or canary).",
  }),
  payloadLogQueueEvents: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 10_000,
    description:
      'Most events held per process, waiting or being sent; past it (or payloadLogQueueBytes) events are dropped.',
  }),
  payloadLogQueueBytes: Type.Integer({
    minimum: 65_536,
    maximum: 4_294_967_296,
    default: 67_108_864,
    description: 'Most bytes of events held per process, waiting or being sent.',
  }),
  payloadLogWorkers: Type.Integer({
    minimum: 1,
    maximum: 1024,
    default: 64,
    description:
      'Events sent at once per process by its sender thread, over at most 8 kept-alive connections to an HTTP sink.',
  }),
  payloadLogRetries: Type.Integer({
    minimum: 0,
    maximum: 10,
    default: 3,
    description: 'Retries (with exponential backoff from 100 ms to 2 s) of an event the sink did not take.',
  }),
  payloadLogTimeoutMs: Milliseconds(5_000, 'Longest wait for the HTTP sink to answer one event.'),
  payloadLogStreamMaxLength: Type.Integer({
    minimum: 1,
    maximum: 1_000_000_000,
    default: 100_000,
    description: 'redis-stream:// sink: the stream is trimmed to about this many entries (XADD MAXLEN ~).',
  }),
};
