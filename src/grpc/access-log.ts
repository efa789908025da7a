// One access line per RPC, in the fields of HTTP's (method, route, status, ms, model, version, instances, reqId);
// never messages or metadata values. Probes log at debug, as /healthz does.
import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { STATUS_NAMES } from './status.js';

/** What a call adds to its line once it knows: the model that answered and the rows it ran. */
export interface RpcFields {
  model?: string;
  version?: string;
  instances?: number;
  /** Stream calls: requests received and answered with an error_message. */
  messages?: number;
  errors?: number;
  /** The call's trace, when it is traced: logs and traces join on these. */
  traceId?: string;
  spanId?: string;
}

/** Codes a client's retry may cure (warn, as HTTP's 503 and 504); INTERNAL is an error; the rest are answers. */
function levelOf(code: status, probe: boolean): 'debug' | 'info' | 'warn' | 'error' {
  if (code === status.INTERNAL || code === status.UNKNOWN || code === status.DATA_LOSS) return 'error';
  if (code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED) return 'warn';
  return probe ? 'debug' : 'info';
}

export class AccessLog {
  #log: Logger;
  #service: string;

  constructor(log: Logger, service: string) {
    this.#log = log;
    this.#service = service;
  }

  /** Writes a call's line; `fault` (a server-side error) is logged with its stack under the request id. */
  write(
    method: string,
    reqId: string,
    startedAt: number,
    code: status,
    fields: RpcFields,
    options: { probe?: boolean; fault?: unknown } = {},
  ): void {
    const level = levelOf(code, options.probe === true);
    // Skip building the line when its level is off (the benchmark's hot path runs at warn).
    if (!this.#log.isLevelEnabled(level)) return;
    const line = {
      reqId,
      method,
      route: `/${this.#service}/${method}`,
      status: STATUS_NAMES[code] ?? String(code),
      code,
      ms: Math.round((performance.now() - startedAt) * 100) / 100,
      ...fields,
      ...(options.fault === undefined ? {} : { err: options.fault }),
    };
    this.#log[level](line, level === 'error' ? 'request errored' : 'request');
  }
}
