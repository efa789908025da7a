// Every error Serval answers with, in one catalogue: a stable code, a message template and an HTTP status.
import createError from '@fastify/error';

export const errors = {
  INVALID_REQUEST: createError('INVALID_REQUEST', 'Invalid request: %s', 400),
  INVALID_JSON: createError('INVALID_JSON', 'Request body is not valid JSON', 400),
  INVALID_INPUT: createError('INVALID_INPUT', '%s', 422),
  UNSUPPORTED_MODEL: createError('UNSUPPORTED_MODEL', '%s', 422),
  UNAUTHORIZED: createError('UNAUTHORIZED', 'Authentication required: %s', 401),
  INSUFFICIENT_SCOPE: createError('INSUFFICIENT_SCOPE', 'The token lacks the scope "%s"', 403),
  RATE_LIMITED: createError('RATE_LIMITED', 'Rate limit of %s requests per %s s exceeded, retry later', 429),
  INVALID_CLIENT: createError('INVALID_CLIENT', 'Client authentication failed', 401),
  INVALID_SCOPE: createError('INVALID_SCOPE', 'Scope not allowed for this client: %s', 400),
  UNSUPPORTED_GRANT_TYPE: createError(
    'UNSUPPORTED_GRANT_TYPE',
    'Only grant_type=client_credentials is supported',
    400,
  ),
  INVALID_TOKEN_REQUEST: createError('INVALID_TOKEN_REQUEST', '%s', 400),
  ROUTE_NOT_FOUND: createError('ROUTE_NOT_FOUND', 'Route %s %s not found', 404),
  MODEL_NOT_FOUND: createError('MODEL_NOT_FOUND', 'Model "%s" not found', 404),
  VERSION_NOT_FOUND: createError('VERSION_NOT_FOUND', 'Model "%s" has no version "%s"', 404),
  METHOD_NOT_ALLOWED: createError('METHOD_NOT_ALLOWED', 'Method %s is not allowed on %s', 405),
  PAYLOAD_TOO_LARGE: createError('PAYLOAD_TOO_LARGE', 'Request body is larger than %s bytes', 413),
  UNSUPPORTED_MEDIA_TYPE: createError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415),
  MODEL_NOT_READY: createError('MODEL_NOT_READY', 'Model "%s" is not ready: %s', 503),
  NOT_READY: createError('NOT_READY', 'Server is not ready: %s', 503),
  RATE_LIMIT_UNAVAILABLE: createError(
    'RATE_LIMIT_UNAVAILABLE',
    'Rate limiting is unavailable (shared store down) and the policy is to refuse',
    503,
  ),
  OVERLOADED: createError('OVERLOADED', 'Server is overloaded: inference queue is full, retry later', 503),
  INFERENCE_TIMEOUT: createError('INFERENCE_TIMEOUT', 'Inference did not finish within %s ms', 504),
  INFERENCE_FAILED: createError('INFERENCE_FAILED', 'Inference failed', 500),
  INTERNAL: createError('INTERNAL', 'Internal server error', 500),
} as const;

export type ErrorCode = keyof typeof errors;

/** Extra fields an error may carry into the response: details for clients, headers such as Retry-After. */
export interface ErrorExtras {
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** RFC 6749 section 5.2 error code: the token endpoint answers in OAuth's own error format. */
  oauth?: 'invalid_request' | 'invalid_client' | 'invalid_scope' | 'unsupported_grant_type';
}

export function withExtras<E extends Error>(error: E, extras: ErrorExtras): E & ErrorExtras {
  return Object.assign(error, extras);
}

/** Quote at most a short excerpt of user input in messages and logs. */
export function excerpt(value: unknown, max = 40): string {
  const text =
    typeof value === 'string' ? value : ((JSON.stringify(value) as string | undefined) ?? String(value));
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
