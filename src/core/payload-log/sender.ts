// What sends payload events: a QueueSender (the queue's senders, retries and backoff, in front of a sink),
// run on a thread of its own by a ThreadSender, so that the serving thread only hands records over: an HTTP POST per
// event costs more CPU than the inference request it logs.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { besideModule } from '../../lib/module-file.js';
import { eventMessage, type EventOrigin, type PayloadRecord } from './events.js';
import { SendQueue, type SendOutcome } from './queue.js';
import type { Sink } from './sinks.js';

/** Told when events are done with: `events` events of `bytes` bytes came to `outcome` (with why, for failures). */
export type Settled = (outcome: SendOutcome, events: number, bytes: number, reason?: string) => void;

export interface Sender {
  send(records: readonly PayloadRecord[]): void;
  /** Sends what it holds until `deadline` (epoch ms), gives the rest up (settled as dropped or failed), and stops. */
  close(deadline: number): Promise<void>;
}

/** Per event, besides its body: the attributes, the allow-listed headers, bookkeeping. */
const EVENT_OVERHEAD_BYTES = 512;

export const bytesOf = (body: Buffer | string) => body.length + EVENT_OVERHEAD_BYTES;

export interface QueueSenderOptions {
  sink: Sink;
  origin: EventOrigin;
  /** Events sent at once. */
  workers: number;
  /** Attempts after the first for an event the sink refused. */
  retries: number;
}

/** Sends each record as a CloudEvent through the sink, `workers` at a time; the caller bounds what it holds. */
export class QueueSender implements Sender {
  #queue: SendQueue<PayloadRecord>;
  #sink: Sink;

  constructor(options: QueueSenderOptions, settled: Settled) {
    const { origin, sink } = options;
    this.#sink = sink;
    this.#queue = new SendQueue<PayloadRecord>({
      workers: options.workers,
      retries: options.retries,
      backoffMs: 100,
      maxBackoffMs: 2000,
      send: (record, signal) => sink.send(eventMessage(record, origin), signal),
      outcome: (outcome, record, err) =>
        settled(outcome, 1, bytesOf(record.body), err === undefined ? undefined : reasonOf(err)),
    });
  }

  send(records: readonly PayloadRecord[]): void {
    for (const record of records) this.#queue.push(record);
  }

  async close(deadline: number): Promise<void> {
    await this.#queue.close(deadline);
    await this.#sink.close();
  }
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Messages from the sender's thread: what was settled since the last one by outcome, and once closed, that it is. */
export interface ThreadReport {
  settled: [SendOutcome, number, number, string | undefined][];
  closed?: boolean;
}

const threadFile = besideModule(import.meta.url, 'sender-thread');

/** A QueueSender on a thread of its own, made there from the config (its sink, its own Redis connection). */
export class ThreadSender implements Sender {
  #worker: Worker;
  #settled: Settled;
  #closed: Promise<void>;
  #stopped = false;
  /** Handed to the thread and not yet settled: settled as failed if the thread stops first. */
  #held = { events: 0, bytes: 0 };

  constructor(config: Config, settled: Settled, log: Logger) {
    this.#settled = settled;
    this.#worker = new Worker(threadFile, { workerData: { config } });
    this.#worker.unref();
    let closed!: () => void;
    this.#closed = new Promise((resolve) => (closed = resolve));
    this.#worker.on('message', (report: ThreadReport) => {
      for (const [outcome, events, bytes, reason] of report.settled) {
        this.#held.events -= events;
        this.#held.bytes -= bytes;
        settled(outcome, events, bytes, reason);
      }
      if (report.closed) closed();
    });
    this.#worker.on('error', (err) => log.error({ err }, 'payload log: the sender thread failed'));
    this.#worker.on('exit', () => {
      this.#stopped = true;
      const { events, bytes } = this.#held;
      if (events > 0) settled('failed', events, bytes, 'the sender thread stopped');
      this.#held = { events: 0, bytes: 0 };
      closed();
    });
  }

  send(records: readonly PayloadRecord[]): void {
    let bytes = 0;
    for (const record of records) bytes += bytesOf(record.body);
    if (this.#stopped) return this.#settled('dropped', records.length, bytes);
    this.#held.events += records.length;
    this.#held.bytes += bytes;
    this.#worker.postMessage(records);
  }

  async close(deadline: number): Promise<void> {
    if (!this.#stopped) this.#worker.postMessage({ close: deadline });
    await this.#closed;
    await this.#worker.terminate();
  }
}
