// Merges the ONNX graph's tensors with the descriptor into one checked signature the protocols encode against.
import type { TensorSpec } from '../inference/runtime.js';
import { isNumericDType, type NumericDType } from '../inference/tensor.js';
import type { Descriptor } from './descriptor.js';

export interface TabularInput {
  name: string;
  type: NumericDType;
  /** Values per instance, when the graph or the descriptor fixes it. */
  width: number | undefined;
  features: string[] | undefined;
  /** Feature name → column, for instances sent as objects. */
  columns: Map<string, number> | undefined;
}

export interface Signature {
  task: 'classification' | 'regression' | 'raw';
  /** The single [batch, width] numeric input that instances fill; undefined when the graph has another form. */
  input: TabularInput | undefined;
  /** Why instances cannot be encoded for this model, when input is undefined. */
  inputProblem: string | undefined;
  labels: string[] | undefined;
  outputs: { label?: string; probabilities?: string; value?: string };
  /** Tensor outputs returned by raw models. */
  rawOutputs: string[];
}

function tabularInput(inputs: readonly TensorSpec[], descriptor: Descriptor): TabularInput | string {
  const [input, ...rest] = inputs;
  if (input === undefined || rest.length > 0) return `the model has ${inputs.length} inputs; instances fill exactly one`;
  if (!isNumericDType(input.type)) return `input "${input.name}" has type ${input.type}; instances are numeric`;
  if (input.shape.length !== 2) return `input "${input.name}" has rank ${input.shape.length}; instances fill [batch, features]`;
  const dim = input.shape[1];
  const features = descriptor.features;
  if (typeof dim === 'number' && features && features.length !== dim) {
    throw new Error(`model.json lists ${features.length} features but input "${input.name}" has ${dim}`);
  }
  return {
    name: input.name,
    type: input.type,
    width: typeof dim === 'number' ? dim : features?.length,
    features,
    columns: features && new Map(features.map((f, i) => [f, i])),
  };
}

function requireOutput(outputs: readonly TensorSpec[], name: string | undefined, role: string): string | undefined {
  if (name === undefined) return undefined;
  const spec = outputs.find((o) => o.name === name);
  if (!spec) throw new Error(`model.json names ${role} output "${name}", which the graph does not have`);
  if (spec.type === 'non-tensor') throw new Error(`${role} output "${name}" is not a tensor (e.g. a ZipMap)`);
  return name;
}

/** Throws with the reason when the descriptor and the graph disagree: the model then fails to load. */
export function buildSignature(
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  descriptor: Descriptor,
): Signature {
  const task = descriptor.task ?? 'raw';
  const input = tabularInput(inputs, descriptor);
  const named = {
    label: requireOutput(outputs, descriptor.outputs?.label, 'label'),
    probabilities: requireOutput(outputs, descriptor.outputs?.probabilities, 'probabilities'),
    value: requireOutput(outputs, descriptor.outputs?.value, 'value'),
  };
  if (task === 'classification' && !named.label && !named.probabilities) {
    throw new Error('a classification model.json needs outputs.label or outputs.probabilities');
  }
  if (task === 'regression' && !named.value) throw new Error('a regression model.json needs outputs.value');
  const width = outputs.find((o) => o.name === named.probabilities)?.shape[1];
  if (descriptor.labels && typeof width === 'number' && width !== descriptor.labels.length) {
    throw new Error(`model.json lists ${descriptor.labels.length} labels but "${named.probabilities}" has ${width} classes`);
  }
  return {
    task,
    input: typeof input === 'string' ? undefined : input,
    inputProblem: typeof input === 'string' ? input : undefined,
    labels: descriptor.labels,
    outputs: Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined)),
    rawOutputs: outputs.filter((o) => o.type !== 'non-tensor').map((o) => o.name),
  };
}
