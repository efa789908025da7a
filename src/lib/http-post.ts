// POSTs to one URL over kept-alive connections (node:http or node:https): a few times lighter per request than
// fetch, which matters for a sender that posts twice per inference request.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface Poster {
  /** POSTs `body`; resolves with the answer's status once its body is read, rejects on a network error or timeout. */
  post(headers: Record<string, string>, body: Buffer | string, signal: AbortSignal): Promise<number>;
  /** Closes the kept-alive connections. */
  close(): void;
}

export class PostTimeout extends Error {
  override name = 'PostTimeout';
}

/** A poster to `url` that gives up on an answer after `timeoutMs` without a byte, over at most `sockets` connections. */
export function poster(url: string, timeoutMs: number, sockets: number): Poster {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const agent = new (secure ? HttpsAgent : HttpAgent)({ keepAlive: true, maxSockets: sockets });
  const send = secure ? httpsRequest : httpRequest;
  return {
    post: (headers, body, signal) =>
      new Promise((resolve, reject) => {
        const outgoing: IncomingHttpHeaders = {
          ...headers,
          'content-length': String(Buffer.byteLength(body)),
        };
        const req = send(target, { method: 'POST', headers: outgoing, agent, signal }, (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        });
        // A sink that takes the connection and never answers: the socket is dropped, not kept for the next event.
        req.setTimeout(timeoutMs, () => req.destroy(new PostTimeout(`no answer within ${timeoutMs} ms`)));
        req.once('error', reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}
