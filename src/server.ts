// The process entry point: reads config and env, runs the pre-fork primary or one HTTP worker, owns signals.
import cluster, { type Worker } from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { ConfigError, createConfig, readConfigFile } from './config/create-config.js';
import type { Config } from './config/schema.js';
import { usableCpus } from './cpus.js';
import { loggerOptions } from './logger.js';

function loadConfig(): Config {
  try {
    return createConfig(readConfigFile(process.env.SERVAL_CONFIG), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`serval: ${err.message}\n`);
      process.exit(78); // EX_CONFIG: a supervisor should not restart-loop on a bad config
    }
    throw err;
  }
}

/**
 * One HTTP worker: builds the app, loads models and listens; drains on SIGTERM (or the primary's word).
 * In a cluster a worker listens only once its models are loaded, so the primary never hands a connection to a
 * worker that would answer 503; a single process listens first, so /healthz answers while models load.
 */
async function runWorker(config: Config, clustered: boolean): Promise<void> {
  const { buildApp } = await import('./app.js'); // the primary never loads the app: it only supervises
  const app = await buildApp(config);
  const closer = closeWithGrace(
    {
      delay: config.shutdownGraceMs,
      logger: { error: (msg: unknown) => app.log.error(msg) },
      // In a cluster the primary turns SIGINT (sent to the whole group by Ctrl-C) into one SIGTERM per worker.
      ...(clustered ? { skip: ['SIGINT'] } : {}),
    },
    async ({ signal, err }) => {
      if (err) {
        app.log.error({ err }, 'fatal error, closing');
      } else {
        // Readiness goes 503 at once; connections already on their way (queued in the kernel or in the cluster
        // primary) are still accepted and served during the delay; then the listener closes and we drain.
        app.lifecycle.draining = true;
        app.log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutting down: draining');
        await sleep(config.shutdownDelayMs);
      }
      await app.close();
    },
  );
  if (clustered) {
    process.on('SIGINT', () => undefined);
    process.on('disconnect', () => closer.close()); // the primary is gone
    await app.ready();
    await app.models.load();
    await app.listen({ host: config.host, port: config.port });
  } else {
    await app.listen({ host: config.host, port: config.port });
    await app.models.load();
  }
  app.log.info(
    { ready: app.models.readyCount, startupMs: Math.round(process.uptime() * 1000) },
    'worker ready',
  );
}

/** The pre-fork primary: keeps N workers alive and stops them all on SIGTERM/SIGINT, like gunicorn's arbiter. */
function runPrimary(config: Config, workers: number): void {
  const log = pino(loggerOptions(config));
  let stopping = false;
  const recentDeaths: number[] = [];

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths[0] !== undefined && recentDeaths[0] < now - 30_000) recentDeaths.shift();
    if (recentDeaths.length > workers * 5) {
      log.fatal('workers keep dying; giving up');
      process.exit(1);
    }
    cluster.fork();
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    log.info({ signal, workers: alive.length }, 'stopping workers');
    let failed = false;
    const exits = alive.map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', (code) => {
            failed ||= code !== 0;
            resolve();
          });
          w.process.kill('SIGTERM');
        }),
    );
    const deadline = setTimeout(() => {
      log.error('workers did not stop within the grace period; killing them');
      for (const w of alive) w.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownGraceMs + 1000);
    void Promise.all(exits).then(() => {
      clearTimeout(deadline);
      log.info('all workers stopped');
      process.exit(failed ? 1 : 0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  log.info({ workers, port: config.port, host: config.host }, 'serval primary starting workers');
  for (let i = 0; i < workers; i++) cluster.fork();
}

// onnxruntime's usage telemetry is off unless the operator turns it on (ORT_DISABLE_TELEMETRY=0).
process.env.ORT_DISABLE_TELEMETRY ??= '1';
const config = loadConfig();
const workers = config.workers === 0 ? usableCpus() : config.workers;
if (cluster.isPrimary && workers > 1) runPrimary(config, workers);
else await runWorker(config, !cluster.isPrimary);
