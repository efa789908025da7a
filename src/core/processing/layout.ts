// Decoded pixels (HWC, 0-255) into one row of the tensor an image input takes: channel order, layout, scale, mean
// and standard deviation, and the datatype, as the plan says.
import { toHalf, type NumericArray } from '../tensor/dtypes.js';
import type { ImagePlan } from './declaration.js';

/** Elements of one row (one image) of the plan's tensor. */
export function rowSize(plan: ImagePlan): number {
  return plan.width * plan.height * plan.channels;
}

/** The row's dims without the batch: [C, H, W] or [H, W, C]. */
export function rowDims(plan: ImagePlan): number[] {
  const { channels: c, height: h, width: w } = plan;
  return plan.layout === 'NCHW' ? [c, h, w] : [h, w, c];
}

/** Writes the pixels of one image into `target` from `offset` (row `offset / rowSize`). */
export function writeRow(pixels: Uint8Array, plan: ImagePlan, target: NumericArray, offset: number): void {
  const { channels, width, height, scale, mean, std } = plan;
  const area = width * height;
  const bgr = plan.colorOrder === 'BGR' && channels === 3;
  const nchw = plan.layout === 'NCHW';
  const round = plan.datatype === 'UINT8';
  const half = plan.datatype === 'FP16';
  for (let c = 0; c < channels; c++) {
    // BGR models see the blue channel first.
    const source = bgr ? channels - 1 - c : c;
    const m = mean[c] as number;
    const s = std[c] as number;
    for (let p = 0; p < area; p++) {
      let value = ((pixels[p * channels + source] as number) * scale - m) / s;
      if (round) value = Math.min(255, Math.max(0, Math.round(value)));
      else if (half) value = toHalf(value);
      (target as Float32Array)[offset + (nchw ? c * area + p : p * channels + c)] = value;
    }
  }
}
