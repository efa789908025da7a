// The HTTP side of errors: the codes only HTTP has (routes, methods, bodies, OAuth), and the one mapping from the
// core's error kinds to HTTP statuses.
import { format } from 'node:util';
import { ServalError, type ErrorKind } from '../core/errors.js';

/** RFC 6749 section 5.2 error codes: the token endpoint answers in OAuth's own error format. */
export type OAuthCode = 'invalid_request' | 'invalid_client' | 'invalid_scope' | 'unsupported_grant_type';

/** An error whose HTTP status is its own, not its kind's. */
export class HttpError extends ServalError {
  readonly status: number;
  headers?: Record<string, string>;
  oauth?: OAuthCode;

  constructor(code: string, status: number, message: string) {
    super(code, kindOfStatus(status), message);
    this.status = status;
  }
}

function kindOfStatus(status: number): ErrorKind {
  if (status === 401) return 'unauthenticated';
  if (status === 404) return 'not_found';
  if (status === 429) return 'resource_exhausted';
  return status >= 500 ? 'internal' : 'invalid_argument';
}

export type HttpErrorType = new (...args: (string | number)[]) => HttpError;

function httpErrorType(code: string, status: number, template: string): HttpErrorType {
  return class extends HttpError {
    constructor(...args: (string | number)[]) {
      super(code, status, format(template, ...args));
    }
  };
}

export const httpErrors = {
  INVALID_JSON: httpErrorType('INVALID_JSON', 400, 'Request body is not valid JSON'),
  ROUTE_NOT_FOUND: httpErrorType('ROUTE_NOT_FOUND', 404, 'Route %s %s not found'),
  METHOD_NOT_ALLOWED: httpErrorType('METHOD_NOT_ALLOWED', 405, 'Method %s is not allowed on %s'),
  PAYLOAD_TOO_LARGE: httpErrorType('PAYLOAD_TOO_LARGE', 413, 'Request body is larger than %s bytes'),
  UNSUPPORTED_MEDIA_TYPE: httpErrorType('UNSUPPORTED_MEDIA_TYPE', 415, 'Content-Type must be %s'),
  UNSUPPORTED_ENCODING: httpErrorType(
    'UNSUPPORTED_ENCODING',
    415,
    'Content-Encoding %s is not supported; use %s',
  ),
  INVALID_CLIENT: httpErrorType('INVALID_CLIENT', 401, 'Client authentication failed'),
  INVALID_SCOPE: httpErrorType('INVALID_SCOPE', 400, 'Scope not allowed for this client: %s'),
  UNSUPPORTED_GRANT_TYPE: httpErrorType(
    'UNSUPPORTED_GRANT_TYPE',
    400,
    'Only grant_type=client_credentials is supported',
  ),
  INVALID_TOKEN_REQUEST: httpErrorType('INVALID_TOKEN_REQUEST', 400, '%s'),
  PLAYGROUND_NOT_BUILT: httpErrorType(
    'PLAYGROUND_NOT_BUILT',
    503,
    'The playground is not built: run npm run build (it writes dist/playground)',
  ),
} as const;

/** The one mapping from kinds to statuses. */
const STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  resource_exhausted: 429,
  internal: 500,
  unavailable: 503,
  deadline: 504,
  // nginx's "client closed request": the client is gone, so nobody reads it; the access line and metrics do.
  cancelled: 499,
};

export function statusOf(error: ServalError): number {
  return error instanceof HttpError ? error.status : STATUS[error.kind];
}

/** The response headers an error implies: its own, Retry-After, and an RFC 6750 challenge for refused tokens. */
export function headersOf(error: ServalError): Record<string, string> {
  const headers: Record<string, string> = error instanceof HttpError ? { ...error.headers } : {};
  if (error.retryAfter !== undefined) headers['retry-after'] = String(error.retryAfter);
  const challenge = error.challenge;
  if (challenge) {
    const scope = challenge.scope === undefined ? '' : `, scope="${challenge.scope}"`;
    headers['www-authenticate'] =
      `Bearer realm="serval", error="${challenge.error}", error_description="${challenge.description}"${scope}`;
  }
  return headers;
}
