// Request and response schemas of the KServe V1 / TF Serving style API.
import { Type } from 'typebox';
import { ModelMetadataSchema } from '../schemas/common.js';

export const ModelParamsSchema = Type.Object({
  model: Type.String({ maxLength: 64, examples: ['iris'], description: 'Model name.' }),
});

export const VersionParamsSchema = Type.Object({
  model: Type.String({ maxLength: 64, examples: ['iris'] }),
  version: Type.String({ maxLength: 16, examples: ['1'], description: 'Version folder number.' }),
});

export function predictRequestSchema(maxInstances: number) {
  return Type.Object(
    {
      instances: Type.Optional(
        Type.Array(Type.Unknown(), {
          minItems: 1,
          maxItems: maxInstances,
          description:
            'Row format. A [batch, features] model takes arrays of feature values in input order or objects of ' +
            'named features; a model with other inputs takes one row of its input, or objects of named input rows.',
        }),
      ),
      inputs: Type.Optional(
        Type.Unknown({
          description:
            'Columnar format: one tensor (nested lists, batch included) for a single-input model, or an object ' +
            'of named tensors. Answered with {"outputs": ...}.',
        }),
      ),
      signature_name: Type.Optional(Type.String({ maxLength: 128, description: 'Accepted and ignored.' })),
    },
    {
      additionalProperties: false,
      examples: [
        {
          instances: [
            [5.1, 3.5, 1.4, 0.2],
            { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 },
          ],
        },
      ],
    },
  );
}

export const ClassificationPredictionSchema = Type.Object({
  label: Type.String(),
  probabilities: Type.Record(Type.String(), Type.Number(), { description: 'Probability of each label.' }),
});

export const PredictResponseSchema = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  predictions: Type.Array(
    Type.Union([
      ClassificationPredictionSchema,
      Type.Number({ description: 'regression value' }),
      Type.Array(Type.Number(), { description: 'multi-output regression values' }),
      Type.Record(Type.String(), Type.Unknown(), { description: 'raw models: output tensors by name' }),
    ]),
    { description: 'One per instance, in instance order.' },
  ),
});

export const ColumnarResponseSchema = Type.Object({
  outputs: Type.Unknown({ description: 'The output tensor, or an object of output tensors by name.' }),
});

export const ModelListSchema = Type.Object({
  models: Type.Array(ModelMetadataSchema),
});
