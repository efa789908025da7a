// What Serval makes of a Triton model configuration before it sees the graph: the version policy, the graph's file
// name, batching and instances, and, for every other field, whether it is applied, named in the load's one warning
// (it changes how the model runs, not its answers) or refused (it would change answers, or needs a GPU).
import protobuf from 'protobufjs';
import type { VersionPolicy } from '../descriptor.js';
import { modelConfigType, type ConfigMessage, type ConfigValue } from './schema.js';
import { schedulePolicy, type DynamicBatchingConfig } from '../../runtime/schedule.js';

import type { TritonConfig, TensorConfig, TritonPlan } from './config-types.js';

export type { InstanceGroupConfig, TensorConfig, TritonConfig, TritonPlan } from './config-types.js';

/** A configuration that cannot be served as it is: the reason names the field. */
export class ConfigRefused extends Error {}

const PLATFORM = 'onnxruntime_onnx';
const BACKEND = 'onnxruntime';

/** The dotted paths of every value set under a field (proto3 leaves defaults out, so these were written). */
function leaves(value: ConfigValue | undefined, path: string): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.length > 0 ? [path] : [];
  if (typeof value !== 'object') return [path];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, `${path}.${k}`));
}

/**
 * How each top-level field is taken: `apply` (read below), `warn` with why it is not applied, or `refuse` with why.
 * Every field of ModelConfig is here; a test keeps it so as the .proto grows.
 */
export const TOP_LEVEL: Record<string, { apply: true } | { warn: string } | { refuse: string }> = {
  name: { apply: true },
  platform: { apply: true },
  backend: { apply: true },
  runtime: { warn: 'Serval runs ONNX models with onnxruntime-node' },
  version_policy: { apply: true },
  max_batch_size: { apply: true },
  input: { apply: true },
  output: { apply: true },
  batch_input: {
    refuse: 'batch inputs are not served: Serval feeds the graph the tensors of the request only',
  },
  batch_output: { refuse: 'batch outputs are not served: Serval answers each request with its own rows' },
  optimization: { warn: 'onnxruntime runs on CPU with all graph optimizations' },
  dynamic_batching: { apply: true },
  sequence_batching: { refuse: 'sequence batching (stateful models) is not served' },
  ensemble_scheduling: { apply: true },
  instance_group: { apply: true },
  default_model_filename: { apply: true },
  cc_model_filenames: { warn: 'CUDA compute capabilities choose a file on GPUs only' },
  metric_tags: { warn: "Serval's metrics have the labels model and version" },
  parameters: { apply: true },
  model_warmup: { warn: 'Serval warms every model up with its own zero-filled calls' },
  model_operations: { warn: 'custom operation libraries are not loaded' },
  model_transaction_policy: { apply: true },
  model_repository_agents: { warn: 'repository agents do not run: the files are read as they are' },
  response_cache: { apply: true },
  model_metrics: { warn: "Serval's latency histograms have fixed buckets" },
};

/** ONNX Runtime backend parameters Serval applies. */
const APPLIED_PARAMETERS = new Set(['intra_op_thread_count']);

function refuse(field: string, reason: string): never {
  throw new ConfigRefused(`${field}: ${reason}`);
}

function versionPolicy(config: TritonConfig): VersionPolicy {
  const policy = config.version_policy;
  if (policy === undefined) return { latest: 1 };
  if (policy.all) return 'all';
  if (policy.specific) {
    const versions = [...new Set(policy.specific.versions ?? [])];
    if (versions.length === 0) refuse('version_policy.specific', 'names no version');
    const bad = versions.find((v) => v < 1);
    if (bad !== undefined)
      refuse('version_policy.specific.versions', `${bad} is not a version (they start at 1)`);
    return { specific: versions };
  }
  const count = policy.latest?.num_versions ?? 0;
  if (count < 1) refuse('version_policy.latest.num_versions', 'must be at least 1');
  return { latest: count };
}

/** Triton's own checks of a tensor's dims and reshape (core's ValidateIOShape), and what Serval cannot serve. */
function checkTensor(tensor: TensorConfig, field: string, maxBatchSize: number): void {
  const at = `${field} "${tensor.name ?? ''}"`;
  if (!tensor.name) refuse(field, 'must have a name');
  if (!tensor.data_type) refuse(at, 'must have a data_type');
  if (tensor.data_type === 'TYPE_BF16')
    refuse(`${at} data_type`, 'TYPE_BF16 is not served (onnxruntime-node has no bfloat16)');
  const dims = tensor.dims ?? [];
  if (dims.length === 0) refuse(at, 'must have dims');
  const wrong = (values: number[]) => values.find((d) => d < 1 && d !== -1);
  if (wrong(dims) !== undefined) refuse(`${at} dims`, 'dimensions are integers from 1, or -1 for any size');
  if (tensor.reshape) {
    const shape = tensor.reshape.shape ?? [];
    if (shape.length === 0 && maxBatchSize === 0)
      refuse(`${at} reshape`, 'cannot be empty without a batch dimension (max_batch_size 0)');
    if (wrong(shape) !== undefined)
      refuse(`${at} reshape`, 'dimensions are integers from 1, or -1 for any size');
    // Between -1s, dims and reshape must hold the same number of elements ([2, 4, -1, 6] → [8, -1, 1, 6]).
    const trunks = (values: number[]) =>
      values.reduce<number[]>(
        (acc, d) => (d === -1 ? [...acc, 1] : [...acc.slice(0, -1), (acc.at(-1) ?? 1) * d]),
        [1],
      );
    const [a, b] = [trunks(dims), trunks(shape)];
    const scalar = shape.length === 0 && a.length === 1 && a[0] === 1;
    if (!scalar && (a.length !== b.length || a.some((n, i) => n !== b[i])))
      refuse(
        `${at} reshape`,
        `[${shape.join(', ')}] does not hold the elements of dims [${dims.join(', ')}]`,
      );
  }
  if (tensor.is_shape_tensor) refuse(`${at} is_shape_tensor`, 'shape tensors are served by TensorRT only');
  if (tensor.is_non_linear_format_io) refuse(`${at} is_non_linear_format_io`, 'served by TensorRT only');
  if (tensor.allow_ragged_batch) refuse(`${at} allow_ragged_batch`, 'ragged batches are not served');
  if (tensor.optional) {
    refuse(`${at} optional`, 'optional inputs (overridable initializers of the graph) are not served yet');
  }
  if ((tensor.format === 'FORMAT_NHWC' || tensor.format === 'FORMAT_NCHW') && dims.length !== 3)
    refuse(`${at} format`, `${tensor.format} needs 3 dims`);
}

function instances(config: TritonConfig, notApplied: string[]): number {
  const groups = config.instance_group ?? [];
  if (groups.length === 0) return 2;
  let total = 0;
  groups.forEach((group, i) => {
    const at = `instance_group[${i}]`;
    const kind = group.kind ?? 'KIND_AUTO';
    if (kind === 'KIND_GPU') refuse(`${at}.kind`, 'KIND_GPU: Serval runs models on CPUs only (use KIND_CPU)');
    if (kind === 'KIND_MODEL')
      refuse(`${at}.kind`, 'KIND_MODEL: Serval places instances on CPUs only (use KIND_CPU)');
    if (group.gpus?.length) refuse(`${at}.gpus`, 'Serval runs models on CPUs only');
    if (Array.isArray(group.secondary_devices))
      refuse(`${at}.secondary_devices`, 'Serval runs models on CPUs only');
    if (Array.isArray(group.profile)) refuse(`${at}.profile`, 'profiles are TensorRT’s');
    for (const field of ['rate_limiter', 'passive', 'host_policy'])
      for (const path of leaves(group[field], `${at}.${field}`))
        notApplied.push(`${path} (Serval has no rate limiter or host policies)`);
    total += (group.count ?? 0) > 0 ? (group.count as number) : 2;
  });
  return total;
}

/** dynamic_batching's fields of Triton's schedule policy, which the batcher applies. */
const SCHEDULE_FIELDS = new Set([
  'priority_levels',
  'default_priority_level',
  'default_queue_policy',
  'priority_queue_policy',
]);

function batching(config: TritonConfig, autoComplete: boolean, notApplied: string[]): void {
  const dynamic = config.dynamic_batching;
  if (!dynamic) return;
  const maxBatchSize = config.max_batch_size ?? 0;
  for (const size of dynamic.preferred_batch_size ?? []) {
    if (size < 1) refuse('dynamic_batching.preferred_batch_size', `${size} is not a batch size`);
    if (size > maxBatchSize && !autoComplete)
      refuse('dynamic_batching.preferred_batch_size', `${size} is past max_batch_size ${maxBatchSize}`);
  }
  if (maxBatchSize === 0 && !autoComplete)
    notApplied.push('dynamic_batching (max_batch_size 0: the model has no batch dimension to merge along)');
  const why: Record<string, string> = {
    preferred_batch_size: 'a batch is what waits, up to max_batch_size rows',
    max_queue_delay_microseconds: 'a call never waits for others to join it',
    preserve_ordering: 'each request has its own answer',
  };
  try {
    schedulePolicy(dynamic as DynamicBatchingConfig);
  } catch (err) {
    refuse('dynamic_batching', (err as Error).message.replace(/^dynamic_batching\.?/, ''));
  }
  for (const [field, value] of Object.entries(dynamic)) {
    if (SCHEDULE_FIELDS.has(field)) continue; // applied: the schedule policy (runtime/schedule.ts)
    for (const path of leaves(value, `dynamic_batching.${field}`))
      notApplied.push(`${path} (${why[field] ?? 'not applied'})`);
  }
}

/** What the configuration runs on: refuses any platform, backend or transaction policy Serval does not serve. */
function checkPlatform(config: TritonConfig, ensemble: boolean, notApplied: string[]): void {
  const { platform, backend } = config;
  if (ensemble) {
    checkEnsemble(config);
    const inflight = (config.ensemble_scheduling as { max_inflight_requests?: number }).max_inflight_requests;
    if (inflight)
      notApplied.push(
        `ensemble_scheduling.max_inflight_requests (each step is bounded by its own model's queue)`,
      );
  }
  if (platform !== undefined && platform !== PLATFORM && !ensemble)
    refuse('platform', `"${platform}" is not served: Serval serves ONNX models (${PLATFORM})`);
  if (ensemble && backend) refuse('backend', 'an ensemble runs its steps’ models: it has no backend');
  if (backend !== undefined && backend !== BACKEND)
    refuse('backend', `"${backend}" is not served: Serval serves ONNX models (backend ${BACKEND})`);
  if ((config.model_transaction_policy as { decoupled?: boolean } | undefined)?.decoupled)
    refuse(
      'model_transaction_policy.decoupled',
      'decoupled models (many answers to a request) are not served',
    );
}

/** The top-level fields Serval refuses or warns about (TOP_LEVEL), and the tensors' declarations. */
function checkFields(config: TritonConfig, maxBatchSize: number, notApplied: string[]): void {
  for (const [field, value] of Object.entries(config)) {
    const how = TOP_LEVEL[field];
    if (how && 'refuse' in how) refuse(field, how.refuse);
    if (how && 'warn' in how) {
      for (const path of leaves(value as ConfigValue, field)) notApplied.push(`${path} (${how.warn})`);
    }
  }
  (config.input ?? []).forEach((t, i) => checkTensor(t, `input[${i}]`, maxBatchSize));
  (config.output ?? []).forEach((t, i) =>
    checkTensor({ ...t, optional: false }, `output[${i}]`, maxBatchSize),
  );
}

/** intra_op_thread_count, the one parameter Serval applies; the others are kept and shown. */
function intraOpThreadsOf(config: TritonConfig, notApplied: string[]): number | undefined {
  const parameters = config.parameters ?? {};
  for (const key of Object.keys(parameters).filter((k) => !APPLIED_PARAMETERS.has(k)))
    notApplied.push(`parameters["${key}"] (kept and shown, not acted on)`);
  const intra = parameters.intra_op_thread_count?.string_value;
  if (intra !== undefined && !/^[1-9][0-9]{0,2}$/.test(intra))
    refuse('parameters["intra_op_thread_count"]', `"${intra}" is not a thread count`);
  return intra === undefined ? undefined : Number(intra);
}

/**
 * Checks a configuration and returns what Serval applies of it; throws ConfigRefused naming the field when it cannot
 * be served. `model` is the folder's name, which a configured name must equal (as in Triton); undefined where the
 * server's settings name the model.
 */
export function planConfig(config: TritonConfig, model: string | undefined, source: string): TritonPlan {
  const notApplied: string[] = [];
  if (model !== undefined && config.name !== undefined && config.name !== model)
    refuse('name', `"${config.name}" is not the model's folder name "${model}"`);
  const ensemble = config.platform === 'ensemble' || config.ensemble_scheduling !== undefined;
  checkPlatform(config, ensemble, notApplied);
  const maxBatchSize = config.max_batch_size ?? 0;
  if (maxBatchSize < 0) refuse('max_batch_size', 'must be 0 or more');
  const policy = versionPolicy(config);
  checkFields(config, maxBatchSize, notApplied);
  // An ensemble has no graph to complete its tensors from: it must list them (its steps' check says so).
  const autoComplete = !ensemble && (!config.input?.length || !config.output?.length);
  batching(config, autoComplete, notApplied);
  const count = instances(config, notApplied);
  return {
    config,
    source,
    versionPolicy: policy,
    graphFile: config.default_model_filename || undefined,
    autoComplete,
    dynamicBatching: !ensemble && (config.dynamic_batching !== undefined || autoComplete),
    ensemble,
    instances: count,
    intraOpThreads: intraOpThreadsOf(config, notApplied),
    notApplied,
  };
}

/** The shape of an ensemble's steps; how they connect is checked when it loads (ensemble/graph.ts). */
function checkEnsemble(config: TritonConfig): void {
  if (config.platform !== 'ensemble') refuse('ensemble_scheduling', 'needs platform "ensemble"');
  const steps = (config.ensemble_scheduling?.step ?? []) as ConfigMessage[];
  if (steps.length === 0) refuse('ensemble_scheduling.step', 'an ensemble needs at least one step');
  steps.forEach((step, i) => {
    if (!step.model_name) refuse(`ensemble_scheduling.step[${i}].model_name`, 'is missing');
    if (step.input_map === undefined) refuse(`ensemble_scheduling.step[${i}].input_map`, 'is missing');
    if (step.output_map === undefined) refuse(`ensemble_scheduling.step[${i}].output_map`, 'is missing');
  });
}

/**
 * A JSON object with a ModelConfig field's name (as Triton writes them, snake_case) is Triton's configuration;
 * Serval's model.json has other keys (its versionPolicy is not Triton's version_policy).
 */
export function isTritonJson(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.keys(value).some((k) => Object.hasOwn(TOP_LEVEL, k));
}

/** Top-level fields of ModelConfig that the table above does not decide about (a test keeps this empty). */
export function unclassifiedFields(type: protobuf.Type = modelConfigType()): string[] {
  return type.fieldsArray.map((f) => f.name).filter((name) => !(name in TOP_LEVEL));
}
