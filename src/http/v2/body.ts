// Reading a V2 inference body: JSON, or a JSON header followed by binary tensors, placed in memory so that the
// tensors start 8-byte aligned and can be handed to the model without a copy.
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { errors } from '../../core/errors.js';
import type { BufferPool } from '../../lib/buffer-pool.js';
import { httpErrors } from '../errors.js';

export const HEADER_LENGTH = 'inference-header-content-length';

/** JSON or binary: nothing else is an inference body (tritonclient sends no Content-Type at all). */
const ACCEPTED = /^application\/(json|octet-stream)\s*(;|$)/i;

export interface BodyLimits {
  /** A body without binary tensors. */
  json: number;
  /** A body with binary tensors (Inference-Header-Content-Length). */
  binary: number;
}

export interface InferBody {
  /** The JSON inference request, parsed. */
  request: unknown;
  /** The bytes after the JSON header, 8-byte aligned; undefined without Inference-Header-Content-Length. */
  binary: Buffer | undefined;
  /** The whole body as it came: the JSON text, or the header and the tensors (in the same memory as `binary`). */
  raw: Buffer | string;
}

function headerLengthOf(request: FastifyRequest): number | undefined {
  const field = request.headers[HEADER_LENGTH];
  if (field === undefined) return undefined;
  const length = Number(field);
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new errors.INVALID_REQUEST(`Inference-Header-Content-Length is "${String(field).slice(0, 20)}"`);
  }
  return length;
}

type Done<T> = (err: Error | null, value?: T) => void;

/**
 * Collects the body into one buffer that begins `pad` bytes into memory of its own. When Content-Length is known
 * (and the body not compressed) the chunks go straight to their place: one copy, as Fastify's own reading makes.
 * Callbacks, not promises: every inference request passes here.
 */
function collect(
  payload: Readable,
  limit: number,
  declared: number | undefined,
  pad: number,
  pool: BufferPool,
  done: Done<Buffer>,
) {
  const target = declared === undefined ? undefined : pool.take(pad + declared);
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (err: Error | null, body?: Buffer) => {
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', finish);
    done(err, body);
  };
  const onData = (chunk: Buffer) => {
    const at = size;
    size += chunk.length;
    if (size > limit) return finish(new httpErrors.PAYLOAD_TOO_LARGE(limit));
    if (target === undefined) chunks.push(chunk);
    else if (size > (declared as number))
      finish(new errors.INVALID_REQUEST('the body is longer than its Content-Length'));
    else chunk.copy(target, pad + at);
  };
  const onEnd = () => {
    if (target !== undefined) {
      if (size !== declared)
        return finish(new errors.INVALID_REQUEST('the body is shorter than its Content-Length'));
      return finish(null, target.subarray(pad));
    }
    const whole = pool.take(pad + size);
    let at = pad;
    for (const chunk of chunks) at += chunk.copy(whole, at);
    finish(null, whole.subarray(pad));
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', finish);
}

/** The parsed request and its binary part, once the body is read. */
function split(
  body: Buffer,
  headerLength: number | undefined,
  limits: BodyLimits,
  parseJson: (text: string) => unknown,
  pool: BufferPool,
) {
  if (headerLength === undefined) {
    // The text is a copy: the memory can serve the next body at once.
    const text = body.toString('utf8');
    pool.give(body);
    return { request: parseJson(text), binary: undefined, raw: text };
  }
  if (headerLength > body.length) {
    throw new errors.INVALID_REQUEST(
      `Inference-Header-Content-Length is "${headerLength}" but the body has ${body.length} bytes`,
    );
  }
  if (headerLength > limits.json) throw new httpErrors.PAYLOAD_TOO_LARGE(limits.json);
  return {
    request: parseJson(body.subarray(0, headerLength).toString('utf8')),
    binary: body.subarray(headerLength),
    raw: body,
  };
}

/**
 * The inference route's body parser for every content type, none included: the JSON limit for JSON bodies, the
 * larger binary limit for bodies with binary tensors, each checked against Content-Length before reading. Large
 * bodies live in the pool's memory: the binary part's goes back to it once the answer is sent (the caller's
 * onResponse), a JSON body's once parsed.
 */
export function readInferBody(
  request: FastifyRequest,
  payload: Readable,
  limits: BodyLimits,
  parseJson: (text: string) => unknown,
  pool: BufferPool,
  done: Done<InferBody>,
): void {
  let headerLength: number | undefined;
  let limit: number;
  let declared: number | undefined;
  try {
    const type = request.headers['content-type'];
    if (type !== undefined && !ACCEPTED.test(type)) {
      throw new httpErrors.UNSUPPORTED_MEDIA_TYPE(
        'application/json, or application/octet-stream with binary tensors',
      );
    }
    headerLength = headerLengthOf(request);
    limit = headerLength === undefined ? limits.json : limits.binary;
    // Content-Length counts the bytes on the wire: a compressed body's decoded size is only known once read.
    const length = request.headers['content-length'];
    declared =
      request.headers['content-encoding'] !== undefined || length === undefined ? undefined : Number(length);
    if (declared !== undefined && declared > limit) throw new httpErrors.PAYLOAD_TOO_LARGE(limit);
  } catch (err) {
    done(err as Error);
    return;
  }
  // After a header of this length, the tensors start on an 8-byte boundary (the widest element, INT64 or FP64).
  const pad = headerLength === undefined ? 0 : (8 - (headerLength % 8)) % 8;
  collect(payload, limit, declared, pad, pool, (err, body) => {
    if (err !== null) return done(err);
    let parsed: InferBody;
    try {
      parsed = split(body as Buffer, headerLength, limits, parseJson, pool);
    } catch (e) {
      return done(e as Error);
    }
    done(null, parsed);
  });
}
