// Prometheus metrics (prom-client): per model and version, requests by outcome and protocol, rows and executions,
// histograms of durations and batch sizes, cache results, loads; and per worker, the process. One registry per core
// (never the global one), summed over workers by the scraped process.
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { CounterChild, HistogramChild } from './metric-tallies.js';
import { registerScraped, type MetricsOptions } from './metrics-scraped.js';
import { cacheSeries, modelSeries, requestSeries, runSeries, sideSeries } from './metrics-series.js';
import type {
  CacheResult,
  EvictionBound,
  FailureReason,
  Observer,
  Protocol,
  RequestEvent,
  RunObserver,
} from './observe.js';

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
  // Made in this order, which is the order of the Prometheus text; the scraped series follow.
  readonly #request = requestSeries([this.registry]);
  readonly #runs = runSeries([this.registry]);
  readonly #cache = cacheSeries([this.registry]);
  readonly #models = modelSeries([this.registry]);
  readonly #side = sideSeries([this.registry]);
  /** Per model and version, then per protocol (and failure, cache result): the children of each request's series. */
  #versions = new Map<string, Map<string, VersionChildren>>();
  /** HTTP request counters by route template, then method, then status class (index 1 for 1xx ... 5 for 5xx). */
  #httpChildren = new Map<string, Map<string, CounterChild[]>>();

  constructor(options: MetricsOptions) {
    registerScraped([this.registry], this.process, options);
  }

  /** Counts payload log events by outcome (every outcome shown from the start, at 0). */
  payloadLogCounter(): (outcome: 'sent' | 'dropped' | 'failed', events: number) => void {
    const counter = this.#side.payloadLog;
    for (const outcome of ['sent', 'dropped', 'failed']) counter.inc({ outcome }, 0);
    const children = {
      sent: counter.labels('sent'),
      dropped: counter.labels('dropped'),
      failed: counter.labels('failed'),
    };
    return (outcome, events) => children[outcome].inc(events);
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
        success: this.#request.requests.labels(e.model, e.version, e.protocol, 'success', ''),
        failures: new Map(),
        duration: this.#request.duration.labels(e.model, e.version, e.protocol),
      };
      children.protocols.set(e.protocol, protocol);
    }
    const { failure } = e;
    if (failure === undefined) protocol.success.inc();
    else {
      let failed = protocol.failures.get(failure);
      if (failed === undefined) {
        failed = this.#request.requests.labels(e.model, e.version, e.protocol, 'failure', failure);
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
    const queue = this.#runs.queue.labels(model, version);
    const compute = this.#runs.compute.labels(model, version);
    const batch = this.#runs.batch.labels(model, version);
    const rows = this.#runs.rows.labels(model, version);
    const executions = this.#runs.executions.labels(model, version);
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
    this.#models.loads.labels(model, version).observe(seconds);
    if (!ok) this.#models.loadFailures.labels(model, version).inc();
  }

  evicted(model: string, bound: EvictionBound): void {
    this.#models.evictions.labels(model, bound).inc();
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
      classes[statusClass] = child = this.#side.http.labels(route, method, `${statusClass}xx`);
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
