// The gRPC side of errors: the one mapping from the core's error kinds to gRPC status codes (as Triton's
// src/grpc maps its core's codes), and the status a call ends with.
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { boundedMessage, ServalError, type ErrorKind } from '../core/errors.js';

const CODE: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  // An unknown model or version, never UNAVAILABLE (Triton #3399): clients and ModelMesh act on the difference.
  not_found: status.NOT_FOUND,
  // Not ready, overloaded, draining: worth a retry, elsewhere or later.
  unavailable: status.UNAVAILABLE,
  deadline: status.DEADLINE_EXCEEDED,
  // A call its client cancelled (or whose deadline passed in the client) is taken out of the queue: CANCELLED.
  cancelled: status.CANCELLED,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  internal: status.INTERNAL,
};

/** Status names by code, for access lines ("NOT_FOUND"). */
export const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(status)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, code]) => [code, name]),
);

export interface CallFailure {
  code: status;
  /** What the client sees (tritonclient shows it as the exception's message). */
  details: string;
  /** The stable Serval error code, as REST's `code`. */
  serval: string;
  retryAfter?: number;
  /** The original error, for the log, when it is a fault of the server. */
  fault?: unknown;
}

/** What any thrown value means for the client: a coded error as it is; anything else INTERNAL, generically. */
export function failureOf(err: unknown): CallFailure {
  if (err instanceof ServalError) {
    const code = CODE[err.kind];
    if (code === status.INTERNAL) {
      // The cause (an onnxruntime message, a stack) stays in the log: the client gets the generic text.
      return { code, details: err.message, serval: err.code, fault: err.cause ?? err };
    }
    return {
      code,
      details: err.message,
      serval: err.code,
      ...(err.retryAfter === undefined ? {} : { retryAfter: err.retryAfter }),
    };
  }
  return { code: status.INTERNAL, details: 'Internal server error', serval: 'INTERNAL', fault: err };
}

/**
 * The error a call ends with. Trailing metadata carries the request id (quoted by INTERNAL messages too, so that a
 * report can be found in the log), the Serval code and, when there is one, retry-after in seconds.
 */
export function serviceError(failure: CallFailure, requestId: string): StatusObject {
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  metadata.set('serval-error-code', failure.serval);
  if (failure.retryAfter !== undefined) metadata.set('retry-after', String(failure.retryAfter));
  const details =
    failure.code === status.INTERNAL ? `${failure.details} (request id ${requestId})` : failure.details;
  return { code: failure.code, details: boundedMessage(details), metadata };
}
