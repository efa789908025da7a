// The tracing export thread (ThreadExport starts it): the configured OTLP exporter behind the SDK's batch processor.
// Records of ended spans arrive in batches and become the SDK's ReadableSpans here, so that their making, batching,
// encoding and sending cost the serving thread nothing but one message per turn.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { loggerOptions } from '../../config/logger.js';
import type { Config } from '../../config/schema.js';
import { yieldToServing } from '../../lib/thread-priority.js';
import { processorOf, resourceOf, type ExportCommand } from './export.js';
import { readableOf, recordOf, type WireRecord } from './records.js';

// Serving comes first: on a busy machine this thread takes what serving leaves, and what it cannot export in time is
// dropped at the batch processor's queue (traceQueueSize), as the SDK drops.
yieldToServing();

const port = parentPort as NonNullable<typeof parentPort>;
const { config } = workerData as { config: Config };
const log = pino(loggerOptions(config)).child({ component: 'tracing' });
const resource = resourceOf(config);
const processor = await processorOf(config);

port.on('message', (message: WireRecord[] | ExportCommand) => {
  if (message === 'flush')
    processor.forceFlush().catch((err: unknown) => log.warn({ err }, 'spans could not be exported'));
  else if (message === 'close') void processor.shutdown().finally(() => port.postMessage('closed'));
  else for (const wire of message) processor.onEnd(readableOf(recordOf(wire), resource));
});
