// Request bodies are JSON only: parsed with secure-json-parse, prototype-poisoning keys refused with a clear error.
import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import sjson from 'secure-json-parse';
import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** SHA-256 of the raw JSON body, when the prediction cache wants exact repeats. */
    bodyHash: string | null;
  }
}

export interface JsonBodyOptions {
  hashBodies: boolean;
}

async function jsonBodyPlugin(fastify: FastifyInstance, { hashBodies }: JsonBodyOptions): Promise<void> {
  fastify.decorateRequest('bodyHash', null);
  // Only JSON is spoken here: anything else, text/plain included, is a 415.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, function (request, body, done) {
    const text = body as string;
    if (hashBodies) request.bodyHash = createHash('sha256').update(text).digest('base64url');
    if (text.length === 0) {
      done(new errors.INVALID_REQUEST('the JSON body is empty'), undefined);
      return;
    }
    try {
      done(null, sjson.parse(text, { protoAction: 'error', constructorAction: 'error' }));
    } catch (err) {
      // secure-json-parse says "Object contains forbidden prototype property" for __proto__ / constructor.prototype.
      done(
        /prototype/.test((err as Error).message)
          ? new errors.INVALID_REQUEST('keys "__proto__" and "constructor.prototype" are not allowed')
          : new errors.INVALID_JSON(),
        undefined,
      );
    }
  });
}

export default fp(jsonBodyPlugin, { name: 'json-body' });
