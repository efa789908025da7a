// On-demand loading: every model of the folder listed as not loaded, each loaded by its first request (concurrent
// first requests share one load, each waiting up to a bound), one load at a time so that its memory can be measured.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ensembleSteps } from '../ensemble/order.js';
import { EnsembleRuntime } from '../ensemble/runtime.js';
import { errors, excerpt } from '../errors.js';
import type { Observer } from '../observe.js';
import { peekAt } from './lookups.js';
import { Eviction, holdsMemory, notReady } from './eviction.js';
import type { ModelFiles } from './layout.js';
import type { DemandBounds, Model } from './state.js';

export { holdsMemory } from './eviction.js';

/** What on-demand loading needs of the repository. */
export interface DemandHost {
  models: Map<string, Model>;
  discover(): Promise<Map<string, ModelFiles>>;
  /** Loads a model from its files (one operation at a time per model); failures are recorded as FAILED. */
  apply(files: ModelFiles): Promise<void>;
  /** Unloads a model (one operation at a time per model), its index rows saying why. */
  unload(name: string, reason: string): Promise<void>;
  log: Logger;
  observer: Observer | undefined;
}

/** A model found in the folder, listed as not loaded until it is asked for. */
function listed(files: ModelFiles): Model {
  const idle = files.versions.map((v) => ({
    name: files.name,
    version: v.version,
    state: 'UNAVAILABLE' as const,
    reason: 'not loaded',
  }));
  return { name: files.name, slots: [], idle, startup: false, unloaded: false };
}

async function filesSize(model: Model): Promise<number> {
  let total = 0;
  for (const slot of model.slots) {
    if (slot.files === undefined || slot.entry.runtime === undefined) continue;
    total += await stat(slot.files.onnx).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

export class OnDemand {
  #host: DemandHost;
  #bounds: DemandBounds;
  #eviction: Eviction;
  #clock = 0;
  /** When the folder was last read for a model asked for but not listed: at most once a second. */
  #listedAt = 0;
  /** Loads under way, shared by every request that waits for the same model. */
  #loads = new Map<string, Promise<void>>();
  /** One load at a time per process: the growth of the process's memory across a load is that model's. */
  #turn: Promise<void> = Promise.resolve();

  constructor(host: DemandHost, bounds: DemandBounds) {
    this.#host = host;
    this.#bounds = bounds;
    this.#eviction = new Eviction(host.models, bounds, async (name, reason, bound) => {
      const model = host.models.get(name);
      if (!model || !holdsMemory(model)) return;
      host.log.info({ model: name, reason }, 'model unloaded to make room');
      host.observer?.evicted?.(name, bound);
      await host.unload(name, reason);
    });
  }

  /** Lists the models found in the folder that are not known yet. */
  list(found: ReadonlyMap<string, ModelFiles>): void {
    for (const files of found.values()) {
      if (!this.#host.models.has(files.name)) this.#host.models.set(files.name, listed(files));
    }
  }

  /** Marks a model as just asked for, and the composing models of an ensemble with it. */
  touch(model: Model): void {
    model.used = ++this.#clock;
    for (const { entry } of model.slots) {
      if (!(entry.runtime instanceof EnsembleRuntime)) continue;
      for (const step of entry.runtime.graph.steps) {
        const composing = this.#host.models.get(step.model);
        if (composing !== undefined && composing !== model) composing.used = this.#clock;
      }
    }
  }

  /** The model loaded (its load shared, its wait bounded), or left as it is for the lookup to say why. */
  async ensure(name: string): Promise<void> {
    const models = this.#host.models;
    let model = models.get(name);
    if (model === undefined && Date.now() - this.#listedAt >= 1_000) {
      // A model added to the folder since it was read: read again, at most once a second (unknown names are cheap).
      this.#listedAt = Date.now();
      this.list(await this.#host.discover());
      model = models.get(name);
    }
    if (model === undefined) return;
    this.touch(model);
    // A failed load stays FAILED, with its reason, until the repository API loads the model again.
    if (!holdsMemory(model) && model.slots.some((s) => s.entry.state === 'FAILED')) return;
    const ready = peekAt(models, name);
    if (ready !== undefined && ready.runtime.unavailable?.() === undefined) return;
    await this.#demand(name);
  }

  /** Loaded through the repository API: it counts as just asked for, against the bounds. */
  async loaded(name: string): Promise<void> {
    const model = this.#host.models.get(name);
    if (model === undefined) return;
    this.touch(model);
    await this.#eviction.enforce(name);
  }

  /** A request finished with a model. */
  idle(): void {
    this.#eviction.idle(this.#loads.size > 0);
  }

  /** Loads a model (sharing a load under way); rejects with MODEL_NOT_READY and Retry-After past the wait bound. */
  async #demand(name: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(notReady(name, this.#eviction.why(name))), this.#bounds.waitMs);
    });
    try {
      await Promise.race([this.#shared(name, []), bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  #shared(name: string, chain: readonly string[]): Promise<void> {
    let load = this.#loads.get(name);
    if (load === undefined) {
      load = this.#load(name, chain).finally(() => this.#loads.delete(name));
      load.catch(() => undefined); // every waiter may have given up: the outcome is in the index
      this.#loads.set(name, load);
    }
    return load;
  }

  async #load(name: string, chain: readonly string[]): Promise<void> {
    const files = (await this.#host.discover()).get(name);
    if (!files) throw new errors.MODEL_NOT_FOUND(excerpt(name));
    // An ensemble's composing models load first, each as a model of its own (counted, measured, evictable).
    for (const step of (await ensembleSteps(files)) ?? []) {
      if (chain.includes(step) || step === name) continue;
      const model = this.#host.models.get(step);
      if (model === undefined || !holdsMemory(model)) await this.#shared(step, [...chain, name]);
    }
    const previous = this.#turn;
    let done!: () => void;
    this.#turn = new Promise<void>((resolve) => (done = resolve));
    await previous;
    try {
      await this.#eviction.makeRoom(name);
      await this.#measured(name, files);
    } finally {
      done();
    }
    await this.#eviction.enforce(name);
  }

  /** Loads a model, measuring the memory it took: the growth of the process's, at least the size of its graphs. */
  async #measured(name: string, files: ModelFiles): Promise<void> {
    const memory = this.#bounds.memory ?? (() => process.memoryUsage.rss());
    const before = memory();
    await this.#host.apply(files);
    const model = this.#host.models.get(name);
    if (model !== undefined && holdsMemory(model)) {
      model.bytes = Math.max(await filesSize(model), memory() - before);
      this.touch(model);
    }
  }
}
