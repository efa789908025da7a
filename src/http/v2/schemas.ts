// Request and response schemas of the Open Inference Protocol (KServe V2) REST API and Triton's extensions.
import { Type, type Static } from 'typebox';
import { MAX_RANK } from '../../core/tensor/decode.js';
import { DATATYPE_NAMES } from '../../core/tensor/dtypes.js';
import { TensorMetadataSchema } from '../schemas/common.js';

export const ModelParamsSchema = Type.Object({
  model: Type.String({ maxLength: 64, examples: ['iris'], description: 'Model name.' }),
});

export const VersionParamsSchema = Type.Object({
  model: Type.String({ maxLength: 64, examples: ['iris'] }),
  version: Type.String({ maxLength: 16, examples: ['1'], description: 'Version folder number.' }),
});

const Parameters = Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), {
  description: 'Key/value parameters (binary_data_size, binary_data, binary_data_output, classification).',
});

const Datatype = Type.String({
  maxLength: 16,
  description: `One of ${DATATYPE_NAMES.join(', ')}.`,
  examples: ['FP32'],
});

export const RequestInputSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  shape: Type.Array(Type.Integer({ minimum: 0 }), {
    maxItems: MAX_RANK,
    description: 'Row-major dims, batch included.',
  }),
  datatype: Datatype,
  parameters: Type.Optional(Parameters),
  data: Type.Optional(
    Type.Unknown({
      description: 'Flat or nested row-major values (BYTES as strings); absent when sent as binary data.',
    }),
  ),
});

export const RequestOutputSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  parameters: Type.Optional(Parameters),
});

export const InferRequestSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 256, description: 'Echoed in the response.' })),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(RequestInputSchema, { minItems: 1, maxItems: 256 }),
    outputs: Type.Optional(
      Type.Array(RequestOutputSchema, { maxItems: 256, description: 'Omitted: every output, as JSON.' }),
    ),
  },
  {
    examples: [
      {
        id: '42',
        inputs: [
          {
            name: 'input',
            shape: [2, 4],
            datatype: 'FP32',
            data: [
              [5.1, 3.5, 1.4, 0.2],
              [6.7, 3.0, 5.2, 2.3],
            ],
          },
        ],
        outputs: [{ name: 'probabilities' }, { name: 'label' }],
      },
    ],
  },
);

export type InferRequest = Static<typeof InferRequestSchema>;

const ResponseOutputSchema = Type.Object({
  name: Type.String(),
  datatype: Type.String(),
  shape: Type.Array(Type.Integer()),
  parameters: Type.Optional(Parameters),
  data: Type.Optional(Type.Array(Type.Unknown(), { description: 'Flat row-major values.' })),
});

export const InferResponseSchema = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters),
  outputs: Type.Array(ResponseOutputSchema),
});

export const ServerMetadataSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String()),
});

export const ModelMetadataSchema = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMetadataSchema),
  outputs: Type.Array(TensorMetadataSchema),
});

export const ModelReadySchema = Type.Object({ name: Type.String(), ready: Type.Boolean() });
export const LiveSchema = Type.Object({ live: Type.Boolean() });
export const ReadySchema = Type.Object({ ready: Type.Boolean() });

const ConfigTensorSchema = Type.Object({
  name: Type.String(),
  data_type: Type.String({ examples: ['TYPE_FP32'] }),
  format: Type.Optional(Type.String({ description: 'Inputs only.' })),
  dims: Type.Array(Type.Integer()),
  reshape: Type.Optional(Type.Object({ shape: Type.Array(Type.Integer()) })),
  label_filename: Type.Optional(
    Type.String({ description: 'Outputs only: the class labels of a Triton model.' }),
  ),
});

/** Triton's ModelConfig in its JSON form, as `tritonclient`'s get_model_config returns it. */
export const ModelConfigSchema = Type.Object({
  name: Type.String(),
  platform: Type.String(),
  backend: Type.String(),
  version_policy: Type.Record(Type.String(), Type.Unknown()),
  max_batch_size: Type.Integer({
    description: 'Most rows per request; 0 when the model takes no batch dim.',
  }),
  input: Type.Array(ConfigTensorSchema),
  output: Type.Array(ConfigTensorSchema),
  dynamic_batching: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  ensemble_scheduling: Type.Optional(
    Type.Object({
      step: Type.Array(
        Type.Object({
          model_name: Type.String(),
          model_version: Type.Integer({ description: '-1: the default version.' }),
          input_map: Type.Record(Type.String(), Type.String()),
          output_map: Type.Record(Type.String(), Type.String()),
        }),
      ),
    }),
  ),
  instance_group: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  default_model_filename: Type.String(),
  parameters: Type.Record(Type.String(), Type.Object({ string_value: Type.String() })),
  response_cache: Type.Optional(Type.Object({ enable: Type.Boolean() })),
});

export type ModelConfig = Static<typeof ModelConfigSchema>;
