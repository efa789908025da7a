// Request bodies are JSON only: parsed with secure-json-parse, prototype-poisoning keys and deep nesting refused.
import fp from 'fastify-plugin';
import sjson from 'secure-json-parse';
import type { FastifyInstance } from 'fastify';
import { errors } from '../../../core/errors.js';
import { nestedDeeperThan } from '../../../lib/json-depth.js';
import { httpErrors } from '../../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Parses a JSON request body (depth-checked, no prototype poisoning); throws Serval errors. */
    parseJson: (text: string) => unknown;
  }
}

export interface JsonBodyOptions {
  /** Most arrays and objects nested inside each other; deeper bodies are refused before parsing. */
  maxDepth: number;
}

/** The JSON parser of every route: what a scope with its own content-type parser calls too. */
export function jsonParser(maxDepth: number): (text: string) => unknown {
  return (text) => {
    if (text.length === 0) throw new errors.INVALID_REQUEST('the JSON body is empty');
    if (nestedDeeperThan(text, maxDepth)) {
      throw new errors.INVALID_REQUEST(`the JSON body nests arrays and objects more than ${maxDepth} deep`);
    }
    try {
      return sjson.parse(text, { protoAction: 'error', constructorAction: 'error' }) as unknown;
    } catch (err) {
      // secure-json-parse says "Object contains forbidden prototype property" for __proto__ / constructor.prototype.
      throw /prototype/.test((err as Error).message)
        ? new errors.INVALID_REQUEST('keys "__proto__" and "constructor.prototype" are not allowed')
        : new httpErrors.INVALID_JSON();
    }
  };
}

async function jsonBodyPlugin(fastify: FastifyInstance, { maxDepth }: JsonBodyOptions): Promise<void> {
  const parse = jsonParser(maxDepth);
  fastify.decorate('parseJson', parse);
  // Only JSON is spoken here: anything else, text/plain included, is a 415 (V2 inference adds binary bodies).
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, function (_request, body, done) {
    let parsed: unknown;
    try {
      parsed = parse(body as string);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    done(null, parsed);
  });
}

export default fp(jsonBodyPlugin, { name: 'json-body' });
