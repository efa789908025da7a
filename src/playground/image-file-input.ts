// The image form of an input that takes image files (content_type "image"): a loaded file is sent as it is (its own
// bytes and type) and the drawing as a PNG of the pad; the server decodes and resizes either as model.json declares,
// so "fit" and "invert" shape the drawing only.
import { h, uid } from './dom.js';
import { DrawingPad } from './drawing.js';
import { IMAGE_TYPE_NAMES, IMAGE_TYPES, type Plan } from './plan.js';
import type { ImageFile } from './request.js';

const DRAWING = 'drawing.png';

function png(image: ImageData): Promise<Blob> {
  const canvas = h('canvas', { width: image.width, height: image.height });
  canvas.getContext('2d')?.putImageData(image, 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('the drawing could not be encoded'))),
      'image/png',
    ),
  );
}

export class ImageFileInput {
  readonly element: HTMLElement;
  readonly #pad: DrawingPad;
  readonly #fit: HTMLInputElement;
  readonly #invert: HTMLInputElement;
  readonly #picker: HTMLInputElement;
  readonly #preview: HTMLCanvasElement;
  readonly #caption: HTMLElement;
  /** The file chosen last, sent while nothing is drawn over it and the pad is not cleared. */
  #file: File | undefined;

  /** `onError` says what went wrong with a file, for the form to show. */
  constructor(plan: Plan & { kind: 'file' }, onError: (message: string) => void) {
    const pad = new DrawingPad(plan.height, plan.width, `Drawing area for ${plan.input.name}, sent as a PNG`);
    this.#pad = pad;
    const check = (label: string, checked: boolean) => {
      const input = h('input', { type: 'checkbox', checked });
      input.addEventListener('change', () => this.#refresh());
      return { input, label: h('label', { class: 'choice' }, input, label) };
    };
    const fit = check('Centre and scale the drawing to fill the frame', true);
    const invert = check('Invert the drawing (dark ink on light paper)', false);
    this.#fit = fit.input;
    this.#invert = invert.input;
    this.#preview = h('canvas', { class: 'preview preview-sent', role: 'img', 'aria-label': 'What is sent' });
    this.#caption = h('figcaption', {});
    pad.onChange = () => this.#refresh();
    pad.onEdit = () => this.#forget();
    const clear = h('button', { type: 'button' }, 'Clear');
    clear.addEventListener('click', () => {
      pad.clear();
      this.#forget();
    });
    const fileId = uid('file');
    this.#picker = h('input', { type: 'file', id: fileId, accept: IMAGE_TYPES.join(',') });
    this.#picker.addEventListener('change', () => {
      const chosen = this.#picker.files?.[0];
      if (!chosen) return;
      this.#file = chosen;
      this.#refresh();
      // Shown on the pad for people; the request carries the file itself, even one the browser cannot show.
      pad.load(chosen).catch(() => onError('the browser cannot show this file; it is sent as it is'));
    });
    this.#refresh();
    this.element = h(
      'div',
      { class: 'image-input' },
      pad.element,
      h(
        'div',
        { class: 'image-controls' },
        clear,
        h(
          'p',
          {},
          h('label', { for: fileId }, `Or load an image file, sent as it is (${IMAGE_TYPE_NAMES})`),
          this.#picker,
        ),
        fit.label,
        invert.label,
        h('figure', { class: 'preview-figure' }, this.#preview, this.#caption),
      ),
    );
  }

  /** Back to the drawing: the file is no longer what is sent. */
  #forget(): void {
    if (this.#file === undefined) return;
    this.#file = undefined;
    this.#picker.value = '';
    this.#refresh();
  }

  #options(): { fit: boolean; invert: boolean } {
    return { fit: this.#fit.checked, invert: this.#invert.checked };
  }

  #refresh(): void {
    const file = this.#file;
    this.#fit.disabled = this.#invert.disabled = file !== undefined;
    const picture = this.#pad.picture(file ? { fit: false, invert: false } : this.#options());
    this.#preview.width = picture.width;
    this.#preview.height = picture.height;
    this.#preview.getContext('2d')?.putImageData(picture, 0, 0);
    this.#caption.textContent = file
      ? `Sent as it is: ${file.name} (${file.type || 'no type'}, ${file.size} bytes); the server resizes it`
      : `Sent: the drawing, as a ${picture.width}×${picture.height} PNG; the server resizes it`;
  }

  /** What the request carries: the chosen file's own bytes, or the drawing as a PNG. */
  async file(): Promise<ImageFile> {
    const file = this.#file;
    if (file) {
      const type = file.type === '' ? 'application/octet-stream' : file.type;
      return { name: file.name, type, bytes: new Uint8Array(await file.arrayBuffer()) };
    }
    const blob = await png(this.#pad.picture(this.#options()));
    return { name: DRAWING, type: 'image/png', bytes: new Uint8Array(await blob.arrayBuffer()) };
  }
}
