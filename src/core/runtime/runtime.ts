// The model runtime interface the rest of Serval depends on, never on onnxruntime itself.
import type { TensorMap, TensorSpec } from '../tensor/tensor.js';

export type Execution = 'inline' | 'thread';

export interface ModelRuntime {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Where predict runs: on the event loop (tiny models) or on a worker thread (heavy ones). */
  readonly execution: Execution;
  /** Fastest warm-up call measured at load, in milliseconds. */
  readonly warmupMs: number;
  /** Whether concurrent calls are merged into one inference (dynamic batching). */
  readonly batching: boolean;
  /** Calls waiting or running now. */
  readonly pending: number;
  /**
   * Runs the model; resolves with every output it can send. `deadline` (epoch ms) may cut the wait short; `signal`
   * aborts when the caller has gone: a call not yet running then never runs.
   */
  predict(feeds: TensorMap, deadline?: number, signal?: AbortSignal): Promise<TensorMap>;
  /** Why a loaded runtime cannot serve now (an ensemble's composing model not ready), or undefined when it can. */
  unavailable?(): string | undefined;
  unload(): Promise<void>;
}
