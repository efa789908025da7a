// The config schema's model keys: the repository, loading on demand, and how inference runs.
import { Type } from 'typebox';
import { Milliseconds } from './schema-units.js';

export const InferenceModes = ['auto', 'inline', 'thread'] as const;

/** Models and inference: the repository and its control, on-demand bounds, threads, queues, images. */
export const ModelKeys = {
  modelRepository: Type.String({
    minLength: 1,
    default: 'models',
    description: 'Folder of <model>/<version>/model.onnx, relative to the working directory.',
  }),
  modelName: Type.String({
    default: '',
    description:
      'The name of the model when the repository holds one (a bare .onnx file, a folder with model.onnx or version folders at its root, as KServe mounts /mnt/models); default: the file or folder name.',
  }),
  modelControl: Type.Enum(['none', 'poll', 'explicit', 'on-demand'], {
    default: 'none',
    description:
      'none: load every model at start; poll: also watch the repository and load, reload and unload as files change; explicit: only startupModels at start, the rest through the repository API; on-demand: every model listed at start and loaded by its first request, the least recently used unloaded past maxLoadedModels or maxLoadedBytes.',
  }),
  startupModels: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'In explicit mode, the models loaded at start (comma-separated in env).',
  }),
  maxLoadedModels: Type.Integer({
    minimum: 0,
    maximum: 100_000,
    default: 0,
    description:
      'In on-demand mode, the most models loaded per process (0: no bound); past it the least recently used model with no request in flight is unloaded.',
  }),
  maxLoadedBytes: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      "In on-demand mode, the most memory the loaded models may take per process (0: no bound), each measured at its load as the growth of the resident memory, at least its files' size.",
  }),
  loadWaitMs: Milliseconds(
    30_000,
    'In on-demand mode, how long a request waits for its model to load (or for room to load it) before a 503 with Retry-After.',
  ),
  pollIntervalMs: Milliseconds(
    2_000,
    'In poll mode, how often the repository is read; a version loads once its files are unchanged for one interval.',
  ),
  inferenceMode: Type.Enum(InferenceModes, {
    default: 'auto',
    description: 'Where inference runs: auto (measured per model at load), inline (event loop), thread.',
  }),
  inlineThresholdMs: Type.Number({
    minimum: 0,
    maximum: 10_000,
    default: 1,
    description: 'In auto mode, a model slower than this per warm-up call runs on worker threads.',
  }),
  inferenceThreads: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 1,
    description:
      'Thread-mode runs at once per HTTP process while other processes run inference too (a process alone may run more: ortLoneIntraOpThreads).',
  }),
  inferenceQueueSize: Type.Integer({
    minimum: 0,
    maximum: 100_000,
    default: 64,
    description: 'Thread-mode calls that may wait per HTTP process; beyond it requests get 503.',
  }),
  inferenceTimeoutMs: Milliseconds(10_000, 'Longest time one inference may wait and run before a 504.'),
  imageMaxBytes: Type.Integer({
    minimum: 1024,
    maximum: 1_073_741_824,
    default: 16_777_216,
    description:
      'Largest encoded image (JPEG, PNG, WebP, GIF) one row of an image input may carry; larger ones get 400.',
  }),
  imageMaxPixels: Type.Integer({
    minimum: 1,
    maximum: 1_000_000_000,
    default: 40_000_000,
    description:
      'Most pixels (width × height, as the file declares them) of an image to decode; larger ones get 400 before they are decoded.',
  }),
  batchMaxRows: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 256,
    description: 'Dynamic batching: most rows merged into one inference call; 1 turns it off.',
  }),
  ortIntraOpThreads: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 1,
    description: 'onnxruntime intra-op threads per session (1 avoids oversubscribing the cores).',
  }),
  ortLoneIntraOpThreads: Type.Integer({
    minimum: 0,
    maximum: 64,
    default: 0,
    description:
      'The cores an HTTP process may take while no other one runs inference. A lone thread-mode run (nothing else ran beside it on the inference threads of its process for 50 ms) takes this many onnxruntime intra-op threads, on a second session of the model; calls that come faster run side by side, one thread each, as many at once as fit in these cores (the process starts as many inference threads, the first time they are needed). 0 is the CPUs the process may use (the cgroup CPU quota when set, as for workers); at most ortIntraOpThreads turns both off.',
  }),
  externalMemoryInHeapLimit: Type.Boolean({
    default: true,
    description:
      "V8 counts Buffers' memory (request bodies) in its heap limit instead of collecting for it on a schedule of its own: about 40% less CPU per large binary request, about 20% more RSS under such load (Node 24; no effect on Node 22).",
  }),
};
