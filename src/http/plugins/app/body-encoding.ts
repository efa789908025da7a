// Request bodies sent with Content-Encoding gzip or deflate (tritonclient compresses on request) are decoded, with
// the route's body limit applied to the decoded size, so that a small zip bomb is a 413 and not a full memory.
import { pipeline, Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { httpErrors } from '../../errors.js';

/** Passes bytes on until more than `limit` went through, then fails with 413. */
class Limiter extends Transform {
  /** The bytes that came over the wire: Fastify checks Content-Length against them, not the decoded ones. */
  receivedEncodedLength = 0;
  #size = 0;
  #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (err?: Error | null, data?: Buffer) => void,
  ) {
    this.#size += chunk.length;
    if (this.#size > this.#limit) callback(new httpErrors.PAYLOAD_TOO_LARGE(this.#limit));
    else callback(null, chunk);
  }
}

async function bodyEncodingPlugin(fastify: FastifyInstance): Promise<void> {
  // A callback hook, not an async one: every request with a body passes here, nearly all without an encoding.
  fastify.addHook('preParsing', function (request, _reply, payload, done) {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || encoding === 'identity') {
      done(null, payload);
      return;
    }
    if (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate') {
      done(new httpErrors.UNSUPPORTED_ENCODING(encoding.slice(0, 32), 'gzip or deflate'));
      return;
    }
    const limiter = new Limiter(request.routeOptions.bodyLimit);
    payload.on('data', (chunk: Buffer) => (limiter.receivedEncodedLength += chunk.length));
    // HTTP's "deflate" is the zlib format (RFC 9110 section 8.4.1.2), which is what tritonclient sends.
    const decoder = encoding === 'deflate' ? createInflate() : createGunzip();
    pipeline(payload, decoder, limiter, () => undefined); // an error reaches Fastify through the limiter
    done(null, limiter);
  });
}

export default fp(bodyEncodingPlugin, { name: 'body-encoding' });
