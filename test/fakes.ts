// Models without onnxruntime for unit tests: specs in the graph's terms, a ReadyModel around a fake predict.
import { buildSignature } from '../src/core/models/signature.js';
import type { Descriptor } from '../src/core/models/descriptor.js';
import type { ReadyModel } from '../src/core/models/repository.js';
import { DATATYPES, type DataType } from '../src/core/tensor/dtypes.js';
import type { TensorMap, TensorSpec } from '../src/core/tensor/tensor.js';

/** A tensor spec as onnxruntime reports it: dims are numbers or names of dynamic dims. */
export function spec(name: string, datatype: DataType, shape: (number | string)[]): TensorSpec {
  return { name, datatype, type: DATATYPES[datatype].onnx, shape };
}

export interface FakeModelOptions {
  name?: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  descriptor?: Descriptor;
  predict?: (feeds: TensorMap) => Promise<TensorMap>;
}

export function fakeModel(options: FakeModelOptions): ReadyModel {
  const { inputs, outputs, descriptor = {} } = options;
  return {
    name: options.name ?? 'fake',
    version: '1',
    state: 'READY',
    generation: 'test',
    descriptor,
    signature: buildSignature(inputs, outputs, descriptor),
    runtime: {
      inputs,
      outputs,
      execution: 'inline',
      warmupMs: 0,
      batchRows: 1,
      pending: 0,
      predict: options.predict ?? (() => Promise.reject(new Error('no predict in this fake'))),
      unload: async () => undefined,
    },
  };
}
