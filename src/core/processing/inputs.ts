// Encoded payloads to tensors, in the core's pipeline: for each input a model declares as an image, the files a
// request carries (one per row, as BYTES elements) are decoded within bounds (bytes, pixels, concurrent decodes,
// waiting decodes) and laid out as the tensor the graph takes. A tensor sent for such an input passes as it is.
import pLimit, { type LimitFunction } from 'p-limit';
import { errors, excerpt, withExtras } from '../errors.js';
import type { ReadyModel } from '../models/repository.js';
import { allocate } from '../tensor/dtypes.js';
import { bytesElements, formatShape, type WireTensor } from '../tensor/decode.js';
import type { ImagePlan } from './declaration.js';
import { decodeImage, ImageRefused } from './image.js';
import { rowDims, rowSize, writeRow } from './layout.js';

export interface ProcessingLimits {
  /** Largest encoded image (imageMaxBytes). */
  maxBytes: number;
  /** Most pixels an image may declare (imageMaxPixels). */
  maxPixels: number;
  /** Images decoded at once (inferenceThreads). */
  concurrency: number;
  /** Images that may wait for a decoder (inferenceQueueSize); beyond it the request is refused with 503. */
  queue: number;
}

function invalid(message: string, input: string, row?: number): Error {
  return withExtras(new errors.INVALID_INPUT(message), {
    details: { input: excerpt(input, 64), ...(row === undefined ? {} : { row }) },
  });
}

/** The encoded files of one input, one per row; each checked for its size. */
function payloadsOf(tensor: WireTensor, maxRows: number, maxBytes: number): Uint8Array[] {
  const { shape } = tensor;
  const name = excerpt(tensor.name, 64);
  const rows = shape[0];
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1)) || !Number.isSafeInteger(rows)) {
    throw invalid(
      `input "${name}" takes one encoded image per row: BYTES of shape [n] or [n, 1], not ${formatShape(shape.slice(0, 8))}`,
      tensor.name,
    );
  }
  const n = rows as number;
  if (n < 1 || n > maxRows) {
    throw invalid(`input "${name}" has ${n} rows; from 1 to ${maxRows} are allowed`, tensor.name);
  }
  let elements: unknown[];
  if ('bytes' in tensor.data) elements = bytesElements(tensor.data.bytes, n, name);
  else {
    const values = tensor.data.values;
    elements = Array.isArray(values) ? (shape.length === 2 ? values.flat(1) : values) : [];
    if (elements.length !== n) {
      throw invalid(
        `input "${name}" has ${elements.length} elements for ${n} rows: one image per row`,
        tensor.name,
      );
    }
  }
  return elements.map((element, row) => {
    if (typeof element === 'string') {
      throw invalid(
        `input "${name}" row ${row} is text, not an encoded image: send the file's bytes (V2 binary, gRPC), base64 with ` +
          `parameters.content_type "base64" (V2 JSON) or {"b64": ...} (V1)`,
        tensor.name,
        row,
      );
    }
    if (!(element instanceof Uint8Array))
      throw invalid(`input "${name}" row ${row} is not an encoded image`, tensor.name, row);
    if (element.length === 0) throw invalid(`input "${name}" row ${row} is empty`, tensor.name, row);
    if (element.length > maxBytes) {
      throw invalid(
        `input "${name}" row ${row} has ${element.length} bytes; at most ${maxBytes} are taken (imageMaxBytes)`,
        tensor.name,
        row,
      );
    }
    return element;
  });
}

export class InputProcessor {
  #limits: ProcessingLimits;
  #decoders: LimitFunction;

  constructor(limits: ProcessingLimits) {
    this.#limits = limits;
    this.#decoders = pLimit(limits.concurrency);
  }

  /** The request's tensors with every encoded payload for a declared input replaced by the tensor it becomes. */
  async process(model: ReadyModel, tensors: readonly WireTensor[], maxRows: number): Promise<WireTensor[]> {
    const plans = model.signature.images;
    return Promise.all(
      tensors.map((tensor) => {
        const plan = plans?.get(tensor.name);
        return plan !== undefined && tensor.datatype === 'BYTES'
          ? this.#images(tensor, plan, maxRows)
          : Promise.resolve(tensor);
      }),
    );
  }

  async #images(tensor: WireTensor, plan: ImagePlan, maxRows: number): Promise<WireTensor> {
    const payloads = payloadsOf(tensor, maxRows, this.#limits.maxBytes);
    const size = rowSize(plan);
    const target = allocate(plan.datatype as Exclude<ImagePlan['datatype'], 'BYTES'>, payloads.length * size);
    await Promise.all(
      payloads.map(async (payload, row) => {
        const pixels = await this.#decode(payload, plan, row);
        writeRow(pixels, plan, target, row * size);
      }),
    );
    const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
    return {
      name: tensor.name,
      datatype: plan.datatype,
      shape: [payloads.length, ...rowDims(plan)],
      data: { bytes },
    };
  }

  #decode(payload: Uint8Array, plan: ImagePlan, row: number): Promise<Buffer> {
    const decoders = this.#decoders;
    if (decoders.activeCount >= decoders.concurrency && decoders.pendingCount >= this.#limits.queue) {
      throw withExtras(new errors.OVERLOADED('every image decoder is busy and the queue is full'), {
        retryAfter: 1,
      });
    }
    return decoders(() => decodeImage(payload, plan, this.#limits.maxPixels)).catch((err: unknown) => {
      if (err instanceof ImageRefused)
        throw invalid(`input "${excerpt(plan.input, 64)}" row ${row} ${err.message}`, plan.input, row);
      throw err;
    });
  }
}
