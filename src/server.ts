// The process entry point: stop signals first, then config from file and env, then the cluster primary or a worker.
import cluster from 'node:cluster';
import { ConfigError, createConfig, readConfigFile } from './config/create-config.js';
import type { Config } from './config/schema.js';
import { usableCpus } from './process/cpus.js';
import { stopSignals } from './process/signals.js';

// Before anything slow: from here on no SIGTERM or SIGINT can kill this process mid-request.
const stop = stopSignals();

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

// onnxruntime's usage telemetry is off unless the operator turns it on (ORT_DISABLE_TELEMETRY=0).
process.env.ORT_DISABLE_TELEMETRY ??= '1';
const config = loadConfig();
const workers = config.workers === 0 ? usableCpus() : config.workers;
if (cluster.isPrimary && workers > 1) {
  // The primary never loads the app: it only supervises.
  (await import('./process/primary.js')).runPrimary(config, workers, stop);
} else {
  await (await import('./process/worker.js')).runWorker(config, !cluster.isPrimary, stop);
}
