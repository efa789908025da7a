// Triton's trace extension settings (GET|POST /v2[/models/{m}]/trace/setting, gRPC TraceSetting): global values and
// per model overrides, checked as they arrive, and the gate they put before the OpenTelemetry sampler: a request
// without a caller's trace is offered to the sampler only at the trace level, one in trace_rate, while trace_count
// lasts. Pure data, so the cluster primary keeps a copy to replay and tests need no SDK.
import { errors, excerpt } from '../errors.js';

export type TraceLevel = 'OFF' | 'TIMESTAMPS';

/** The settings as the extension writes them: every value a string, the level a list. */
export interface TraceSettingsValues {
  /** Read-only: spans go to the OTLP exporter, not a file. */
  trace_file: string;
  trace_level: TraceLevel[];
  trace_rate: string;
  trace_count: string;
  log_frequency: string;
}

/** A change: a value per setting, or null to reset it (a model's to the global one; a global one to its default). */
export type TracePatch = Partial<Record<SettingKey, string | TraceLevel[] | null>>;

type SettingKey = Exclude<keyof TraceSettingsValues, 'trace_file'>;

interface Values {
  level: TraceLevel;
  rate: number;
  count: number;
  logFrequency: number;
}

const KEYS = ['trace_file', 'trace_level', 'trace_rate', 'trace_count', 'log_frequency'] as const;
const UINT32_MAX = 2 ** 32 - 1;

/** An integer setting sent as a JSON number or a string of digits (the extension writes strings). */
function integer(key: string, value: unknown, min: number): string {
  const text = typeof value === 'number' ? String(value) : value;
  if (
    typeof text !== 'string' ||
    !/^-?\d{1,10}$/.test(text.trim()) ||
    Number(text) < min ||
    Number(text) > UINT32_MAX
  ) {
    const rule = min < 0 ? '-1 or an unsigned integer' : 'an unsigned integer';
    throw new errors.INVALID_TRACE_SETTING(`"${key}" must be ${rule}, got ${excerpt(value)}`);
  }
  return String(Number(text));
}

function level(value: unknown): TraceLevel[] {
  const list: unknown[] | undefined =
    typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  const [only] = list ?? [];
  if (list?.length !== 1 || (only !== 'OFF' && only !== 'TIMESTAMPS')) {
    const tensors = list?.includes('TENSORS') === true;
    throw new errors.INVALID_TRACE_SETTING(
      tensors
        ? 'trace_level TENSORS is not supported: Serval traces timestamps only'
        : `"trace_level" must be ["OFF"] or ["TIMESTAMPS"], got ${excerpt(value)}`,
    );
  }
  return [only];
}

/** A request's settings, checked: known keys, values of the right form; trace_file may only stay as it is. */
export function checkTraceSettings(patch: unknown): TracePatch {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new errors.INVALID_TRACE_SETTING('the trace settings must be an object');
  }
  const out: TracePatch = {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new errors.INVALID_TRACE_SETTING(
        `unknown setting "${excerpt(key, 32)}"; the settings are ${KEYS.join(', ')}`,
      );
    }
    if (key === 'trace_file') {
      if (value !== null && value !== '' && !(Array.isArray(value) && value.length === 0))
        throw new errors.INVALID_TRACE_SETTING(
          'trace_file cannot be changed over the network: spans are exported over OTLP',
        );
      continue;
    }
    const k = key as SettingKey;
    if (value === null) out[k] = null;
    else if (k === 'trace_level') out[k] = level(value);
    else out[k] = integer(k, value, k === 'trace_count' ? -1 : 0);
  }
  return out;
}

function toValues(from: Values, patch: TracePatch, reset: Values): Values {
  const pick = <T>(
    v: string | TraceLevel[] | null | undefined,
    own: T,
    parse: (v: string | TraceLevel[]) => T,
    base: T,
  ) => (v === undefined ? own : v === null ? base : parse(v));
  return {
    level: pick(patch.trace_level, from.level, (v) => (v as TraceLevel[])[0] as TraceLevel, reset.level),
    rate: pick(patch.trace_rate, from.rate, Number, reset.rate),
    count: pick(patch.trace_count, from.count, Number, reset.count),
    logFrequency: pick(patch.log_frequency, from.logFrequency, Number, reset.logFrequency),
  };
}

const written = (v: Values): TraceSettingsValues => ({
  trace_file: '',
  trace_level: [v.level],
  trace_rate: String(v.rate),
  trace_count: String(v.count),
  log_frequency: String(v.logFrequency),
});

export interface TraceDefaults {
  /** Whether spans can go anywhere: without an exporter the level stays OFF. */
  exporting: boolean;
  rate: number;
}

/** This process's trace settings, global and per model, and the counters of trace_rate and trace_count. */
export class TraceSettings {
  readonly exporting: boolean;
  #defaults: Values;
  #global: Values;
  /** A model's own settings: a patch over the global ones, so that a global change reaches what it did not set. */
  #models = new Map<string, TracePatch>();
  #resolved = new Map<string, Values>();
  /** Requests seen per model (for trace_rate), and traces left per model and globally (trace_count). */
  #seen = new Map<string, number>();
  #left = new Map<string, number>();

  constructor(defaults: TraceDefaults) {
    this.exporting = defaults.exporting;
    this.#defaults = {
      level: defaults.exporting ? 'TIMESTAMPS' : 'OFF',
      rate: defaults.rate,
      count: -1,
      logFrequency: 0,
    };
    this.#global = this.#defaults;
  }

  /** The settings of a model (its own over the global ones), or the global ones. */
  values(model?: string): TraceSettingsValues {
    const v = this.#of(model);
    const left = this.#left.get(this.#countKey(model));
    return written(left === undefined ? v : { ...v, count: left });
  }

  /** Throws when settings cannot hold here: a level other than OFF without an exporter. */
  refuse(patch: TracePatch): void {
    const level = patch.trace_level;
    if (level != null && level[0] !== 'OFF' && !this.exporting)
      throw new errors.TRACING_NOT_CONFIGURED('trace_level stays OFF');
  }

  /** Applies checked settings, globally or to one model, and returns the settings that now hold there. */
  apply(patch: TracePatch, model?: string): TraceSettingsValues {
    this.refuse(patch);
    if (model === undefined) {
      this.#global = toValues(this.#global, patch, this.#defaults);
      this.#left.clear();
    } else {
      const merged = { ...this.#models.get(model), ...patch };
      const own = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== null)) as TracePatch;
      this.#models.set(model, own);
      this.#left.delete(model);
    }
    this.#resolved.clear();
    if (patch.trace_rate !== undefined) this.#seen.clear();
    return this.values(model);
  }

  /** Whether a model's requests are traced at all (a caller's trace is followed only then). */
  on(model: string | undefined): boolean {
    return this.#of(model).level !== 'OFF';
  }

  /** Whether a request without a caller's trace is offered to the sampler: the level, one in trace_rate, trace_count. */
  admit(model: string | undefined): boolean {
    const v = this.#of(model);
    if (v.level === 'OFF' || v.rate === 0 || this.#left.get(this.#countKey(model)) === 0 || v.count === 0)
      return false;
    if (v.rate === 1) return true;
    // Counted per model with settings of its own, else together: names from requests never grow a map.
    const key = model !== undefined && this.#models.has(model) ? model : '';
    const seen = (this.#seen.get(key) ?? 0) + 1;
    this.#seen.set(key, seen % v.rate);
    return seen % v.rate === 0;
  }

  /** A request admitted was sampled: one trace less of trace_count. */
  counted(model: string | undefined): void {
    const key = this.#countKey(model);
    const v = this.#of(model);
    if (v.count < 0) return;
    this.#left.set(key, Math.max(0, (this.#left.get(key) ?? v.count) - 1));
  }

  /** log_frequency of a model's settings: a flush of the exporter after that many traces (0: on its schedule). */
  logFrequency(model: string | undefined): number {
    return this.#of(model).logFrequency;
  }

  /** trace_count is counted where it was set: a model's own, or the global one. */
  #countKey(model: string | undefined): string {
    return model !== undefined && this.#models.get(model)?.trace_count != null ? model : '';
  }

  #of(model: string | undefined): Values {
    const own = model === undefined ? undefined : this.#models.get(model);
    if (own === undefined) return this.#global;
    let v = this.#resolved.get(model as string);
    if (v === undefined) this.#resolved.set(model as string, (v = toValues(this.#global, own, this.#global)));
    return v;
  }
}
