// The series of Serval's metrics registry, in groups by what counts them: their names, help, labels and buckets.
// Each group registers its series when made, and the order of registration is the order of the Prometheus text.
import { Counter, Histogram, type Registry } from 'prom-client';
import { TalliedCounter, TalliedHistogram } from './metric-tallies.js';

/** Request, queue and compute durations: from 0.25 ms (a tiny model inline) to 10 s (the inference timeout). */
const SECONDS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ROWS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** The labels of a model version's series. */
const MODEL: readonly string[] = ['model', 'version'];

// What every request updates is tallied (metric-tallies.ts); the rest is prom-client's own.

/** Each inference request: its outcome and its duration in the core, by protocol. */
export function requestSeries(registers: Registry[]) {
  return {
    requests: new TalliedCounter(
      'serval_inference_requests_total',
      'Inference requests by model, version, protocol and outcome; failures with their reason.',
      [...MODEL, 'protocol', 'outcome', 'reason'],
      registers,
    ),
    duration: new TalliedHistogram(
      'serval_inference_request_duration_seconds',
      'Inference request duration in the core (cache, queue, run, encoding), by protocol.',
      [...MODEL, 'protocol'],
      SECONDS,
      registers,
    ),
  };
}

/** Each model execution: the wait for it, its duration, its rows. */
export function runSeries(registers: Registry[]) {
  return {
    queue: new TalliedHistogram(
      'serval_inference_queue_duration_seconds',
      'Time a call waited for its run (batching, busy threads).',
      MODEL,
      SECONDS,
      registers,
    ),
    compute: new TalliedHistogram(
      'serval_inference_compute_duration_seconds',
      'Duration of one model execution (a merged batch is one).',
      MODEL,
      SECONDS,
      registers,
    ),
    batch: new TalliedHistogram(
      'serval_inference_batch_size',
      'Rows per model execution (dynamic batching merges calls).',
      MODEL,
      ROWS,
      registers,
    ),
    rows: new TalliedCounter(
      'serval_inference_rows_total',
      'Rows inferred (Triton: nv_inference_count).',
      MODEL,
      registers,
    ),
    executions: new TalliedCounter(
      'serval_inference_executions_total',
      'Model executions (Triton: nv_inference_exec_count).',
      MODEL,
      registers,
    ),
  };
}

/** Prediction cache lookups by result. */
export function cacheSeries(registers: Registry[]) {
  return new TalliedCounter(
    'serval_cache_requests_total',
    'Prediction cache lookups by result: hit, miss, collapsed (shared an identical call in flight).',
    [...MODEL, 'result'],
    registers,
  );
}

/** Model loads, their failures, and evictions on demand. */
export function modelSeries(registers: Registry[]) {
  return {
    loads: new Histogram({
      name: 'serval_model_load_duration_seconds',
      help: 'Model version load duration (reading, onnxruntime session, warm-up).',
      labelNames: MODEL,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    evictions: new Counter({
      name: 'serval_model_evictions_total',
      help: 'Models unloaded on demand to make room, by the bound passed (models, bytes).',
      labelNames: ['model', 'bound'],
      registers,
    }),
    loadFailures: new Counter({
      name: 'serval_model_load_failures_total',
      help: 'Model version loads that failed.',
      labelNames: MODEL,
      registers,
    }),
  };
}

/** Counted beside the pipeline: HTTP requests by route (the HTTP front end adds them) and payload log events. */
export function sideSeries(registers: Registry[]) {
  return {
    http: new TalliedCounter(
      'serval_http_requests_total',
      'HTTP requests by route template (never the raw URL), method and status class.',
      ['route', 'method', 'status'],
      registers,
    ),
    payloadLog: new Counter({
      name: 'serval_payload_log_events_total',
      help: 'Payload log events by outcome: sent, dropped (the queue was full), failed (the sink refused every try).',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
