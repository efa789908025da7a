// Payload logging for model monitoring, as KServe's logger does it: each inference request and its response become
// CloudEvents sent to a sink, off the request path, through a bounded queue that drops (and counts) rather than wait.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { throttledWarning } from '../../lib/throttled-warning.js';
import type { SharedRedis } from '../redis.js';
import {
  eventMessage,
  metadataOf,
  REQUEST_TYPE,
  RESPONSE_TYPE,
  traceIdOf,
  type EventOrigin,
  type PayloadRecord,
} from './events.js';
import { SendQueue, type SendOutcome } from './queue.js';
import { httpSink, redisStreamSink, STREAM_SCHEME, type Sink } from './sinks.js';

export type PayloadLogMode = 'all' | 'request' | 'response';

/** What a front end hands the core about one request's payload. */
export interface PayloadCapture {
  /** The body as the client sent it (JSON as text); may be reused memory, which is copied when logged. */
  body: Buffer | string;
  contentType: string;
  /** The request's headers (or gRPC metadata), names in lower case: the allow-list, ce-id and traceparent. */
  headers: Readonly<Record<string, unknown>>;
  /** A V2 binary body's JSON header length. */
  headerLength?: number | undefined;
}

/**
 * Most connections to an HTTP sink: events beyond them wait in the connection pool, where a connection that frees takes
 * the next at once (measured: fewer connections cost less CPU per event at the same rate).
 */
const SINK_CONNECTIONS = 8;

/** Per event, besides its body: the attributes, the allow-listed headers, bookkeeping. */
const EVENT_OVERHEAD_BYTES = 512;

const bytesOf = (body: Buffer | string) => body.length + EVENT_OVERHEAD_BYTES;

/** One request and its response: the pipeline logs the request once it knows the model, the front end the answer. */
export class PayloadExchange {
  #log: PayloadLog;
  #capture: PayloadCapture;
  #id: string;
  #metadata: string | undefined;
  #model: { name: string; version: string } | undefined;
  #traceId: string | undefined;

  constructor(log: PayloadLog, capture: PayloadCapture) {
    this.#log = log;
    this.#capture = capture;
    const id = capture.headers['ce-id'];
    this.#id = typeof id === 'string' && id !== '' ? id : randomUUID();
  }

  /**
   * The request reached this model: logged now, its body copied if it sits in reused memory. `traceId`: the request's
   * own trace, when it is traced (the caller's trace, or one the server began); else its traceparent header's.
   */
  request(model: { name: string; version: string }, traceId?: string): void {
    this.#model = { name: model.name, version: model.version };
    const capture = this.#capture;
    this.#traceId = traceId ?? traceIdOf(capture.headers.traceparent);
    this.#metadata = this.#log.metadata(capture.headers);
    if (this.#log.mode === 'response') return;
    const { body } = capture;
    // A body that would not fit is not copied just to be dropped.
    if (!this.#log.fits(bytesOf(body))) return this.#log.drop();
    this.#log.push(
      this.#record(REQUEST_TYPE, typeof body === 'string' ? body : Buffer.from(body), capture.contentType),
    );
  }

  /** The answer was sent: logged (its bytes are not reused memory). Nothing for a request that reached no model. */
  respond(body: Buffer | string, contentType: string, headerLength?: number): void {
    if (this.#model === undefined || this.#log.mode === 'request') return;
    this.#log.push(this.#record(RESPONSE_TYPE, body, contentType, headerLength));
  }

  #record(
    type: PayloadRecord['type'],
    body: Buffer | string,
    contentType: string,
    headerLength = type === REQUEST_TYPE ? this.#capture.headerLength : undefined,
  ): PayloadRecord {
    const model = this.#model as { name: string; version: string };
    return {
      type,
      id: this.#id,
      time: new Date().toISOString(),
      model: model.name,
      version: model.version,
      body,
      contentType,
      metadata: this.#metadata ?? '{}',
      traceId: this.#traceId,
      headerLength,
    };
  }
}

export interface PayloadLogOptions {
  sink: Sink;
  mode: PayloadLogMode;
  /** Request headers copied into the metadata extension, in lower case. */
  headers: readonly string[];
  origin: EventOrigin;
  queue: { maxEvents: number; maxBytes: number; workers: number; retries: number };
  log: Logger;
  /** Counts each event's outcome (metrics). */
  count?: ((outcome: SendOutcome) => void) | undefined;
}

export class PayloadLog {
  readonly mode: PayloadLogMode;
  #allowed: string[];
  #queue: SendQueue<PayloadRecord>;

  constructor(options: PayloadLogOptions) {
    this.mode = options.mode;
    // Sorted as KServe's JSON encoding sorts its map's keys.
    this.#allowed = [...new Set(options.headers.map((h) => h.toLowerCase()))].sort();
    const { origin, sink, count, log } = options;
    const dropped = throttledWarning(log, 'payload log: events dropped, the queue is full');
    const failed = throttledWarning(log, 'payload log: events lost, the sink did not take them');
    this.#queue = new SendQueue<PayloadRecord>({
      ...options.queue,
      backoffMs: 100,
      maxBackoffMs: 2000,
      send: (record, signal) => sink(eventMessage(record, origin), signal),
      outcome: (outcome, err) => {
        count?.(outcome);
        if (outcome === 'dropped') dropped(new Error(`${this.#queue.length} events are waiting`));
        if (outcome === 'failed') failed(err instanceof Error ? err : new Error(String(err)));
      },
    });
  }

  /** Starts the exchange of one request; the core's pipeline logs its request, the front end its answer. */
  open(capture: PayloadCapture): PayloadExchange {
    return new PayloadExchange(this, capture);
  }

  /** The metadata extension of a request with these headers. */
  metadata(headers: Readonly<Record<string, unknown>>): string {
    return metadataOf(this.#allowed, headers);
  }

  fits(bytes: number): boolean {
    return this.#queue.fits(bytes);
  }

  push(record: PayloadRecord): void {
    this.#queue.push(record, bytesOf(record.body));
  }

  /** An event that was not queued, counted as dropped. */
  drop(): void {
    this.#queue.drop();
  }

  /** Sends what is queued until `deadline` (epoch ms), then gives the rest up. */
  close(deadline: number): Promise<void> {
    return this.#queue.close(deadline);
  }
}

/** The payload log that the configuration asks for, or null (payloadLogUrl empty). */
export function createPayloadLog(
  config: Config,
  redis: SharedRedis | null,
  log: Logger,
  count?: (outcome: SendOutcome) => void,
): PayloadLog | null {
  const url = config.payloadLogUrl;
  if (url === '') return null;
  // The configuration's checks make sure a stream has its Redis.
  const sink = url.startsWith(STREAM_SCHEME)
    ? redisStreamSink(redis as SharedRedis, url.slice(STREAM_SCHEME.length), config.payloadLogStreamMaxLength)
    : httpSink(url, config.payloadLogTimeoutMs, Math.min(config.payloadLogWorkers, SINK_CONNECTIONS));
  return new PayloadLog({
    sink,
    mode: config.payloadLogMode,
    headers: config.payloadLogHeaders,
    origin: {
      source: config.payloadLogSource || `http://localhost:${config.port}/`,
      namespace: config.payloadLogNamespace,
      component: 'predictor',
      endpoint: config.payloadLogEndpoint,
    },
    queue: {
      maxEvents: config.payloadLogQueueEvents,
      maxBytes: config.payloadLogQueueBytes,
      workers: config.payloadLogWorkers,
      retries: config.payloadLogRetries,
    },
    log: log.child({ component: 'payload-log' }),
    count,
  });
}
