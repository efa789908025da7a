// What form a model gets, from its metadata alone (no model-specific code): one field per named feature, a canvas
// for an input that takes image files or a 4-D image input, one field per scalar input, or a JSON editor of its
// tensors; and valid example values.
import type { ModelInfo, TensorInfo } from './types.js';

export interface Field {
  /** The feature or input name the API uses (V1 instance keys, error details). */
  key: string;
  datatype: string;
}

export type Layout = 'NCHW' | 'NHWC';

export type Plan =
  /** A single [batch, n] input: one field per feature (named by the model, else by position). */
  | { kind: 'features'; input: TensorInfo; fields: Field[]; named: boolean }
  /** Several [batch, 1] inputs: one field per input. */
  | { kind: 'fields'; inputs: TensorInfo[]; fields: Field[] }
  /**
   * A single input that takes image files (content_type "image"): a drawing or a file, sent as it is, for the
   * server to resize. Height and width are the input's when the graph fixes them (the drawing's proportions), else 1.
   */
  | { kind: 'file'; input: TensorInfo; height: number; width: number }
  /** A single 4-D image input, [N, C, H, W] or [N, H, W, C] with 1, 3 or 4 channels of a fixed size. */
  | { kind: 'image'; input: TensorInfo; layout: Layout; channels: number; height: number; width: number }
  /** Anything else: the tensors themselves, batch included. */
  | { kind: 'json'; inputs: TensorInfo[] };

/** More fields than this make a wall, not a form: such inputs get the JSON editor. */
const MAX_FIELDS = 256;
const CHANNELS = [1, 3, 4];
const NUMERIC = /^(U?INT(8|16|32|64)|FP(16|32|64))$/;

const fixed = (d: number | undefined): d is number => d !== undefined && d > 0;

/** The image types the server decodes: media types (the file picker's), and their names for people. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];
export const IMAGE_TYPE_NAMES = 'JPEG, PNG, WebP, GIF';

/** Whether an input takes image files, which the server decodes and resizes as model.json declares. */
export const takesImageFiles = (input: TensorInfo): boolean => input.parameters?.content_type === 'image';

function imagePlan(input: TensorInfo): (Plan & { kind: 'image' }) | undefined {
  const [, a, b, c] = input.shape;
  if (input.shape.length !== 4 || !NUMERIC.test(input.datatype)) return undefined;
  if (fixed(a) && CHANNELS.includes(a) && fixed(b) && fixed(c)) {
    return { kind: 'image', input, layout: 'NCHW', channels: a, height: b, width: c };
  }
  if (fixed(c) && CHANNELS.includes(c) && fixed(a) && fixed(b)) {
    return { kind: 'image', input, layout: 'NHWC', channels: c, height: a, width: b };
  }
  return undefined;
}

export function planFor(model: ModelInfo): Plan {
  const { inputs } = model;
  const [first] = inputs;
  if (first && inputs.length === 1) {
    const width = first.shape[1];
    if (first.shape.length === 2 && fixed(width) && width <= MAX_FIELDS) {
      const named = model.features?.length === width;
      const keys = named
        ? (model.features ?? [])
        : Array.from({ length: width }, (_, i) => `${first.name}[${i}]`);
      return {
        kind: 'features',
        input: first,
        named,
        fields: keys.map((key) => ({ key, datatype: first.datatype })),
      };
    }
    const image = imagePlan(first);
    if (takesImageFiles(first)) {
      return { kind: 'file', input: first, height: image?.height ?? 1, width: image?.width ?? 1 };
    }
    if (image) return image;
  }
  if (
    inputs.length > 1 &&
    inputs.length <= MAX_FIELDS &&
    inputs.every((i) => i.shape.length === 2 && i.shape[1] === 1)
  ) {
    return { kind: 'fields', inputs, fields: inputs.map((i) => ({ key: i.name, datatype: i.datatype })) };
  }
  return { kind: 'json', inputs };
}

/** A value every input of this datatype accepts. */
export function exampleValue(datatype: string): number | string | boolean {
  if (datatype === 'BOOL') return false;
  if (datatype === 'BYTES') return '';
  return 0;
}

/** A tensor of the input's shape (dynamic dims as 1) filled with valid values, nested row-major. */
export function exampleTensor(input: TensorInfo): unknown {
  const fill = (d: number): unknown => {
    if (d === input.shape.length) return exampleValue(input.datatype);
    const size = input.shape[d] ?? 1;
    return Array.from({ length: size > 0 ? size : 1 }, () => fill(d + 1));
  };
  return fill(0);
}

/** The JSON editor's first content: every input's example tensor, by name. */
export function exampleTensors(inputs: readonly TensorInfo[]): Record<string, unknown> {
  return Object.fromEntries(inputs.map((i) => [i.name, exampleTensor(i)]));
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A field's text as the JSON value to send. What is not a number (or a boolean) is sent as the text it is, so that
 * the API, not the page, says what is wrong with it.
 */
export function parseValue(text: string, datatype: string): number | string | boolean {
  if (datatype === 'BYTES') return text;
  const trimmed = text.trim();
  if (datatype === 'BOOL') {
    if (trimmed === 'true' || trimmed === '1') return true;
    if (trimmed === 'false' || trimmed === '0') return false;
    return text;
  }
  return NUMBER.test(trimmed) ? Number(trimmed) : text;
}

/** A short description of a shape, e.g. "[-1, 1, 8, 8]". */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
