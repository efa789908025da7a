// Request bodies are JSON only: parsed with secure-json-parse, prototype-poisoning keys refused with a clear error.
import fp from 'fastify-plugin';
import sjson from 'secure-json-parse';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../../core/errors.js';
import { httpErrors } from '../../errors.js';

type Done = (err: Error | null, body?: unknown) => void;

/** The JSON body parser (parseAs "string"); scopes that replace it for their routes end by calling it. */
export function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: Done): void {
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
        : new httpErrors.INVALID_JSON(),
      undefined,
    );
  }
}

async function jsonBodyPlugin(fastify: FastifyInstance): Promise<void> {
  // Only JSON is spoken here: anything else, text/plain included, is a 415.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
}

export default fp(jsonBodyPlugin, { name: 'json-body' });
