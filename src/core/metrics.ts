// Prometheus metrics (prom-client): per model and version, requests by outcome and protocol, rows and executions,
// histograms of durations and batch sizes, cache results, loads; and per worker, the process. One registry per core
// (never the global one), summed over workers by the scraped process.
import {
  AggregatorRegistry,
  Counter,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { registerScraped, type MetricsOptions } from './metrics-scraped.js';
import {
  TalliedCounter,
  TalliedHistogram,
  type CounterChild,
  type HistogramChild,
} from './metric-tallies.js';
import type {
  CacheResult,
  EvictionBound,
  FailureReason,
  Observer,
  Protocol,
  RequestEvent,
  RunObserver,
} from './observe.js';

/** Request, queue and compute durations: from 0.25 ms (a tiny model inline) to 10 s (the inference timeout). */
const SECONDS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ROWS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export type { MetricsOptions } from './metrics-scraped.js';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

interface VersionChildren {
  protocols: Map<
    Protocol,
    {
      success: CounterChild;
      failures: Map<FailureReason, CounterChild>;
      duration: HistogramChild;
    }
  >;
  cache: Map<CacheResult, CounterChild>;
}

export class Metrics implements Observer {
  /** Serval's own metrics: summed over workers. */
  readonly registry = new Registry();
  /** Node's process metrics, labelled by worker: kept apart per worker. */
  readonly process = new Registry();
  #requests;
  #duration;
  #queue;
  #compute;
  #batch;
  #rows;
  #executions;
  #cache;
  #loads;
  #loadFailures;
  #evictions;
  #http;
  #payloadLog;
  /** Per model and version, then per protocol (and failure, cache result): the children of each request's series. */
  #versions = new Map<string, Map<string, VersionChildren>>();
  /** HTTP request counters by route template, then method, then status class (index 1 for 1xx ... 5 for 5xx). */
  #httpChildren = new Map<string, Map<string, CounterChild[]>>();

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    const model = ['model', 'version'];
    // What every request updates is tallied (metric-tallies.ts); the rest is prom-client's own.
    this.#requests = new TalliedCounter(
      'serval_inference_requests_total',
      'Inference requests by model, version, protocol and outcome; failures with their reason.',
      [...model, 'protocol', 'outcome', 'reason'],
      registers,
    );
    this.#duration = new TalliedHistogram(
      'serval_inference_request_duration_seconds',
      'Inference request duration in the core (cache, queue, run, encoding), by protocol.',
      [...model, 'protocol'],
      SECONDS,
      registers,
    );
    this.#queue = new TalliedHistogram(
      'serval_inference_queue_duration_seconds',
      'Time a call waited for its run (batching, busy threads).',
      model,
      SECONDS,
      registers,
    );
    this.#compute = new TalliedHistogram(
      'serval_inference_compute_duration_seconds',
      'Duration of one model execution (a merged batch is one).',
      model,
      SECONDS,
      registers,
    );
    this.#batch = new TalliedHistogram(
      'serval_inference_batch_size',
      'Rows per model execution (dynamic batching merges calls).',
      model,
      ROWS,
      registers,
    );
    this.#rows = new TalliedCounter(
      'serval_inference_rows_total',
      'Rows inferred (Triton: nv_inference_count).',
      model,
      registers,
    );
    this.#executions = new TalliedCounter(
      'serval_inference_executions_total',
      'Model executions (Triton: nv_inference_exec_count).',
      model,
      registers,
    );
    this.#cache = new TalliedCounter(
      'serval_cache_requests_total',
      'Prediction cache lookups by result: hit, miss, collapsed (shared an identical call in flight).',
      [...model, 'result'],
      registers,
    );
    this.#loads = new Histogram({
      name: 'serval_model_load_duration_seconds',
      help: 'Model version load duration (reading, onnxruntime session, warm-up).',
      labelNames: model,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#evictions = new Counter({
      name: 'serval_model_evictions_total',
      help: 'Models unloaded on demand to make room, by the bound passed (models, bytes).',
      labelNames: ['model', 'bound'],
      registers,
    });
    this.#loadFailures = new Counter({
      name: 'serval_model_load_failures_total',
      help: 'Model version loads that failed.',
      labelNames: model,
      registers,
    });
    this.#http = new TalliedCounter(
      'serval_http_requests_total',
      'HTTP requests by route template (never the raw URL), method and status class.',
      ['route', 'method', 'status'],
      registers,
    );
    this.#payloadLog = new Counter({
      name: 'serval_payload_log_events_total',
      help: 'Payload log events by outcome: sent, dropped (the queue was full), failed (the sink refused every try).',
      labelNames: ['outcome'],
      registers,
    });
    registerScraped(registers, this.process, options);
  }

  /** Counts payload log events by outcome (every outcome shown from the start, at 0). */
  payloadLogCounter(): (outcome: 'sent' | 'dropped' | 'failed') => void {
    const counter = this.#payloadLog;
    for (const outcome of ['sent', 'dropped', 'failed']) counter.inc({ outcome }, 0);
    const children = {
      sent: counter.labels('sent'),
      dropped: counter.labels('dropped'),
      failed: counter.labels('failed'),
    };
    return (outcome) => children[outcome].inc();
  }

  #versionChildren(model: string, version: string): VersionChildren {
    let versions = this.#versions.get(model);
    if (versions === undefined) this.#versions.set(model, (versions = new Map<string, VersionChildren>()));
    let children = versions.get(version);
    if (children === undefined)
      versions.set(version, (children = { protocols: new Map(), cache: new Map() }));
    return children;
  }

  /** Every request passes here: label children found through nested maps, no key strings made. */
  request(e: RequestEvent): void {
    const children = this.#versionChildren(e.model, e.version);
    let protocol = children.protocols.get(e.protocol);
    if (protocol === undefined) {
      protocol = {
        success: this.#requests.labels(e.model, e.version, e.protocol, 'success', ''),
        failures: new Map(),
        duration: this.#duration.labels(e.model, e.version, e.protocol),
      };
      children.protocols.set(e.protocol, protocol);
    }
    const { failure } = e;
    if (failure === undefined) protocol.success.inc();
    else {
      let failed = protocol.failures.get(failure);
      if (failed === undefined) {
        failed = this.#requests.labels(e.model, e.version, e.protocol, 'failure', failure);
        protocol.failures.set(failure, failed);
      }
      failed.inc();
    }
    protocol.duration.observe(e.seconds);
    if (e.cache) {
      let cached = children.cache.get(e.cache);
      if (cached === undefined)
        children.cache.set(e.cache, (cached = this.#cache.labels(e.model, e.version, e.cache)));
      cached.inc();
    }
  }

  runs(model: string, version: string): RunObserver {
    const queue = this.#queue.labels(model, version);
    const compute = this.#compute.labels(model, version);
    const batch = this.#batch.labels(model, version);
    const rows = this.#rows.labels(model, version);
    const executions = this.#executions.labels(model, version);
    return {
      queued: (seconds) => queue.observe(seconds),
      executed: (n, seconds) => {
        compute.observe(seconds);
        batch.observe(n);
        rows.inc(n);
        executions.inc();
      },
    };
  }

  loaded(model: string, version: string, seconds: number, ok: boolean): void {
    this.#loads.labels(model, version).observe(seconds);
    if (!ok) this.#loadFailures.labels(model, version).inc();
  }

  evicted(model: string, bound: EvictionBound): void {
    this.#evictions.labels(model, bound).inc();
  }

  /** One HTTP request, by its route template and status class (2xx, 4xx...). */
  http(route: string, method: string, status: number): void {
    let methods = this.#httpChildren.get(route);
    if (methods === undefined) this.#httpChildren.set(route, (methods = new Map<string, CounterChild[]>()));
    let classes = methods.get(method);
    if (classes === undefined) methods.set(method, (classes = []));
    const statusClass = Math.floor(status / 100);
    let child = classes[statusClass];
    if (child === undefined)
      classes[statusClass] = child = this.#http.labels(route, method, `${statusClass}xx`);
    child.inc();
  }

  /** This process's metrics as JSON, for summing with the other workers'. */
  async json(): Promise<{ serval: MetricsJson; process: MetricsJson }> {
    const [serval, process] = await Promise.all([
      this.registry.getMetricsAsJSON(),
      this.process.getMetricsAsJSON(),
    ]);
    return { serval, process };
  }
}

/** The Prometheus text of several processes' metrics: Serval's summed, each worker's process metrics as they are. */
export async function mergedText(
  parts: readonly { serval: MetricsJson; process: MetricsJson }[],
): Promise<string> {
  const serval = AggregatorRegistry.aggregate(parts.map((p) => p.serval));
  const process = AggregatorRegistry.aggregate(parts.map((p) => p.process));
  return `${await serval.metrics()}\n${await process.metrics()}`;
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
