// The model repository: which models and versions serve, loading and unloading them (at start, through the
// repository API, or by watching the folder), and the lookups every protocol makes.
import { resolve } from 'node:path';
import { KeyedQueue } from '../../lib/keyed-queue.js';
import { ensembleSteps } from '../ensemble/order.js';
import { errors, excerpt } from '../errors.js';
import {
  dependentsIn,
  loadedBytesOf,
  loadFailure,
  listOf,
  peekAt,
  pendingOf,
  readyCount,
  readyOrWhy,
  servedOf,
  slotOf,
  startupFailuresOf,
  useSlot,
  versionsOf,
  type ListedModel,
} from './lookups.js';
import { applyFiles, startupOrder, unloadSlots, type ApplyHow } from './apply.js';
import type { LoadOverride } from './descriptor.js';
import { indexRows } from './index-rows.js';
import { discoverLogged, type ModelFiles } from './layout.js';
import { OnDemand, type DemandHost } from './on-demand.js';
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
  #queue = new KeyedQueue();
  #closed = false;
  /** Every slot by its entry, replaced ones included: a call counts against the version it really uses. */
  #slots = new WeakMap<ModelVersion, Slot>();
  #context: SlotContext;
  #idle = (): void => this.#demand?.idle();
  /** On-demand mode's loads and bounds. */
  #demand: OnDemand | undefined;

  constructor(options: RepositoryOptions) {
    this.#options = { ...options, root: resolve(options.root) };
    this.#context = { options: this.#options, slots: this.#slots, steps: this };
    this.#poller = new Poller({
      discover: () => this.#discover(),
      model: (name) => this.#models.get(name),
      names: () => [...this.#models.keys()],
      apply: (files) => this.#queue.run(files.name, () => this.#apply(files, {})),
      remove: (name) => this.#queue.run(name, () => this.#unload(name, true)),
    });
    if (options.control === 'on-demand') {
      const { log, observer } = this.#options;
      const bounds = this.#options.demand ?? { maxModels: 0, maxBytes: 0, waitMs: 30_000 };
      const host: DemandHost = {
        models: this.#models,
        discover: () => this.#discover(),
        apply: (files) => this.#queue.run(files.name, () => this.#apply(files, {})),
        unload: (name, reason) =>
          this.#queue.run(name, async () => {
            const model = this.#models.get(name);
            if (model) await unloadSlots(this.#context, model, reason);
          }),
        log,
        observer,
      };
      this.#demand = new OnDemand(host, bounds);
    }
  }

  get control(): ControlMode {
    return this.#options.control;
  }

  /** Models known: served, failed, unloaded, or (on demand) listed from the folder. */
  get listedCount(): number {
    return this.#models.size;
  }

  /** On demand: the memory the loaded models took, as measured at their loads. */
  get loadedBytes(): number {
    return loadedBytesOf(this.#models);
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
    if (this.#demand !== undefined) {
      this.#demand.list(found);
      this.#loaded = true;
      log.info({ models: this.#models.size, control }, 'model repository read: models load on demand');
      return;
    }
    for (const files of await startupOrder(found, control === 'explicit' ? startupModels : undefined, log)) {
      await this.#queue.run(files.name, () => this.#apply(files, { startup: true }));
    }
    this.#loaded = true;
    log.info({ models: this.#models.size, ready: this.readyCount, control }, 'model repository loaded');
    if (control === 'poll' && !this.#closed) {
      this.#poller.start(pollIntervalMs, () => this.poll());
    }
  }

  async #discover(): Promise<Map<string, ModelFiles>> {
    const { root, modelName, log } = this.#options;
    return discoverLogged(root, modelName, log);
  }

  /**
   * The version that answers a request, marked as used until `release` is called (see use()). On demand, a model
   * not loaded is loaded first; throws as ready() does.
   */
  async acquire(name: string, version?: string): Promise<{ model: ReadyModel; release: () => void }> {
    if (this.#demand !== undefined) await this.#demand.ensure(name);
    const model = this.ready(name, version);
    return { model, release: this.use(model) };
  }

  /** A version that can serve, for its metadata or configuration: on demand, loaded first. */
  async serving(name: string, version?: string): Promise<ReadyModel> {
    const { model, release } = await this.acquire(name, version);
    release();
    return model;
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
    await this.#queue.run(name, () => this.#apply(files, override ?? {}));
    await this.#demand?.loaded(name);
    const failed = loadFailure(this.#models, name);
    if (failed) throw failed;
  }

  /**
   * The repository API's unload: the model stops serving; calls already using it finish first. With `dependents`
   * (Triton's unload_dependents), the ensembles whose steps run it are unloaded too.
   */
  async unloadModel(name: string, options: { dependents?: boolean } = {}): Promise<void> {
    if (!this.#models.has(name)) throw new errors.MODEL_NOT_FOUND(excerpt(name));
    const dependents = options.dependents ? dependentsIn(this.#models, name) : [];
    await this.#queue.run(name, () => this.#unload(name, false));
    for (const ensemble of dependents) await this.#queue.run(ensemble, () => this.#unload(ensemble, false));
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

  /** Every model known, each with its default version and all its versions, highest first: served, failed or not loaded. */
  list(): ListedModel[] {
    return listOf(this.#models);
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
    return useSlot(slot, model.name, this.#idle);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#poller.stop();
    await this.#starting;
    await this.#queue.drained();
    for (const model of this.#models.values())
      for (const slot of model.slots) await slot.entry.runtime?.unload();
  }
}
