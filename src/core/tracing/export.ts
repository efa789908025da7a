// Where ended spans go: the OTLP/HTTP exporter (protobuf or JSON) behind the SDK's batch processor, on a thread of its
// own (ThreadExport), so that the serving thread only records spans and hands them over in one message every
// 50 ms; or, in tests, a span processor they hand in, on this thread (InlineExport).
import { Worker } from 'node:worker_threads';
import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { besideModule } from '../../lib/module-file.js';
import { HandOff } from '../../lib/hand-off.js';
import { readableOf, wireOf, type SpanRecord, type WireRecord } from './records.js';

export interface SpanExport {
  ended(record: SpanRecord): void;
  /** Exports what has ended so far (Triton's log_frequency). */
  flush(): void;
  /** Exports what has ended and stops. */
  close(): Promise<void>;
}

/** The resource: OTEL_RESOURCE_ATTRIBUTES, with OTEL_SERVICE_NAME over their service.name, over the SDK's own. */
export function resourceOf(config: Config): Resource {
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

/** The batch processor in front of the configured OTLP exporter. */
export async function processorOf(config: Config): Promise<SpanProcessor> {
  return new BatchSpanProcessor({
    exporter: await exporterOf(config),
    scheduledDelayMillis: config.traceExportDelayMs,
    exportTimeoutMillis: config.traceExportTimeoutMs,
    maxQueueSize: config.traceQueueSize,
    maxExportBatchSize: Math.min(config.traceExportBatchSize, config.traceQueueSize),
  });
}

/** Spans straight into `processor`, on this thread. */
export class InlineExport implements SpanExport {
  #processor: SpanProcessor;
  #resource: Resource;
  #log: Logger;

  constructor(processor: SpanProcessor, resource: Resource, log: Logger) {
    this.#processor = processor;
    this.#resource = resource;
    this.#log = log;
  }

  ended(record: SpanRecord): void {
    this.#processor.onEnd(readableOf(record, this.#resource));
  }

  flush(): void {
    this.#processor
      .forceFlush()
      .catch((err: unknown) => this.#log.warn({ err }, 'spans could not be exported'));
  }

  close(): Promise<void> {
    return this.#processor.shutdown();
  }
}

/** How long ended spans gather before they go to the export thread together (its batches wait seconds anyway). */
const HAND_OFF_MS = 50;

/** What the serving thread tells the export thread, besides batches of records. */
export type ExportCommand = 'flush' | 'close';

/** The export thread (export-thread.ts), made from the config. */
export class ThreadExport implements SpanExport {
  #worker: Worker;
  #batch: HandOff<WireRecord>;
  #closed: Promise<void>;

  constructor(config: Config, log: Logger) {
    this.#worker = new Worker(besideModule(import.meta.url, 'export-thread'), { workerData: { config } });
    this.#worker.unref();
    this.#batch = new HandOff(HAND_OFF_MS, (records) => this.#worker.postMessage(records));
    this.#worker.on('error', (err) => log.error({ err }, 'tracing: the export thread failed'));
    this.#closed = new Promise((resolve) => {
      this.#worker.once('message', () => resolve());
      this.#worker.once('exit', () => resolve());
    });
  }

  ended(record: SpanRecord): void {
    this.#batch.push(wireOf(record));
  }

  flush(): void {
    this.#batch.flush();
    this.#worker.postMessage('flush' satisfies ExportCommand);
  }

  async close(): Promise<void> {
    this.#batch.flush();
    this.#worker.postMessage('close' satisfies ExportCommand);
    await this.#closed;
    await this.#worker.terminate();
  }
}
