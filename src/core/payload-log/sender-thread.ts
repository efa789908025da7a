// The payload log's sender thread (ThreadSender starts it): a QueueSender over the configured sink, with a Redis
// connection of its own for a stream. Records arrive in batches; what was settled goes back summed by outcome, at most
// every REPORT_MS, so that the serving thread keeps its counts (budget, metrics) without a message per event.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { Config } from '../../config/schema.js';
import { loggerOptions } from '../../config/logger.js';
import { yieldToServing } from '../../lib/thread-priority.js';
import { createRedis } from '../redis.js';
import type { PayloadRecord } from './events.js';
import type { SendOutcome } from './queue.js';
import { QueueSender, type ThreadReport } from './sender.js';
import { originOf, sinkOf } from './sinks.js';

const REPORT_MS = 20;

// Serving comes first: on a busy machine this thread takes what serving leaves, and what it cannot send in time is
// dropped at the budget.
yieldToServing();

const port = parentPort as NonNullable<typeof parentPort>;
const { config } = workerData as { config: Config };
const log = pino(loggerOptions(config)).child({ component: 'payload-log' });

/** What was settled since the last report, summed by outcome (with the last failure's reason). */
let report = new Map<SendOutcome, [number, number, string | undefined]>();
let timer: NodeJS.Timeout | undefined;
function sendReport(closed = false) {
  clearTimeout(timer);
  timer = undefined;
  const message: ThreadReport = {
    settled: [...report].map(([outcome, [events, bytes, reason]]) => [outcome, events, bytes, reason]),
  };
  port.postMessage(closed ? { ...message, closed } : message);
  report = new Map();
}

const sender = new QueueSender(
  {
    sink: await sinkOf(config, () => createRedis(config.redisUrl, log.child({ component: 'redis' }), true)),
    origin: originOf(config),
    workers: config.payloadLogWorkers,
    retries: config.payloadLogRetries,
  },
  (outcome, events, bytes, reason) => {
    const sum = report.get(outcome);
    if (sum === undefined) report.set(outcome, [events, bytes, reason]);
    else report.set(outcome, [sum[0] + events, sum[1] + bytes, reason ?? sum[2]]);
    timer ??= setTimeout(() => sendReport(), REPORT_MS);
  },
);

port.on('message', (message: PayloadRecord[] | { close: number }) => {
  if ('close' in message) {
    void sender.close(message.close).then(() => sendReport(true));
    return;
  }
  // A Buffer arrives as a plain Uint8Array: viewed as a Buffer again (Redis clients take only Buffers as bytes).
  for (const record of message) {
    const { body } = record;
    if (typeof body !== 'string') record.body = Buffer.from(body.buffer, body.byteOffset, body.length);
  }
  sender.send(message);
});
