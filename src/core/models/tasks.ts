// Task semantics over output tensors, for every protocol: labels, argmax and probabilities; the top-k classes.
import { errors } from '../errors.js';
import { elementAt, elementCount, type TensorData, type TensorMap } from '../tensor/tensor.js';
import type { Signature } from './signature.js';

export interface Classification {
  label: string;
  probabilities: Record<string, number>;
}

export type Prediction = Classification | number | number[] | Record<string, unknown>;

function output(outputs: TensorMap, name: string, rows: number): TensorData {
  const tensor = outputs[name];
  // A batch-major output with another row count is the model's fault, not the caller's.
  if (!tensor || tensor.dims[0] !== rows) throw new errors.INFERENCE_FAILED();
  return tensor;
}

type Value = number | string | boolean;

/** One row of a [rows, ...] tensor: a single value for [rows] or [rows, 1], else its values (nested by dims). */
export function rowOf(tensor: TensorData, i: number): Value | Value[] | unknown[] {
  const inner = tensor.dims.slice(1);
  const size = elementCount(inner);
  if (size === 1) return elementAt(tensor, i);
  const nest = (offset: number, d: number): unknown[] => {
    const step = elementCount(inner.slice(d + 1));
    return Array.from({ length: inner[d] as number }, (_, k) =>
      d === inner.length - 1 ? elementAt(tensor, offset + k) : nest(offset + k * step, d + 1),
    );
  };
  return nest(i * size, 0);
}

/** Plain loops: this runs for every row of every classification. */
function classify(signature: Signature, outputs: TensorMap, rows: number): Classification[] {
  const { label: labelName, probabilities: probName } = signature.outputs;
  const probs = probName === undefined ? undefined : output(outputs, probName, rows);
  const labelTensor = labelName === undefined ? undefined : output(outputs, labelName, rows);
  const classes = probs ? (probs.dims[1] ?? 1) : 0;
  const labels = signature.labels ?? Array.from({ length: classes }, (_, c) => String(c));
  const predictions = new Array<Classification>(rows);
  for (let i = 0; i < rows; i++) {
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let c = 0; c < classes; c++) {
      const p = elementAt(probs as TensorData, i * classes + c) as number;
      probabilities[labels[c] ?? String(c)] = p;
      if (p > (elementAt(probs as TensorData, i * classes + best) as number)) best = c;
    }
    const raw = labelTensor ? elementAt(labelTensor, i) : best;
    const label = typeof raw === 'number' ? (labels[raw] ?? String(raw)) : String(raw);
    predictions[i] = { label, probabilities };
  }
  return predictions;
}

/** One prediction per row, in row order, shaped by the model's task. */
export function predictions(signature: Signature, outputs: TensorMap, rows: number): Prediction[] {
  switch (signature.task) {
    case 'classification':
      return classify(signature, outputs, rows);
    case 'regression': {
      const value = output(outputs, signature.outputs.value ?? '', rows);
      return Array.from({ length: rows }, (_, i) => rowOf(value, i) as number | number[]);
    }
    case 'raw': {
      const tensors = signature.tensorOutputs.map((name) => [name, output(outputs, name, rows)] as const);
      return Array.from({ length: rows }, (_, i) =>
        Object.fromEntries(tensors.map(([name, t]) => [name, rowOf(t, i)])),
      );
    }
  }
}

/** A score as Triton's classification extension writes it, at the precision of an FP32 value. */
function score(value: number): string {
  return String(Number(value.toPrecision(7)));
}

/**
 * The classification extension (Triton's): the top `k` classes of each batch row (or of the whole tensor, for a model
 * without a batch dim) as BYTES "score:index[:label]", best first, [batch, k] or [k]; labels come from model.json
 * when they fit the number of classes.
 */
export function topClasses(
  tensor: TensorData,
  k: number,
  labels: readonly string[] | undefined,
  name: string,
  batched: boolean,
): TensorData {
  const { dims } = tensor;
  if (tensor.datatype === 'BYTES' || tensor.datatype === 'BOOL' || (batched && dims.length === 0)) {
    throw new errors.INVALID_REQUEST(
      `classification needs a numeric output; "${name}" is ${tensor.datatype} [${dims.join(', ')}]`,
    );
  }
  const rows = batched ? (dims[0] as number) : 1;
  const classes = elementCount(batched ? dims.slice(1) : dims);
  const top = Math.min(k, classes);
  const named = labels?.length === classes ? labels : undefined;
  const out: string[] = [];
  const order = Array.from({ length: classes }, (_, c) => c);
  for (let r = 0; r < rows; r++) {
    const value = (c: number) => elementAt(tensor, r * classes + c) as number;
    order.sort((a, b) => value(b) - value(a) || a - b);
    for (let i = 0; i < top; i++) {
      const c = order[i] as number;
      out.push(`${score(value(c))}:${c}${named ? `:${named[c]}` : ''}`);
    }
  }
  return { datatype: 'BYTES', data: out, dims: batched ? [rows, top] : [top] };
}
