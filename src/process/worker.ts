// One serving process: builds the core, the HTTP app and the gRPC server, loads models, listens; drains exactly
// once on a stop, HTTP and gRPC together.
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import cluster from 'node:cluster';
import type { Config } from '../config/schema.js';
import type { Server } from 'node:http';
import type { GrpcServer } from '../grpc/server.js';
import { LogSettings } from '../core/log-settings.js';
import { workerChannel } from './ipc.js';
import { loggerOptions } from './logger.js';
import type { StopSignals } from './signals.js';

/** Of the grace, what gRPC leaves for the rest of the stop (closing the core) after cutting its last calls. */
const GRPC_MARGIN_MS = 500;

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/**
 * In a cluster a worker listens only once its models are loaded, so the primary never hands a connection to a
 * worker that would answer 503; a single process listens for HTTP first, so /healthz answers while models load.
 * gRPC listens once the models are loaded in both cases.
 */
export async function runWorker(config: Config, clustered: boolean, stop: StopSignals): Promise<void> {
  const logSettings = new LogSettings(config.logLevel);
  const log = pino({ ...loggerOptions(config), ...logSettings.pinoOptions() });
  logSettings.attach(log);
  const [{ createCore }, { buildApp }] = await Promise.all([
    import('../core/core.js'),
    import('../http/app.js'),
  ]);
  const channel = clustered ? workerChannel() : undefined;
  const core = await createCore(config, log, {
    ...(channel ? { broadcast: channel.broadcast } : {}),
    worker: String(cluster.worker?.id ?? 0),
    logSettings,
  });
  // The token verifier and the rate limiter, one of each for HTTP and gRPC.
  const access = await (await import('../auth/access.js')).createAccess(config, core);
  const app = await buildApp(config, core, access);
  /** Built once HTTP serves (its modules take a quarter of a second to load, which /healthz need not wait for). */
  let grpc: GrpcServer | undefined;

  let metricsServer: Server | undefined;
  const listen = async () => {
    await app.listen({ host: config.host, port: config.port });
    if (config.metricsEnabled && config.metricsPort !== 0) {
      const { listenMetrics } = await import('../http/metrics-server.js');
      metricsServer = await listenMetrics(core, config.host, config.metricsPort);
    }
  };

  let draining: Promise<void> | undefined;
  /** Readiness goes 503 at once; connections already on their way are still served during the delay; then drain. */
  const drain = (why: string, code: number): Promise<void> =>
    (draining ??= (async () => {
      const started = Date.now();
      core.health.draining = true;
      grpc?.notServing();
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
        app.close(),
        metricsServer && closeServer(metricsServer),
        grpc?.close(Math.max(0, left)),
      ]);
      // Queued payload events are sent within what is left of the grace.
      await core.close(started + config.shutdownGraceMs - GRPC_MARGIN_MS);
      clearTimeout(grace);
      log.info('drained');
      process.exit(code);
    })());

  void stop.requested.then((signal) => drain(signal, 0));
  process.on('disconnect', () => void drain('the cluster primary is gone', 0));
  const fatal = (err: unknown) => {
    log.fatal({ err }, 'fatal error, closing');
    void drain('fatal error', 1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);

  if (channel) {
    await app.ready();
    await core.start();
    // Models loaded or unloaded through the API before this worker started (it replaces one that died).
    for (const request of await channel.replay()) {
      const reply = await core.handle(request);
      if (reply.error)
        log.error({ request, reason: reply.error.message }, 'a model change could not be replayed');
    }
    if (draining) return;
    await listen();
  } else {
    await listen();
    await core.start();
  }
  // A stop may come during any await: a function, so that TypeScript does not take the first check for all.
  const stopping = () => draining !== undefined;
  if (stopping()) return;
  if (config.grpcEnabled) {
    const created = await (await import('../grpc/server.js')).createGrpcServer(config, core, access);
    if (stopping()) return;
    grpc = created;
  }
  const grpcPort = grpc ? await grpc.listen() : undefined;
  log.info(
    { ready: core.models.readyCount, grpcPort, startupMs: Math.round(process.uptime() * 1000) },
    'worker ready',
  );
}
