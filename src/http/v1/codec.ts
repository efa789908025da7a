// KServe V1 / TF Serving answers: predictions shaped by the model's task (row format) or the output tensors
// themselves (columnar format), as JSON.
import fastJson from 'fast-json-stringify';
import type { Static } from 'typebox';
import { errors } from '../../core/errors.js';
import type { ReadyModel } from '../../core/models/repository.js';
import { predictions, rowOf, type Prediction } from '../../core/models/tasks.js';
import { jsonValues, type TensorData, type TensorMap } from '../../core/tensor/tensor.js';
import type { PredictResponseSchema } from './schemas.js';

/** A tensor as nested JSON lists, batch included. */
function nested(tensor: TensorData): unknown {
  if (tensor.dims.length === 0) return jsonValues(tensor)[0];
  const rows = tensor.dims[0] as number;
  const batch = { ...tensor, dims: tensor.dims.length === 1 ? [rows, 1] : tensor.dims };
  return Array.from({ length: rows }, (_, i) => rowOf(batch, i));
}

/** The columnar answer: the output tensor itself when the model has one, else an object of them by name. */
export function columnarResponse(outputs: TensorMap): string {
  const entries = Object.entries(outputs);
  const body =
    entries.length === 1
      ? nested((entries[0] as [string, TensorData])[1])
      : Object.fromEntries(entries.map(([name, t]) => [name, nested(t)]));
  return JSON.stringify({ outputs: body });
}

export type PredictResponse = Static<typeof PredictResponseSchema>;

/** The row-format answer's predictions, one per instance; the model's outputs must be per row to split them. */
export function predictionsOf(model: ReadyModel, outputs: TensorMap, rows: number): Prediction[] {
  const notPerRow = Object.entries(outputs).find(([, t]) => t.dims[0] !== rows);
  if (notPerRow && model.signature.task === 'raw') {
    throw new errors.UNSUPPORTED_MODEL(
      `output "${notPerRow[0]}" is not one row per instance; use the columnar form {"inputs": ...} or V2`,
    );
  }
  return predictions(model.signature, outputs, rows);
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

const serializers = new WeakMap<object, Serialize>();

/**
 * A predict response as JSON. Every prediction pays for this: a classifier's responses are written by a serializer
 * compiled once for its labels (3 to 5 times faster than JSON.stringify on them), other tasks by JSON.stringify.
 */
export function serializeResponse(model: ReadyModel, response: PredictResponse): string {
  const { signature } = model;
  let serialize = serializers.get(signature);
  if (serialize === undefined) {
    serialize = signature.task === 'classification' ? classifierSerializer(signature.labels) : JSON.stringify;
    serializers.set(signature, serialize);
  }
  return serialize(response);
}
