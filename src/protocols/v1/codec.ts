// KServe V1 instances → one input tensor, and output tensors → per-instance predictions.
import fastJson from 'fast-json-stringify';
import type { Static } from 'typebox';
import { errors, excerpt, withExtras } from '../../errors.js';
import {
  allocate,
  elementAt,
  NUMERIC_DTYPES,
  type TensorData,
  type TensorMap,
} from '../../inference/tensor.js';
import type { Signature, TabularInput } from '../../models/signature.js';
import type { PredictResponseSchema } from './schemas.js';

export type Instance = number[] | Record<string, number>;

function invalid(message: string, details: Record<string, unknown>): Error {
  return withExtras(new errors.INVALID_INPUT(message), { details });
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => `"${excerpt(n, 32)}"`);
  return shown.join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
}

/** Reorders a named instance into input order, naming any unknown or missing features. */
function columnsOf(instance: Record<string, number>, input: TabularInput, index: number): number[] {
  const { features, columns } = input;
  if (!features || !columns) {
    throw invalid(`instances[${index}] is an object, but this model has no feature names: send an array`, {
      instance: index,
    });
  }
  const keys = Object.keys(instance);
  const unknown = keys.filter((k) => !columns.has(k));
  if (unknown.length > 0) {
    throw invalid(
      `instances[${index}] has unknown feature(s) ${listNames(unknown)}; expected ${listNames(features)}`,
      {
        instance: index,
        unknown: unknown.slice(0, 5).map((n) => excerpt(n, 32)),
      },
    );
  }
  const missing = features.filter((f) => !Object.hasOwn(instance, f));
  if (missing.length > 0) {
    throw invalid(`instances[${index}] is missing feature(s) ${listNames(missing)}`, {
      instance: index,
      missing,
    });
  }
  return features.map((f) => instance[f] as number);
}

/** Encodes all instances into one [n, width] tensor of the input's dtype, checking every value. */
export function encodeInstances(signature: Signature, instances: readonly Instance[]): TensorMap {
  const input = signature.input;
  if (!input)
    throw new errors.UNSUPPORTED_MODEL(`V1 instances cannot be encoded: ${signature.inputProblem ?? ''}`);
  const first = instances[0];
  const width = input.width ?? (Array.isArray(first) ? first.length : 0);
  const range = NUMERIC_DTYPES[input.type];
  const data = allocate(input.type, instances.length * width);
  const big = data instanceof BigInt64Array;
  instances.forEach((instance, i) => {
    const row = Array.isArray(instance) ? instance : columnsOf(instance, input, i);
    if (row.length !== width) {
      const names = input.features ? ` (${listNames(input.features)})` : '';
      throw invalid(`instances[${i}] has ${row.length} values; the model expects ${width}${names}`, {
        instance: i,
        expected: width,
        received: row.length,
      });
    }
    for (let j = 0; j < width; j++) {
      const value = row[j] as number;
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        value >= range.min &&
        value <= range.max &&
        (!range.integer || Number.isInteger(value));
      if (!ok) {
        const field = input.features?.[j] ?? String(j);
        const kind = range.integer ? 'an integer' : 'a finite number';
        throw invalid(
          `instances[${i}].${excerpt(field, 32)} must be ${kind} within the ${input.type} range, got ${excerpt(value)}`,
          { instance: i, field },
        );
      }
      if (big) data[i * width + j] = BigInt(value);
      else (data as Float32Array)[i * width + j] = value;
    }
  });
  return { [input.name]: { type: input.type, data, dims: [instances.length, width] } };
}

export type PredictResponse = Static<typeof PredictResponseSchema>;
export type Prediction = PredictResponse['predictions'][number];

function output(outputs: TensorMap, name: string, n: number): TensorData {
  const tensor = outputs[name];
  if (!tensor || tensor.dims[0] !== n) throw new errors.INFERENCE_FAILED();
  return tensor;
}

/** The values of one instance's row of a [n, ...] tensor; a single value for [n] or [n, 1]. */
function row(tensor: TensorData, i: number): number | string | boolean | (number | string | boolean)[] {
  const size = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  if (size === 1) return elementAt(tensor, i);
  return Array.from({ length: size }, (_, k) => elementAt(tensor, i * size + k));
}

/** Plain loops: this runs for every instance of every prediction. */
function classify(signature: Signature, outputs: TensorMap, n: number): Prediction[] {
  const { label: labelName, probabilities: probName } = signature.outputs;
  const probs = probName === undefined ? undefined : output(outputs, probName, n);
  const labelTensor = labelName === undefined ? undefined : output(outputs, labelName, n);
  const classes = probs ? (probs.dims[1] ?? 1) : 0;
  const labels = signature.labels ?? Array.from({ length: classes }, (_, c) => String(c));
  const predictions: Prediction[] = new Array<Prediction>(n);
  for (let i = 0; i < n; i++) {
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

/** Decodes output tensors into one prediction per instance, in instance order. */
export function decodePredictions(signature: Signature, outputs: TensorMap, n: number): Prediction[] {
  switch (signature.task) {
    case 'classification':
      return classify(signature, outputs, n);
    case 'regression': {
      const value = output(outputs, signature.outputs.value ?? '', n);
      return Array.from({ length: n }, (_, i) => row(value, i) as number | number[]);
    }
    case 'raw': {
      const tensors = signature.rawOutputs.map((name) => [name, output(outputs, name, n)] as const);
      return Array.from({ length: n }, (_, i) =>
        Object.fromEntries(tensors.map(([name, t]) => [name, row(t, i)])),
      );
    }
  }
}

type Serialize = (response: PredictResponse) => string;

/** fast-json-stringify for a classifier's responses: its labels as fixed keys, any others still written. */
function classifierSerializer(labels: readonly string[] | undefined): Serialize {
  const number = { type: 'number' } as const;
  const fast = fastJson({
    type: 'object',
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      predictions: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            label: { type: 'string' },
            probabilities: {
              type: 'object',
              properties: Object.fromEntries((labels ?? []).map((l) => [l, number])),
              additionalProperties: number,
            },
          },
          required: ['label', 'probabilities'],
        },
      },
    },
    required: ['model_name', 'model_version', 'predictions'],
  }) as Serialize;
  return (response) => {
    try {
      return fast(response);
    } catch {
      // fast-json-stringify refuses NaN and ±Infinity, which a faulty model can return: JSON.stringify writes null.
      return JSON.stringify(response);
    }
  };
}

const serializers = new WeakMap<Signature, Serialize>();

/**
 * A predict response as JSON. Every prediction pays for this: a classifier's responses are written by a serializer
 * compiled once for its labels (3 to 5 times faster than JSON.stringify on them), other tasks by JSON.stringify.
 */
export function serializeResponse(signature: Signature, response: PredictResponse): string {
  let serialize = serializers.get(signature);
  if (serialize === undefined) {
    serialize = signature.task === 'classification' ? classifierSerializer(signature.labels) : JSON.stringify;
    serializers.set(signature, serialize);
  }
  return serialize(response);
}
