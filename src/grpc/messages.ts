// The messages Serval reads and writes, in the form @grpc/proto-loader decodes them with LOAD_OPTIONS (field names
// as in the .proto, 64-bit integers as decimal strings, defaults filled in, a oneof's member named). The .proto files
// are the truth: test/grpc/messages.test.ts checks every field named here against them.

/** One of InferParameter's members; `parameter_choice` names the one that is set. */
export interface InferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export type Parameters = Record<string, InferParameter>;

export interface InferTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: string[];
  parameters: Parameters;
  contents: InferTensorContents | null;
}

export interface InferRequestedOutputTensor {
  name: string;
  parameters: Parameters;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Parameters;
  inputs: InferInputTensor[];
  outputs: InferRequestedOutputTensor[];
  raw_input_contents: Buffer[];
}

/** ModelReady, ModelMetadata, ModelConfig and ModelStatistics requests: a model and an optional version. */
export interface ModelRequest {
  name: string;
  version: string;
}

/** What a ModelInferResponse says about one output; its elements go in raw_output_contents. */
export interface OutputTensorHeader {
  name: string;
  datatype: string;
  shape: readonly number[];
}
