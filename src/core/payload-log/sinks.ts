// Where payload events go: an HTTP endpoint that takes CloudEvents in binary mode (KServe's logger's contract), or
// a Redis stream capped in length (a durable local buffer that a consumer group reads).
import { poster } from '../../lib/http-post.js';
import type { SharedRedis } from '../redis.js';
import type { EventMessage } from './events.js';

/** Delivers one event; rejects when the sink did not take it. */
export type Sink = (message: EventMessage, signal: AbortSignal) => Promise<void>;

/** The scheme of payloadLogUrl that names a Redis stream key instead of an HTTP endpoint. */
export const STREAM_SCHEME = 'redis-stream://';

export class SinkError extends Error {
  override name = 'SinkError';
}

/**
 * POSTs each event to `url` over up to `sockets` kept-alive connections; any answer but 2xx, or none within
 * `timeoutMs`, is a failure (the queue retries).
 */
export function httpSink(url: string, timeoutMs: number, sockets: number): Sink {
  const post = poster(url, timeoutMs, sockets);
  return async (message, signal) => {
    const status = await post.post(message.headers, message.body, signal);
    if (status < 200 || status > 299) throw new SinkError(`the sink answered ${status}`);
  };
}

/**
 * XADDs each event to the stream `key`, trimmed to about `maxLength` entries (MAXLEN ~: whole macro nodes, cheap):
 * one field per header (ce-id, ce-type, content-type...) and the body in `data`. Through the shared Redis's circuit
 * breaker: a Redis that is down fails at once and the queue retries later.
 */
export function redisStreamSink(redis: SharedRedis, key: string, maxLength: number): Sink {
  return async (message) => {
    const fields: (string | Buffer)[] = [];
    for (const [name, value] of Object.entries(message.headers)) fields.push(name, value);
    fields.push('data', message.body);
    await redis.call((client) => client.xadd(key, 'MAXLEN', '~', maxLength, '*', ...fields));
  };
}
