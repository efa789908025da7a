// The repository's records: what callers see of a version (its state, runtime, signature), what the repository
// keeps beside it (files, fingerprint, calls using it), and the options it is built with.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Observer } from '../observe.js';
import type { LoadOptions } from '../runtime/load.js';
import type { ModelRuntime } from '../runtime/runtime.js';
import type { Descriptor } from './descriptor.js';
import type { VersionFiles } from './layout.js';
import type { loadVersion } from './loader.js';
import type { Signature } from './signature.js';
import type { AppliedConfig } from './triton/apply.js';

/** Triton's repository states (and FAILED): UNAVAILABLE is found on disk, or once served, but not loaded. */
export const MODEL_STATES = ['LOADING', 'READY', 'FAILED', 'UNLOADING', 'UNAVAILABLE'] as const;

export type ModelState = (typeof MODEL_STATES)[number];

export interface ModelVersion {
  name: string;
  version: string;
  state: ModelState;
  reason?: string;
  descriptor: Descriptor;
  /** A digest of the model's files: what cached answers of this version are filed under. */
  generation?: string;
  runtime?: ModelRuntime;
  signature?: Signature;
  /** What Serval applies of the model's Triton configuration (config.pbtxt), when it has one. */
  triton?: AppliedConfig;
}

/** A version that can serve predictions. */
export type ReadyModel = ModelVersion & {
  state: 'READY';
  generation: string;
  runtime: ModelRuntime;
  signature: Signature;
};

export type ControlMode = 'none' | 'poll' | 'explicit' | 'on-demand';

export interface RepositoryOptions {
  root: string;
  /** The name of a single model (a bare .onnx file, or a folder with its graph or versions at the root). */
  modelName: string;
  control: ControlMode;
  /** In explicit mode, the models loaded at start. */
  startupModels: readonly string[];
  pollIntervalMs: number;
  load: LoadOptions;
  log: Logger;
  /** Told of every load and, through the runtimes, every run. */
  observer?: Observer;
  /** In on-demand mode, the bounds of the models loaded per process and how long a request waits for a load. */
  demand?: DemandBounds;
  /** Loads one version (the default reads its files into onnxruntime; tests wrap it to count or hold loads). */
  loader?: typeof loadVersion;
}

export interface DemandBounds {
  /** The most models loaded at once; 0: no bound. */
  maxModels: number;
  /** The most bytes the loaded models may take, each measured at its load; 0: no bound. */
  maxBytes: number;
  /** How long a request waits for its model's load (or for room to load it) before MODEL_NOT_READY. */
  waitMs: number;
  /** The process's memory now, read before and after a load (default: the resident set size). */
  memory?: () => number;
}

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

/** A served version and what the repository knows of it besides what callers see. */
export interface Slot {
  entry: ModelVersion;
  files: VersionFiles | undefined;
  /** Sizes and modification times of its files when it was loaded: a change means a reload. */
  fingerprint: string;
  /** Loaded with a descriptor from the API (parameters.config) instead of its model.json. */
  override: boolean;
  /** Calls using it now: a replaced or unloaded version is released once they are done. */
  inFlight: number;
  /** Set while the version waits to be released: called when its last call is done. */
  drained?: (() => void) | undefined;
}

export interface Model {
  name: string;
  /** Versions that serve or failed, highest first; replaced in one step on a reload. */
  slots: Slot[];
  /** Found on disk but not served (outside the version policy, or unloaded), for the index. */
  idle: IndexEntry[];
  /** Loaded at start: a failure there keeps the server not ready until it is fixed or unloaded. */
  startup: boolean;
  /** Unloaded through the API: polling leaves it unloaded until it is loaded again or its files change. */
  unloaded: boolean;
  /** On demand: when it was last asked for (a counter: higher is more recent)... */
  used?: number;
  /** ...and the memory its load took, in bytes. */
  bytes?: number;
}

export function isReady(model: ModelVersion | undefined): model is ReadyModel {
  return model?.state === 'READY' && model.runtime !== undefined && model.signature !== undefined;
}

export async function fingerprintOf(files: VersionFiles): Promise<string> {
  const parts = await Promise.all(
    [files.onnx, files.json, ...(files.config ? [files.config] : [])].map((path) =>
      stat(path).then(
        (s) => `${s.size}:${s.mtimeMs}`,
        () => '-',
      ),
    ),
  );
  return parts.join('|');
}
