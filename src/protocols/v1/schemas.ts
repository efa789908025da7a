// Request and response schemas of the KServe V1 / TF Serving style API.
import { Type } from 'typebox';
import { ModelMetadataSchema } from '../../schemas/common.js';

export const ModelParamsSchema = Type.Object({
  model: Type.String({ maxLength: 64, examples: ['iris'], description: 'Model name.' }),
});

export const VersionParamsSchema = Type.Object({
  model: Type.String({ maxLength: 64, examples: ['iris'] }),
  version: Type.String({ maxLength: 16, examples: ['1'], description: 'Version folder number.' }),
});

const NumberInstance = Type.Array(Type.Number(), {
  minItems: 1,
  description: 'Feature values in the model’s input order.',
});
const NamedInstance = Type.Record(Type.String(), Type.Number(), {
  description: 'Feature values by name (see the model’s features).',
});

export function predictRequestSchema(maxInstances: number) {
  return Type.Object(
    {
      instances: Type.Array(Type.Union([NumberInstance, NamedInstance]), {
        minItems: 1,
        maxItems: maxInstances,
      }),
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

export const ModelListSchema = Type.Object({
  models: Type.Array(ModelMetadataSchema),
});
