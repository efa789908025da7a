// The page's one way to the API: same origin, JSON (or an image file as the body), the bearer token from memory
// (never storage or the URL), and every answer with its status, time and Cache-Status, errors in the API's own
// envelope.
import type { Call } from './request.js';
import type { ErrorBody } from './types.js';

export interface Answer {
  status: number;
  ok: boolean;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown;
  /** The error envelope, when the status is not 2xx. */
  error?: ErrorBody;
  /** Round trip in the browser, from sending to the whole body read. */
  ms: number;
  cacheStatus: string | null;
  /** RFC 6750's challenge on a 401 or 403. */
  challenge: string | null;
  requestId: string | null;
}

function errorOf(status: number, body: unknown): ErrorBody {
  if (typeof body === 'object' && body !== null && typeof (body as ErrorBody).error === 'string') {
    return body as ErrorBody;
  }
  return { error: typeof body === 'string' && body !== '' ? body.slice(0, 500) : `HTTP ${status}` };
}

export class Api {
  #token: string | null = null;
  /** Called on every 401, so that the page can ask for a token. */
  onUnauthorized: ((answer: Answer) => void) | null = null;

  get hasToken(): boolean {
    return this.#token !== null;
  }

  setToken(token: string | null): void {
    this.#token = token === null || token.trim() === '' ? null : token.trim();
  }

  async get(path: string, accept = 'application/json'): Promise<Answer> {
    return this.#send(path, { method: 'GET', headers: { accept } });
  }

  async post(path: string, body: unknown): Promise<Answer> {
    return this.#send(path, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** A prepared request: its JSON body, or its file as the body with the file's own Content-Type. */
  async call(call: Call): Promise<Answer> {
    if (call.body !== undefined || call.file === undefined) return this.post(call.path, call.body);
    return this.#send(call.path, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': call.file.type },
      body: call.file.bytes,
    });
  }

  async #send(path: string, init: RequestInit & { headers: Record<string, string> }): Promise<Answer> {
    if (this.#token !== null) init.headers.authorization = `Bearer ${this.#token}`;
    // no-cache: revalidated every time (the metadata routes answer 304 to the browser's If-None-Match).
    const started = performance.now();
    const response = await fetch(path, { ...init, cache: 'no-cache', credentials: 'omit' });
    const text = await response.text();
    const ms = performance.now() - started;
    let body: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    const answer: Answer = {
      status: response.status,
      ok: response.ok,
      body,
      ms,
      cacheStatus: response.headers.get('cache-status'),
      challenge: response.headers.get('www-authenticate'),
      requestId: response.headers.get('x-request-id'),
      ...(response.ok ? {} : { error: errorOf(response.status, body) }),
    };
    if (answer.status === 401) this.onUnauthorized?.(answer);
    return answer;
  }
}
