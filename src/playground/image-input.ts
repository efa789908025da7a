// The image form: a drawing pad with Clear, an image file to load, "fit" and "invert", and a preview of the
// picture at the input's size; read as the input's values in its own layout (CHW or HWC) and datatype.
import { h, uid } from './dom.js';
import { DrawingPad, drawPreview, type Pixels } from './drawing.js';
import type { Plan } from './plan.js';

type ImagePlan = Plan & { kind: 'image' };

/** Pixels (H, W, C interleaved, 0..1) as the input's values: 0..255 for integer inputs, else 0..1. */
export function imageValues(pixels: Pixels, plan: ImagePlan): number[] {
  const { height, width, channels, values } = pixels;
  const integer = /INT/.test(plan.input.datatype);
  const value = (v: number) => (integer ? Math.round(v * 255) : Math.round(v * 10_000) / 10_000);
  const out: number[] = [];
  if (plan.layout === 'NHWC') for (const v of values) out.push(value(v));
  else {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < height * width; p++) out.push(value(values[p * channels + c] ?? 0));
    }
  }
  return out;
}

export class ImageInput {
  readonly element: HTMLElement;
  readonly #plan: ImagePlan;
  readonly #pad: DrawingPad;
  readonly #fit: HTMLInputElement;
  readonly #invert: HTMLInputElement;

  /** `onError` says what went wrong with a file, for the form to show. */
  constructor(plan: ImagePlan, onError: (message: string) => void) {
    const { height, width, channels } = plan;
    this.#plan = plan;
    const pad = new DrawingPad(
      height,
      width,
      `Drawing area for ${plan.input.name}, read as ${width}×${height} pixels`,
    );
    this.#pad = pad;
    const check = (label: string, checked: boolean) => {
      const input = h('input', { type: 'checkbox', checked });
      return { input, label: h('label', { class: 'choice' }, input, label) };
    };
    const fit = check('Centre and scale the drawing to fill the frame', true);
    const invert = check('Invert (dark ink on light paper)', false);
    this.#fit = fit.input;
    this.#invert = invert.input;
    const preview = h('canvas', {
      class: 'preview',
      width,
      height,
      role: 'img',
      'aria-label': `What the model sees: ${width}×${height}`,
    });
    const refresh = () => drawPreview(preview, this.#read());
    pad.onChange = refresh;
    fit.input.addEventListener('change', refresh);
    invert.input.addEventListener('change', refresh);
    const clear = h('button', { type: 'button' }, 'Clear');
    clear.addEventListener('click', () => pad.clear());
    const fileId = uid('file');
    const file = h('input', { type: 'file', id: fileId, accept: 'image/*' });
    file.addEventListener('change', () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      fit.input.checked = false;
      pad.load(chosen).catch(() => onError('this file is not an image the browser can read'));
    });
    refresh();
    const caption = `What the model sees (${width}×${height}${channels === 1 ? ', grey' : ''})`;
    this.element = h(
      'div',
      { class: 'image-input' },
      pad.element,
      h(
        'div',
        { class: 'image-controls' },
        clear,
        h('p', {}, h('label', { for: fileId }, 'Or load an image file (scaled to fit)'), file),
        fit.label,
        invert.label,
        h('figure', { class: 'preview-figure' }, preview, h('figcaption', {}, caption)),
      ),
    );
  }

  #read(): Pixels {
    return this.#pad.read(this.#plan.channels, { fit: this.#fit.checked, invert: this.#invert.checked });
  }

  /** One image's values, flat in the input's layout. */
  values(): number[] {
    return imageValues(this.#read(), this.#plan);
  }
}
