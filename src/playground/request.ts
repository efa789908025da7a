// One request, as the form gathered it, in both protocols: V1 (:predict, instances or columnar inputs, or an image
// file as the body) and V2 (/infer, OIP JSON tensors, a file as base64 BYTES); and where in the form an error the API
// answered belongs.
import { exampleTensors, exampleValue, type Plan } from './plan.js';
import type { TensorInfo } from './types.js';

export type Value = number | string | boolean;

/** An image file as the page sends it: the bytes it was given (or the drawing's PNG), never re-encoded. */
export interface ImageFile {
  /** What the code snippets call it on disk. */
  name: string;
  /** Its media type, the Content-Type of a V1 file body: image/png, image/jpeg... */
  type: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export type Payload =
  /** Rows of values, one per column; columns are the plan's field keys or a CSV header. */
  | { kind: 'rows'; columns: string[]; rows: Value[][] }
  /** Images, each flat in the input's own layout (C, H, W or H, W, C). */
  | { kind: 'images'; images: number[][] }
  /** Tensors by input name, batch included (the JSON editor). */
  | { kind: 'tensors'; tensors: Record<string, unknown> }
  /** One image file for an input that takes files. */
  | { kind: 'file'; file: ImageFile };

export type Protocol = 'v1' | 'v2';

export interface Call {
  path: string;
  /** The JSON body; undefined when the file is the body. */
  body?: unknown;
  /** The image file the request carries: as the body (V1), or as base64 in the JSON (V2). */
  file?: ImageFile;
}

export interface Prepared {
  v1: Call;
  v2: Call;
  /** How many instances (rows) the request carries. */
  count: number;
}

const segment = (name: string) => encodeURIComponent(name);

export function v1Path(model: string, version?: string): string {
  return version === undefined
    ? `/v1/models/${segment(model)}:predict`
    : `/v1/models/${segment(model)}/versions/${segment(version)}:predict`;
}

export function v2Path(model: string, version?: string): string {
  return version === undefined
    ? `/v2/models/${segment(model)}/infer`
    : `/v2/models/${segment(model)}/versions/${segment(version)}/infer`;
}

/** Nested arrays of the given dims from flat values, row-major. */
export function nest(flat: readonly unknown[], dims: readonly number[]): unknown {
  let offset = 0;
  const build = (d: number): unknown => {
    if (d === dims.length) return flat[offset++];
    return Array.from({ length: dims[d] ?? 0 }, () => build(d + 1));
  };
  return build(0);
}

/** The shape of nested arrays (following first elements) and their values flat, row-major. */
export function shapeAndData(value: unknown): { shape: number[]; data: unknown[] } {
  const shape: number[] = [];
  for (let level = value; Array.isArray(level); level = level[0] as unknown) shape.push(level.length);
  const data = Array.isArray(value) ? (value as unknown[]).flat(Infinity) : [value];
  return { shape, data };
}

function datatypeOf(value: unknown): string {
  if (typeof value === 'string') return 'BYTES';
  if (typeof value === 'boolean') return 'BOOL';
  return 'FP32';
}

function rowsRequest(plan: Plan & { kind: 'features' | 'fields' }, payload: Payload & { kind: 'rows' }) {
  const { columns, rows } = payload;
  const keys = plan.fields.map((f) => f.key);
  // V2 data follows the model's order; a column the rows lack is sent as null, for the API to name.
  const at = keys.map((key) => columns.indexOf(key));
  const ordered = rows.map((row) => at.map((i) => (i === -1 ? null : row[i])));
  if (plan.kind === 'features') {
    const instances = rows.map((row) =>
      plan.named ? Object.fromEntries(columns.map((c, i) => [c, row[i]])) : row,
    );
    const input = plan.input;
    return {
      instances,
      inputs: [
        {
          name: input.name,
          shape: [rows.length, keys.length],
          datatype: input.datatype,
          data: ordered.flat(),
        },
      ],
    };
  }
  const instances = rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, [row[i]]])));
  const inputs = plan.inputs.map((input, i) => ({
    name: input.name,
    shape: [rows.length, 1],
    datatype: input.datatype,
    data: ordered.map((row) => row[i]),
  }));
  return { instances, inputs };
}

function imagesRequest(plan: Plan & { kind: 'image' }, images: number[][]) {
  const { channels, height, width, layout, input } = plan;
  const dims = layout === 'NCHW' ? [channels, height, width] : [height, width, channels];
  return {
    instances: images.map((image) => nest(image, dims)),
    inputs: [
      { name: input.name, shape: [images.length, ...dims], datatype: input.datatype, data: images.flat() },
    ],
  };
}

/** Bytes as base64 text (RFC 4648, padded), in the browser as in Node. */
export function toBase64(bytes: Uint8Array): string {
  // String.fromCharCode takes its arguments on the stack: a chunk at a time.
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** A file as a V2 input: one BYTES element, base64 (MLServer's content type). */
function fileInput(plan: Plan & { kind: 'file' }, file: ImageFile) {
  return {
    name: plan.input.name,
    shape: [1],
    datatype: 'BYTES',
    parameters: { content_type: 'base64' },
    data: [toBase64(file.bytes)],
  };
}

function tensorInputs(inputs: readonly TensorInfo[], tensors: Record<string, unknown>) {
  return Object.entries(tensors).map(([name, tensor]) => {
    const { shape, data } = shapeAndData(tensor);
    const datatype = inputs.find((i) => i.name === name)?.datatype ?? datatypeOf(data[0]);
    return { name, shape, datatype, data };
  });
}

/** The same request for both protocols, for the default version when `version` is undefined. */
export function prepare(plan: Plan, payload: Payload, model: string, version?: string): Prepared {
  const v1 = (body: unknown) => ({ path: v1Path(model, version), body });
  const v2 = (inputs: unknown[]) => ({ path: v2Path(model, version), body: { inputs } });
  if (payload.kind === 'tensors') {
    const inputs = tensorInputs(plan.kind === 'json' ? plan.inputs : [], payload.tensors);
    return { v1: v1({ inputs: payload.tensors }), v2: v2(inputs), count: inputs[0]?.shape[0] ?? 0 };
  }
  if (payload.kind === 'file' && plan.kind === 'file') {
    const { file } = payload;
    // V1 sends the file as the body, with its own Content-Type.
    return {
      v1: { path: v1Path(model, version), file },
      v2: { ...v2([fileInput(plan, file)]), file },
      count: 1,
    };
  }
  if (payload.kind === 'images' && plan.kind === 'image') {
    const { instances, inputs } = imagesRequest(plan, payload.images);
    return { v1: v1({ instances }), v2: v2(inputs), count: instances.length };
  }
  if (payload.kind === 'rows' && (plan.kind === 'features' || plan.kind === 'fields')) {
    const { instances, inputs } = rowsRequest(plan, payload);
    return { v1: v1({ instances }), v2: v2(inputs), count: instances.length };
  }
  throw new Error(`a ${payload.kind} payload does not fit a ${plan.kind} form`);
}

/** A black pixel, as a PNG. */
const BLACK_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

/** What the form holds before anyone types: valid values of each input's datatype, a black image. */
export function examplePayload(plan: Plan): Payload {
  if (plan.kind === 'file') {
    const bytes = Uint8Array.from(atob(BLACK_PNG), (c) => c.charCodeAt(0));
    return { kind: 'file', file: { name: 'black.png', type: 'image/png', bytes } };
  }
  if (plan.kind === 'features' || plan.kind === 'fields') {
    const columns = plan.fields.map((f) => f.key);
    return { kind: 'rows', columns, rows: [plan.fields.map((f) => exampleValue(f.datatype))] };
  }
  if (plan.kind === 'image') {
    return { kind: 'images', images: [new Array<number>(plan.channels * plan.height * plan.width).fill(0)] };
  }
  return { kind: 'tensors', tensors: exampleTensors(plan.inputs) };
}

/** Where an error belongs: the instance (row) and the field key, from the envelope's details. */
export interface Where {
  row?: number;
  field?: string;
}

const integer = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) ? v : undefined;

export function locate(plan: Plan, details: Record<string, unknown> | undefined): Where {
  if (!details) return {};
  const keys = plan.kind === 'features' || plan.kind === 'fields' ? plan.fields.map((f) => f.key) : [];
  const known = (v: unknown) => (typeof v === 'string' && keys.includes(v) ? v : undefined);
  const index = Array.isArray(details.index) ? (details.index as unknown[]) : [];
  const listed = (v: unknown) => (Array.isArray(v) ? known(v[0]) : undefined);
  // V1 names the instance; V2 (and V1 columnar) the input and the element's index, the row first.
  const row = integer(details.instance) ?? (details.instance === undefined ? integer(index[0]) : undefined);
  let field =
    known(details.field) ?? known(details.input) ?? listed(details.missing) ?? listed(details.unknown);
  if (field === undefined && plan.kind === 'features' && details.instance === undefined) {
    const column = integer(index[1]);
    field = column === undefined ? undefined : keys[column];
  }
  return { ...(row === undefined ? {} : { row }), ...(field === undefined ? {} : { field }) };
}
