// Types for the part of autocannon's programmatic API the bench and the e2e tests use: it ships none of its own.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    /** One request as autocannon builds it: the top-level options fill in whatever is left out. */
    interface RequestParams {
      method?: 'GET' | 'POST';
      path?: string;
      headers?: Record<string, string>;
      body?: string;
    }

    /** An entry of `requests`: each client cycles through them, calling setupRequest before every send. */
    interface Request extends RequestParams {
      setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams;
      /** headers: the response's, keyed by name as the server sent it (repeated names give an array). */
      onResponse?: (
        status: number,
        body: string,
        context: Record<string, unknown>,
        headers: Record<string, string | string[]>,
      ) => void;
    }

    interface Options {
      url: string;
      /** A unix socket to connect to instead of url's host and port (url still gives the Host header). */
      socketPath?: string;
      method?: 'GET' | 'POST';
      headers?: Record<string, string>;
      body?: string | Buffer;
      requests?: Request[];
      connections?: number;
      /** Seconds. */
      duration?: number;
      pipelining?: number;
      /** Seconds before a request counts as a timeout. */
      timeout?: number;
    }

    /** autocannon's own histograms; latency is in whole milliseconds, too coarse for sub-ms servers. */
    interface Histogram {
      average: number;
      mean: number;
      min: number;
      max: number;
      p50: number;
      p99: number;
      total: number;
    }

    interface Result {
      /** Seconds actually run. */
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      '2xx': number;
      statusCodeStats: Record<string, { count: number }>;
      latency: Histogram;
      requests: Histogram;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      /** responseTime is a float in ms, measured with process.hrtime. */
      on(
        event: 'response',
        listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void,
      ): this;
      /** A request that got no response: connection error, reset or timeout. */
      on(event: 'reqError', listener: (error: Error) => void): this;
      /** Ends the run early; the result comes as usual. */
      stop(): void;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
