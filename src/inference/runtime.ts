// The model runtime interface the rest of Serval depends on, never on onnxruntime itself.
import type { TensorMap } from './tensor.js';

/** A tensor as the model declares it: dims are numbers, or names for dynamic dims (e.g. "batch"). */
export interface TensorSpec {
  name: string;
  type: string;
  shape: (number | string)[];
}

export type Execution = 'inline' | 'thread';

export interface ModelRuntime {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Where predict runs: on the event loop (tiny models) or on a worker thread (heavy ones). */
  readonly execution: Execution;
  /** Fastest warm-up call measured at load, in milliseconds. */
  readonly warmupMs: number;
  predict(feeds: TensorMap): Promise<TensorMap>;
  unload(): Promise<void>;
}
