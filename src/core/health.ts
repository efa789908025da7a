// Liveness and readiness, for every front end's probes: live means the process answers; ready means it serves.
import { errors, withExtras } from './errors.js';
import type { ModelRepository } from './models/repository.js';

export interface Readiness {
  ready: boolean;
  /** Why not, for people. */
  reason?: string;
  /** Seconds after which readiness may have changed (while loading). */
  retryAfter?: number;
  modelsReady: number;
}

export class Health {
  #models: ModelRepository;
  /** Set at the start of a drain: probes answer not ready while in-flight calls finish. */
  draining = false;

  constructor(models: ModelRepository) {
    this.#models = models;
  }

  /**
   * Ready once the models of the start have loaded, at least one is ready (MLServer #2056: zero models is not ready;
   * on demand, at least one is in the repository) and none of them failed (a failed one must be fixed and reloaded, or unloaded, through the repository API).
   * Liveness never depends on models (Triton #7014).
   */
  readiness(): Readiness {
    const models = this.#models;
    const modelsReady = models.readyCount;
    if (this.draining) return { ready: false, reason: 'shutting down', modelsReady };
    if (!models.loaded) return { ready: false, reason: 'models are loading', retryAfter: 1, modelsReady };
    // On demand, a model loads with its first request: the folder read and listing one is enough.
    const onDemand = models.control === 'on-demand';
    if (onDemand && models.listedCount === 0)
      return { ready: false, reason: 'no model in the repository', modelsReady };
    if (modelsReady === 0 && !onDemand)
      return { ready: false, reason: 'no model could be loaded', modelsReady };
    const failed = models.startupFailures;
    if (failed.length > 0) {
      return {
        ready: false,
        reason: `startup model(s) failed to load: ${failed.slice(0, 5).join(', ')}`,
        modelsReady,
      };
    }
    return { ready: true, modelsReady };
  }

  /** The models ready, or NOT_READY (503, with Retry-After while loading) saying why: every readiness probe's answer. */
  requireReady(): number {
    const readiness = this.readiness();
    if (readiness.ready) return readiness.modelsReady;
    const error = new errors.NOT_READY(readiness.reason ?? 'unknown');
    throw readiness.retryAfter === undefined
      ? error
      : withExtras(error, { retryAfter: readiness.retryAfter });
  }
}
