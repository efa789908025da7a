// The pre-fork primary: keeps N workers alive and stops them all on a stop signal, like gunicorn's arbiter.
import cluster, { type Worker } from 'node:cluster';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { PrimaryHub, restartsReply } from './ipc.js';
import { loggerOptions } from '../config/logger.js';
import type { StopSignals } from './signals.js';

/** Stops every worker with one SIGTERM each, then exits: 0 when all exited cleanly within the grace. */
function stopWorkers(config: Config, log: Logger, signal: string): void {
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
    log.info({ failed }, 'all workers stopped');
    process.exit(failed ? 1 : 0);
  });
}

export function runPrimary(config: Config, workers: number, stop: StopSignals): void {
  const log = pino(loggerOptions(config));
  let stopping = false;
  const recentDeaths: number[] = [];
  let restarts = 0;
  const hub = new PrimaryHub({
    log,
    own: (request) => (request.kind === 'metrics' ? restartsReply(restarts) : undefined),
  });
  const fork = () => hub.attach(cluster.fork());

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (code === 78) {
      // The worker found the configuration wrong (EX_CONFIG): another one would too.
      log.fatal({ pid: worker.process.pid }, 'a worker stopped on a configuration error; stopping');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(78);
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths[0] !== undefined && recentDeaths[0] < now - 30_000) recentDeaths.shift();
    if (recentDeaths.length > workers * 5) {
      log.fatal('workers keep dying; giving up');
      process.exit(1);
    }
    restarts++;
    fork();
  });

  // One SIGTERM per worker, once: a worker drains once whether this, its process group's signal, or both reach it.
  void stop.requested.then((signal) => {
    stopping = true;
    stopWorkers(config, log, signal);
  });

  const grpcPort = config.grpcEnabled ? config.grpcPort : undefined;
  log.info({ workers, port: config.port, grpcPort, host: config.host }, 'serval primary starting workers');
  for (let i = 0; i < workers; i++) fork();
}
