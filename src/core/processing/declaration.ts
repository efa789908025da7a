// How model.json declares that an input takes encoded images, and the plan each declaration resolves to against
// the graph at load: a declaration the graph contradicts fails the load, never a request.
import { Type, type Static } from 'typebox';
import type { DataType } from '../tensor/dtypes.js';
import type { TensorSpec } from '../tensor/tensor.js';

const Dim = Type.Integer({ minimum: 1, maximum: 16_384 });
const Channel = Type.Number({ minimum: -1e6, maximum: 1e6 });

export const ImageInputSchema = Type.Object(
  {
    width: Type.Optional(Dim),
    height: Type.Optional(Dim),
    channels: Type.Optional(
      Type.Union([Type.Literal(1), Type.Literal(3)], {
        description: '1: grey; 3: colour. Default: the graph’s channel dim, else 3.',
      }),
    ),
    colorOrder: Type.Optional(Type.Enum(['RGB', 'BGR'], { description: 'Default RGB.' })),
    layout: Type.Optional(Type.Enum(['NCHW', 'NHWC'], { description: 'Default NCHW.' })),
    resize: Type.Optional(
      Type.Enum(['fill', 'fit', 'crop'], {
        description:
          'fill: stretch to the size; fit: keep the aspect ratio, pad with the background; crop: keep it, cut the centre. Default fill.',
      }),
    ),
    kernel: Type.Optional(
      Type.Enum(['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'], {
        description: 'The resampling kernel. Default lanczos3.',
      }),
    ),
    background: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 255,
        description: 'The grey level transparent pixels and fit’s padding take. Default 0 (black).',
      }),
    ),
    scale: Type.Optional(
      Type.Number({
        minimum: -1e6,
        maximum: 1e6,
        description: 'Each 0-255 value is multiplied by it. Default 1/255.',
      }),
    ),
    mean: Type.Optional(
      Type.Array(Channel, { minItems: 1, maxItems: 3, description: 'Subtracted after scale, per channel.' }),
    ),
    std: Type.Optional(
      Type.Array(Channel, { minItems: 1, maxItems: 3, description: 'Divided by last, per channel.' }),
    ),
  },
  { additionalProperties: false },
);

export type ImageInput = Static<typeof ImageInputSchema>;

/** What may be declared for one input: an image, for now the one kind of encoded payload. */
export const InputDeclarationSchema = Type.Object(
  { image: ImageInputSchema },
  { additionalProperties: false },
);

export type InputDeclaration = Static<typeof InputDeclarationSchema>;

/** Datatypes an image becomes. */
const IMAGE_DATATYPES: readonly DataType[] = ['FP32', 'FP64', 'FP16', 'UINT8'];

/** A declaration resolved against its graph input: every choice made. */
export interface ImagePlan {
  input: string;
  datatype: DataType;
  width: number;
  height: number;
  channels: 1 | 3;
  colorOrder: 'RGB' | 'BGR';
  layout: 'NCHW' | 'NHWC';
  resize: 'fill' | 'fit' | 'crop';
  kernel: NonNullable<ImageInput['kernel']>;
  background: number;
  scale: number;
  mean: number[];
  std: number[];
}

const fixed = (dim: number | string | undefined) => (typeof dim === 'number' ? dim : undefined);

/** The image's channels: the declaration's, the graph's, or 3; they must agree, and images have 1 or 3. */
function channelsOf(
  field: string,
  layout: string,
  image: ImageInput,
  dim: number | string | undefined,
): 1 | 3 {
  const graphChannels = fixed(dim);
  if (graphChannels !== undefined && graphChannels !== 1 && graphChannels !== 3) {
    throw new Error(`${field}: the graph's channel dim (${layout}) is ${graphChannels}; images have 1 or 3`);
  }
  const channels = image.channels ?? graphChannels ?? 3;
  if (graphChannels !== undefined && channels !== graphChannels) {
    throw new Error(
      `${field}.channels is ${channels}, but the graph's channel dim (${layout}) is ${graphChannels}`,
    );
  }
  return channels;
}

/** The graph's input as an image input: a datatype an image becomes and rank 4; its C, H and W dims. */
function imageDims(field: string, name: string, spec: TensorSpec, layout: string) {
  if (spec.datatype === undefined || !IMAGE_DATATYPES.includes(spec.datatype)) {
    throw new Error(
      `${field}: input "${name}" is ${spec.type}; an image becomes ${IMAGE_DATATYPES.join(', ')}`,
    );
  }
  if (spec.shape.length !== 4) {
    throw new Error(
      `${field}: input "${name}" has rank ${spec.shape.length}; an image input is [batch, C, H, W] (NCHW) or [batch, H, W, C] (NHWC)`,
    );
  }
  const [, c, h, w] =
    layout === 'NCHW' ? spec.shape : [spec.shape[0], spec.shape[3], spec.shape[1], spec.shape[2]];
  return { datatype: spec.datatype, c, h, w };
}

/** The plan of one declared input; throws with the reason (naming the model.json field) when the graph disagrees. */
export function imagePlan(spec: TensorSpec | undefined, name: string, image: ImageInput): ImagePlan {
  const field = `model.json inputs.${name}.image`;
  if (spec === undefined) throw new Error(`${field}: the graph has no input "${name}"`);
  const layout = image.layout ?? 'NCHW';
  const { datatype, c, h, w } = imageDims(field, name, spec, layout);
  const resolve = (key: 'width' | 'height', dim: number | string | undefined): number => {
    const declared = image[key];
    const graph = fixed(dim);
    if (declared !== undefined && graph !== undefined && declared !== graph) {
      throw new Error(`${field}.${key} is ${declared}, but the graph's ${key} dim (${layout}) is ${graph}`);
    }
    const value = declared ?? graph;
    if (value === undefined) throw new Error(`${field}.${key} is needed: the graph's ${key} dim is dynamic`);
    return value;
  };
  const channels = channelsOf(field, layout, image, c);
  const perChannel = (key: 'mean' | 'std', fallback: number): number[] => {
    const values = image[key] ?? [fallback];
    if (values.length !== 1 && values.length !== channels) {
      throw new Error(`${field}.${key} has ${values.length} values; give 1 or ${channels} (one per channel)`);
    }
    return Array.from({ length: channels }, (_, i) => values[values.length === 1 ? 0 : i] as number);
  };
  const std = perChannel('std', 1);
  if (std.includes(0)) throw new Error(`${field}.std holds a 0: every value is divided by it`);
  return {
    input: name,
    datatype,
    width: resolve('width', w),
    height: resolve('height', h),
    channels,
    colorOrder: image.colorOrder ?? 'RGB',
    layout,
    resize: image.resize ?? 'fill',
    kernel: image.kernel ?? 'lanczos3',
    background: image.background ?? 0,
    scale: image.scale ?? 1 / 255,
    mean: perChannel('mean', 0),
    std,
  };
}

/** Every declared input's plan, by input name; undefined when the model declares none. */
export function imagePlans(
  inputs: readonly TensorSpec[],
  declared: Readonly<Record<string, InputDeclaration>> | undefined,
): ReadonlyMap<string, ImagePlan> | undefined {
  const entries = Object.entries(declared ?? {});
  if (entries.length === 0) return undefined;
  return new Map(
    entries.map(([name, d]) => [
      name,
      imagePlan(
        inputs.find((s) => s.name === name),
        name,
        d.image,
      ),
    ]),
  );
}
