// One serving process: builds the core and the HTTP app, loads models, listens; drains exactly once on a stop.
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { loggerOptions } from './logger.js';
import type { StopSignals } from './signals.js';

/**
 * In a cluster a worker listens only once its models are loaded, so the primary never hands a connection to a
 * worker that would answer 503; a single process listens first, so /healthz answers while models load.
 */
export async function runWorker(config: Config, clustered: boolean, stop: StopSignals): Promise<void> {
  const log = pino(loggerOptions(config));
  const [{ createCore }, { buildApp }] = await Promise.all([
    import('../core/core.js'),
    import('../http/app.js'),
  ]);
  const core = await createCore(config, log);
  const app = await buildApp(config, core);

  let draining: Promise<void> | undefined;
  /** Readiness goes 503 at once; connections already on their way are still served during the delay; then drain. */
  const drain = (why: string, code: number): Promise<void> =>
    (draining ??= (async () => {
      core.health.draining = true;
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
      await app.close();
      await core.close();
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

  if (clustered) {
    await app.ready();
    await core.start();
    if (draining) return;
    await app.listen({ host: config.host, port: config.port });
  } else {
    await app.listen({ host: config.host, port: config.port });
    await core.start();
  }
  log.info({ ready: core.models.readyCount, startupMs: Math.round(process.uptime() * 1000) }, 'worker ready');
}
