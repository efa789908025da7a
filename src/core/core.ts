// The protocol-neutral core, built once per process by the entry point and handed to every front end.
import type { Logger } from 'pino';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Config } from '../config/schema.js';
import { BufferPool } from '../lib/buffer-pool.js';
import { usableCpus } from '../lib/cpus.js';
import type { CoreShare } from './runtime/core-share.js';
import { PredictionCache } from './cache/prediction-cache.js';
import type { Broadcast, ClusterReply, ClusterRequest } from './cluster.js';
import { clusterHandler, everywhere } from './cluster-handler.js';
import { modelControl, type ModelControl } from './control.js';
import { Health } from './health.js';
import { LogSettings, type LogSettingsValues } from './log-settings.js';
import { Inference } from './inference.js';
import { Metrics } from './metrics.js';
import { ModelRepository } from './models/repository.js';
import { observeAll, type Observer } from './observe.js';
import { createPayloadLog, type PayloadLog } from './payload-log/payload-log.js';
import { InputProcessor } from './processing/inputs.js';
import { InferencePool } from './runtime/pool.js';
import { createRedis, type SharedRedis } from './redis.js';
import { TraceSettings, type TracePatch, type TraceSettingsValues } from './tracing/settings.js';
import { exporting, loadTracer, type Tracer } from './tracing/trace.js';
import { Statistics, type ModelStats } from './statistics.js';

export interface Core {
  readonly config: Config;
  readonly log: Logger;
  readonly models: ModelRepository;
  readonly cache: PredictionCache | null;
  /** null without redisUrl. */
  readonly redis: SharedRedis | null;
  readonly inference: Inference;
  readonly health: Health;
  /** Loads and unloads models: this process's repository, or every worker's in a cluster. */
  readonly control: ModelControl;
  /** This process's metrics (null when metricsEnabled is off): front ends add their own (HTTP requests). */
  readonly metrics: Metrics | null;
  /** Payload logging (null when payloadLogUrl is empty): front ends open an exchange per inference request. */
  readonly payloadLog: PayloadLog | null;
  /**
   * Reused memory for large tensors as they arrive (request bodies, aligned copies of raw contents): fresh memory
   * for each makes V8 run full collections. Whoever takes a piece gives it back once the answer is sent.
   */
  readonly tensorMemory: BufferPool;
  /** Answers a request of the cluster (or of this process alone) from this process. */
  handle(request: ClusterRequest): Promise<ClusterReply>;
  /**
   * Per model statistics summed over every serving process, optionally of one model (and version): NOT_FOUND for a
   * model or version that is not served.
   */
  statistics(model?: string, version?: string): Promise<ModelStats[]>;
  /** The Prometheus text of every serving process's metrics. */
  metricsText(): Promise<string>;
  /** Triton's log settings: this process's, or, given some to change, applied in every serving process. */
  logging(settings?: Partial<LogSettingsValues>): Promise<LogSettingsValues>;
  /** OpenTelemetry traces of requests: null when tracing is off (no SDK loaded). */
  readonly tracer: Tracer | null;
  /**
   * Triton's trace settings, global or of a model (NOT_FOUND for a model not served): this process's, or, given
   * some to change, applied in every serving process.
   */
  tracing(model?: string, settings?: TracePatch): Promise<TraceSettingsValues>;
  /** Loads every model (once); never rejects: failures are recorded per model. */
  start(): Promise<void>;
  /**
   * Sends the payload events still queued (until `deadline`, epoch ms), unloads the models and ends the thread pool and
   * Redis; front ends close first.
   */
  close(deadline?: number): Promise<void>;
}

export interface CoreOptions {
  /**
   * How requests reach every serving process, given this one's handler (a cluster worker's goes through the
   * primary); by default this process alone.
   */
  broadcast?: (handle: (request: ClusterRequest) => Promise<ClusterReply>) => Broadcast;
  /** This process's `worker` label on its process metrics. */
  worker?: string;
  /** The log settings the entry point's root logger follows; by default, settings of `log` alone. */
  logSettings?: LogSettings;
  /** Where spans go instead of the configured exporter (tests); tracing is then on. */
  spans?: SpanProcessor;
  /** The other serving processes' use of the cores (a cluster worker's, through the primary); none by default. */
  share?: CoreShare;
}

/** The model repository over the configured folder, loading each version as the config says. */
function repositoryOf(
  config: Config,
  log: Logger,
  observer: Observer,
  pool: () => InferencePool,
): ModelRepository {
  return new ModelRepository({
    root: config.modelRepository,
    modelName: config.modelName,
    control: config.modelControl,
    startupModels: config.startupModels,
    pollIntervalMs: config.pollIntervalMs,
    demand: {
      maxModels: config.maxLoadedModels,
      maxBytes: config.maxLoadedBytes,
      waitMs: config.loadWaitMs,
    },
    log: log.child({ component: 'models' }),
    observer,
    load: {
      mode: config.inferenceMode,
      inlineThresholdMs: config.inlineThresholdMs,
      intraOpThreads: config.ortIntraOpThreads,
      inferenceTimeoutMs: config.inferenceTimeoutMs,
      batchMaxRows: config.batchMaxRows,
      threads: config.inferenceThreads,
      queueSize: config.inferenceQueueSize,
      pool,
    },
  });
}

function cacheOf(config: Config, redis: SharedRedis | null, log: Logger): PredictionCache | null {
  if (!config.cacheEnabled) return null;
  return new PredictionCache({
    maxEntries: config.cacheMaxEntries,
    maxBytes: config.cacheMaxBytes,
    ttlMs: config.cacheTtlMs,
    redis,
    log: log.child({ component: 'cache' }),
  });
}

/** The one inference pipeline, its image decoding bounded as the inference threads are. */
function inferenceOf(
  config: Config,
  repository: ModelRepository,
  cache: PredictionCache | null,
  observer: Observer,
): Inference {
  const processor = new InputProcessor({
    maxBytes: config.imageMaxBytes,
    maxPixels: config.imageMaxPixels,
    concurrency: config.inferenceThreads,
    queue: config.inferenceQueueSize,
  });
  return new Inference(repository, cache, { maxRows: config.maxInstances, processor }, observer);
}

/** The inference threads, started on first use (a model in thread mode) and closed only if started. */
interface LazyPool {
  get: () => InferencePool;
  sessions: () => number;
  runs: () => { lone: number; shared: number };
  close: () => Promise<void>;
}

function lazyPool(config: Config, share: CoreShare | undefined): LazyPool {
  let pool: InferencePool | undefined;
  return {
    get: () =>
      (pool ??= new InferencePool({
        threads: config.inferenceThreads,
        maxQueue: config.inferenceQueueSize,
        intraOpThreads: config.ortIntraOpThreads,
        loneIntraOpThreads: config.ortLoneIntraOpThreads || usableCpus(),
        ...(share ? { share } : {}),
      })),
    sessions: () => pool?.sessions ?? 0,
    runs: () => pool?.runs ?? { lone: 0, shared: 0 },
    close: async () => {
      await pool?.close();
    },
  };
}

/** Where the pipeline's events go: per model statistics always, Prometheus metrics when they are enabled. */
function observersOf(
  config: Config,
  worker: string | undefined,
  repository: () => ModelRepository,
  pool: LazyPool,
): { statistics: Statistics; metrics: Metrics | null; observer: Observer } {
  const statistics = new Statistics();
  const metrics = config.metricsEnabled
    ? new Metrics({
        worker: worker ?? '0',
        // Read at scrapes only, once the repository exists.
        pending: () => repository().pending(),
        readyModels: () => repository().readyCount,
        loadedBytes: () => repository().loadedBytes,
        threadSessions: pool.sessions,
        threadRuns: pool.runs,
      })
    : null;
  return { statistics, metrics, observer: observeAll(metrics ? [statistics, metrics] : [statistics]) };
}

/** Reused memory for large tensors: pieces from 64 KiB to 16 MiB, at most 32 MiB held idle. */
const TENSOR_MEMORY = { minBytes: 64 * 1024, maxBytes: 16 * 1024 * 1024, maxHeldBytes: 32 * 1024 * 1024 };

export async function createCore(config: Config, log: Logger, options: CoreOptions = {}): Promise<Core> {
  const logSettings = options.logSettings ?? new LogSettings(log.level);
  if (options.logSettings === undefined) logSettings.attach(log);
  const pool = lazyPool(config, options.share);
  const { statistics, metrics, observer } = observersOf(config, options.worker, () => repository, pool);
  const repository = repositoryOf(config, log, observer, pool.get);
  const redis = config.redisUrl
    ? await createRedis(config.redisUrl, log.child({ component: 'redis' }))
    : null;
  const cache = cacheOf(config, redis, log);
  const payloadLog = createPayloadLog(config, log, metrics?.payloadLogCounter());

  const traceSettings = new TraceSettings({
    exporting: exporting(config, options.spans),
    rate: config.traceRate,
  });
  const tracer = await loadTracer(config, traceSettings, log, options.spans);
  const handle = clusterHandler(repository, statistics, metrics, logSettings, traceSettings);
  const broadcast: Broadcast = options.broadcast
    ? options.broadcast(handle)
    : async (request) => [await handle(request)];

  let closed: Promise<void> | undefined;
  return {
    config,
    log,
    models: repository,
    cache,
    redis,
    inference: inferenceOf(config, repository, cache, observer),
    health: new Health(repository),
    control: modelControl(broadcast),
    metrics,
    payloadLog,
    tensorMemory: new BufferPool(TENSOR_MEMORY),
    handle,
    ...everywhere(broadcast, repository, logSettings, traceSettings),
    tracer,
    start: () => repository.load(),
    close: (deadline = Date.now() + config.shutdownGraceMs) =>
      (closed ??= (async () => {
        await Promise.all([payloadLog?.close(deadline), repository.close()]);
        await pool.close();
        redis?.client.disconnect();
        await tracer?.close();
      })()),
  };
}
