// A model runtime as a Triton configuration presents it: clients send and get the configuration's shapes (reshaped
// to and from the graph's where it says so), and only the outputs it lists.
import type { CallOptions, ModelRuntime } from '../../runtime/runtime.js';
import type { TensorData, TensorMap, TensorSpec } from '../../tensor/tensor.js';
import { specOf, type Binding, type TensorBinding } from './graph.js';

/**
 * `target` with its -1s filled, in order, by the sizes `actual` has where `pattern` has its -1s: the configuration
 * checks guarantee both hold the same elements between -1s ([2, 4, -1, 6] ↔ [8, -1, 1, 6]).
 */
export function fill(
  target: readonly number[],
  pattern: readonly number[],
  actual: readonly number[],
): number[] {
  const free = actual.filter((_, i) => pattern[i] === -1);
  let next = 0;
  return target.map((d) => (d === -1 ? (free[next++] ?? 1) : d));
}

function reshaped(
  tensor: TensorData,
  from: readonly number[],
  to: readonly number[],
  batched: boolean,
): TensorData {
  const own = batched ? tensor.dims.slice(1) : tensor.dims;
  const dims = fill(to, from, own);
  return { ...tensor, dims: batched ? [tensor.dims[0] ?? 1, ...dims] : dims };
}

export class TritonRuntime implements ModelRuntime {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  #inner: ModelRuntime;
  #binding: Binding;
  #reshapedInputs: TensorBinding[];

  constructor(inner: ModelRuntime, binding: Binding) {
    this.#inner = inner;
    this.#binding = binding;
    this.inputs = binding.inputs.map(specOf);
    this.outputs = binding.outputs.map(specOf);
    this.#reshapedInputs = binding.inputs.filter((b) => b.reshape !== undefined);
  }

  get execution() {
    return this.#inner.execution;
  }

  get warmupMs(): number {
    return this.#inner.warmupMs;
  }

  get batchRows(): number {
    return this.#inner.batchRows;
  }

  get pending(): number {
    return this.#inner.pending;
  }

  async predict(feeds: TensorMap, call?: CallOptions): Promise<TensorMap> {
    const batched = this.#binding.maxBatchSize > 0;
    let graphFeeds = feeds;
    if (this.#reshapedInputs.length > 0) {
      graphFeeds = { ...feeds };
      for (const b of this.#reshapedInputs) {
        const tensor = feeds[b.name];
        if (tensor) graphFeeds[b.name] = reshaped(tensor, b.dims, b.reshape as number[], batched);
      }
    }
    const all = await this.#inner.predict(graphFeeds, call);
    const answer: TensorMap = {};
    for (const b of this.#binding.outputs) {
      const tensor = all[b.name];
      if (tensor === undefined) continue;
      answer[b.name] = b.reshape === undefined ? tensor : reshaped(tensor, b.reshape, b.dims, batched);
    }
    return answer;
  }

  unload(): Promise<void> {
    return this.#inner.unload();
  }
}
