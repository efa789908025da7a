// The playground page at /playground and its content-hashed assets (built by scripts/build-playground.ts into
// dist/playground), in a scope of its own: helmet's headers for HTML documents and a CSP that lets the page load
// its own scripts, styles and API calls only (no 'unsafe-inline'). Public, like /docs: its API calls carry the token.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { httpErrors } from '../errors.js';
import { documentHeaders } from '../plugins/external/security.js';

export interface PlaygroundOptions {
  /** The build's output folder: index.html and assets/. */
  root: string;
}

export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Hashed names never change content: a year, immutable. The page itself is revalidated on every load. */
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

async function readPage(root: string): Promise<string | null> {
  try {
    return await readFile(join(root, 'index.html'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export default async function playgroundRoutes(
  fastify: FastifyInstance,
  { root }: PlaygroundOptions,
): Promise<void> {
  fastify.addHook('onRequest', documentHeaders);
  fastify.addHook('onRequest', function (_request, reply, done) {
    void reply.header('content-security-policy', PLAYGROUND_CSP);
    done();
  });
  const page = await readPage(root);
  if (page === null)
    fastify.log.warn({ root }, 'the playground is not built (npm run build): /playground answers 503');

  fastify.get('/playground', { schema: { hide: true } }, async function (_request, reply) {
    if (page === null) throw new httpErrors.PLAYGROUND_NOT_BUILT();
    void reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8');
    return page;
  });
  if (page === null) return;
  await fastify.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/playground/assets/',
    // One route per file found at start, so that any other path is the API's own 404.
    wildcard: false,
    globIgnore: ['**/*.br', '**/*.gz'],
    index: false,
    decorateReply: false,
    preCompressed: true,
    cacheControl: true,
    maxAge: ONE_YEAR_MS,
    immutable: true,
    // The same URL answers br, gzip or identity: shared caches must keep them apart.
    setHeaders: (response) => {
      response.setHeader('vary', 'accept-encoding');
    },
    schemaHide: true,
  });
}
