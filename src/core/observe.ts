// What the core tells its observers (statistics, metrics): every request, every wait and run, every model load.
import type { ErrorKind } from './errors.js';

/** The front end that asked, or 'ensemble': a composing model's step, asked by the ensemble running it. */
export type Protocol = 'v1' | 'v2' | 'grpc' | 'ensemble';

/** Why a request failed, as metrics and statistics count it. */
export type FailureReason = 'invalid_input' | 'overloaded' | 'timeout' | 'cancelled' | 'internal';

export type CacheResult = 'hit' | 'miss' | 'collapsed';

export function failureReason(kind: ErrorKind): FailureReason {
  switch (kind) {
    case 'invalid_argument':
    case 'not_found':
      return 'invalid_input';
    case 'unavailable':
    case 'resource_exhausted':
      return 'overloaded';
    case 'deadline':
      return 'timeout';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'internal';
  }
}

export interface RequestEvent {
  model: string;
  version: string;
  protocol: Protocol;
  /** From the call into the core to its answer, encoding included. */
  seconds: number;
  rows: number;
  failure?: FailureReason | undefined;
  cache?: CacheResult | undefined;
  /** Decoding the request's tensors (by the front end) and encoding the answer, when measured. */
  inputSeconds?: number | undefined;
  outputSeconds?: number | undefined;
}

/** Runs of one model version, as its runtime sees them. */
export interface RunObserver {
  /** A call waited this long before its run started. */
  queued(seconds: number): void;
  /** One execution of the model: its rows, its duration, and how many calls it served. */
  executed(rows: number, seconds: number, calls: number): void;
}

export interface Observer {
  request(event: RequestEvent): void;
  runs(model: string, version: string): RunObserver;
  loaded(model: string, version: string, seconds: number, ok: boolean): void;
  /** On demand: a model unloaded to make room, past the bound named (models or bytes). */
  evicted?(model: string, bound: EvictionBound): void;
}

export type EvictionBound = 'models' | 'bytes';

/** Tells every observer. */
export function observeAll(observers: readonly Observer[]): Observer {
  return {
    request: (event) => {
      for (const o of observers) o.request(event);
    },
    runs: (model, version) => {
      const each = observers.map((o) => o.runs(model, version));
      return {
        queued: (seconds) => {
          for (const r of each) r.queued(seconds);
        },
        executed: (rows, seconds, calls) => {
          for (const r of each) r.executed(rows, seconds, calls);
        },
      };
    },
    loaded: (model, version, seconds, ok) => {
      for (const o of observers) o.loaded(model, version, seconds, ok);
    },
    evicted: (model, bound) => {
      for (const o of observers) o.evicted?.(model, bound);
    },
  };
}
