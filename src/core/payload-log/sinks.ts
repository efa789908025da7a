// Where payload events go: an HTTP endpoint that takes CloudEvents in binary mode (KServe's logger's contract), or
// a Redis stream capped in length (a durable local buffer that a consumer group reads).
import type { Config } from '../../config/schema.js';
import { poster } from '../../lib/http-post.js';
import type { SharedRedis } from '../redis.js';
import type { EventMessage, EventOrigin } from './events.js';

export interface Sink {
  /** Delivers one event; rejects when the sink did not take it. */
  send(message: EventMessage, signal: AbortSignal): Promise<void>;
  /** Lets its connections go. */
  close(): Promise<void>;
}

/** The scheme of payloadLogUrl that names a Redis stream key instead of an HTTP endpoint. */
export const STREAM_SCHEME = 'redis-stream://';

/**
 * Most connections to an HTTP sink: events beyond them wait in the connection pool, where a connection that frees takes
 * the next at once (measured: fewer connections cost less CPU per event at the same rate).
 */
const SINK_CONNECTIONS = 8;

export class SinkError extends Error {
  override name = 'SinkError';
}

/**
 * POSTs each event to `url` over up to `sockets` kept-alive connections; any answer but 2xx, or none within
 * `timeoutMs`, is a failure (the queue retries).
 */
export function httpSink(url: string, timeoutMs: number, sockets: number): Sink {
  const post = poster(url, timeoutMs, sockets);
  // The queue gives every send one signal, aborted when it gives up: watched once, it ends every POST in flight (a
  // listener per POST costs more than the POST's own bookkeeping).
  let watched: AbortSignal | undefined;
  return {
    async send(message, signal) {
      if (signal !== watched) {
        watched = signal;
        signal.addEventListener('abort', () => void post.close(), { once: true });
      }
      const status = await post.post(message.headers, message.body);
      if (status < 200 || status > 299) throw new SinkError(`the sink answered ${status}`);
    },
    close: () => post.close(),
  };
}

/**
 * XADDs each event to the stream `key`, trimmed to about `maxLength` entries (MAXLEN ~: whole macro nodes, cheap):
 * one field per header (ce-id, ce-type, content-type...) and the body in `data`. Through the Redis's circuit
 * breaker: a Redis that is down fails at once and the queue retries later.
 */
export function redisStreamSink(redis: SharedRedis, key: string, maxLength: number): Sink {
  return {
    async send(message) {
      const fields: (string | Buffer)[] = [];
      for (const [name, value] of Object.entries(message.headers)) fields.push(name, value);
      fields.push('data', message.body);
      await redis.call((client) => client.xadd(key, 'MAXLEN', '~', maxLength, '*', ...fields));
    },
    close: async () => redis.client.disconnect(),
  };
}

/** The sink payloadLogUrl names; a stream's Redis is the one on redisUrl (the configuration's checks make sure). */
export async function sinkOf(config: Config, redis: () => Promise<SharedRedis>): Promise<Sink> {
  const url = config.payloadLogUrl;
  return url.startsWith(STREAM_SCHEME)
    ? redisStreamSink(await redis(), url.slice(STREAM_SCHEME.length), config.payloadLogStreamMaxLength)
    : httpSink(url, config.payloadLogTimeoutMs, Math.min(config.payloadLogWorkers, SINK_CONNECTIONS));
}

/** What every event says of where it comes from. */
export function originOf(config: Config): EventOrigin {
  return {
    source: config.payloadLogSource || `http://localhost:${config.port}/`,
    namespace: config.payloadLogNamespace,
    component: 'predictor',
    endpoint: config.payloadLogEndpoint,
  };
}
