// Schemas shared by every router: the error envelope and model metadata.
import { Type, type Static } from 'typebox';
import { Tasks } from '../../core/models/descriptor.js';
import { MODEL_STATES as ModelStates } from '../../core/models/repository.js';

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'What is wrong, for people.' }),
    code: Type.String({ description: 'Stable machine-readable code, e.g. INVALID_INPUT.' }),
    request_id: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { description: 'Every error response has this shape.' },
);

export const TensorMetadataSchema = Type.Object({
  name: Type.String(),
  datatype: Type.String({ description: 'Open Inference Protocol type name, e.g. FP32, INT64.' }),
  shape: Type.Array(Type.Integer(), { description: '-1 marks a dynamic dimension (the batch).' }),
  parameters: Type.Optional(
    Type.Object(
      {
        content_type: Type.String({
          description: 'image: the input also takes encoded image files (JPEG, PNG, WebP, GIF), one per row.',
        }),
      },
      { additionalProperties: false },
    ),
  ),
});

export const VersionMetadataSchema = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    state: Type.Enum(ModelStates),
    ready: Type.Boolean(),
    reason: Type.Optional(Type.String({ description: 'Why the version failed to load.' })),
    task: Type.Enum(Tasks),
    description: Type.Optional(Type.String()),
    execution: Type.Optional(Type.Enum(['inline', 'thread'])),
    inputs: Type.Array(TensorMetadataSchema),
    outputs: Type.Array(TensorMetadataSchema),
    features: Type.Optional(Type.Array(Type.String())),
    labels: Type.Optional(Type.Array(Type.String())),
  },
  {},
);

export const ModelMetadataSchema = Type.Object(
  {
    ...VersionMetadataSchema.properties,
    default_version: Type.String(),
    versions: Type.Array(
      Type.Object({
        version: Type.String(),
        state: Type.Enum(ModelStates),
        reason: Type.Optional(Type.String()),
      }),
    ),
  },
  { description: 'The default version’s metadata, with all versions listed.' },
);

export type VersionMetadata = Static<typeof VersionMetadataSchema>;
export type ModelMetadata = Static<typeof ModelMetadataSchema>;
