// POSTs to one URL over kept-alive connections with undici (Node's own HTTP client library, the one behind fetch):
// about half the CPU of a node:http request per POST, which matters for a sender that posts twice per inference
// request.
import { errors, Pool } from 'undici';

export interface Poster {
  /** POSTs `body`; resolves with the answer's status once its body is read, rejects on a network error or timeout. */
  post(headers: Record<string, string>, body: Buffer | string): Promise<number>;
  /** Closes the connections, ending the POSTs in flight. */
  close(): Promise<void>;
}

export class PostTimeout extends Error {
  override name = 'PostTimeout';
}

/** A poster to `url` that gives up on an answer after `timeoutMs` without a byte, over at most `sockets` connections. */
export function poster(url: string, timeoutMs: number, sockets: number): Poster {
  const target = new URL(url);
  const path = target.pathname + target.search;
  // A sink that takes the connection and never answers: the request fails and its socket is dropped.
  const pool = new Pool(target.origin, {
    connections: sockets,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return {
    post: async (headers, body) => {
      try {
        const answer = await pool.request({ path, method: 'POST', headers, body });
        await answer.body.dump();
        return answer.statusCode;
      } catch (err) {
        if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError)
          throw new PostTimeout(`no answer within ${timeoutMs} ms`);
        throw err;
      }
    },
    close: () => pool.destroy(),
  };
}
