// The JSON form of a Triton model configuration as Serval reads it, and the plan Serval makes of one: types only.
import type { VersionPolicy } from '../descriptor.js';
import type { ConfigMessage, ConfigValue } from './schema.js';

/** The fields of a configuration (its JSON form) that Serval reads; model_config.proto defines them all. */
export interface TensorConfig {
  name?: string;
  data_type?: string;
  format?: string;
  dims?: number[];
  reshape?: { shape?: number[] };
  optional?: boolean;
  label_filename?: string;
  is_shape_tensor?: boolean;
  allow_ragged_batch?: boolean;
  is_non_linear_format_io?: boolean;
}

export interface InstanceGroupConfig {
  name?: string;
  kind?: string;
  count?: number;
  gpus?: number[];
  [field: string]: ConfigValue | undefined;
}

export interface TritonConfig {
  name?: string;
  platform?: string;
  backend?: string;
  version_policy?: {
    latest?: { num_versions?: number };
    all?: ConfigMessage;
    specific?: { versions?: number[] };
  };
  max_batch_size?: number;
  input?: TensorConfig[];
  output?: TensorConfig[];
  dynamic_batching?: ConfigMessage & {
    preferred_batch_size?: number[];
    max_queue_delay_microseconds?: number;
  };
  ensemble_scheduling?: ConfigMessage;
  instance_group?: InstanceGroupConfig[];
  default_model_filename?: string;
  parameters?: Record<string, { string_value?: string }>;
  response_cache?: { enable?: boolean };
  [field: string]: unknown;
}

/** What Serval applies of a configuration, before the graph is read. */
export interface TritonPlan {
  config: TritonConfig;
  /** Where it was read: `config.pbtxt`, `model.json`, or the load request's `parameters.config`. */
  source: string;
  versionPolicy: VersionPolicy;
  /** The graph's file in each version folder (default_model_filename), when the configuration names one. */
  graphFile: string | undefined;
  /** Inputs or outputs left out: filled from the graph, as Triton's ONNX Runtime backend does. */
  autoComplete: boolean;
  dynamicBatching: boolean;
  /** platform "ensemble": the model runs other models' steps (ensemble_scheduling) rather than a graph. */
  ensemble: boolean;
  /** Model instances on CPU (instance_group counts; Triton's default is 2 for ONNX Runtime). */
  instances: number;
  /** ONNX Runtime's intra-op threads (parameters.intra_op_thread_count), when set. */
  intraOpThreads: number | undefined;
  /** Fields not applied, each with why: one warning at load, and the index's reason. */
  notApplied: string[];
}
