// This process's answers to the requests of the cluster, and the core's calls that ask every serving process (each
// process holds its own statistics, metrics and settings; a cluster sums or applies them everywhere).
import { applyEverywhere, reply, type Broadcast, type ClusterReply, type ClusterRequest } from './cluster.js';
import type { Core } from './core.js';
import type { LogSettings } from './log-settings.js';
import { mergedText, type Metrics, type MetricsJson } from './metrics.js';
import type { ModelRepository } from './models/repository.js';
import type { TraceSettings } from './tracing/settings.js';
import { sumStatistics, type ModelStats, type Statistics } from './statistics.js';

/** This process's answer to a request of the cluster (or of itself alone). */
export function clusterHandler(
  repository: ModelRepository,
  statistics: Statistics,
  metrics: Metrics | null,
  logSettings: LogSettings,
  traceSettings: TraceSettings,
): (request: ClusterRequest) => Promise<ClusterReply> {
  return (request) =>
    reply(process.pid, async () => {
      switch (request.kind) {
        // A worker still loading the start's models applies a change after them, not to a half-known repository.
        case 'load':
          await repository.load();
          return repository.loadModel(request.name, request.override);
        case 'unload':
          await repository.load();
          return repository.unloadModel(request.name, { dependents: request.dependents === true });
        case 'stats':
          return statistics.snapshot(repository.served());
        case 'metrics':
          return metrics?.json() ?? { serval: [], process: [] };
        case 'logging':
          return logSettings.apply(request.settings);
        case 'trace':
          return traceSettings.apply(request.settings, request.model);
      }
    });
}

/** The core's calls answered by every serving process: statistics and metrics summed, settings applied in each. */
export function everywhere(
  broadcast: Broadcast,
  repository: ModelRepository,
  logSettings: LogSettings,
  traceSettings: TraceSettings,
): Pick<Core, 'statistics' | 'metricsText' | 'logging' | 'tracing'> {
  return {
    async statistics(model, version) {
      // An unknown model or version is NOT_FOUND, for every front end, as its metadata is.
      if (model !== undefined) {
        if (version === undefined) repository.versions(model);
        else repository.find(model, version);
      }
      const replies = await broadcast({ kind: 'stats' });
      const lists = replies.flatMap((r) => (r.error === undefined ? [r.value as ModelStats[]] : []));
      return sumStatistics(lists).filter(
        (s) => (model === undefined || s.name === model) && (version === undefined || s.version === version),
      );
    },
    async metricsText() {
      const replies = await broadcast({ kind: 'metrics' });
      const parts = replies.flatMap((r) =>
        r.error === undefined ? [r.value as { serval: MetricsJson; process: MetricsJson }] : [],
      );
      return mergedText(parts);
    },
    async logging(settings) {
      if (settings === undefined) return logSettings.values;
      await applyEverywhere(broadcast, { kind: 'logging', settings });
      return logSettings.values;
    },
    async tracing(model, settings) {
      if (model !== undefined) repository.versions(model);
      if (settings === undefined) return traceSettings.values(model);
      traceSettings.refuse(settings);
      await applyEverywhere(broadcast, {
        kind: 'trace',
        settings,
        ...(model === undefined ? {} : { model }),
      });
      return traceSettings.values(model);
    },
  };
}
