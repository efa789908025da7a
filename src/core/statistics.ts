// Per model and version counters in the shape of Triton's statistics extension (what tritonclient's
// get_inference_statistics returns), kept per process and summed over workers on request.
import type { Observer, RequestEvent, RunObserver } from './observe.js';

export interface Duration {
  count: number;
  ns: number;
}

export interface BatchStats {
  batch_size: number;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

export interface ModelStats {
  name: string;
  version: string;
  /** Epoch ms of the last request; 0 before any. */
  last_inference: number;
  /** Rows inferred (Triton: inferences, a batch of 8 counts 8). */
  inference_count: number;
  /** Model executions (a merged batch counts once). */
  execution_count: number;
  inference_stats: {
    success: Duration;
    fail: Duration;
    queue: Duration;
    compute_input: Duration;
    compute_infer: Duration;
    compute_output: Duration;
    cache_hit: Duration;
    cache_miss: Duration;
  };
  batch_stats: BatchStats[];
}

const zero = (): Duration => ({ count: 0, ns: 0 });
const ns = (seconds: number) => Math.round(seconds * 1e9);

/** A version's statistics before its first request. */
export function emptyStats(name: string, version: string): ModelStats {
  return {
    name,
    version,
    last_inference: 0,
    inference_count: 0,
    execution_count: 0,
    inference_stats: {
      success: zero(),
      fail: zero(),
      queue: zero(),
      compute_input: zero(),
      compute_infer: zero(),
      compute_output: zero(),
      cache_hit: zero(),
      cache_miss: zero(),
    },
    batch_stats: [],
  };
}

function add(into: Duration, count: number, nanos: number): void {
  into.count += count;
  into.ns += nanos;
}

export class Statistics implements Observer {
  /** Per model, per version: nested maps, so that no key string is made per request. */
  #stats = new Map<string, Map<string, ModelStats>>();

  #of(model: string, version: string): ModelStats {
    let versions = this.#stats.get(model);
    if (versions === undefined) this.#stats.set(model, (versions = new Map<string, ModelStats>()));
    let stats = versions.get(version);
    if (stats === undefined) versions.set(version, (stats = emptyStats(model, version)));
    return stats;
  }

  request(event: RequestEvent): void {
    const s = this.#of(event.model, event.version);
    s.last_inference = Date.now();
    const { inference_stats: i } = s;
    add(event.failure ? i.fail : i.success, 1, ns(event.seconds));
    if (event.cache === 'hit' || event.cache === 'collapsed') add(i.cache_hit, 1, ns(event.seconds));
    if (event.cache === 'miss') add(i.cache_miss, 1, ns(event.seconds));
    if (event.inputSeconds !== undefined) add(i.compute_input, 1, ns(event.inputSeconds));
    if (event.outputSeconds !== undefined) add(i.compute_output, 1, ns(event.outputSeconds));
  }

  runs(model: string, version: string): RunObserver {
    // Made at the first run (a version that never runs has no counters), then kept: they are never removed.
    let own: ModelStats | undefined;
    const of = () => (own ??= this.#of(model, version));
    return {
      queued: (seconds) => add(of().inference_stats.queue, 1, ns(seconds)),
      executed: (rows, seconds, calls) => {
        const s = of();
        s.inference_count += rows;
        s.execution_count += 1;
        add(s.inference_stats.compute_infer, calls, ns(seconds) * calls);
        let batch = s.batch_stats.find((b) => b.batch_size === rows);
        if (batch === undefined) {
          batch = { batch_size: rows, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
          s.batch_stats.push(batch);
          s.batch_stats.sort((a, b) => a.batch_size - b.batch_size);
        }
        add(batch.compute_infer, 1, ns(seconds));
      },
    };
  }

  loaded(): void {
    // Loads are metrics' business; statistics count inferences.
  }

  /** This process's statistics: of every version that had requests, and zeros for `alsoServing` that had none. */
  snapshot(alsoServing: readonly { name: string; version: string }[] = []): ModelStats[] {
    for (const { name, version } of alsoServing) this.#of(name, version);
    return [...this.#stats.values()].flatMap((versions) => [...versions.values()]);
  }
}

function sumDurations(into: Duration, other: Duration): void {
  add(into, other.count, other.ns);
}

/** Several processes' statistics summed per model and version. */
export function sumStatistics(lists: readonly ModelStats[][]): ModelStats[] {
  const total = new Map<string, ModelStats>();
  for (const list of lists) {
    for (const s of list) {
      const key = `${s.name}\0${s.version}`;
      const t = total.get(key) ?? emptyStats(s.name, s.version);
      total.set(key, t);
      t.last_inference = Math.max(t.last_inference, s.last_inference);
      t.inference_count += s.inference_count;
      t.execution_count += s.execution_count;
      for (const [name, d] of Object.entries(s.inference_stats)) {
        sumDurations(t.inference_stats[name as keyof ModelStats['inference_stats']], d);
      }
      for (const b of s.batch_stats) {
        let tb = t.batch_stats.find((x) => x.batch_size === b.batch_size);
        if (tb === undefined) {
          tb = {
            batch_size: b.batch_size,
            compute_input: zero(),
            compute_infer: zero(),
            compute_output: zero(),
          };
          t.batch_stats.push(tb);
        }
        sumDurations(tb.compute_input, b.compute_input);
        sumDurations(tb.compute_infer, b.compute_infer);
        sumDurations(tb.compute_output, b.compute_output);
      }
    }
  }
  const result = [...total.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version),
  );
  for (const s of result) s.batch_stats.sort((a, b) => a.batch_size - b.batch_size);
  return result;
}
