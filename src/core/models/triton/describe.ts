// The configuration answer (GET /v2/models/{m}/config, gRPC ModelConfig) of a model loaded with a Triton
// configuration: what Serval applies of it, in Triton's field names and JSON shapes.
import { EnsembleRuntime } from '../../ensemble/runtime.js';
import type { ConfigLimits, ModelConfig } from '../describe.js';
import type { VersionPolicy } from '../descriptor.js';
import type { ReadyModel } from '../repository.js';
import type { AppliedConfig } from './apply.js';
import { configTypeOf, type TensorBinding } from './graph.js';

function policyOf(policy: VersionPolicy): Record<string, unknown> {
  if (policy === 'all') return { all: {} };
  if ('latest' in policy) return { latest: { num_versions: policy.latest } };
  return { specific: { versions: policy.specific } };
}

function tensor(b: TensorBinding, input: boolean) {
  return {
    name: b.name,
    data_type: configTypeOf(b.datatype),
    ...(input ? { format: b.format ?? 'FORMAT_NONE' } : {}),
    dims: b.dims,
    ...(b.reshape ? { reshape: { shape: b.reshape } } : {}),
    ...(!input && b.labelFile ? { label_filename: b.labelFile } : {}),
  };
}

/** The configuration's own parameters, as Triton answers them (string values), then Serval's. */
function parametersOf(plan: AppliedConfig['plan'], own: Record<string, string>): ModelConfig['parameters'] {
  return {
    ...Object.fromEntries(
      Object.entries(plan.config.parameters ?? {}).map(([k, v]) => [
        k,
        { string_value: v.string_value ?? '' },
      ]),
    ),
    ...Object.fromEntries(Object.entries(own).map(([k, v]) => [k, { string_value: v }])),
  };
}

/** What an ensemble applies: its steps in place of a graph, instances and batching. */
function ensembleConfig(
  model: ReadyModel,
  runtime: EnsembleRuntime,
  applied: AppliedConfig,
  maxBatchSize: number,
) {
  const { plan, binding } = applied;
  return {
    name: model.name,
    platform: 'ensemble',
    backend: '',
    version_policy: policyOf(plan.versionPolicy),
    max_batch_size: maxBatchSize,
    input: binding.inputs.map((b) => tensor(b, true)),
    output: binding.outputs.map((b) => tensor(b, false)),
    ensemble_scheduling: {
      step: runtime.graph.steps.map((s) => ({
        model_name: s.model,
        model_version: s.version === undefined ? -1 : Number(s.version),
        input_map: s.inputs,
        output_map: s.outputs,
      })),
    },
    instance_group: [],
    default_model_filename: '',
    parameters: parametersOf(plan, { task: model.signature.task }),
    response_cache: { enable: model.descriptor.cache !== false },
  };
}

export function tritonModelConfig(
  model: ReadyModel,
  applied: AppliedConfig,
  limits: ConfigLimits,
): ModelConfig {
  const { plan, binding } = applied;
  const maxBatchSize = Math.min(binding.maxBatchSize, limits.maxRows);
  if (model.runtime instanceof EnsembleRuntime)
    return ensembleConfig(model, model.runtime, applied, maxBatchSize);
  const rows = Math.min(
    maxBatchSize,
    limits.batchMaxRows > 1 ? binding.maxBatchSize : 1,
    model.runtime.batchRows,
  );
  const group = plan.config.instance_group?.[0]?.name;
  return {
    name: model.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: policyOf(plan.versionPolicy),
    max_batch_size: maxBatchSize,
    input: binding.inputs.map((b) => tensor(b, true)),
    output: binding.outputs.map((b) => tensor(b, false)),
    // What the batcher does: it merges what waits, up to that many rows, and never holds a call back.
    ...(model.runtime.batchRows > 1
      ? { dynamic_batching: { preferred_batch_size: [rows], max_queue_delay_microseconds: 0 } }
      : {}),
    instance_group: [{ name: group ?? model.name, kind: 'KIND_CPU', count: applied.instances }],
    default_model_filename: applied.graphFile,
    parameters: parametersOf(plan, {
      execution: model.runtime.execution,
      task: model.signature.task,
    }),
    response_cache: { enable: model.descriptor.cache !== false },
  };
}
