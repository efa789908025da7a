// Drives load with autocannon, keeping every 2xx latency for sub-millisecond percentiles across merged runs.
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  /** A body means POST (JSON unless headers say otherwise); none means GET. */
  body?: string | Buffer;
  /** Request headers instead of content-type: application/json (e.g. a V2 binary body's). */
  headers?: Record<string, string>;
  /** A JSON body made before each request (POST), e.g. a new cache key every time; replaces body. */
  nextBody?: () => string;
  /** A response header whose values are counted over the run (e.g. cache-status). */
  tallyHeader?: string;
  connections: number;
  durationS: number;
}

/** One autocannon run, with its raw latencies so that runs can be merged before taking percentiles. */
export interface LoadRun {
  durationS: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Responses by value of the spec's tallyHeader ("(none)" when absent); empty without one. */
  headerValues: Record<string, number>;
  latenciesMs: Float64Array;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  /** 2xx responses per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Responses by value of the tallied header, when the runs had one. */
  headerValues?: Record<string, number>;
  /** Server CPU time (all its processes and threads) per response: steadier than req/s on a shared machine. */
  cpuUsPerRequest: number | null;
}

/** A growable array of latencies in ms; autocannon's own histogram rounds to whole milliseconds. */
class Samples {
  #data = new Float64Array(4096);
  #size = 0;

  push(value: number): void {
    if (this.#size === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#size++] = value;
  }

  values(): Float64Array {
    return this.#data.slice(0, this.#size);
  }
}

/** Adds one to counts[key]. */
function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** autocannon's per-request hooks, only when the spec asks for them: they rebuild or inspect every request. */
function perRequest(spec: LoadSpec, headerValues: Record<string, number>): autocannon.Request[] | undefined {
  const { nextBody, tallyHeader } = spec;
  if (nextBody === undefined && tallyHeader === undefined) return undefined;
  const name = tallyHeader?.toLowerCase();
  return [
    {
      ...(nextBody === undefined ? {} : { setupRequest: (request) => ({ ...request, body: nextBody() }) }),
      ...(name === undefined
        ? {}
        : {
            onResponse: (_status, _body, _context, headers) => {
              const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
              const value = entry?.[1];
              bump(headerValues, value === undefined ? '(none)' : String(value));
            },
          }),
    },
  ];
}

export async function runLoad(spec: LoadSpec): Promise<LoadRun> {
  const samples = new Samples();
  const headerValues: Record<string, number> = {};
  const body = spec.body ?? spec.nextBody?.();
  const requests = perRequest(spec, headerValues);
  const instance = autocannon({
    url: spec.url,
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body, headers: spec.headers ?? { 'content-type': 'application/json' } }),
    ...(requests === undefined ? {} : { requests }),
    connections: spec.connections,
    duration: spec.durationS,
    pipelining: 1,
    timeout: 10,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) samples.push(responseTime);
  });
  const result = await instance;
  return {
    durationS: result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
    ),
    headerValues,
    latenciesMs: samples.values(),
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Merges runs at the same connection count into one result; cpuSeconds is the server's CPU over all of them. */
export function summarize(connections: number, runs: readonly LoadRun[], cpuSeconds?: number): LoadResult {
  const sum = (pick: (run: LoadRun) => number): number => runs.reduce((total, run) => total + pick(run), 0);
  const latencies = new Float64Array(sum((r) => r.latenciesMs.length));
  let offset = 0;
  for (const run of runs) {
    latencies.set(run.latenciesMs, offset);
    offset += run.latenciesMs.length;
  }
  latencies.sort();
  const statusCodes: Record<string, number> = {};
  const headerValues: Record<string, number> = {};
  for (const run of runs) {
    for (const [code, count] of Object.entries(run.statusCodes)) bump(statusCodes, code, count);
    for (const [value, count] of Object.entries(run.headerValues)) bump(headerValues, value, count);
  }
  const durationS = sum((r) => r.durationS);
  const ok = sum((r) => r.ok);
  const non2xx = sum((r) => r.non2xx);
  return {
    connections,
    durationS,
    rps: ok / durationS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    ok,
    non2xx,
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statusCodes,
    ...(Object.keys(headerValues).length === 0 ? {} : { headerValues }),
    cpuUsPerRequest:
      cpuSeconds === undefined || ok + non2xx === 0 ? null : (cpuSeconds * 1e6) / (ok + non2xx),
  };
}

/** The least and the most seconds of warm-up (`warmUntilSteady`). */
export interface WarmUp {
  leastS: number;
  mostS: number;
}

/**
 * Warm-up until steady: one-second runs until the best rate has not risen by more than 3% for two runs in a row and
 * every response was a 2xx (a worker still loading its models answers 503), at least `leastS` and at most `mostS`
 * seconds. V8 takes several seconds to optimize Serval's request path (at one connection a fresh Serval answered
 * iris ×1 at 4.1k req/s in its first second and 9-10k from the eighth on, so a fixed three seconds measured it
 * half-warm); a bare server, with far less code, is steady in one or two. Returns the last run.
 */
export async function warmUntilSteady(
  run: (durationS: number) => Promise<LoadRun>,
  { leastS, mostS }: WarmUp,
): Promise<LoadRun | undefined> {
  let best = 0;
  let flat = 0;
  let last: LoadRun | undefined;
  for (let second = 1; second <= mostS; second++) {
    last = await run(1);
    const rate = last.ok / last.durationS;
    const clean = last.non2xx === 0 && last.errors === 0;
    flat = clean && rate <= best * 1.03 ? flat + 1 : 0;
    best = Math.max(best, clean ? rate : 0);
    if (second >= leastS && flat >= 2) break;
  }
  return last;
}
