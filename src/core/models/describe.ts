// What a model is, for every protocol: its Open Inference Protocol metadata and its configuration in the shape of
// Triton's ModelConfig (the JSON form of model_config.proto), as Serval really applies it.
import type { ModelVersion, ReadyModel } from './repository.js';
import type { ImagePlan } from '../processing/declaration.js';
import type { TensorSpec } from '../tensor/tensor.js';
import { tritonModelConfig } from './triton/describe.js';

/** The OIP's platform name for ONNX models. */
export const PLATFORM = 'onnx_onnxv1';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
  /** content_type "image": the input takes encoded image files too (model.json declares how they become it). */
  parameters?: { content_type: string };
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** Tensors as every protocol's metadata lists them; `images`: the inputs that take encoded images. */
export function tensorMetadata(
  specs: readonly TensorSpec[],
  images?: ReadonlyMap<string, unknown>,
): TensorMetadata[] {
  return specs.map((s) => ({
    name: s.name,
    datatype: s.datatype ?? s.type.toUpperCase(),
    // -1 for every dynamic dim, the batch included: tritonclient and perf_analyzer need it (dynamo #14969).
    shape: s.shape.map((d) => (typeof d === 'number' ? d : -1)),
    ...(images?.has(s.name) ? { parameters: { content_type: 'image' } } : {}),
  }));
}

export function modelMetadata(model: ReadyModel, versions: readonly ModelVersion[]): ModelMetadata {
  return {
    name: model.name,
    versions: versions.map((v) => v.version),
    // Triton names an ensemble's platform "ensemble"; clients (perf_analyzer) tell them apart by it.
    platform: model.triton?.plan.ensemble ? 'ensemble' : PLATFORM,
    inputs: tensorMetadata(model.runtime.inputs, model.signature.images),
    outputs: tensorMetadata(model.runtime.outputs.filter((o) => o.datatype !== undefined)),
  };
}

interface ConfigTensor {
  name: string;
  data_type: string;
  format?: string;
  dims: number[];
  reshape?: { shape: number[] };
  label_filename?: string;
}

/** A step of an ensemble, as perf_analyzer walks them: model_version is a number, -1 for the default version. */
export interface EnsembleStepConfig {
  model_name: string;
  model_version: number;
  input_map: Record<string, string>;
  output_map: Record<string, string>;
}

export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  version_policy: Record<string, unknown>;
  max_batch_size: number;
  input: ConfigTensor[];
  output: ConfigTensor[];
  dynamic_batching?: Record<string, unknown>;
  ensemble_scheduling?: { step: EnsembleStepConfig[] };
  instance_group: Record<string, unknown>[];
  default_model_filename: string;
  parameters: Record<string, { string_value: string }>;
  response_cache?: { enable: boolean };
}

export interface ConfigLimits {
  /** Most rows one request may carry (maxInstances). */
  maxRows: number;
  /** Most rows dynamic batching merges into one run. */
  batchMaxRows: number;
  /** Worker threads per process for thread-mode models. */
  threads: number;
}

function configTensors(
  specs: readonly TensorSpec[],
  batched: boolean,
  images?: ReadonlyMap<string, ImagePlan>,
): ConfigTensor[] {
  return specs
    .filter((s) => s.datatype !== undefined)
    .map((s) => {
      const dims = s.shape.map((d) => (typeof d === 'number' ? d : -1));
      const own = batched ? dims.slice(1) : dims;
      return {
        name: s.name,
        data_type: s.datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${s.datatype as string}`,
        // An image input's layout, as Triton's ModelInput.format names it.
        format: `FORMAT_${images?.get(s.name)?.layout ?? 'NONE'}`,
        // Triton's convention for a [batch] tensor of a batching model: dims [1] reshaped to [].
        ...(own.length === 0 ? { dims: [1], reshape: { shape: [] } } : { dims: own }),
      };
    });
}

/**
 * The configuration Serval applies to a model: a batch-major model (a dynamic first dim everywhere) takes up to
 * `maxRows` rows a request, its dims then leave the batch out (Triton's max_batch_size convention). A model with a
 * Triton configuration answers with what Serval applies of it.
 */
export function modelConfig(model: ReadyModel, limits: ConfigLimits): ModelConfig {
  if (model.triton) return tritonModelConfig(model, model.triton, limits);
  const { runtime } = model;
  const batched = model.signature.batched;
  return {
    name: model.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { all: {} },
    max_batch_size: batched ? limits.maxRows : 0,
    input: configTensors(runtime.inputs, batched, model.signature.images),
    output: configTensors(runtime.outputs, batched),
    ...(runtime.batchRows > 1
      ? { dynamic_batching: { max_queue_delay_microseconds: 0, preferred_batch_size: [runtime.batchRows] } }
      : {}),
    instance_group: [
      { name: model.name, kind: 'KIND_CPU', count: runtime.execution === 'thread' ? limits.threads : 1 },
    ],
    default_model_filename: 'model.onnx',
    parameters: {
      execution: { string_value: runtime.execution },
      task: { string_value: model.signature.task },
      ...Object.fromEntries(
        [...(model.signature.images?.keys() ?? [])].map((name) => [
          `${name}.content_type`,
          { string_value: 'image' },
        ]),
      ),
    },
  };
}
