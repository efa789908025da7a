// One serving process: builds the core, the HTTP app and the gRPC server, loads models, listens; drains exactly
// once on a stop, HTTP and gRPC together.
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import cluster from 'node:cluster';
import type { Config } from '../config/schema.js';
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Access } from '../auth/access.js';
import type { Core } from '../core/core.js';
import type { GrpcServer } from '../grpc/server.js';
import { LogSettings } from '../core/log-settings.js';
import { workerChannel, type WorkerChannel } from './ipc.js';
import { loggerOptions } from '../config/logger.js';
import type { StopSignals } from './signals.js';

/** Of the grace, what gRPC leaves for the rest of the stop (closing the core) after cutting its last calls. */
const GRPC_MARGIN_MS = 500;

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** The servers of one process over its core, and the one drain that stops them. */
class ServingProcess {
  #draining: Promise<void> | undefined;
  #grpc: GrpcServer | undefined;
  #metricsServer: Server | undefined;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly core: Core,
    readonly app: FastifyInstance,
    readonly access: Access,
  ) {}

  /** Whether a stop has begun: a method, as a stop may come during any await of the start. */
  stopping(): boolean {
    return this.#draining !== undefined;
  }

  async listenHttp(): Promise<void> {
    const { config, core } = this;
    await this.app.listen({ host: config.host, port: config.port });
    if (config.metricsEnabled && config.metricsPort !== 0) {
      const { listenMetrics } = await import('../http/metrics-server.js');
      this.#metricsServer = await listenMetrics(core, config.host, config.metricsPort);
    }
  }

  /** Built once HTTP serves (its modules take a quarter of a second to load, which /healthz need not wait for). */
  async listenGrpc(): Promise<number | undefined> {
    if (!this.config.grpcEnabled) return undefined;
    const created = await (
      await import('../grpc/server.js')
    ).createGrpcServer(this.config, this.core, this.access);
    if (this.stopping()) return undefined;
    this.#grpc = created;
    return created.listen();
  }

  /** Readiness goes 503 at once; connections already on their way are still served during the delay; then drain. */
  drain(why: string, code: number): Promise<void> {
    return (this.#draining ??= this.#drain(why, code));
  }

  async #drain(why: string, code: number): Promise<void> {
    const { config, log, core } = this;
    const started = Date.now();
    core.health.draining = true;
    this.#grpc?.notServing();
    const grace = setTimeout(() => {
      log.error(
        { graceMs: config.shutdownGraceMs },
        'in-flight requests did not finish within the grace period',
      );
      process.exit(1);
    }, config.shutdownGraceMs);
    grace.unref();
    log.info({ reason: why, delayMs: config.shutdownDelayMs }, 'shutting down: draining');
    if (code === 0) await sleep(config.shutdownDelayMs);
    const left = config.shutdownGraceMs - (Date.now() - started) - GRPC_MARGIN_MS;
    await Promise.all([
      this.app.close(),
      this.#metricsServer && closeServer(this.#metricsServer),
      this.#grpc?.close(Math.max(0, left)),
    ]);
    // Queued payload events are sent within what is left of the grace.
    await core.close(started + config.shutdownGraceMs - GRPC_MARGIN_MS);
    clearTimeout(grace);
    log.info('drained');
    process.exit(code);
  }
}

async function buildProcess(config: Config, channel: WorkerChannel | undefined): Promise<ServingProcess> {
  const logSettings = new LogSettings(config.logLevel);
  const log = pino({ ...loggerOptions(config), ...logSettings.pinoOptions() });
  logSettings.attach(log);
  const [{ createCore }, { buildApp }, { createAccess }] = await Promise.all([
    import('../core/core.js'),
    import('../http/app.js'),
    import('../auth/access.js'),
  ]);
  const core = await createCore(config, log, {
    ...(channel ? { broadcast: channel.broadcast, share: channel.share } : {}),
    worker: String(cluster.worker?.id ?? 0),
    logSettings,
  });
  // The token verifier and the rate limiter, one of each for HTTP and gRPC.
  const access = await createAccess(config, core);
  return new ServingProcess(config, log, core, await buildApp(config, core, access), access);
}

/** A cluster worker loads its models, then replays the model changes made before it started (it replaces one that died). */
async function loadClustered(serving: ServingProcess, channel: WorkerChannel): Promise<void> {
  await serving.app.ready();
  await serving.core.start();
  for (const request of await channel.replay()) {
    const reply = await serving.core.handle(request);
    if (reply.error)
      serving.log.error({ request, reason: reply.error.message }, 'a model change could not be replayed');
  }
}

/**
 * In a cluster a worker listens only once its models are loaded, so the primary never hands a connection to a
 * worker that would answer 503; a single process listens for HTTP first, so /healthz answers while models load.
 * gRPC listens once the models are loaded in both cases.
 */
export async function runWorker(config: Config, clustered: boolean, stop: StopSignals): Promise<void> {
  const channel = clustered ? workerChannel() : undefined;
  const serving = await buildProcess(config, channel);
  const { log, core } = serving;
  void stop.requested.then((signal) => serving.drain(signal, 0));
  process.on('disconnect', () => void serving.drain('the cluster primary is gone', 0));
  const fatal = (err: unknown) => {
    log.fatal({ err }, 'fatal error, closing');
    void serving.drain('fatal error', 1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);

  if (channel) {
    await loadClustered(serving, channel);
    if (serving.stopping()) return;
    await serving.listenHttp();
  } else {
    await serving.listenHttp();
    await core.start();
  }
  if (serving.stopping()) return;
  const grpcPort = await serving.listenGrpc();
  if (serving.stopping()) return;
  log.info(
    { ready: core.models.readyCount, grpcPort, startupMs: Math.round(process.uptime() * 1000) },
    'worker ready',
  );
}
