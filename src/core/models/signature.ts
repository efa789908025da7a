// Merges the ONNX graph's tensors with the descriptor into one checked signature: the task and its outputs.
import { DATATYPES, type DataType } from '../tensor/dtypes.js';
import { formatShape } from '../tensor/decode.js';
import type { TensorSpec } from '../tensor/tensor.js';
import type { Descriptor } from './descriptor.js';
import { imagePlans, type ImagePlan } from '../processing/declaration.js';

/** A single [batch, features] input: what V1 instances given as arrays or named features fill. */
export interface TabularInput {
  name: string;
  datatype: DataType;
  /** Values per instance, when the graph or the descriptor fixes it. */
  width: number | undefined;
  features: string[] | undefined;
  /** Feature name → column, for instances sent as objects. */
  columns: Map<string, number> | undefined;
}

export interface Signature {
  task: 'classification' | 'regression' | 'raw';
  /** The model's single [batch, width] input, when it has that form. */
  tabular: TabularInput | undefined;
  labels: string[] | undefined;
  outputs: { label?: string; probabilities?: string; value?: string };
  /** The outputs Serval can fetch and send, in graph order. */
  tensorOutputs: string[];
  /** Every input and output has a dynamic first dim: the batch (Triton's max_batch_size > 0). */
  batched: boolean;
  /** The inputs that take encoded images, and how each becomes its tensor; undefined when none does. */
  images: ReadonlyMap<string, ImagePlan> | undefined;
}

/** A dynamic first dim on every input and on every output Serval can send. */
export function batchMajor(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): boolean {
  const dynamicFirst = (t: TensorSpec) => typeof t.shape[0] === 'string';
  return (
    inputs.length > 0 &&
    inputs.every(dynamicFirst) &&
    outputs.filter((o) => o.datatype !== undefined).every(dynamicFirst)
  );
}

function tabularInput(inputs: readonly TensorSpec[], descriptor: Descriptor): TabularInput | undefined {
  const features = descriptor.features;
  const [input, ...rest] = inputs;
  const fits =
    input !== undefined &&
    rest.length === 0 &&
    input.datatype !== undefined &&
    input.shape.length === 2 &&
    DATATYPES[input.datatype].kind !== 'string';
  if (!fits) {
    if (features)
      throw new Error('model.json lists features, but the model has no single [batch, features] input');
    return undefined;
  }
  const dim = input.shape[1];
  if (typeof dim === 'number' && features && features.length !== dim) {
    throw new Error(`model.json lists ${features.length} features but input "${input.name}" has ${dim}`);
  }
  return {
    name: input.name,
    datatype: input.datatype as DataType,
    width: typeof dim === 'number' ? dim : features?.length,
    features,
    columns: features && new Map(features.map((f, i) => [f, i])),
  };
}

function requireOutput(
  outputs: readonly TensorSpec[],
  name: string | undefined,
  role: string,
): string | undefined {
  if (name === undefined) return undefined;
  const spec = outputs.find((o) => o.name === name);
  if (!spec) throw new Error(`model.json names ${role} output "${name}", which the graph does not have`);
  if (spec.datatype === undefined)
    throw new Error(`${role} output "${name}" is not a tensor (e.g. a ZipMap)`);
  return name;
}

/** Throws with the reason when the descriptor and the graph disagree: the model then fails to load. */
export function buildSignature(
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  descriptor: Descriptor,
): Signature {
  const task = descriptor.task ?? 'raw';
  const named = {
    label: requireOutput(outputs, descriptor.outputs?.label, 'label'),
    probabilities: requireOutput(outputs, descriptor.outputs?.probabilities, 'probabilities'),
    value: requireOutput(outputs, descriptor.outputs?.value, 'value'),
  };
  if (task === 'classification' && !named.label && !named.probabilities) {
    throw new Error('a classification model.json needs outputs.label or outputs.probabilities');
  }
  if (task === 'regression' && !named.value) throw new Error('a regression model.json needs outputs.value');
  const probabilities = outputs.find((o) => o.name === named.probabilities);
  if (probabilities && probabilities.shape.length !== 2) {
    throw new Error(
      `probabilities output "${probabilities.name}" has shape ${formatShape(probabilities.shape)}; it must be [batch, classes]`,
    );
  }
  const width = probabilities?.shape[1];
  if (descriptor.labels && typeof width === 'number' && width !== descriptor.labels.length) {
    throw new Error(
      `model.json lists ${descriptor.labels.length} labels but "${named.probabilities}" has ${width} classes`,
    );
  }
  return {
    task,
    tabular: tabularInput(inputs, descriptor),
    labels: descriptor.labels,
    outputs: Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined)),
    tensorOutputs: outputs.filter((o) => o.datatype !== undefined).map((o) => o.name),
    batched: batchMajor(inputs, outputs),
    images: imagePlans(inputs, descriptor.inputs),
  };
}
