// A Triton configuration checked against the graph as Triton's ONNX Runtime backend checks it (names, data types,
// dims, the batch dimension), and the tensors clients then see: the configuration's shapes, batch included.
import { DATATYPES, isDataType, type DataType } from '../../tensor/dtypes.js';
import { formatShape } from '../../tensor/decode.js';
import type { TensorSpec } from '../../tensor/tensor.js';
import { batchMajor } from '../signature.js';
import { ConfigRefused, type TensorConfig, type TritonPlan } from './config.js';

/** Triton's default max_batch_size for a graph that can batch and a configuration that leaves it out. */
export const DEFAULT_MAX_BATCH_SIZE = 4;

/** One input or output as the configuration presents it. */
export interface TensorBinding {
  name: string;
  datatype: DataType;
  /** What clients send or get, batch first when max_batch_size > 0; names stand for dims of any size. */
  shape: (number | string)[];
  /** The configuration's dims: the shape without the batch, -1 for any size. */
  dims: number[];
  /** The shape (without the batch) the graph takes or gives instead, when the configuration reshapes. */
  reshape: number[] | undefined;
  format: string | undefined;
  labelFile: string | undefined;
}

export interface Binding {
  maxBatchSize: number;
  dynamicBatching: boolean;
  inputs: TensorBinding[];
  outputs: TensorBinding[];
}

const dynamic = (d: number | string) => typeof d === 'string' || d < 0;
const asDim = (d: number | string) => (dynamic(d) ? -1 : (d as number));
const names = (specs: readonly TensorSpec[]) => specs.map((s) => `"${s.name}"`).join(', ');

function refuse(field: string, reason: string): never {
  throw new ConfigRefused(`${field}: ${reason}`);
}

/** The OIP datatype of a configuration's TYPE_*: TYPE_STRING is BYTES. */
export function datatypeOf(configType: string | undefined): DataType | undefined {
  const name = configType === 'TYPE_STRING' ? 'BYTES' : configType?.replace(/^TYPE_/, '');
  return name !== undefined && isDataType(name) ? name : undefined;
}

export function configTypeOf(datatype: DataType): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

/** Triton's CompareDimsSupported: a graph dim of any size takes any configured dim; outputs must match exactly. */
function compareDims(
  graph: TensorSpec,
  configured: number[],
  batched: boolean,
  exact: boolean,
  at: string,
): void {
  const full = batched ? [-1, ...configured] : configured;
  const model = graph.shape.map(asDim);
  if (model.length === 0) {
    if (configured.some((d) => d !== 1)) refuse(at, `the graph's tensor is a scalar: its dims must be [1]`);
    return;
  }
  if (batched && model[0] !== -1)
    refuse(
      at,
      `max_batch_size > 0 needs a first dimension of any size, but the graph's shape is ${formatShape(graph.shape)}`,
    );
  const fits =
    model.length === full.length && model.every((d, i) => (exact || d !== -1 ? d === full[i] : true));
  if (!fits) {
    const said = batched ? `[-1 (the batch), ${configured.join(', ')}]` : `[${configured.join(', ')}]`;
    refuse(at, `the graph's shape is ${formatShape(graph.shape)} but the configuration makes it ${said}`);
  }
}

function bind(
  tensor: TensorConfig,
  graph: readonly TensorSpec[],
  field: 'input' | 'output',
  batched: boolean,
): TensorBinding {
  const name = tensor.name ?? '';
  const at = `${field} "${name}"`;
  const spec = graph.find((s) => s.name === name);
  if (!spec) refuse(at, `the graph has no such ${field} (its ${field}s are ${names(graph)})`);
  const datatype = datatypeOf(tensor.data_type);
  if (spec.datatype === undefined)
    refuse(at, `the graph's ${field} has type ${spec.type}, which Serval cannot serve`);
  if (datatype !== spec.datatype) {
    refuse(
      `${at} data_type`,
      `${tensor.data_type ?? ''} but the graph's ${field} is ${configTypeOf(spec.datatype)}`,
    );
  }
  const dims = tensor.dims ?? [];
  const scalar = spec.shape.length === 0;
  const reshape = tensor.reshape ? (tensor.reshape.shape ?? []) : scalar ? [] : undefined;
  compareDims(spec, reshape ?? dims, batched, field === 'output', `${at} dims`);
  // A dim of any size keeps the graph's name for it, so that inputs sharing a symbol must agree on its size.
  const own = dims.map((d, i) =>
    d !== -1 ? d : reshape === undefined ? (spec.shape[i + (batched ? 1 : 0)] ?? '') : '',
  );
  const batch = spec.shape[0];
  return {
    name,
    datatype,
    shape: batched ? [typeof batch === 'string' ? batch : 'batch', ...own] : own,
    dims,
    reshape,
    format: tensor.format,
    labelFile: tensor.label_filename,
  };
}

/** The configuration's entries for tensors it leaves out, as Triton's ONNX Runtime backend fills them in. */
function fromGraph(specs: readonly TensorSpec[], batched: boolean): TensorConfig[] {
  return specs
    .filter((s) => s.datatype !== undefined)
    .map((s) => {
      const dims = s.shape.slice(batched ? 1 : 0).map(asDim);
      return {
        name: s.name,
        data_type: configTypeOf(s.datatype as DataType),
        ...(dims.length === 0 ? { dims: [1], reshape: { shape: [] } } : { dims }),
      };
    });
}

/**
 * Checks the configuration against the graph and binds its tensors; throws ConfigRefused naming the field at fault.
 * A configuration without inputs or outputs takes the graph's, and then, for a graph that can batch, max_batch_size
 * 4 and dynamic batching when it sets neither (Triton's auto-complete).
 */
export function bindGraph(
  plan: TritonPlan,
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
): Binding {
  const { config } = plan;
  const unservable = inputs.find((s) => s.datatype === undefined);
  if (unservable)
    refuse(
      `input "${unservable.name}"`,
      `the graph's input has type ${unservable.type}, which Serval cannot feed`,
    );
  let maxBatchSize = config.max_batch_size ?? 0;
  let dynamicBatching = config.dynamic_batching !== undefined;
  if (plan.autoComplete) {
    const canBatch = batchMajor(inputs, outputs);
    if (canBatch && maxBatchSize === 0) maxBatchSize = DEFAULT_MAX_BATCH_SIZE;
    if (!canBatch && maxBatchSize > 0)
      refuse(
        'max_batch_size',
        `${maxBatchSize}, but the graph cannot batch (a first dimension of any size everywhere)`,
      );
    dynamicBatching ||= maxBatchSize > 1;
  }
  const batched = maxBatchSize > 0;
  const configured = config.input?.length ? config.input : fromGraph(inputs, batched);
  if (configured.length !== inputs.length) {
    refuse(
      'input',
      `the configuration lists ${configured.length} inputs, the graph has ${inputs.length} (${names(inputs)})`,
    );
  }
  return {
    maxBatchSize,
    dynamicBatching: dynamicBatching && batched,
    inputs: configured.map((t) => bind(t, inputs, 'input', batched)),
    outputs: (config.output?.length ? config.output : fromGraph(outputs, batched)).map((t) =>
      bind(t, outputs, 'output', batched),
    ),
  };
}

/** A binding's tensor as the rest of Serval sees a model's tensor. */
export function specOf(binding: TensorBinding): TensorSpec {
  return {
    name: binding.name,
    datatype: binding.datatype,
    type: DATATYPES[binding.datatype].onnx,
    shape: binding.shape,
  };
}
