// Tracing as the config sets it up (loaded only when tracing is on): the sampler named by OTEL_TRACES_SAMPLER behind
// Triton's trace settings, and the W3C propagator that reads a caller's traceparent, decide on the serving thread;
// a traced request's spans are recorded there as plain data (spans.ts) and exported by the SDK's batch processor and
// OTLP exporter on a thread of their own (export.ts).
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  RandomIdGenerator,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { InlineExport, resourceOf, ThreadExport, type SpanExport } from './export.js';
import type { SpanIds } from './records.js';
import type { TraceSettings } from './settings.js';
import { ModelSpan, type SpanWork } from './spans.js';
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

const getter: TextMapGetter<(name: string) => string | undefined> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (header, key) => header(key),
};

/** Told of each ended trace: flushes the spans every log_frequency traces (Triton's setting; 0 leaves it to the batch). */
function flusher(exported: SpanExport, settings: TraceSettings): (model: string | undefined) => void {
  /** Traces ended since the last flush, per log_frequency. */
  let ended = 0;
  return (model) => {
    const every = settings.logFrequency(model);
    if (every === 0 || ++ended < every) return;
    ended = 0;
    exported.flush();
  };
}

/**
 * The sampler's decision on a new server span of `traceId` under `parent` (the specification's samplers decide without
 * the span's attributes, which are made only for a traced request): its ids, or undefined when it is not sampled.
 * A span under a sampled one is sampled too, as the SDK's samplers decide for it (the parent's flag, or the same
 * trace id's ratio): its children are not asked again.
 */
function sampled(sampler: Sampler, parentContext: Context, ids: SpanIds, name: string): SpanIds | undefined {
  const result = sampler.shouldSample(parentContext, ids.traceId, name, SpanKind.SERVER, {}, []);
  if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) return undefined;
  const traceState = result.traceState?.serialize() ?? ids.traceState;
  return { ...ids, traceFlags: 1, ...(traceState === undefined ? {} : { traceState }) };
}

/** A request's server span, when Triton's settings and the sampler trace it, with its model's spans beneath. */
function serving(
  sampler: Sampler,
  work: SpanWork,
  settings: TraceSettings,
  flushed: (model: string | undefined) => void,
): (options: ServeOptions) => RequestTrace | undefined {
  const propagator = new W3CTraceContextPropagator();
  return (options) => {
    const { model } = options;
    const parentContext: Context = propagator.extract(ROOT_CONTEXT, options.header, getter);
    const caller = trace.getSpanContext(parentContext);
    // A caller's trace is followed whatever the rate and count (as Triton does); the level still turns it off.
    const followed = caller !== undefined && trace.isSpanContextValid(caller);
    if (followed ? !settings.on(model) : !settings.admit(model)) return undefined;
    const traceState = followed ? caller.traceState?.serialize() : undefined;
    const ids = sampled(
      sampler,
      parentContext,
      {
        traceId: followed ? caller.traceId : work.ids.generateTraceId(),
        spanId: work.ids.generateSpanId(),
        traceFlags: 0,
        ...(traceState === undefined ? {} : { traceState }),
      },
      options.name,
    );
    if (ids === undefined) return undefined;
    if (!followed) settings.counted(model);
    const start = epochMs(options.started);
    let name = options.name;
    return {
      traceId: ids.traceId,
      spanId: ids.spanId,
      model: (modelName, version, id) => {
        // Inference requests carry Triton's name for the server span, so that its dashboards carry over.
        name = 'InferRequest';
        return new ModelSpan(work, ids, modelName, version, id || options.reqId);
      },
      end(attributes: Attributes, failed) {
        work.ended({
          ...ids,
          name,
          kind: SpanKind.SERVER,
          parent: followed ? { spanId: caller.spanId, remote: true } : undefined,
          start,
          end: epochMs(performance.now()),
          attributes: { ...options.attributes(), ...attributes },
          events: [],
          links: [],
          status: { code: failed ? SpanStatusCode.ERROR : SpanStatusCode.UNSET },
        });
        flushed(model);
      },
    };
  };
}

/** Tracing: spans exported from a thread of their own, or into `given` (a test's processor) on this thread. */
export async function createTracer(
  config: Config,
  settings: TraceSettings,
  log: Logger,
  given?: SpanProcessor,
): Promise<Tracer> {
  const exported: SpanExport =
    given === undefined ? new ThreadExport(config, log) : new InlineExport(given, resourceOf(config), log);
  const work: SpanWork = { ids: new RandomIdGenerator(), ended: (record) => exported.ended(record) };
  log.info(
    {
      endpoint: config.traceEndpoint || undefined,
      protocol: config.traceProtocol,
      sampler: config.traceSampler,
    },
    'tracing on',
  );

  return {
    serve: serving(
      samplerOf(config.traceSampler, config.traceSamplerArg),
      work,
      settings,
      flusher(exported, settings),
    ),
    // The last spans are sent at a stop, but a collector that hangs does not hold the stop past a second.
    close: () =>
      Promise.race([
        exported.close().catch((err: unknown) => log.warn({ err }, 'the last spans could not be exported')),
        new Promise<void>((resolve) => setTimeout(resolve, 1000).unref()),
      ]),
  };
}
