// The bounds of on-demand mode: past maxLoadedModels or the byte budget, the least recently used model with no
// request in flight (nor one through an ensemble running it) is unloaded; none such, a load waits for one, bounded.
import { EnsembleRuntime } from '../ensemble/runtime.js';
import { errors, withExtras } from '../errors.js';
import type { EvictionBound } from '../observe.js';
import type { DemandBounds, Model } from './state.js';

/** A model that holds loaded versions (a failed or unloaded one holds nothing). */
export function holdsMemory(model: Model): boolean {
  return model.slots.some((s) => s.entry.runtime !== undefined && s.entry.state !== 'UNAVAILABLE');
}

export function notReady(name: string, why: string): Error {
  return withExtras(new errors.MODEL_NOT_READY(name, why), { retryAfter: 1 });
}

function inFlight(model: Model): number {
  return model.slots.reduce((sum, s) => sum + s.inFlight, 0);
}

/** Unloads a model to make room, its index rows saying why. */
export type Evict = (name: string, reason: string, bound: EvictionBound) => Promise<void>;

export class Eviction {
  #models: ReadonlyMap<string, Model>;
  #bounds: DemandBounds;
  #evict: Evict;
  /** Woken when a request finishes with a model: room may have appeared. */
  #waiters = new Set<() => void>();
  /** Loads waiting for a model to finish its requests so that it can be evicted. */
  #roomless = new Set<string>();
  /** Past a bound with nothing to evict: enforced again when a request finishes. */
  #over = false;

  constructor(models: ReadonlyMap<string, Model>, bounds: DemandBounds, evict: Evict) {
    this.#models = models;
    this.#bounds = bounds;
    this.#evict = evict;
  }

  /** Why a load has not finished: waiting for room, or loading. */
  why(name: string): string {
    if (this.#roomless.has(name)) return this.#noRoom();
    return `still loading after ${this.#bounds.waitMs} ms`;
  }

  #noRoom(): string {
    return `no room: the ${this.#bounds.maxModels} loaded models all have requests in flight`;
  }

  /** Before a load: past maxLoadedModels, the least recently used idle model goes; none idle, it waits (bounded). */
  async makeRoom(name: string): Promise<void> {
    const { maxModels, waitMs } = this.#bounds;
    if (maxModels === 0) return;
    const until = Date.now() + waitMs;
    while (this.#resident(name).length >= maxModels) {
      const victim = this.#victim(name);
      if (victim !== undefined) {
        const reason = `evicted: least recently used, past maxLoadedModels (${maxModels})`;
        await this.#evict(victim.name, reason, 'models');
        continue;
      }
      this.#roomless.add(name);
      const woken = await this.#idle(until - Date.now()).finally(() => this.#roomless.delete(name));
      if (!woken) throw notReady(name, this.#noRoom());
    }
  }

  /** Unloads the least recently used idle models while the loaded ones are past a bound; `keep` stays. */
  async enforce(keep?: string): Promise<void> {
    const { maxModels, maxBytes } = this.#bounds;
    for (;;) {
      const resident = this.#resident();
      const bytes = resident.reduce((sum, m) => sum + (m.bytes ?? 0), 0);
      const bound: EvictionBound | undefined =
        maxModels > 0 && resident.length > maxModels
          ? 'models'
          : maxBytes > 0 && bytes > maxBytes
            ? 'bytes'
            : undefined;
      this.#over = bound !== undefined;
      if (bound === undefined) return;
      const victim = this.#victim(keep);
      if (victim === undefined) return; // checked again when a request finishes
      const past = bound === 'models' ? `maxLoadedModels (${maxModels})` : `maxLoadedBytes (${maxBytes})`;
      await this.#evict(victim.name, `evicted: least recently used, past ${past}`, bound);
    }
  }

  /** A request finished with a model: a waiting load may proceed, a bound passed may be enforced. */
  idle(loading: boolean): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
    if (this.#over && !loading) void this.enforce();
  }

  #idle(ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, ms);
      this.#waiters.add(wake);
    });
  }

  #resident(except?: string): Model[] {
    return [...this.#models.values()].filter((m) => m.name !== except && holdsMemory(m));
  }

  /** The least recently used model with no request in flight (nor one through an ensemble running it). */
  #victim(keep?: string): Model | undefined {
    const pinned = this.#pinned(keep);
    let victim: Model | undefined;
    for (const model of this.#resident(keep)) {
      if (pinned.has(model.name)) continue;
      if (victim === undefined || (model.used ?? 0) < (victim.used ?? 0)) victim = model;
    }
    return victim;
  }

  #pinned(keep?: string): Set<string> {
    const pinned = new Set<string>();
    const pin = (name: string) => {
      if (pinned.has(name)) return;
      pinned.add(name);
      for (const { entry } of this.#models.get(name)?.slots ?? []) {
        if (entry.runtime instanceof EnsembleRuntime) for (const s of entry.runtime.graph.steps) pin(s.model);
      }
    };
    if (keep !== undefined) pin(keep);
    for (const model of this.#models.values()) if (inFlight(model) > 0) pin(model.name);
    return pinned;
  }
}
