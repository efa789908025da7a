// The core's errors, in one catalogue: a stable code, a neutral kind each front end maps to its own status, a message.
import { format } from 'node:util';

/**
 * What kind of failure an error is, independent of any protocol. HTTP (http/errors.ts) and gRPC map each kind to
 * their own status in one place, as Triton's core does with its error codes.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'unavailable'
  | 'deadline'
  | 'unauthenticated'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'cancelled'
  | 'internal';

/** What an RFC 6750 challenge says about a refused token; HTTP writes it as WWW-Authenticate. */
export interface Challenge {
  error: 'invalid_token' | 'insufficient_scope';
  description: string;
  scope?: string;
}

export interface ErrorExtras {
  /** Machine-readable facts about the failure for clients (which input, which element). */
  details?: Record<string, unknown>;
  /** Seconds after which the same call may succeed. */
  retryAfter?: number;
  challenge?: Challenge;
}

export class ServalError extends Error implements ErrorExtras {
  override name = 'ServalError';
  readonly code: string;
  readonly kind: ErrorKind;
  details?: Record<string, unknown>;
  retryAfter?: number;
  challenge?: Challenge;

  constructor(code: string, kind: ErrorKind, message: string) {
    super(message);
    this.code = code;
    this.kind = kind;
  }
}

export type ServalErrorType = new (...args: (string | number)[]) => ServalError;

/** An error type with a fixed code and kind; its message is `template` formatted with the arguments. */
export function errorType(code: string, kind: ErrorKind, template: string): ServalErrorType {
  return class extends ServalError {
    constructor(...args: (string | number)[]) {
      super(code, kind, format(template, ...args));
    }
  };
}

export const errors = {
  INVALID_REQUEST: errorType('INVALID_REQUEST', 'invalid_argument', 'Invalid request: %s'),
  INVALID_INPUT: errorType('INVALID_INPUT', 'invalid_argument', '%s'),
  UNSUPPORTED_MODEL: errorType('UNSUPPORTED_MODEL', 'invalid_argument', '%s'),
  INFERENCE_REJECTED: errorType(
    'INFERENCE_REJECTED',
    'invalid_argument',
    'The model could not run on this input: %s',
  ),
  INVALID_TRACE_SETTING: errorType('INVALID_TRACE_SETTING', 'invalid_argument', 'Invalid trace setting: %s'),
  TRACING_NOT_CONFIGURED: errorType(
    'TRACING_NOT_CONFIGURED',
    'invalid_argument',
    'Tracing has no exporter: set OTEL_EXPORTER_OTLP_ENDPOINT (or traceEndpoint) to turn it on (%s)',
  ),
  UNAUTHORIZED: errorType('UNAUTHORIZED', 'unauthenticated', 'Authentication required: %s'),
  INSUFFICIENT_SCOPE: errorType('INSUFFICIENT_SCOPE', 'permission_denied', 'The token lacks the scope "%s"'),
  RATE_LIMITED: errorType(
    'RATE_LIMITED',
    'resource_exhausted',
    'Rate limit of %s requests per %s s exceeded, retry later',
  ),
  MODEL_NOT_FOUND: errorType('MODEL_NOT_FOUND', 'not_found', 'Model "%s" not found'),
  VERSION_NOT_FOUND: errorType('VERSION_NOT_FOUND', 'not_found', 'Model "%s" has no version "%s"'),
  MODEL_NOT_LOADED: errorType(
    'MODEL_NOT_LOADED',
    'not_found',
    'Model "%s" is not loaded (unloaded, or never loaded)',
  ),
  MODEL_LOAD_FAILED: errorType('MODEL_LOAD_FAILED', 'invalid_argument', 'Model "%s" could not be loaded: %s'),
  MODEL_NOT_READY: errorType('MODEL_NOT_READY', 'unavailable', 'Model "%s" is not ready: %s'),
  NOT_READY: errorType('NOT_READY', 'unavailable', 'Server is not ready: %s'),
  RATE_LIMIT_UNAVAILABLE: errorType(
    'RATE_LIMIT_UNAVAILABLE',
    'unavailable',
    'Rate limiting is unavailable (shared store down) and the policy is to refuse',
  ),
  OVERLOADED: errorType('OVERLOADED', 'unavailable', 'Server is overloaded: %s, retry later'),
  INFERENCE_TIMEOUT: errorType('INFERENCE_TIMEOUT', 'deadline', 'Inference did not finish within %s ms'),
  REQUEST_CANCELLED: errorType('REQUEST_CANCELLED', 'cancelled', 'The request was cancelled: %s'),
  INFERENCE_FAILED: errorType('INFERENCE_FAILED', 'internal', 'Inference failed'),
  WORKERS_UNAVAILABLE: errorType(
    'WORKERS_UNAVAILABLE',
    'unavailable',
    'Not every worker answered within %s s (%s); retry later',
  ),
  INTERNAL: errorType('INTERNAL', 'internal', 'Internal server error'),
} as const;

export type CoreErrorCode = keyof typeof errors;

export function withExtras<E extends Error>(error: E, extras: ErrorExtras): E & ErrorExtras {
  return Object.assign(error, extras);
}

/** Quote at most a short excerpt of user input in messages and logs. */
export function excerpt(value: unknown, max = 40): string {
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'bigint'
        ? String(value)
        : ((JSON.stringify(value) as string | undefined) ?? String(value));
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A list in a message: at most `max` items written out, then how many more there are. */
export function excerptList(items: readonly string[], max = 16): string {
  const more = items.length - max;
  return more > 0 ? `${items.slice(0, max).join(', ')}, … ${more} more` : items.join(', ');
}

/** The most bytes of UTF-8 an error message has when it reaches a client, whatever it quotes. */
export const MAX_MESSAGE_BYTES = 2048;

/**
 * A message cut to MAX_MESSAGE_BYTES: the last guard behind the excerpts. gRPC sends it percent-encoded in a header
 * (at most three times its bytes: 6 KiB), within the 8 KiB of metadata grpc-js and grpcio clients accept by default.
 */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_BYTES / 3 || Buffer.byteLength(message) <= MAX_MESSAGE_BYTES)
    return message;
  // A character cut in two decodes as U+FFFD: dropped with the rest of the cut.
  const cut = Buffer.from(message)
    .subarray(0, MAX_MESSAGE_BYTES - 3)
    .toString('utf8');
  return `${cut.replace(/\uFFFD$/, '')}…`;
}
