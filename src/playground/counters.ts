// Live counters per model from what the server exposes: Triton's statistics (GET /v2/models/stats) give requests
// and mean latency; Prometheus text (GET /metrics) gives p50/p99 from the latency histogram and the cache hit ratio.
import type { ModelStatistics } from './types.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;

function number(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

const unescape = (text: string) => text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** The samples of a Prometheus text exposition (comments and malformed lines left out). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line.trim());
    if (!match) continue;
    const [, name = '', body = '', value = ''] = match;
    if (Number.isNaN(number(value)) && value !== 'NaN') continue;
    const labels: Record<string, string> = {};
    for (const [, key = '', raw = ''] of body.matchAll(LABEL)) labels[key] = unescape(raw);
    samples.push({ name, labels, value: number(value) });
  }
  return samples;
}

/** histogram_quantile over cumulative buckets (upper bound `le`, count), as PromQL computes it. */
export function quantile(q: number, buckets: readonly { le: number; count: number }[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0 || sorted.at(-1)?.le !== Infinity) return undefined;
  const rank = q * total;
  for (let i = 0; i < sorted.length; i++) {
    const { le, count } = sorted[i] as { le: number; count: number };
    if (count < rank) continue;
    const below = sorted[i - 1] ?? { le: 0, count: 0 };
    if (le === Infinity) return below.le;
    if (count === below.count) return le;
    return below.le + ((le - below.le) * (rank - below.count)) / (count - below.count);
  }
  return undefined;
}

export interface Counters {
  /** Requests answered (successes and failures). */
  requests: number;
  failures?: number;
  meanMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Cache hits over lookups, for this model when the metric says which, else for the server. */
  cacheHitRatio?: number;
}

/** Summed over protocols (its `protocol` label). */
const LATENCY = 'serval_inference_request_duration_seconds';
const CACHE = 'serval_cache_requests_total';

function matches(labels: Record<string, string>, model: string, version: string): boolean {
  return labels.model === model && (labels.version === undefined || labels.version === version);
}

function fromPrometheus(samples: readonly Sample[], model: string, version: string): Partial<Counters> {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const s of samples) {
    if (!matches(s.labels, model, version)) continue;
    const le = s.labels.le;
    if (s.name === `${LATENCY}_bucket` && le !== undefined) {
      buckets.set(number(le), (buckets.get(number(le)) ?? 0) + s.value);
    } else if (s.name === `${LATENCY}_count`) count += s.value;
    else if (s.name === `${LATENCY}_sum`) sum += s.value;
  }
  const list = [...buckets].map(([le, c]) => ({ le, count: c }));
  const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
  const result: Partial<Counters> = {};
  const p50 = ms(quantile(0.5, list));
  const p99 = ms(quantile(0.99, list));
  if (p50 !== undefined) result.p50Ms = p50;
  if (p99 !== undefined) result.p99Ms = p99;
  if (count > 0) Object.assign(result, { requests: count, meanMs: (sum / count) * 1000 });
  const cache = samples.filter((s) => s.name === CACHE);
  const perModel = cache.some((s) => s.labels.model !== undefined);
  const lookups = cache.filter((s) => !perModel || matches(s.labels, model, version));
  const total = (result: string) =>
    lookups.filter((s) => s.labels.result === result).reduce((n, s) => n + s.value, 0);
  const [hits, misses] = [total('hit'), total('miss')];
  if (hits + misses > 0) result.cacheHitRatio = hits / (hits + misses);
  return result;
}

/** A model version's counters; undefined when neither source knows it. */
export function countersFor(
  stats: ModelStatistics | undefined,
  samples: readonly Sample[] | undefined,
  model: string,
  version: string,
): Counters | undefined {
  const entry = stats?.model_stats.find((s) => s.name === model && s.version === version);
  const fromStats: Partial<Counters> = {};
  const success = entry?.inference_stats?.success;
  const fail = entry?.inference_stats?.fail;
  if (entry) {
    fromStats.requests = (success?.count ?? entry.inference_count ?? 0) + (fail?.count ?? 0);
    if (fail) fromStats.failures = fail.count;
    if (success && success.count > 0) fromStats.meanMs = success.ns / success.count / 1e6;
  }
  const fromText = samples ? fromPrometheus(samples, model, version) : {};
  const merged = { ...fromText, ...fromStats };
  return merged.requests === undefined ? undefined : { ...merged, requests: merged.requests };
}
