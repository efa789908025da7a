// What the page reads from the API: the subset of each answer it uses. The server's schemas are the truth;
// test/playground/types.test.ts checks at compile time that their types fit these.

/** The repository's states (src/core/models/repository.ts MODEL_STATES). */
export type ModelState = 'LOADING' | 'READY' | 'FAILED' | 'UNLOADING' | 'UNAVAILABLE';

export interface TensorInfo {
  name: string;
  /** An Open Inference Protocol datatype: FP32, INT64, BYTES, BOOL... */
  datatype: string;
  /** -1 for a dynamic dimension (the batch). */
  shape: number[];
  /** content_type "image": the input takes image files, which the server decodes and resizes (model.json). */
  parameters?: { content_type: string };
}

/** GET /v1/models: one model, its default version's metadata and every version's state. */
export interface ModelInfo {
  name: string;
  version: string;
  state: ModelState;
  ready: boolean;
  reason?: string;
  task: 'classification' | 'regression' | 'raw';
  description?: string;
  execution?: 'inline' | 'thread';
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  features?: string[];
  labels?: string[];
  default_version: string;
  versions: { version: string; state: ModelState; reason?: string }[];
}

export interface ModelList {
  models: ModelInfo[];
}

/** GET /v2/models/{m}/config (Triton's ModelConfig): how Serval batches the model. */
export interface ModelConfig {
  max_batch_size: number;
  dynamic_batching?: { preferred_batch_size?: number[] };
}

export interface Duration {
  count: number;
  ns: number;
}

/** GET /v2/models/stats in Triton's statistics shape (the statistics extension). */
export interface ModelStatistics {
  model_stats: {
    name: string;
    version: string;
    inference_count?: number;
    execution_count?: number;
    inference_stats?: { success?: Duration; fail?: Duration; queue?: Duration; compute_infer?: Duration };
  }[];
}

/** Every error answer: {"error", "code", "request_id", "details"}. */
export interface ErrorBody {
  error: string;
  code?: string;
  request_id?: string;
  details?: Record<string, unknown>;
}

/** A V2 output tensor. */
export interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}
