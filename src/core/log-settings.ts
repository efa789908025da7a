// Triton's logging extension over pino: which messages are written and how their time reads, changed at run time
// (GET|POST /v2/logging, gRPC LogSettings) in every serving process at once. The root logger's level follows the
// settings (children follow it), and a log-method hook drops what a setting turns off below that level.
import type { LevelWithSilent, Logger, LoggerOptions } from 'pino';
import { errors, excerpt } from './errors.js';

export interface LogSettingsValues {
  /** Read-only over the network: Serval writes to standard output, where the platform collects it. */
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  /** 0: no debug lines; 1: debug; 2 and more: trace too. */
  log_verbose_level: number;
  /** default: epoch milliseconds; ISO8601: an ISO 8601 date and time. */
  log_format: 'default' | 'ISO8601';
}

/** pino's numbers for the levels a setting turns off. */
const INFO = 30;
const WARN = 40;

const KEYS = ['log_file', 'log_info', 'log_warning', 'log_error', 'log_verbose_level', 'log_format'] as const;

/** The settings that pino level means (the configured logLevel at start). */
function fromLevel(level: string): LogSettingsValues {
  const rank = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].indexOf(level);
  return {
    log_file: '',
    log_info: rank <= 2,
    log_warning: rank <= 3,
    log_error: rank <= 4,
    log_verbose_level: rank === 0 ? 2 : rank === 1 ? 1 : 0,
    log_format: 'default',
  };
}

/** The lowest level any setting lets through: the root logger's. */
function levelOf(v: LogSettingsValues): LevelWithSilent {
  if (v.log_verbose_level >= 2) return 'trace';
  if (v.log_verbose_level === 1) return 'debug';
  if (v.log_info) return 'info';
  if (v.log_warning) return 'warn';
  return v.log_error ? 'error' : 'silent';
}

/** A request's settings, checked: known keys of the right types; log_file may only be asked to stay as it is. */
export function checkLogSettings(patch: unknown): Partial<LogSettingsValues> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new errors.INVALID_REQUEST('the log settings must be an object');
  }
  const out: Partial<LogSettingsValues> = {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    const bad = (rule: string) =>
      new errors.INVALID_REQUEST(`log setting "${excerpt(key, 32)}" must be ${rule}, got ${excerpt(value)}`);
    switch (key as (typeof KEYS)[number]) {
      case 'log_info':
      case 'log_warning':
      case 'log_error':
        if (typeof value !== 'boolean') throw bad('true or false');
        out[key as 'log_info'] = value;
        break;
      case 'log_verbose_level':
        if (!(Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 2 ** 32 - 1))
          throw bad('an unsigned integer');
        out.log_verbose_level = value as number;
        break;
      case 'log_format':
        if (value !== 'default' && value !== 'ISO8601') throw bad('"default" or "ISO8601"');
        out.log_format = value;
        break;
      case 'log_file':
        if (value !== '') {
          throw new errors.INVALID_REQUEST(
            'log_file cannot be changed over the network: Serval logs to standard output',
          );
        }
        break;
      default:
        throw new errors.INVALID_REQUEST(
          `unknown log setting "${excerpt(key, 32)}"; the settings are ${KEYS.join(', ')}`,
        );
    }
  }
  return out;
}

export class LogSettings {
  #values: LogSettingsValues;
  #root: Logger | undefined;

  constructor(level: string) {
    this.#values = fromLevel(level);
  }

  get values(): LogSettingsValues {
    return { ...this.#values };
  }

  /** What the root logger needs to follow the settings: the hook that drops what they turn off, and the time. */
  pinoOptions(): Pick<LoggerOptions, 'hooks' | 'timestamp'> {
    const values = () => this.#values;
    return {
      hooks: {
        logMethod(args, method, level) {
          const v = values();
          if (
            (level === INFO && !v.log_info) ||
            (level === WARN && !v.log_warning) ||
            (level > WARN && !v.log_error)
          )
            return;
          method.apply(this, args);
        },
      },
      timestamp: () =>
        values().log_format === 'ISO8601' ? `,"time":"${new Date().toISOString()}"` : `,"time":${Date.now()}`,
    };
  }

  /** The root logger whose level follows the settings (its children follow it). */
  attach(root: Logger): void {
    this.#root = root;
    root.level = levelOf(this.#values);
  }

  /** Applies checked settings and returns them all. */
  apply(patch: Partial<LogSettingsValues>): LogSettingsValues {
    this.#values = { ...this.#values, ...patch };
    if (this.#root) this.#root.level = levelOf(this.#values);
    return this.values;
  }
}
