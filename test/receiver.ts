// A CloudEvents receiver on loopback for the payload-log tests: it parses each POST with the cloudevents package's
// HTTP.toEvent, as a KServe logger consumer does, and answers as told (200 at once or late, 500, or never).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP, type CloudEvent } from 'cloudevents';

/** accept: 200 at once; slow: 200 after 100 ms; fail: 500; hang: no answer ever. */
export type Behaviour = 'accept' | 'slow' | 'fail' | 'hang';

export interface Receiver {
  url: string;
  /** The events accepted so far (a failing or hanging receiver parses and counts, but keeps none). */
  events: CloudEvent<unknown>[];
  /** POSTs received, whatever the answer. */
  posts: () => number;
  /** What the next POSTs get. */
  behave(behaviour: Behaviour): void;
  /** The pair of events with this id: the request's, then the response's (either may be missing). */
  pair(id: string): { request?: CloudEvent<unknown>; response?: CloudEvent<unknown> };
  close(): Promise<void>;
}

const isText = (type: string | undefined) => type !== undefined && /^application\/json\b/.test(type);

export async function startReceiver(behaviour: Behaviour = 'accept'): Promise<Receiver> {
  const events: CloudEvent<unknown>[] = [];
  let posts = 0;
  let now = behaviour;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      posts++;
      if (now === 'hang') return;
      if (now === 'fail') return res.writeHead(500).end('failing on purpose');
      const bytes = Buffer.concat(chunks);
      const body = isText(req.headers['content-type']) ? bytes.toString('utf8') : bytes;
      let event: CloudEvent<unknown>;
      try {
        event = HTTP.toEvent({ headers: req.headers, body }) as CloudEvent<unknown>;
      } catch (err) {
        return res.writeHead(400).end((err as Error).message);
      }
      const accept = () => {
        events.push(event);
        res.writeHead(200).end();
      };
      if (now === 'slow') setTimeout(accept, 100);
      else accept();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const request = 'org.kubeflow.serving.inference.request';
  return {
    url: `http://127.0.0.1:${port}/`,
    events,
    posts: () => posts,
    behave: (next) => void (now = next),
    pair: (id) => ({
      request: events.find((e) => e.id === id && e.type === request),
      response: events.find((e) => e.id === id && e.type !== request),
    }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The payload log events of each outcome (sent, dropped, failed) a server counted, summed over its workers, from one
 * scrape of its /metrics; an outcome it has not exported is absent.
 */
export async function payloadEvents(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, outcome, value] of text.matchAll(
    /^serval_payload_log_events_total\{outcome="(\w+)"\} (\S+)$/gm,
  ))
    counts[outcome as string] = Number(value);
  return counts;
}
