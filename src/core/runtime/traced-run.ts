// One run of a batch, timed for the traced calls in it: when each waited, when the run started and computed.
import { performance } from 'node:perf_hooks';
import type { TensorMap } from '../tensor/tensor.js';
import { epochMs, type RunTrace } from '../tracing/trace.js';
import type { Timing } from './pool.js';

/** A run: the feeds in, the outputs out; a thread-mode run fills `timing` by its thread's clock. */
export type Run = (feeds: TensorMap, timing?: Timing) => Promise<TensorMap>;

/**
 * Runs `run` and tells every traced call of the batch when it waited and computed. The compute is the thread's own
 * timing when the run filled it, else the time around the call here.
 */
export async function tracedRun(
  run: Run,
  feeds: TensorMap,
  batch: readonly { submitted: number; trace: RunTrace | undefined; rows: number | undefined }[],
  started: number,
): Promise<TensorMap> {
  const timing: Timing = { start: 0, end: 0 };
  try {
    return await run(feeds, timing);
  } finally {
    if (timing.end === 0) {
      timing.start = epochMs(started);
      timing.end = epochMs(performance.now());
    }
    const calls = batch.flatMap((p) => (p.trace === undefined ? [] : [p.trace]));
    const rows = batch.reduce((n, p) => n + (p.rows ?? 0), 0);
    const at = epochMs(started);
    for (const p of batch)
      p.trace?.ran({ queued: epochMs(p.submitted), started: at, compute: timing, calls, rows });
  }
}
