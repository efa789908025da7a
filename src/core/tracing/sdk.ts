// The OpenTelemetry SDK as the config sets it up (loaded only when tracing is on): the resource, the sampler named by
// OTEL_TRACES_SAMPLER, the OTLP/HTTP exporter (protobuf or JSON) behind a batch processor, and the W3C propagator
// that reads a caller's traceparent; serve() puts Triton's trace settings before the sampler.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type TextMapGetter,
  type Tracer as OtelTracer,
} from '@opentelemetry/api';
import { parseKeyPairsIntoRecord, W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { TraceSettings } from './settings.js';
import { ModelSpan } from './spans.js';
import { epochMs, type RequestTrace, type ServeOptions, type Tracer } from './trace.js';

/** The sampler OTEL_TRACES_SAMPLER names, with OTEL_TRACES_SAMPLER_ARG for the ratio ones. */
export function samplerOf(name: Config['traceSampler'], ratio: number): Sampler {
  const root = name.endsWith('always_off')
    ? new AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(ratio)
      : new AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** The resource: OTEL_RESOURCE_ATTRIBUTES, with OTEL_SERVICE_NAME over their service.name, over the SDK's own. */
function resourceOf(config: Config) {
  const attributes: Record<string, string | number> = parseKeyPairsIntoRecord(config.traceResourceAttributes);
  attributes['service.name'] = config.traceServiceName || attributes['service.name'] || 'serval';
  attributes['process.pid'] = process.pid;
  return defaultResource().merge(resourceFromAttributes(attributes));
}

async function exporterOf(config: Config): Promise<SpanExporter> {
  const { OTLPTraceExporter } =
    config.traceProtocol === 'http/json'
      ? await import('@opentelemetry/exporter-trace-otlp-http')
      : await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: config.traceEndpoint });
}

const getter: TextMapGetter<(name: string) => string | undefined> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (header, key) => header(key),
};

/** The batch processor in front of the configured OTLP exporter. */
async function processorOf(config: Config): Promise<SpanProcessor> {
  return new BatchSpanProcessor({
    exporter: await exporterOf(config),
    scheduledDelayMillis: config.traceExportDelayMs,
    exportTimeoutMillis: config.traceExportTimeoutMs,
    maxQueueSize: config.traceQueueSize,
    maxExportBatchSize: Math.min(config.traceExportBatchSize, config.traceQueueSize),
  });
}

/** Told of each ended trace: flushes the spans every log_frequency traces (Triton's setting; 0 leaves it to the batch). */
function flusher(
  provider: TracerProvider,
  settings: TraceSettings,
  log: Logger,
): (model: string | undefined) => void {
  /** Traces ended since the last flush, per log_frequency. */
  let ended = 0;
  return (model) => {
    const every = settings.logFrequency(model);
    if (every === 0 || ++ended < every) return;
    ended = 0;
    provider.forceFlush().catch((err: unknown) => log.warn({ err }, 'spans could not be exported'));
  };
}

/** A request's server span, when Triton's settings and the sampler trace it, with its model's spans beneath. */
function serving(
  tracer: OtelTracer,
  settings: TraceSettings,
  flushed: (model: string | undefined) => void,
): (options: ServeOptions) => RequestTrace | undefined {
  const propagator = new W3CTraceContextPropagator();
  return (options) => {
    const { model } = options;
    const parentContext: Context = propagator.extract(ROOT_CONTEXT, options.header, getter);
    const parent = trace.getSpanContext(parentContext);
    // A caller's trace is followed whatever the rate and count (as Triton does); the level still turns it off.
    const followed = parent !== undefined && trace.isSpanContextValid(parent);
    if (followed ? !settings.on(model) : !settings.admit(model)) return undefined;
    const span = tracer.startSpan(
      options.name,
      { kind: SpanKind.SERVER, startTime: epochMs(options.started) },
      parentContext,
    );
    if (!span.isRecording()) return undefined;
    span.setAttributes(options.attributes());
    if (!followed) settings.counted(model);
    const ids = span.spanContext();
    const spanContext = trace.setSpan(ROOT_CONTEXT, span);
    return {
      traceId: ids.traceId,
      spanId: ids.spanId,
      model: (name, version, id) => {
        // Inference requests carry Triton's name for the server span, so that its dashboards carry over.
        span.updateName('InferRequest');
        return new ModelSpan(tracer, spanContext, name, version, id || options.reqId);
      },
      end(attributes, failed) {
        span.setAttributes(attributes);
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        flushed(model);
      },
    };
  };
}

export async function createTracer(
  config: Config,
  settings: TraceSettings,
  log: Logger,
  given?: SpanProcessor,
): Promise<Tracer> {
  const processor = given ?? (await processorOf(config));
  const provider = new TracerProvider({
    resource: resourceOf(config),
    sampler: samplerOf(config.traceSampler, config.traceSamplerArg),
    spanProcessors: [processor],
  });
  const flushed = flusher(provider, settings, log);
  log.info(
    {
      endpoint: config.traceEndpoint || undefined,
      protocol: config.traceProtocol,
      sampler: config.traceSampler,
    },
    'tracing on',
  );

  return {
    serve: serving(provider.getTracer('serval'), settings, flushed),
    // The last spans are sent at a stop, but a collector that hangs does not hold the stop past a second.
    close: () =>
      Promise.race([
        provider
          .shutdown()
          .catch((err: unknown) => log.warn({ err }, 'the last spans could not be exported')),
        new Promise<void>((resolve) => setTimeout(resolve, 1000).unref()),
      ]),
  };
}
