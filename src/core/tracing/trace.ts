// What the front ends and the pipeline tell a trace, independent of OpenTelemetry, and the loader that brings the SDK
// in only when tracing is on: off, no OpenTelemetry module is loaded and every hook is one undefined check.
import type { Logger } from 'pino';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Config } from '../../config/schema.js';
import type { TraceSettings } from './settings.js';

export type Attributes = Record<string, string | number | boolean>;

/** A request as a front end starts its trace. */
export interface ServeOptions {
  /** The span's name by the semantic conventions: "POST /v2/models/:model/infer", "inference.GRPCInferenceService/ModelInfer". */
  name: string;
  /** The caller's header (or gRPC metadata) by lower-case name: traceparent, tracestate. */
  header: (name: string) => string | undefined;
  /**
   * The server span's attributes, made only for a request that is traced: the specification's samplers, the only
   * ones Serval takes, decide without them.
   */
  attributes: () => Attributes;
  /** The model the request names, whose trace settings apply. */
  model?: string | undefined;
  reqId: string;
  /** When the request began (performance.now()). */
  started: number;
}

/** One traced request: its server span. */
export interface RequestTrace {
  readonly traceId: string;
  readonly spanId: string;
  /**
   * The pipeline's part of it: a span named after the model, child of the server span. Its triton.request_id is the
   * request's own id (V2 and gRPC `id`), as in Triton, or else the server's request id.
   */
  model(name: string, version: string, id?: string): ModelTrace;
  /** Ends the server span; `failed`: the server's fault (5xx, INTERNAL), as the semantic conventions say. */
  end(attributes: Attributes, failed: boolean): void;
}

/** When a traced call waited and ran, in epoch milliseconds (a worker thread's run is timed in the thread). */
export interface RunRecord {
  queued: number;
  started: number;
  compute: { start: number; end: number };
  /** The calls that ran together (this one included) and their rows: a batch of one is a run alone. */
  calls: readonly RunTrace[];
  rows: number;
}

/** What a model's runtime tells a traced call. */
export interface RunTrace {
  /** The call's run: its queue time, compute and batch. */
  ran(run: RunRecord): void;
  /** One ensemble step: a span named after its composing model, child of this call's. */
  step(name: string, version: string, index: number): ModelTrace;
}

/** A model span: the request as its model saw it. */
export interface ModelTrace extends RunTrace {
  /** The request was read, processed and checked: the model span's INPUTS_END event. */
  inputs(): void;
  end(cache: string | undefined, error?: unknown): void;
}

export interface Tracer {
  /** A traced request, or undefined when it is not sampled (nothing else is recorded for it). */
  serve(options: ServeOptions): RequestTrace | undefined;
  /** Exports the spans ended so far and stops. */
  close(): Promise<void>;
}

/** Epoch milliseconds of a performance.now() reading. */
export const epochMs = (now: number): number => performance.timeOrigin + now;

/**
 * The tracer the config asks for, or null: tracing is on with an OTLP endpoint (or spans handed to a processor, in
 * tests) unless traceDisabled (OTEL_SDK_DISABLED) says otherwise.
 */
export async function loadTracer(
  config: Config,
  settings: TraceSettings,
  log: Logger,
  processor?: SpanProcessor,
): Promise<Tracer | null> {
  if (config.traceDisabled || (config.traceEndpoint === '' && processor === undefined)) return null;
  const { createTracer } = await import('./sdk.js');
  return createTracer(config, settings, log.child({ component: 'tracing' }), processor);
}

/** Whether the config turns tracing on (the settings' default level follows it). */
export const exporting = (config: Config, processor?: SpanProcessor): boolean =>
  !config.traceDisabled && (config.traceEndpoint !== '' || processor !== undefined);
