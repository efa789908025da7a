// One encoded image to the pixels its plan asks for, with sharp (libvips, on libuv's threads: off the event loop):
// the format sniffed first (JPEG, PNG, WebP, GIF only), the pixel limit checked from the header before decoding,
// the EXIF orientation applied, alpha flattened, resized and converted to grey or sRGB.
import sharp, { type OutputInfo } from 'sharp';
import type { ImagePlan } from './declaration.js';

// No cache of decoded inputs in a server, and one libvips thread per image: concurrency is the caller's bound.
sharp.cache(false);
sharp.concurrency(1);

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

/** An image that cannot be taken, and why, in words that follow "input "x" row 3 ". */
export class ImageRefused extends Error {
  override name = 'ImageRefused';
}

/** The format from the file's first bytes: a payload that is none of the four is refused before libvips sees it. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const at = (i: number, ...values: number[]) => values.every((v, k) => bytes[i + k] === v);
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0x47, 0x49, 0x46, 0x38) && (at(4, 0x37, 0x61) || at(4, 0x39, 0x61))) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return undefined;
}

const FIT = { fill: 'fill', fit: 'contain', crop: 'cover' } as const;

/** The image's pixels, row-major with interleaved channels (HWC), as 0-255 bytes of `plan.channels` channels. */
export async function decodeImage(bytes: Uint8Array, plan: ImagePlan, maxPixels: number): Promise<Buffer> {
  const format = sniffFormat(bytes);
  if (format === undefined) throw new ImageRefused('is not a JPEG, PNG, WebP or GIF image');
  const grey = { r: plan.background, g: plan.background, b: plan.background };
  let image = sharp(bytes, { limitInputPixels: maxPixels, pages: 1 })
    .rotate()
    .flatten({ background: grey })
    .resize(plan.width, plan.height, { fit: FIT[plan.resize], kernel: plan.kernel, background: grey });
  image = plan.channels === 1 ? image.grayscale() : image.toColourspace('srgb');
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await image.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/pixel limit/i.test(message)) {
      throw new ImageRefused(`is larger than ${maxPixels} pixels (imageMaxPixels): not decoded`);
    }
    throw new ImageRefused(
      `is not a whole ${format.toUpperCase()} image (${message.split('\n')[0]?.slice(0, 120)})`,
    );
  }
  const { data, info } = decoded;
  if (info.channels === plan.channels) return data;
  // libvips keeps an extra band in a few cases (a grey image asked for sRGB); take the ones the plan needs.
  const out = Buffer.alloc(info.width * info.height * plan.channels);
  for (let p = 0; p < info.width * info.height; p++) {
    for (let c = 0; c < plan.channels; c++)
      out[p * plan.channels + c] = data[p * info.channels + Math.min(c, info.channels - 1)] as number;
  }
  return out;
}
