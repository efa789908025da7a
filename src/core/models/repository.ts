// The model repository: which models and versions serve, loading and unloading them (at start, through the
// repository API, or by watching the folder), and the lookups every protocol makes.
import { resolve } from 'node:path';
import { dependentsOf, ensembleSteps, loadOrder, withSteps } from '../ensemble/order.js';
import { EnsembleRuntime } from '../ensemble/runtime.js';
import { errors, excerpt, withExtras } from '../errors.js';
import {
  peekAt,
  pendingOf,
  readyCount,
  readyOrWhy,
  servedOf,
  slotOf,
  startupFailuresOf,
  useSlot,
  versionsOf,
} from './lookups.js';
import { applyFiles, unloadSlots, type ApplyHow } from './apply.js';
import type { LoadOverride } from './descriptor.js';
import { indexRows } from './index-rows.js';
import { discover, type ModelFiles } from './layout.js';
import { Poller } from './poller.js';
import type { SlotContext } from './slots.js';
import {
  type ControlMode,
  type IndexEntry,
  type Model,
  type ModelVersion,
  type ReadyModel,
  type RepositoryOptions,
  type Slot,
} from './state.js';

export { MODEL_NAME } from './layout.js';
export {
  MODEL_STATES,
  type ControlMode,
  type IndexEntry,
  type ModelState,
  type ModelVersion,
  type ReadyModel,
  type RepositoryOptions,
} from './state.js';

export class ModelRepository {
  #options: RepositoryOptions;
  #models = new Map<string, Model>();
  #loaded = false;
  #starting: Promise<void> | undefined;
  #poller: Poller;
  /** One operation at a time per model: a poll and an API call never load the same model at once. */
  #queues = new Map<string, Promise<unknown>>();
  #closed = false;
  /** Every slot by its entry, replaced ones included: a call counts against the version it really uses. */
  #slots = new WeakMap<ModelVersion, Slot>();
  #context: SlotContext;

  constructor(options: RepositoryOptions) {
    this.#options = { ...options, root: resolve(options.root) };
    this.#context = { options: this.#options, slots: this.#slots, steps: this };
    this.#poller = new Poller({
      discover: () => this.#discover(),
      model: (name) => this.#models.get(name),
      names: () => [...this.#models.keys()],
      apply: (files) => this.#serialized(files.name, () => this.#apply(files, {})),
      remove: (name) => this.#serialized(name, () => this.#unload(name, true)),
    });
  }

  get control(): ControlMode {
    return this.#options.control;
  }

  /** True once the models of the start have finished loading, successfully or not. */
  get loaded(): boolean {
    return this.#loaded;
  }

  get readyCount(): number {
    return readyCount(this.#models);
  }

  /** Calls waiting or running per served version. */
  pending(): { model: string; version: string; count: number }[] {
    return pendingOf(this.#models);
  }

  /**
   * Models loaded at start that serve no version because their versions failed (and were not fixed or unloaded
   * since), each named with its failed versions. A model whose newest version failed while an older one stands in
   * serves, and is not counted.
   */
  get startupFailures(): string[] {
    return startupFailuresOf(this.#models);
  }

  /** Starts (once) the loading of the start's models; never rejects: failures are recorded per version. */
  load(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { log, control, startupModels, pollIntervalMs } = this.#options;
    const found = await this.#discover();
    let chosen =
      control === 'explicit'
        ? [...found.values()].filter((m) => startupModels.includes(m.name))
        : [...found.values()];
    for (const name of control === 'explicit' ? startupModels : []) {
      if (!found.has(name)) log.error({ model: name }, 'a startup model is not in the repository');
    }
    // Ensembles load after the models their steps run (ensembles included), which load with them, as in Triton.
    chosen = await loadOrder(await withSteps(chosen, found));
    for (const files of chosen) {
      await this.#serialized(files.name, () => this.#apply(files, { startup: true }));
    }
    this.#loaded = true;
    log.info({ models: this.#models.size, ready: this.readyCount, control }, 'model repository loaded');
    if (control === 'poll' && !this.#closed) {
      this.#poller.start(pollIntervalMs, () => this.poll());
    }
  }

  async #discover(): Promise<Map<string, ModelFiles>> {
    const { root, modelName, log } = this.#options;
    try {
      const { models, skipped } = await discover(root, modelName);
      for (const s of skipped)
        log.warn({ path: s.path.replace(root, '<models>') }, `skipping folder: ${s.reason}`);
      return new Map(models.map((m) => [m.name, m]));
    } catch (err) {
      log.error({ err, root }, 'model repository cannot be read');
      return new Map();
    }
  }

  #serialized<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#queues.set(name, settled);
    void settled.then(() => this.#queues.get(name) === settled && this.#queues.delete(name));
    return next;
  }

  /** Brings one model in line with its files (see applyFiles). */
  async #apply(files: ModelFiles, how: ApplyHow): Promise<void> {
    const model = this.#models.get(files.name) ?? {
      name: files.name,
      slots: [],
      idle: [],
      startup: how.startup === true,
      unloaded: false,
    };
    this.#models.set(files.name, model);
    await applyFiles(this.#context, model, files, how);
  }

  /** Polling mode: loads new and changed versions whose files stopped changing, unloads removed ones. */
  async poll(): Promise<void> {
    if (this.#closed) return;
    await this.#poller.poll();
  }

  /**
   * The repository API's load: (re)loads a model from its folder, optionally with a descriptor replacing its
   * model.json or a Triton configuration replacing its config.pbtxt. Resolves when done; throws MODEL_NOT_FOUND when
   * the folder has no such model, and INVALID_INPUT naming the versions when a version could not load.
   */
  async loadModel(name: string, override?: LoadOverride, loading: readonly string[] = []): Promise<void> {
    const found = await this.#discover();
    const files = found.get(name);
    if (!files) throw new errors.MODEL_NOT_FOUND(excerpt(name));
    // An ensemble's composing models that do not serve are loaded first, as Triton does (one not in the repository
    // fails the ensemble's load, naming its step).
    if (override?.triton === undefined) {
      for (const step of (await ensembleSteps(files)) ?? []) {
        if (!loading.includes(step) && found.has(step) && this.peek(step) === undefined)
          await this.loadModel(step, undefined, [...loading, name]);
      }
    }
    await this.#serialized(name, () => this.#apply(files, override ?? {}));
    const failed =
      this.#models.get(name)?.slots.filter((s) => s.entry.state === 'FAILED' || s.entry.reason) ?? [];
    if (failed.length > 0) {
      const reasons = failed.map((s) => `version ${s.entry.version}: ${s.entry.reason ?? ''}`).join('; ');
      throw withExtras(new errors.MODEL_LOAD_FAILED(name, reasons), {
        details: { versions: failed.map((s) => s.entry.version) },
      });
    }
  }

  /**
   * The repository API's unload: the model stops serving; calls already using it finish first. With `dependents`
   * (Triton's unload_dependents), the ensembles whose steps run it are unloaded too.
   */
  async unloadModel(name: string, options: { dependents?: boolean } = {}): Promise<void> {
    if (!this.#models.has(name)) throw new errors.MODEL_NOT_FOUND(excerpt(name));
    const dependents = options.dependents ? this.#dependents(name) : [];
    await this.#serialized(name, () => this.#unload(name, false));
    for (const ensemble of dependents) await this.#serialized(ensemble, () => this.#unload(ensemble, false));
  }

  /** The ensembles served now whose steps run a model, directly or through other ensembles. */
  #dependents(name: string): string[] {
    const runs = new Map<string, string[]>();
    for (const model of this.#models.values()) {
      const steps = model.slots.flatMap(({ entry }) =>
        entry.runtime instanceof EnsembleRuntime ? entry.runtime.graph.steps.map((s) => s.model) : [],
      );
      if (steps.length > 0) runs.set(model.name, steps);
    }
    return dependentsOf(name, runs);
  }

  async #unload(name: string, forget: boolean): Promise<void> {
    const model = this.#models.get(name);
    if (!model) return;
    if (forget) this.#models.delete(name);
    await unloadSlots(this.#context, model, 'unloaded');
    this.#options.log.info({ model: name }, 'model unloaded');
  }

  /**
   * Every model and version in the repository folder or served, with its state: the repository index. Models on
   * disk that were never loaded (explicit mode) are UNAVAILABLE, as in Triton's index.
   */
  async index(filter: { ready?: boolean } = {}): Promise<IndexEntry[]> {
    const found = filter.ready === true ? new Map<string, ModelFiles>() : await this.#discover();
    const rows = indexRows(this.#models, found);
    return filter.ready === true ? rows.filter((r) => r.state === 'READY') : rows;
  }

  /** The versions ready to serve. */
  served(): { name: string; version: string }[] {
    return servedOf(this.#models);
  }

  /** Models that serve or failed, each with its versions, highest first. */
  list(): { name: string; versions: ModelVersion[] }[] {
    return [...this.#models.values()]
      .filter((m) => m.slots.length > 0)
      .map((m) => ({ name: m.name, versions: m.slots.map((s) => s.entry) }));
  }

  /** All versions of a model that serve or failed, highest first; throws MODEL_NOT_FOUND or MODEL_NOT_LOADED. */
  versions(name: string): ModelVersion[] {
    return versionsOf(this.#models, name);
  }

  /** A version, or the default one; throws MODEL_NOT_FOUND or VERSION_NOT_FOUND. */
  find(name: string, version?: string): ModelVersion {
    return slotOf(this.#models, name, version).entry;
  }

  /** The version that would serve, if it is ready; never throws (for lookups that may simply give up). */
  peek(name: string, version?: string): ReadyModel | undefined {
    return peekAt(this.#models, name, version);
  }

  /** Like find, but only a version that can serve; 503 with Retry-After while loading. */
  ready(name: string, version?: string): ReadyModel {
    return readyOrWhy(this.find(name, version));
  }

  /**
   * Marks a call as using a version until the returned function is called: an unload or reload releases the
   * version only after such calls are done. A version already released is MODEL_NOT_READY (the caller retries
   * and finds its successor).
   */
  use(model: ReadyModel): () => void {
    const slot = this.#slots.get(model);
    if (!slot) return () => undefined; // not from this repository (a test's stand-in)
    return useSlot(slot, model.name);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#poller.stop();
    await this.#starting;
    await Promise.all([...this.#queues.values()]);
    for (const model of this.#models.values())
      for (const slot of model.slots) await slot.entry.runtime?.unload();
  }
}
