// Reading a V2 inference body: JSON, or a JSON header followed by binary tensors, placed in memory so that the
// tensors start 8-byte aligned and can be handed to the model without a copy.
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { errors } from '../../core/errors.js';
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

/**
 * Collects the body into one buffer that begins `pad` bytes into memory of its own. When Content-Length is known
 * (and the body not compressed) the chunks go straight to their place: one copy, as Fastify's own reading makes.
 */
function collect(
  payload: Readable,
  limit: number,
  declared: number | undefined,
  pad: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const target = declared === undefined ? undefined : Buffer.allocUnsafeSlow(pad + declared);
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: Error) => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      const at = size;
      size += chunk.length;
      if (size > limit) return stop(new httpErrors.PAYLOAD_TOO_LARGE(limit));
      if (target === undefined) chunks.push(chunk);
      else if (size > (declared as number))
        stop(new errors.INVALID_REQUEST('the body is longer than its Content-Length'));
      else chunk.copy(target, pad + at);
    };
    const onEnd = () => {
      if (target !== undefined) {
        if (size !== declared)
          return reject(new errors.INVALID_REQUEST('the body is shorter than its Content-Length'));
        return resolve(target.subarray(pad));
      }
      const whole = Buffer.allocUnsafeSlow(pad + size);
      let at = pad;
      for (const chunk of chunks) at += chunk.copy(whole, at);
      resolve(whole.subarray(pad));
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', (err) => reject(err));
  });
}

/**
 * The inference route's body parser for every content type, none included: the JSON limit for JSON bodies, the
 * larger binary limit for bodies with binary tensors, each checked against Content-Length before reading.
 */
export async function readInferBody(
  request: FastifyRequest,
  payload: Readable,
  limits: BodyLimits,
  parseJson: (text: string) => unknown,
): Promise<InferBody> {
  const type = request.headers['content-type'];
  if (type !== undefined && !ACCEPTED.test(type)) {
    throw new httpErrors.UNSUPPORTED_MEDIA_TYPE(
      'application/json, or application/octet-stream with binary tensors',
    );
  }
  const headerLength = headerLengthOf(request);
  const limit = headerLength === undefined ? limits.json : limits.binary;
  // Content-Length counts the bytes on the wire: a compressed body's decoded size is only known once read.
  const compressed = request.headers['content-encoding'] !== undefined;
  const length = request.headers['content-length'];
  const declared = compressed || length === undefined ? undefined : Number(length);
  if (declared !== undefined && declared > limit) throw new httpErrors.PAYLOAD_TOO_LARGE(limit);
  // After a header of this length, the tensors start on an 8-byte boundary (the widest element, INT64 or FP64).
  const pad = headerLength === undefined ? 0 : (8 - (headerLength % 8)) % 8;
  const body = await collect(payload, limit, declared, pad);
  if (headerLength === undefined) return { request: parseJson(body.toString('utf8')), binary: undefined };
  if (headerLength > body.length) {
    throw new errors.INVALID_REQUEST(
      `Inference-Header-Content-Length is "${headerLength}" but the body has ${body.length} bytes`,
    );
  }
  if (headerLength > limits.json) throw new httpErrors.PAYLOAD_TOO_LARGE(limits.json);
  return {
    request: parseJson(body.subarray(0, headerLength).toString('utf8')),
    binary: body.subarray(headerLength),
  };
}
