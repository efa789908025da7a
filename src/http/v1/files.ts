// Files as the body of a :predict, as TorchServe takes them (`curl -T kitten.jpg`): an image/* body for a model
// with one image input, or multipart/form-data with one part per file, each part named by its input (repeated for
// more rows). Both become the row format's instances of binary values, which the V1 reader hands to the core as
// it does TF Serving's {"b64": ...}. Every part and the whole body are bounded.
import type { Readable } from 'node:stream';
import multipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../core/errors.js';
import { httpErrors } from '../errors.js';

/** The image types a :predict body may be. */
// image/jpg is no registered type, but common enough in clients to take as image/jpeg.
export const IMAGE_TYPES = ['image/jpeg', 'image/jpg', 'image/png', 'image/webp', 'image/gif'] as const;

export interface FileBodyOptions {
  /** Largest file (imageMaxBytes). */
  maxFileBytes: number;
  /** Largest multipart body, all parts together (binaryBodyLimitBytes). */
  maxBodyBytes: number;
  /** Most parts (maxInstances): one per row and input. */
  maxParts: number;
}

/** A body read whole, refused with 413 once it passes `limit` bytes. */
async function readWhole(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.destroy();
      throw new httpErrors.PAYLOAD_TOO_LARGE(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Named parts (a Buffer, a string, or several of them) as instances of named binary values, one per row. */
function instancesOf(parts: Record<string, unknown>): Record<string, unknown>[] {
  const named = Object.entries(parts).map(([name, value]) => [name, [value].flat()] as const);
  const [first] = named;
  if (first === undefined) {
    throw new errors.INVALID_REQUEST(
      'the multipart body has no part: send one part per file, named by its input',
    );
  }
  const rows = first[1].length;
  const uneven = named.find(([, values]) => values.length !== rows);
  if (uneven !== undefined) {
    throw new errors.INVALID_REQUEST(
      `part "${first[0].slice(0, 64)}" comes ${rows} times but "${uneven[0].slice(0, 64)}" ${uneven[1].length}: one part per input and row`,
    );
  }
  return Array.from({ length: rows }, (_, i) =>
    Object.fromEntries(named.map(([name, values]) => [name, values[i]])),
  );
}

/** Registers, in the :predict routes' scope, the parsers of image and multipart bodies. */
export async function fileBodies(fastify: FastifyInstance, options: FileBodyOptions): Promise<void> {
  for (const type of IMAGE_TYPES) {
    fastify.addContentTypeParser(type, function (request, payload, done) {
      readWhole(payload, options.maxFileBytes).then(
        (file) => {
          if (fastify.core.payloadLog) request.payloadBody = file;
          done(null, { instances: [file] });
        },
        (err: unknown) => done(err as Error),
      );
    });
  }
  const received = new WeakMap<FastifyRequest, number>();
  await fastify.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: {
      fileSize: options.maxFileBytes,
      fieldSize: options.maxFileBytes,
      files: options.maxParts,
      fields: options.maxParts,
      parts: options.maxParts,
      headerPairs: 64,
    },
    async onFile(this: FastifyRequest, part: MultipartFile) {
      const file = await readWhole(part.file, options.maxFileBytes);
      // busboy stops a file at fileSize and marks it truncated: such a file is refused, never taken cut short.
      if (part.file.truncated) throw new httpErrors.PAYLOAD_TOO_LARGE(options.maxFileBytes);
      const total = (received.get(this) ?? 0) + file.length;
      if (total > options.maxBodyBytes) throw new httpErrors.PAYLOAD_TOO_LARGE(options.maxBodyBytes);
      received.set(this, total);
      (part as MultipartFile & { value: unknown }).value = file;
    },
  });
  fastify.addHook('preValidation', async function (request) {
    if (request.isMultipart())
      request.body = { instances: instancesOf((request.body ?? {}) as Record<string, unknown>) };
  });
}
