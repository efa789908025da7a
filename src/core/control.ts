// Loading and unloading models through the repository API: in every serving process (through the cluster's
// broadcast), answered once all have applied it, or with the error of those that could not.
import { applyEverywhere, type Broadcast, type ClusterRequest } from './cluster.js';
import type { LoadOverride } from './models/descriptor.js';

export interface ModelControl {
  /** (Re)loads a model from the repository folder; rejects with the reason when a version fails. */
  load(name: string, override?: LoadOverride): Promise<void>;
  /** Stops serving a model (and, with `dependents`, the ensembles running it); resolves once their calls are done. */
  unload(name: string, options?: { dependents?: boolean }): Promise<void>;
}

export function modelControl(broadcast: Broadcast): ModelControl {
  const apply = (request: ClusterRequest) => applyEverywhere(broadcast, request);
  return {
    load: (name, override) => apply({ kind: 'load', name, ...(override ? { override } : {}) }),
    unload: (name, options) =>
      apply({ kind: 'unload', name, ...(options?.dependents ? { dependents: true } : {}) }),
  };
}
