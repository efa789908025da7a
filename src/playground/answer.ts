// What an answer says, whichever protocol carried it: class probabilities per row (a classifier), values per row
// (a regression), or the tensors themselves (a raw model, or outputs the page cannot read as either).
import type { ModelInfo, OutputTensor } from './types.js';

export interface ClassRow {
  label: string;
  classes: { label: string; p: number }[];
}

export type Reading =
  | { kind: 'classes'; rows: ClassRow[] }
  | { kind: 'values'; rows: (number | number[])[] }
  | { kind: 'tensors'; tensors: unknown };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function best(classes: ClassRow['classes']): string {
  return classes.reduce((a, b) => (b.p > a.p ? b : a), { label: '', p: -Infinity }).label;
}

/** V1 row-format predictions: {label, probabilities} per row, a number (or numbers) per row, or tensors. */
function fromPredictions(predictions: unknown[]): Reading {
  if (predictions.every((p) => isRecord(p) && isRecord(p.probabilities))) {
    const rows = predictions.map((p) => {
      const { label, probabilities } = p as { label?: unknown; probabilities: Record<string, unknown> };
      const classes = Object.entries(probabilities).map(([l, v]) => ({ label: l, p: Number(v) }));
      return { label: typeof label === 'string' ? label : best(classes), classes };
    });
    return { kind: 'classes', rows };
  }
  const numbers = (v: unknown): v is number | number[] =>
    typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number'));
  if (predictions.every(numbers)) return { kind: 'values', rows: predictions };
  return { kind: 'tensors', tensors: predictions };
}

/** Tensors by name, rows first: a classifier's [rows, labels] float output becomes class probabilities. */
function fromTensors(
  model: ModelInfo,
  tensors: Record<string, { shape: number[]; data: unknown[] }>,
): Reading | undefined {
  const labels = model.labels ?? [];
  const all = Object.values(tensors);
  if (model.task === 'classification' && labels.length > 0) {
    const probabilities = all.find(
      (t) =>
        t.shape.length === 2 && t.shape[1] === labels.length && t.data.every((v) => typeof v === 'number'),
    );
    if (probabilities) {
      const rows = Array.from({ length: probabilities.shape[0] ?? 0 }, (_, r) => {
        const classes = labels.map((label, i) => ({
          label,
          p: probabilities.data[r * labels.length + i] as number,
        }));
        return { label: best(classes), classes };
      });
      return { kind: 'classes', rows };
    }
  }
  const [only] = all;
  if (
    model.task === 'regression' &&
    only &&
    all.length === 1 &&
    only.data.every((v) => typeof v === 'number')
  ) {
    const rows = only.shape[0] ?? 1;
    const width = only.data.length / Math.max(rows, 1);
    const values = Array.from({ length: rows }, (_, r) => {
      const row = only.data.slice(r * width, (r + 1) * width) as number[];
      return row.length === 1 ? (row[0] ?? NaN) : row;
    });
    return { kind: 'values', rows: values };
  }
  return undefined;
}

/** Columnar V1 outputs: a tensor, or tensors by name, as nested arrays. */
function columnar(model: ModelInfo, outputs: unknown): Record<string, { shape: number[]; data: unknown[] }> {
  const shaped = (value: unknown) => {
    const shape: number[] = [];
    for (let level = value; Array.isArray(level); level = level[0] as unknown) shape.push(level.length);
    return { shape, data: Array.isArray(value) ? (value as unknown[]).flat(Infinity) : [value] };
  };
  if (isRecord(outputs)) return Object.fromEntries(Object.entries(outputs).map(([n, v]) => [n, shaped(v)]));
  return { [model.outputs[0]?.name ?? 'output']: shaped(outputs) };
}

/** Reads a 200 answer of either protocol. */
export function read(model: ModelInfo, body: unknown): Reading {
  if (!isRecord(body)) return { kind: 'tensors', tensors: body };
  if (Array.isArray(body.predictions)) return fromPredictions(body.predictions);
  if (Array.isArray(body.outputs) && body.outputs.every((o) => isRecord(o) && typeof o.name === 'string')) {
    const outputs = body.outputs as OutputTensor[];
    const byName = Object.fromEntries(outputs.map((o) => [o.name, { shape: o.shape, data: o.data }]));
    return fromTensors(model, byName) ?? { kind: 'tensors', tensors: body.outputs };
  }
  if ('outputs' in body)
    return fromTensors(model, columnar(model, body.outputs)) ?? { kind: 'tensors', tensors: body.outputs };
  return { kind: 'tensors', tensors: body };
}
