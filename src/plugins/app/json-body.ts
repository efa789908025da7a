// Request bodies are JSON only: parsed with secure-json-parse, prototype-poisoning keys refused with a clear error.
import fp from 'fastify-plugin';
import sjson from 'secure-json-parse';
import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors.js';

async function jsonBodyPlugin(fastify: FastifyInstance): Promise<void> {
  // Only JSON is spoken here: anything else, text/plain included, is a 415.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, function (_request, body, done) {
    const text = body as string;
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
