// The process entry point: stop signals first, then config from file and env, then the cluster primary or a worker.
import cluster from 'node:cluster';
import {
  checkPaths,
  ConfigError,
  createConfig,
  readConfigFile,
  unknownVariables,
} from './config/create-config.js';
import type { Config } from './config/schema.js';
import { usableCpus } from './lib/cpus.js';
import { countExternalMemoryInHeapLimit } from './process/heap.js';
import { stopSignals } from './process/signals.js';

// Before anything slow: from here on no SIGTERM or SIGINT can kill this process mid-request.
const stop = stopSignals();

/** EX_CONFIG: a supervisor should not restart-loop on a bad config. */
const EX_CONFIG = 78;

function configFailed(err: unknown): never {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`serval: ${err.message}\n`);
  process.exit(EX_CONFIG);
}

function loadConfig(): Config {
  // Before validation: a typo may be why a value is missing or wrong. Once, from the primary (or the only process).
  if (cluster.isPrimary) {
    for (const warning of unknownVariables(process.env))
      process.stderr.write(`serval: warning: ${warning}\n`);
  }
  try {
    const config = createConfig(readConfigFile(process.env.SERVAL_CONFIG), process.env);
    checkPaths(config);
    return config;
  } catch (err) {
    configFailed(err);
  }
}

// onnxruntime's usage telemetry is off unless the operator turns it on (ORT_DISABLE_TELEMETRY=0).
process.env.ORT_DISABLE_TELEMETRY ??= '1';
const config = loadConfig();
if (config.externalMemoryInHeapLimit) countExternalMemoryInHeapLimit();
const workers = config.workers === 0 ? usableCpus() : config.workers;
if (cluster.isPrimary && workers > 1) {
  // The primary never loads the app: it only supervises.
  (await import('./process/primary.js')).runPrimary(config, workers, stop);
} else {
  // A setting found wrong only when the app is built (a key that cannot verify with the algorithms) stops the start.
  await (await import('./process/worker.js')).runWorker(config, !cluster.isPrimary, stop).catch(configFailed);
}
