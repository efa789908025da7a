// What every HTTP inference route shares (V1 and V2 alike): the prediction cache's headers, the exact-repeat fast
// path, and sending the core's encoded answer.
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { deflate, gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  bypassRequested,
  EXACT_MAX_BODY,
  exactKey,
  type ExactEntry,
} from '../core/cache/prediction-cache.js';
import type { CacheOutcome, CacheUse, InferenceNote } from '../core/inference.js';
import type { PayloadExchange } from '../core/payload-log/payload-log.js';

/** What Fastify itself would say of a JSON string; the core's answers are bytes, so it is set explicitly. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Cache-Status (RFC 9211) for each outcome; none when the cache is off. */
const CACHE_STATUS: Record<CacheOutcome, string | undefined> = {
  hit: 'serval; hit',
  miss: 'serval; fwd=miss; stored',
  collapsed: 'serval; fwd=miss; collapsed',
  bypass: 'serval; fwd=request',
  uncacheable: 'serval; fwd=bypass; detail=uncacheable',
  off: undefined,
};

export function cacheStatus(reply: FastifyReply, outcome: CacheOutcome): FastifyReply {
  const value = CACHE_STATUS[outcome];
  return value === undefined ? reply : reply.header('cache-status', value);
}

/** Cache-Control: no-cache (or no-store) on the request: compute afresh. */
export function bypassed(request: FastifyRequest): boolean {
  return bypassRequested(request.headers['cache-control']);
}

/** How the core may use its cache for this request: bypassed, and the exact-repeat key to file the answer under. */
export function cacheUse(request: FastifyRequest): CacheUse {
  // Only scopes with exact repeats (useExactRepeats) decorate requests with a key.
  const key = request.exactKey as string | null | undefined;
  return { bypass: bypassed(request), ...(typeof key === 'string' ? { exact: key } : {}) };
}

/**
 * Aborts when the client closes the connection before its answer is written: the core then never runs a request
 * still queued, and counts it as cancelled.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The access line's inference fields, filled by the core's pipeline as it goes. */
export function noteOf(request: FastifyRequest): InferenceNote {
  return (request.inference = {});
}

declare module 'fastify' {
  interface FastifyRequest {
    /** With payload logging on, an inference request's body as the client sent it (JSON as text). */
    payloadBody: Buffer | string | null;
    /** The exact-repeat key of the raw body, on inference routes when the cache is on. */
    exactKey: string | null;
    /** The cached answer for exactly this body, found before parsing it. */
    exactRepeat: ExactEntry | null;
  }
}

/** With payload logging on, the exchange that logs this inference request and its answer; else undefined. */
export function payloadOf(
  request: FastifyRequest,
  contentType: string,
  headerLength?: number,
): PayloadExchange | undefined {
  const log = request.server.core.payloadLog;
  if (log === null) return undefined;
  const { headers } = request;
  return log.open({ body: request.payloadBody ?? '', contentType, headers, headerLength });
}

/**
 * An inference route scope's JSON parser when the cache or payload logging is on. With payload logging on, the text
 * is kept for the log (and every body parsed: the cache still answers after the checks). Else an exact repeat of a cached body is found by its
 * text and not parsed at all (the same bytes passed parsing and every check before being cached); any other body is
 * parsed as everywhere else, its key kept for filing the answer. `format` is the scope's response format, whose
 * answers must be whole JSON documents that depend on nothing but the body.
 */
export function useExactRepeats(fastify: FastifyInstance, format: string): void {
  const { cache, payloadLog } = fastify.core;
  fastify.decorateRequest('payloadBody', null);
  if (!cache && !payloadLog) return;
  fastify.decorateRequest('exactKey', null);
  fastify.decorateRequest('exactRepeat', null);
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, function (request, body, done) {
    if (payloadLog) request.payloadBody = body;
    else if (cache && !bypassed(request)) {
      const params = request.params as { model?: string; version?: string };
      const model =
        params.model === undefined ? undefined : fastify.models.peek(params.model, params.version);
      if (model && model.descriptor.cache !== false && body.length <= EXACT_MAX_BODY) {
        const space = { format, model: model.name, version: model.version, generation: model.generation };
        request.exactKey = exactKey(space, body as string);
        const received = performance.now();
        const hit = cache.exact(request.exactKey);
        if (hit !== undefined) {
          fastify.core.inference.countRepeat(model, 'v1', received, hit.instances);
          request.exactRepeat = hit;
          request.inference = { model: model.name, version: model.version, instances: hit.instances };
          done(null, undefined);
          return;
        }
      }
    }
    let parsed: unknown;
    try {
      parsed = fastify.parseJson(body as string);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    done(null, parsed);
  });
  // An exact repeat is answered before validation and decoding.
  fastify.addHook('preValidation', async function (request, reply) {
    const hit = request.exactRepeat;
    if (hit === null) return;
    return cacheStatus(reply, 'hit').type(JSON_TYPE).send(hit.value);
  });
}

const compress = { gzip: promisify(gzip), deflate: promisify(deflate) };

/** The first of gzip and deflate that an Accept-Encoding value allows (q > 0), if any. */
export function acceptedEncoding(accept: string | undefined): 'gzip' | 'deflate' | undefined {
  if (accept === undefined) return undefined;
  const allowed = new Set<string>();
  for (const item of accept.toLowerCase().split(',')) {
    const [token = '', ...params] = item.split(';').map((p) => p.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) allowed.add(token);
  }
  if (allowed.has('gzip') || allowed.has('x-gzip')) return 'gzip';
  return allowed.has('deflate') ? 'deflate' : undefined;
}

/** Answers under 1 KiB go as they are: compressing them costs more than it saves. */
const COMPRESS_FROM = 1024;

/**
 * An inference answer compressed as the client's Accept-Encoding allows (tritonclient can ask for it), off the
 * event loop.
 */
async function compressed(request: FastifyRequest, reply: FastifyReply, body: Buffer): Promise<Buffer> {
  const encoding = acceptedEncoding(request.headers['accept-encoding']);
  if (encoding === undefined) return body;
  void reply.header('content-encoding', encoding).header('vary', 'accept-encoding');
  return compress[encoding](body);
}

/** Sends the core's answer with its Cache-Status and content type, compressed when asked. */
export function sendAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: { body: Buffer; cache: CacheOutcome; type: string },
): FastifyReply | Promise<FastifyReply> {
  cacheStatus(reply, answer.cache).type(answer.type);
  const { body } = answer;
  // Most answers are small or not asked to be compressed: no promise for them.
  if (body.length < COMPRESS_FROM || request.headers['accept-encoding'] === undefined)
    return reply.send(body);
  return compressed(request, reply, body).then((sent) => reply.send(sent));
}
