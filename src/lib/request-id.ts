// Request ids for every front end: a client's own id is kept when it is short and plain, else a new UUID.
import { randomUUID } from 'node:crypto';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The X-Request-Id header's (or x-request-id metadata's) value when it is 1–128 of [A-Za-z0-9._:-]; else a UUID. */
export function requestId(given: unknown): string {
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
