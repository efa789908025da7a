// The model runtime interface the rest of Serval depends on, never on onnxruntime itself.
import type { TensorMap, TensorSpec } from '../tensor/tensor.js';
import type { RunTrace } from '../tracing/trace.js';

export type Execution = 'inline' | 'thread';

/** What a caller says of one call besides its inputs. */
export interface CallOptions {
  /** When the caller stops waiting (epoch ms): a gRPC client's deadline. */
  deadline?: number | undefined;
  /** Aborts when the caller has gone: a call not yet running then never runs. */
  signal?: AbortSignal | undefined;
  /** 1 is the highest; 0 or none: the model's default level. */
  priority?: number | undefined;
  /** The longest the call may wait in its queue (microseconds), where the model's policy lets it say. */
  timeoutUs?: number | undefined;
  /** The call's trace, when it is traced: told when it waited and ran, and with what. */
  trace?: RunTrace | undefined;
}

export interface ModelRuntime {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Where predict runs: on the event loop (tiny models) or on a worker thread (heavy ones). */
  readonly execution: Execution;
  /** Fastest warm-up call measured at load, in milliseconds. */
  readonly warmupMs: number;
  /**
   * Most rows that concurrent calls merged into one run hold (dynamic batching); 1 when every call runs alone. A
   * single call of more rows still runs, alone.
   */
  readonly batchRows: number;
  /** Calls waiting or running now. */
  readonly pending: number;
  /** Runs the model; resolves with every output it can send. */
  predict(feeds: TensorMap, call?: CallOptions): Promise<TensorMap>;
  /** Why a loaded runtime cannot serve now (an ensemble's composing model not ready), or undefined when it can. */
  unavailable?(): string | undefined;
  unload(): Promise<void>;
}
