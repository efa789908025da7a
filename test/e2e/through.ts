// Requests and steady load sent through the lab's balancer, on its unix socket, each client named by X-Forwarded-For.
import { request, type IncomingHttpHeaders } from 'node:http';
import autocannon from 'autocannon';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The replica that answered, as the balancer says in X-Served-By. */
  servedBy: string;
}

/** One JSON POST through the balancer, on a fresh connection, as the client `clientIp`. */
export function callVia(socketPath: string, path: string, body: string, clientIp: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': clientIp },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            servedBy: String(res.headers['x-served-by'] ?? ''),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface Load {
  seconds: number;
  ok: number;
  /** Non-2xx answers, connection errors and timeouts. */
  failed: number;
  errors: number;
  statusCodes: Record<string, number>;
  failures: { at: number; what: string }[];
  servedBy: Record<string, number>;
  /** Answers by replica after a moment (performance.now()). */
  servedByAfter: (at: number) => Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadOptions {
  connections: number;
  /** The n-th request's body. */
  body: (n: number) => string;
}

/**
 * Steady load with autocannon until stop(). Every request comes from another client address of 198.18.0.0/15
 * (RFC 2544's benchmarking range; only ever a header value here), so no client reaches the rate limit.
 */
export function loadVia(
  socketPath: string,
  { connections, body }: LoadOptions,
): { stop: () => Promise<Load> } {
  let n = 0;
  const failures: { at: number; what: string }[] = [];
  const served: { at: number; by: string }[] = [];
  const latencies: number[] = [];
  const started = performance.now();
  const instance = autocannon({
    url: 'http://serval.lab',
    socketPath,
    connections,
    duration: 120, // an upper bound: stop() ends it
    timeout: 10,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const i = n++;
          return {
            ...req,
            path: '/v1/models/iris:predict',
            body: body(i),
            headers: {
              'content-type': 'application/json',
              'x-forwarded-for': `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`,
            },
          };
        },
        onResponse: (status, _body, _context, headers) => {
          const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === 'x-served-by');
          served.push({ at: performance.now(), by: String(entry?.[1] ?? '(none)') });
          if (status < 200 || status >= 300) failures.push({ at: performance.now(), what: String(status) });
        },
      },
    ],
  });
  instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  instance.on('reqError', (err) => failures.push({ at: performance.now(), what: err.message }));
  const done = Promise.resolve(instance);
  return {
    stop: async () => {
      instance.stop();
      const result = await done;
      const seconds = (performance.now() - started) / 1000;
      const sorted = latencies.sort((a, b) => a - b);
      const at = (p: number) =>
        Number((sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN).toFixed(2));
      const tally = (from: number) => {
        const counts: Record<string, number> = {};
        for (const s of served) if (s.at > from) counts[s.by] = (counts[s.by] ?? 0) + 1;
        return counts;
      };
      return {
        seconds,
        ok: result['2xx'],
        failed: failures.length,
        errors: result.errors,
        statusCodes: Object.fromEntries(
          Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
        ),
        failures,
        servedBy: tally(0),
        servedByAfter: tally,
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        maxMs: Number((sorted.at(-1) ?? NaN).toFixed(2)),
      };
    },
  };
}
