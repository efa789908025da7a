// The metrics read at each scrape rather than counted as they happen: gauges of the models and the thread pool,
// and Node's process metrics labelled by worker.
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export interface MetricsOptions {
  /** This process's label on its process metrics (a cluster worker's id, or "0"). */
  worker: string;
  /** Calls waiting or running per model version, read at each scrape. */
  pending: () => { model: string; version: string; count: number }[];
  readyModels: () => number;
  /** On demand: the memory the loaded models took, as measured at their loads. */
  loadedBytes: () => number;
  /** onnxruntime sessions held by the inference threads. */
  threadSessions: () => number;
  /** Thread-mode runs so far, lone (every core) and shared. */
  threadRuns: () => { lone: number; shared: number };
}

/** The metrics read at each scrape (gauges, and Node's process metrics labelled by worker). */
export function registerScraped(
  registers: Registry[],
  processRegistry: Registry,
  options: MetricsOptions,
): void {
  const model = ['model', 'version'];
  // Counted by a cluster's primary, which adds its count to every scrape; 0 in a single process.
  new Counter({
    name: 'serval_worker_restarts_total',
    help: 'Workers that died and were started again by the primary.',
    registers,
  });
  new Gauge({
    name: 'serval_inference_pending',
    help: 'Calls waiting or running per model version.',
    labelNames: model,
    registers,
    collect() {
      this.reset();
      for (const p of options.pending()) this.set({ model: p.model, version: p.version }, p.count);
    },
  });
  new Gauge({
    name: 'serval_models_ready',
    help: 'Model versions ready to serve.',
    registers,
    collect() {
      this.set(options.readyModels());
    },
  });
  new Gauge({
    name: 'serval_models_loaded_bytes',
    help: 'Memory the loaded models took, each measured at its load (on-demand mode; 0 otherwise).',
    registers,
    collect() {
      this.set(options.loadedBytes());
    },
  });
  new Gauge({
    name: 'serval_thread_sessions',
    help: 'onnxruntime sessions held by the inference threads (per thread-mode version and thread: one for shared runs, one for lone runs).',
    registers,
    collect() {
      this.set(options.threadSessions());
    },
  });
  new Counter({
    name: 'serval_thread_runs_total',
    help: "Thread-mode runs: lone (nothing else running on the process's inference threads for 50 ms, nor in other processes; ortLoneIntraOpThreads threads) or shared (ortIntraOpThreads).",
    labelNames: ['run'],
    registers,
    collect() {
      const { lone, shared } = options.threadRuns();
      this.reset();
      this.inc({ run: 'lone' }, lone);
      this.inc({ run: 'shared' }, shared);
    },
  });
  processRegistry.setDefaultLabels({ worker: options.worker });
  collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 20 });
  let last = performance.eventLoopUtilization();
  new Gauge({
    name: 'serval_event_loop_utilization',
    help: 'Share of time the event loop was busy since the last scrape.',
    registers: [processRegistry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, last).utilization);
      last = now;
    },
  });
}
