// A canvas to draw on (pointer or keyboard) or to load an image into, read at the model's input size with area
// averaging, as the model sees it, or taken whole as a picture to send: white strokes on black are 1 on 0, like
// scikit-learn's digits.
import { h, uid } from './dom.js';

/** Drawing happens on a canvas this many times the input's size (at least 256 px on its longer side). */
const MIN_SIDE = 256;
/** The pen's width as a share of the canvas's shorter side: thick strokes, like the digits the models learned. */
const PEN = 0.16;
/** A drawing is fitted to the frame leaving this share free on each side. */
const MARGIN = 0.04;

export interface Pixels {
  /** Row-major, channels interleaved (H, W, C), 0..1. */
  values: Float32Array;
  height: number;
  width: number;
  channels: number;
}

export class DrawingPad {
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #height: number;
  readonly #width: number;
  #drawing = false;
  #pen: { x: number; y: number };
  #penDown = false;
  /** Drawn by hand (fit to the frame), rather than loaded from a file. */
  #drawn = false;
  onChange: (() => void) | null = null;
  /** Called when someone draws on the pad or clears it with its Delete key (not on `clear()` or `load()`). */
  onEdit: (() => void) | null = null;

  constructor(height: number, width: number, label: string) {
    const scale = Math.max(1, Math.ceil(MIN_SIDE / Math.max(height, width)));
    this.#height = height;
    this.#width = width;
    const hint = uid('pad-hint');
    this.canvas = h('canvas', {
      class: 'pad',
      width: width * scale,
      height: height * scale,
      tabindex: 0,
      role: 'img',
      'aria-label': label,
      'aria-describedby': hint,
    });
    const context = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('this browser has no 2D canvas');
    this.#context = context;
    this.#pen = { x: this.canvas.width / 2, y: this.canvas.height / 2 };
    this.element = h(
      'div',
      { class: 'pad-frame' },
      this.canvas,
      h(
        'p',
        { class: 'hint', id: hint },
        'Draw with a mouse, finger or pen; or with the keyboard: arrows move the pen, Space lifts or lowers it, Delete clears.',
      ),
    );
    this.clear();
    this.#listen();
  }

  clear(): void {
    const c = this.#context;
    c.fillStyle = '#000';
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.#drawn = false;
    this.onChange?.();
  }

  #point(event: PointerEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) / box.width) * this.canvas.width,
      y: ((event.clientY - box.top) / box.height) * this.canvas.height,
    };
  }

  #stroke(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const c = this.#context;
    c.strokeStyle = '#fff';
    c.lineWidth = PEN * Math.min(this.canvas.width, this.canvas.height);
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
    this.#drawn = true;
    this.onEdit?.();
  }

  #listen(): void {
    const canvas = this.canvas;
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture(event.pointerId);
      this.#drawing = true;
      this.#pen = this.#point(event);
      this.#stroke(this.#pen, this.#pen);
      event.preventDefault();
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.#drawing) return;
      const next = this.#point(event);
      this.#stroke(this.#pen, next);
      this.#pen = next;
    });
    const end = () => {
      if (this.#drawing) this.onChange?.();
      this.#drawing = false;
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    canvas.addEventListener('keydown', (event) => this.#key(event));
  }

  #key(event: KeyboardEvent): void {
    const step = Math.min(this.canvas.width, this.canvas.height) / 16;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [0, -step],
      ArrowDown: [0, step],
      ArrowLeft: [-step, 0],
      ArrowRight: [step, 0],
    };
    const move = moves[event.key];
    if (move) {
      const next = {
        x: Math.min(this.canvas.width, Math.max(0, this.#pen.x + move[0])),
        y: Math.min(this.canvas.height, Math.max(0, this.#pen.y + move[1])),
      };
      if (this.#penDown) this.#stroke(this.#pen, next);
      this.#pen = next;
    } else if (event.key === ' ') {
      this.#penDown = !this.#penDown;
      if (this.#penDown) this.#stroke(this.#pen, this.#pen);
    } else if (event.key === 'Delete' || event.key === 'Backspace') {
      this.clear();
      this.onEdit?.();
    } else return;
    event.preventDefault();
    this.onChange?.();
  }

  /** Draws an image file onto the canvas, scaled to fit (contain), on black. */
  async load(file: Blob): Promise<void> {
    const bitmap = await createImageBitmap(file);
    const { width, height } = this.canvas;
    const scale = Math.min(width / bitmap.width, height / bitmap.height);
    const [w, h2] = [bitmap.width * scale, bitmap.height * scale];
    this.clear();
    this.#context.drawImage(bitmap, (width - w) / 2, (height - h2) / 2, w, h2);
    bitmap.close();
    this.onChange?.();
  }

  /** The ink's bounding box (any channel above 10%), or undefined for an empty canvas. */
  #inkBox(data: Uint8ClampedArray): { x: number; y: number; w: number; h: number } | undefined {
    const { width, height } = this.canvas;
    let [x0, y0, x1, y1] = [width, height, -1, -1];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        if (Math.max(data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0) > 25) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x);
          y1 = Math.max(y1, y);
        }
      }
    }
    return x1 < 0 ? undefined : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
  }

  /** The canvas, with a hand drawing centred and scaled to fill the frame (as the digits were prepared). */
  #source(fit: boolean): ImageData {
    const { width, height } = this.canvas;
    const image = this.#context.getImageData(0, 0, width, height);
    const box = fit && this.#drawn ? this.#inkBox(image.data) : undefined;
    if (!box) return image;
    const scale = Math.min((width * (1 - 2 * MARGIN)) / box.w, (height * (1 - 2 * MARGIN)) / box.h);
    const scratch = h('canvas', { width, height });
    const c = scratch.getContext('2d', { willReadFrequently: true });
    if (!c) return image;
    c.fillStyle = '#000';
    c.fillRect(0, 0, width, height);
    c.imageSmoothingQuality = 'high';
    const [w, hh] = [box.w * scale, box.h * scale];
    c.drawImage(this.canvas, box.x, box.y, box.w, box.h, (width - w) / 2, (height - hh) / 2, w, hh);
    return c.getImageData(0, 0, width, height);
  }

  /** The whole canvas as it would be sent: a drawing centred and scaled (`fit`), its colours inverted (`invert`). */
  picture(options: { fit: boolean; invert: boolean }): ImageData {
    const image = this.#source(options.fit);
    if (options.invert) {
      const data = image.data;
      for (let i = 0; i < data.length; i++) if (i % 4 !== 3) data[i] = 255 - (data[i] ?? 0);
    }
    return image;
  }

  /** The picture at the input's size: each pixel the mean of its block of canvas pixels (area averaging). */
  read(channels: number, options: { fit: boolean; invert: boolean }): Pixels {
    const image = this.#source(options.fit);
    const [H, W, C] = [this.#height, this.#width, channels];
    const bx = image.width / W;
    const by = image.height / H;
    const values = new Float32Array(H * W * C);
    for (let r = 0; r < H; r++) {
      for (let col = 0; col < W; col++) {
        const sums = [0, 0, 0, 0];
        let n = 0;
        for (let y = Math.floor(r * by); y < Math.floor((r + 1) * by); y++) {
          for (let x = Math.floor(col * bx); x < Math.floor((col + 1) * bx); x++) {
            const i = (y * image.width + x) * 4;
            for (let k = 0; k < 4; k++) sums[k] = (sums[k] ?? 0) + (image.data[i + k] ?? 0);
            n++;
          }
        }
        const [red = 0, green = 0, blue = 0, alpha = 0] = sums.map((s) => s / Math.max(n, 1) / 255);
        const channels =
          C === 1 ? [0.299 * red + 0.587 * green + 0.114 * blue] : [red, green, blue, alpha].slice(0, C);
        channels.forEach((v, k) => {
          values[(r * W + col) * C + k] = options.invert && k < 3 ? 1 - v : v;
        });
      }
    }
    return { values, height: H, width: W, channels: C };
  }
}

/** The picture as the model sees it, drawn on a small canvas that CSS enlarges with square pixels. */
export function drawPreview(canvas: HTMLCanvasElement, pixels: Pixels): void {
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  const c = canvas.getContext('2d');
  if (!c) return;
  const image = c.createImageData(pixels.width, pixels.height);
  const { values, channels } = pixels;
  for (let p = 0; p < pixels.width * pixels.height; p++) {
    const [r, g, b] =
      channels === 1
        ? [values[p], values[p], values[p]]
        : [values[p * channels], values[p * channels + 1], values[p * channels + 2]];
    image.data.set([(r ?? 0) * 255, (g ?? 0) * 255, (b ?? 0) * 255, 255], p * 4);
  }
  c.putImageData(image, 0, 0);
}
