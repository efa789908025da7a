// The image requests of `npm run bench`: a 224 × 224 photo to a model whose input declares image processing
// (ImageNet's mean and std, as a torchvision classifier takes it), sent as its JPEG file against the FP32 tensor a
// client would have made of it. The model is the large fixture (the mean over H and W), so that the run costs
// little and what is measured is the request's way in: bytes on the wire, decoding, layout.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ServerContext } from './servers.js';

export const IMAGE_SIDE = 224;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** A repository with the model `photo`: the large fixture's graph, its input declared as a 224 × 224 RGB image. */
export function imageRepository(ctx: ServerContext): string {
  const repo = join(ctx.runDir, 'image-models');
  const version = join(repo, 'photo', '1');
  mkdirSync(version, { recursive: true });
  symlinkSync(join(ctx.root, 'test/fixtures/models/large/1/model.onnx'), join(version, 'model.onnx'));
  const image = { channels: 3, resize: 'crop', mean: MEAN, std: STD };
  writeFileSync(
    join(version, 'model.json'),
    JSON.stringify({ inputs: { image: { image } } }, null, 2) + '\n',
  );
  return repo;
}

/** A deterministic photo-like picture (smooth shapes and a little grain), as JPEG at quality 90. */
async function photoJpeg(): Promise<Buffer> {
  const side = IMAGE_SIDE;
  const pixels = Buffer.alloc(side * side * 3);
  let seed = 12345;
  const grain = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24) / 8 - 16;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const disc = (x - 90) ** 2 + (y - 120) ** 2 < 60 ** 2;
      const rgb = disc ? [200, 60 + y / 4, 40] : [40 + x / 2, 90 + y / 3, 160 - x / 4];
      for (let c = 0; c < 3; c++)
        pixels[(y * side + x) * 3 + c] = Math.max(0, Math.min(255, (rgb[c] ?? 0) + grain()));
    }
  }
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** The tensor a client makes of the JPEG: decoded, scaled to 0..1, normalized, NCHW FP32 [1, 3, 224, 224]. */
async function clientTensor(jpeg: Buffer): Promise<Float32Array> {
  const { data } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const area = IMAGE_SIDE * IMAGE_SIDE;
  const tensor = new Float32Array(3 * area);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < area; p++)
      tensor[c * area + p] = ((data[p * 3 + c] ?? 0) / 255 - (MEAN[c] ?? 0)) / (STD[c] ?? 1);
  }
  return tensor;
}

export interface Photo {
  jpeg: Buffer;
  tensor: Float32Array;
  /** The JPEG as one BYTES element (its 4-byte length first), for V2 binary and gRPC raw contents. */
  element: Buffer;
}

export async function photo(): Promise<Photo> {
  const jpeg = await photoJpeg();
  const length = Buffer.alloc(4);
  length.writeUInt32LE(jpeg.length);
  return { jpeg, tensor: await clientTensor(jpeg), element: Buffer.concat([length, jpeg]) };
}
