// The payload log's sender thread (ThreadSender starts it): a QueueSender over the configured sink, with a Redis
// connection of its own for a stream. Records arrive in batches; what was settled goes back in batches, at most every
// REPORT_MS, so that the serving thread keeps its counts (budget, metrics) without a message per event.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { Config } from '../../config/schema.js';
import { loggerOptions } from '../../config/logger.js';
import { yieldToServing } from '../../lib/thread-priority.js';
import { createRedis } from '../redis.js';
import type { PayloadRecord } from './events.js';
import { QueueSender, type ThreadReport } from './sender.js';
import { originOf, sinkOf } from './sinks.js';

const REPORT_MS = 20;

// Serving comes first: on a busy machine this thread takes what serving leaves, and what it cannot send in time is
// dropped at the budget.
yieldToServing();

const port = parentPort as NonNullable<typeof parentPort>;
const { config } = workerData as { config: Config };
const log = pino(loggerOptions(config)).child({ component: 'payload-log' });

let report: ThreadReport = { settled: [] };
let timer: NodeJS.Timeout | undefined;
function sendReport(closed = false) {
  clearTimeout(timer);
  timer = undefined;
  port.postMessage(closed ? { ...report, closed } : report);
  report = { settled: [] };
}

const sender = new QueueSender(
  {
    sink: await sinkOf(config, () => createRedis(config.redisUrl, log.child({ component: 'redis' }))),
    origin: originOf(config),
    workers: config.payloadLogWorkers,
    retries: config.payloadLogRetries,
  },
  (outcome, events, bytes, reason) => {
    report.settled.push([outcome, events, bytes, reason]);
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
