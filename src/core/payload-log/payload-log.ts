// Payload logging for model monitoring, as KServe's logger does it: each inference request and its response become
// CloudEvents sent to a sink, off the request path: the serving thread builds plain records and hands them, a batch
// every 20 ms, to a sender on a thread of its own, within a budget of events and bytes held; past it,
// events are dropped (and counted) rather than waited for.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { throttledWarning } from '../../lib/throttled-warning.js';
import { HandOff } from '../../lib/hand-off.js';
import {
  eventMessage,
  metadataOf,
  REQUEST_TYPE,
  RESPONSE_TYPE,
  traceIdOf,
  type PayloadRecord,
} from './events.js';
import type { SendOutcome } from './queue.js';
import { bytesOf, ThreadSender, type Sender, type Settled } from './sender.js';
import { originOf } from './sinks.js';

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

/** How long records gather before they go to the sender together. */
const HAND_OFF_MS = 20;

export interface PayloadLogOptions {
  /** Makes the sender, which tells `settled` what became of the events it was handed. */
  sender: (settled: Settled) => Sender;
  mode: PayloadLogMode;
  /** Request headers copied into the metadata extension, in lower case. */
  headers: readonly string[];
  /** The most events, and bytes of them, held at once (waiting or being sent): past either, events are dropped. */
  budget: { maxEvents: number; maxBytes: number };
  log: Logger;
  /** Counts events' outcomes (metrics). */
  count?: ((outcome: SendOutcome, events: number) => void) | undefined;
}

export class PayloadLog {
  readonly mode: PayloadLogMode;
  #allowed: string[];
  #sender: Sender;
  #budget: PayloadLogOptions['budget'];
  /** Events held (handed to the sender or about to be) and not yet settled. */
  #held = { events: 0, bytes: 0 };
  /** Records gathered for HAND_OFF_MS, handed to the sender together. */
  #batch: HandOff<PayloadRecord>;
  #closing = false;
  #dropped: (why: { message: string }) => void;
  #count: PayloadLogOptions['count'];

  constructor(options: PayloadLogOptions) {
    this.mode = options.mode;
    this.#budget = options.budget;
    // Sorted as KServe's JSON encoding sorts its map's keys.
    this.#allowed = [...new Set(options.headers.map((h) => h.toLowerCase()))].sort();
    const { count, log } = options;
    this.#count = count;
    this.#dropped = throttledWarning(log, 'payload log: events dropped, the queue is full');
    const failed = throttledWarning(log, 'payload log: events lost, the sink did not take them');
    this.#batch = new HandOff(HAND_OFF_MS, (records) => this.#sender.send(records));
    this.#sender = options.sender((outcome, events, bytes, reason) => {
      this.#held.events -= events;
      this.#held.bytes -= bytes;
      count?.(outcome, events);
      if (outcome === 'failed') failed({ message: reason ?? 'unknown' });
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

  /** Whether an event of `bytes` bytes would be taken now (so that a caller can skip copying one that would not). */
  fits(bytes: number): boolean {
    const held = this.#held;
    return (
      !this.#closing && held.events < this.#budget.maxEvents && held.bytes + bytes <= this.#budget.maxBytes
    );
  }

  push(record: PayloadRecord): void {
    const bytes = bytesOf(record.body);
    if (!this.fits(bytes)) return this.drop();
    this.#held.events++;
    this.#held.bytes += bytes;
    this.#batch.push(record);
  }

  /** An event that was not queued, counted as dropped. */
  drop(): void {
    this.#count?.('dropped', 1);
    this.#dropped({ message: `${this.#held.events} events are held` });
  }

  /** Sends what is held until `deadline` (epoch ms), then gives the rest up. */
  async close(deadline: number): Promise<void> {
    this.#closing = true;
    this.#batch.flush();
    await this.#sender.close(deadline);
  }
}

/** The payload log that the configuration asks for, or null (payloadLogUrl empty): its sender on a thread of its own. */
export function createPayloadLog(
  config: Config,
  log: Logger,
  count?: (outcome: SendOutcome, events: number) => void,
): PayloadLog | null {
  if (config.payloadLogUrl === '') return null;
  // The events' origin comes from the configuration: one event checked by the specification now, so that the sender
  // can skip the checks.
  eventMessage(
    {
      type: REQUEST_TYPE,
      id: randomUUID(),
      time: new Date().toISOString(),
      model: 'model',
      version: '1',
      body: '{}',
      contentType: 'application/json',
      metadata: '{}',
    },
    originOf(config),
    true,
  );
  const child = log.child({ component: 'payload-log' });
  return new PayloadLog({
    sender: (settled) => new ThreadSender(config, settled, child),
    mode: config.payloadLogMode,
    headers: config.payloadLogHeaders,
    budget: { maxEvents: config.payloadLogQueueEvents, maxBytes: config.payloadLogQueueBytes },
    log: child,
    count,
  });
}
