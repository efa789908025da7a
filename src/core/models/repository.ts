// The model repository: which models and versions serve, loading and unloading them (at start, through the
// repository API, or by watching the folder), and the lookups every protocol makes.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import { loadEnsemble } from '../ensemble/load.js';
import { dependentsOf, ensembleSteps, loadOrder, withSteps } from '../ensemble/order.js';
import { EnsembleRuntime } from '../ensemble/runtime.js';
import { errors, excerpt, withExtras } from '../errors.js';
import type { Observer } from '../observe.js';
import type { LoadOptions } from '../runtime/load.js';
import type { ModelRuntime } from '../runtime/runtime.js';
import { selectVersions, type Descriptor, type LoadOverride, type VersionPolicy } from './descriptor.js';
import { discover, type ModelFiles, type VersionFiles } from './layout.js';
import { loadVersion } from './loader.js';
import type { Signature } from './signature.js';
import type { AppliedConfig } from './triton/apply.js';
import type { TritonPlan } from './triton/config.js';
import { readModelSettings } from './triton/settings.js';

export { MODEL_NAME } from './layout.js';

/** Triton's repository states (and FAILED): UNAVAILABLE is found on disk, or once served, but not loaded. */
export const MODEL_STATES = ['LOADING', 'READY', 'FAILED', 'UNLOADING', 'UNAVAILABLE'] as const;

export type ModelState = (typeof MODEL_STATES)[number];

export interface ModelVersion {
  name: string;
  version: string;
  state: ModelState;
  reason?: string;
  descriptor: Descriptor;
  /** A digest of the model's files: what cached answers of this version are filed under. */
  generation?: string;
  runtime?: ModelRuntime;
  signature?: Signature;
  /** What Serval applies of the model's Triton configuration (config.pbtxt), when it has one. */
  triton?: AppliedConfig;
}

/** A version that can serve predictions. */
export type ReadyModel = ModelVersion & {
  state: 'READY';
  generation: string;
  runtime: ModelRuntime;
  signature: Signature;
};

export type ControlMode = 'none' | 'poll' | 'explicit';

export interface RepositoryOptions {
  root: string;
  /** The name of a single model (a bare .onnx file, or a folder with its graph or versions at the root). */
  modelName: string;
  control: ControlMode;
  /** In explicit mode, the models loaded at start. */
  startupModels: readonly string[];
  pollIntervalMs: number;
  load: LoadOptions;
  log: Logger;
  /** Told of every load and, through the runtimes, every run. */
  observer?: Observer;
}

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

/** A served version and what the repository knows of it besides what callers see. */
interface Slot {
  entry: ModelVersion;
  files: VersionFiles | undefined;
  /** Sizes and modification times of its files when it was loaded: a change means a reload. */
  fingerprint: string;
  /** Loaded with a descriptor from the API (parameters.config) instead of its model.json. */
  override: boolean;
  /** Calls using it now: a replaced or unloaded version is released once they are done. */
  inFlight: number;
  /** Set while the version waits to be released: called when its last call is done. */
  drained?: (() => void) | undefined;
}

interface Model {
  name: string;
  /** Versions that serve or failed, highest first; replaced in one step on a reload. */
  slots: Slot[];
  /** Found on disk but not served (outside the version policy, or unloaded), for the index. */
  idle: IndexEntry[];
  /** Loaded at start: a failure there keeps the server not ready until it is fixed or unloaded. */
  startup: boolean;
  /** Unloaded through the API: polling leaves it unloaded until it is loaded again or its files change. */
  unloaded: boolean;
}

function isReady(model: ModelVersion | undefined): model is ReadyModel {
  return model?.state === 'READY' && model.runtime !== undefined && model.signature !== undefined;
}

async function fingerprintOf(files: VersionFiles): Promise<string> {
  const parts = await Promise.all(
    [files.onnx, files.json, ...(files.config ? [files.config] : [])].map((path) =>
      stat(path).then(
        (s) => `${s.size}:${s.mtimeMs}`,
        () => '-',
      ),
    ),
  );
  return parts.join('|');
}

export class ModelRepository {
  #options: RepositoryOptions;
  #models = new Map<string, Model>();
  #loaded = false;
  #starting: Promise<void> | undefined;
  #poller: NodeJS.Timeout | undefined;
  /** Fingerprints seen by the last poll: a version is loaded only once its files stopped changing. */
  #seen = new Map<string, string>();
  /** One operation at a time per model: a poll and an API call never load the same model at once. */
  #queues = new Map<string, Promise<unknown>>();
  #closed = false;
  /** Every slot by its entry, replaced ones included: a call counts against the version it really uses. */
  #slots = new WeakMap<ModelVersion, Slot>();

  constructor(options: RepositoryOptions) {
    this.#options = { ...options, root: resolve(options.root) };
  }

  get control(): ControlMode {
    return this.#options.control;
  }

  /** True once the models of the start have finished loading, successfully or not. */
  get loaded(): boolean {
    return this.#loaded;
  }

  get readyCount(): number {
    let count = 0;
    for (const model of this.#models.values())
      for (const slot of model.slots) if (isReady(slot.entry)) count++;
    return count;
  }

  /** Calls waiting or running per served version. */
  pending(): { model: string; version: string; count: number }[] {
    const rows = [];
    for (const model of this.#models.values()) {
      for (const { entry } of model.slots) {
        if (entry.runtime)
          rows.push({ model: model.name, version: entry.version, count: entry.runtime.pending });
      }
    }
    return rows;
  }

  /**
   * Models loaded at start that serve no version because their versions failed (and were not fixed or unloaded
   * since), each named with its failed versions. A model whose newest version failed while an older one stands in
   * serves, and is not counted.
   */
  get startupFailures(): string[] {
    const failed: string[] = [];
    for (const model of this.#models.values()) {
      if (!model.startup || model.slots.some((s) => isReady(s.entry))) continue;
      const versions = model.slots.filter((s) => s.entry.state === 'FAILED').map((s) => s.entry.version);
      if (versions.length > 0) failed.push(`${model.name}/${versions.join(',')}`);
    }
    return failed;
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
      this.#poller = setInterval(() => void this.poll(), pollIntervalMs);
      this.#poller.unref();
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

  /**
   * Brings one model in line with its files: the versions its policy wants are loaded (a changed one reloaded
   * beside the old, which serves until the new one is ready), the others unloaded. A version that fails to load
   * leaves the one it would replace serving, with the reason in the index.
   */
  async #apply(files: ModelFiles, how: { startup?: boolean } & Partial<LoadOverride>): Promise<void> {
    const { log } = this.#options;
    const model = this.#models.get(files.name) ?? {
      name: files.name,
      slots: [],
      idle: [],
      startup: how.startup === true,
      unloaded: false,
    };
    this.#models.set(files.name, model);
    model.unloaded = false;
    let policy: VersionPolicy | undefined;
    let triton: TritonPlan | undefined;
    let settingsError: string | undefined;
    try {
      // A single model's folder is named by the server's settings, not by a configuration's name.
      const named = resolve(files.dir) !== this.#options.root;
      ({ policy, triton } = await readModelSettings(files, how.triton, named));
    } catch (err) {
      settingsError = (err as Error).message;
    }
    const wanted = new Set(
      selectVersions(
        files.versions.map((v) => v.version),
        policy,
      ),
    );
    const next: Slot[] = [];
    for (const version of files.versions.filter((v) => wanted.has(v.version))) {
      const current = model.slots.find((s) => s.entry.version === version.version);
      const fingerprint = await fingerprintOf(version);
      if (settingsError !== undefined) {
        // Without its settings the model's versions are unknown: what serves keeps serving, nothing new loads.
        const failed = this.#failedSlot(files.name, version, settingsError);
        next.push(current && isReady(current.entry) ? this.#keep(current, failed) : failed);
        continue;
      }
      if (
        current &&
        current.fingerprint === fingerprint &&
        how.descriptor === undefined &&
        how.triton === undefined &&
        !current.override &&
        current.entry.state !== 'FAILED'
      ) {
        delete current.entry.reason; // nothing to load: an earlier failed attempt is no longer the news
        next.push(current);
        continue;
      }
      const loaded = await this.#loadSlot(
        files.name,
        version,
        fingerprint,
        how.descriptor,
        triton,
        how.triton,
      );
      next.push(
        current && isReady(current.entry) && loaded.entry.state !== 'READY'
          ? this.#keep(current, loaded)
          : loaded,
      );
    }
    // Versions that failed are stood in for by the highest lower ones: those serving now, or (a latest-N policy,
    // as in a worker started after a broken version was added) the next ones that load. Never a model with nothing.
    const fallback =
      settingsError === undefined &&
      (policy === undefined || (typeof policy === 'object' && 'latest' in policy));
    const failed = next.filter((slot) => !isReady(slot.entry)).map((slot) => slot.entry.version);
    let missing = failed.length;
    const standIns = new Set<string>();
    for (const version of files.versions.filter((v) => !wanted.has(v.version))) {
      if (missing === 0) break;
      let slot = model.slots.find((s) => s.entry.version === version.version && isReady(s.entry));
      if (!slot && fallback) {
        const fingerprint = await fingerprintOf(version);
        slot = await this.#loadSlot(files.name, version, fingerprint, how.descriptor, triton, how.triton);
      }
      if (!slot || !isReady(slot.entry)) continue;
      slot.entry.reason = `serving in place of version ${failed.join(', ')}, which failed to load`;
      next.push(slot);
      standIns.add(version.version);
      missing--;
    }
    next.sort((a, b) => Number(b.entry.version) - Number(a.entry.version));
    const gone = model.slots.filter((s) => !next.includes(s));
    model.slots = next; // the switch: from here on, lookups see the new versions
    model.idle = files.versions
      .filter((v) => !wanted.has(v.version) && !standIns.has(v.version))
      .map((v) => ({
        name: files.name,
        version: v.version,
        state: 'UNAVAILABLE' as const,
        reason: 'not in the version policy',
      }));
    for (const slot of gone) void this.#retire(slot);
    const notApplied = new Set(next.flatMap((s) => s.entry.triton?.notApplied ?? []));
    if (notApplied.size > 0) {
      log.warn(
        { model: files.name, source: triton?.source, notApplied: [...notApplied] },
        'model configuration fields not applied',
      );
    }
    for (const { entry } of next) {
      if (entry.state === 'FAILED') {
        log.error(
          { model: entry.name, version: entry.version, reason: entry.reason },
          'model failed to load',
        );
      }
    }
  }

  /** A failed reload of a version that serves: the old one goes on, the new one's reason noted on it. */
  #keep(current: Slot, failed: Slot): Slot {
    current.entry.reason = `a newer load failed and this one keeps serving: ${failed.entry.reason ?? ''}`;
    return current;
  }

  #failedSlot(name: string, files: VersionFiles, reason: string): Slot {
    const entry: ModelVersion = { name, version: files.version, state: 'FAILED', reason, descriptor: {} };
    const slot = { entry, files, fingerprint: '', override: false, inFlight: 0 };
    this.#slots.set(entry, slot);
    return slot;
  }

  async #loadSlot(
    name: string,
    files: VersionFiles,
    fingerprint: string,
    descriptor?: Descriptor,
    triton?: TritonPlan,
    tritonOverride?: unknown,
  ): Promise<Slot> {
    const { log, load, root, observer } = this.#options;
    const entry: ModelVersion = { name, version: files.version, state: 'LOADING', descriptor: {} };
    const started = performance.now();
    try {
      if (triton?.ensemble) {
        // An ensemble's answers are filed under its composing versions too: its generation is read when asked.
        const { generationNow, ...loaded } = await loadEnsemble(
          name,
          triton,
          files,
          this,
          observer,
          descriptor,
        );
        Object.assign(entry, loaded, { state: 'READY' });
        Object.defineProperty(entry, 'generation', { get: generationNow, enumerable: true });
      } else {
        const runs = observer?.runs(name, files.version);
        Object.assign(entry, await loadVersion(files, load, descriptor, runs, triton), { state: 'READY' });
      }
      log.info(
        {
          model: name,
          version: files.version,
          execution: entry.runtime?.execution,
          warmupMs: entry.runtime?.warmupMs,
        },
        'model loaded',
      );
    } catch (err) {
      entry.state = 'FAILED';
      entry.reason = (err as Error).message.split('\n')[0]?.replaceAll(root, '<models>').slice(0, 400);
    }
    observer?.loaded(name, files.version, (performance.now() - started) / 1000, entry.state === 'READY');
    const override = descriptor !== undefined || tritonOverride !== undefined;
    const slot = { entry, files, fingerprint, override, inFlight: 0 };
    this.#slots.set(entry, slot);
    return slot;
  }

  /** Releases a version that no longer serves, once the calls that were using it are done. */
  async #retire(slot: Slot): Promise<void> {
    const runtime = slot.entry.runtime;
    if (slot.entry.state === 'READY') slot.entry.state = 'UNLOADING';
    if (slot.inFlight > 0) await new Promise<void>((resolve) => (slot.drained = resolve));
    slot.entry.state = 'UNAVAILABLE';
    await runtime
      ?.unload()
      .catch((err: unknown) => this.#options.log.warn({ err }, 'unloading a model failed'));
  }

  /** Polling mode: loads new and changed versions whose files stopped changing, unloads removed ones. */
  async poll(): Promise<void> {
    if (this.#closed) return;
    const found = await this.#discover();
    for (const [name, files] of found) {
      const model = this.#models.get(name);
      const stable: VersionFiles[] = [];
      for (const version of files.versions) {
        const key = `${name}/${version.version}`;
        const fingerprint = await fingerprintOf(version);
        // Unchanged since the last poll, or since it was loaded: complete.
        const served = model?.slots.find((s) => s.entry.version === version.version)?.fingerprint;
        if (this.#seen.get(key) === fingerprint || served === fingerprint) stable.push(version);
        this.#seen.set(key, fingerprint);
      }
      if (model?.unloaded) continue;
      // Half-written versions wait for the next poll; the ones that stopped changing are applied.
      const changed = await this.#differs(model, stable);
      if (changed) await this.#serialized(name, () => this.#apply({ ...files, versions: stable }, {}));
    }
    for (const name of [...this.#models.keys()]) {
      if (!found.has(name)) await this.#serialized(name, () => this.#unload(name, true));
    }
  }

  async #differs(model: Model | undefined, versions: readonly VersionFiles[]): Promise<boolean> {
    if (!model) return versions.length > 0;
    if (versions.length !== model.slots.length + model.idle.length) return true;
    for (const version of versions) {
      const slot = model.slots.find((s) => s.entry.version === version.version);
      if (!slot) {
        if (!model.idle.some((i) => i.version === version.version)) return true;
      } else if (slot.fingerprint !== (await fingerprintOf(version)) || slot.entry.state === 'FAILED') {
        return true;
      }
    }
    return false;
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
    const gone = model.slots;
    model.idle = [
      ...gone.map((s) => ({
        name,
        version: s.entry.version,
        state: 'UNAVAILABLE' as const,
        reason: 'unloaded',
      })),
      ...model.idle,
    ].sort((a, b) => Number(b.version) - Number(a.version));
    model.slots = [];
    model.unloaded = true;
    model.startup = false;
    if (forget) this.#models.delete(name);
    await Promise.all(gone.map((s) => this.#retire(s)));
    this.#options.log.info({ model: name }, 'model unloaded');
  }

  /**
   * Every model and version in the repository folder or served, with its state: the repository index. Models on
   * disk that were never loaded (explicit mode) are UNAVAILABLE, as in Triton's index.
   */
  async index(filter: { ready?: boolean } = {}): Promise<IndexEntry[]> {
    const found = filter.ready === true ? new Map<string, ModelFiles>() : await this.#discover();
    const names = [...new Set([...this.#models.keys(), ...found.keys()])].sort((a, b) => a.localeCompare(b));
    const rows: IndexEntry[] = [];
    for (const name of names) {
      const model = this.#models.get(name);
      if (model) {
        for (const slot of model.slots) {
          const { version, state, reason, triton } = slot.entry;
          // A version that serves names the configuration's fields it does not apply.
          const notApplied = triton?.notApplied.length
            ? `${triton.plan.source}: not applied: ${triton.notApplied.join('; ')}`
            : '';
          // A ready ensemble whose composing model is not says why it does not serve.
          const why = slot.entry.runtime?.unavailable?.();
          rows.push({ name, version, state, reason: reason ?? why ?? notApplied });
        }
        rows.push(...model.idle);
      } else {
        for (const v of found.get(name)?.versions ?? []) {
          rows.push({ name, version: v.version, state: 'UNAVAILABLE', reason: 'not loaded' });
        }
      }
    }
    return filter.ready === true ? rows.filter((r) => r.state === 'READY') : rows;
  }

  /** The versions ready to serve. */
  served(): { name: string; version: string }[] {
    const rows = [];
    for (const model of this.#models.values()) {
      for (const { entry } of model.slots)
        if (isReady(entry)) rows.push({ name: model.name, version: entry.version });
    }
    return rows;
  }

  /** Models that serve or failed, each with its versions, highest first. */
  list(): { name: string; versions: ModelVersion[] }[] {
    return [...this.#models.values()]
      .filter((m) => m.slots.length > 0)
      .map((m) => ({ name: m.name, versions: m.slots.map((s) => s.entry) }));
  }

  #model(name: string): Model {
    const model = this.#models.get(name);
    if (!model) throw new errors.MODEL_NOT_FOUND(excerpt(name));
    if (model.slots.length === 0) throw new errors.MODEL_NOT_LOADED(excerpt(name));
    return model;
  }

  /** All versions of a model that serve or failed, highest first; throws MODEL_NOT_FOUND or MODEL_NOT_LOADED. */
  versions(name: string): ModelVersion[] {
    return this.#model(name).slots.map((s) => s.entry);
  }

  #slot(name: string, version: string | undefined): Slot {
    const slots = this.#model(name).slots;
    // The default version is the highest that is ready (the version policy chose what is loaded).
    const found =
      version === undefined
        ? (slots.find((s) => isReady(s.entry)) ?? slots[0])
        : slots.find((s) => s.entry.version === version);
    if (!found) throw new errors.VERSION_NOT_FOUND(excerpt(name), excerpt(version ?? ''));
    return found;
  }

  /** A version, or the default one; throws MODEL_NOT_FOUND or VERSION_NOT_FOUND. */
  find(name: string, version?: string): ModelVersion {
    return this.#slot(name, version).entry;
  }

  /** The version that would serve, if it is ready; never throws (for lookups that may simply give up). */
  peek(name: string, version?: string): ReadyModel | undefined {
    const slots = this.#models.get(name)?.slots;
    const found =
      version === undefined
        ? slots?.find((s) => isReady(s.entry))
        : slots?.find((s) => s.entry.version === version);
    return isReady(found?.entry) ? found.entry : undefined;
  }

  /** Like find, but only a version that can serve; 503 with Retry-After while loading. */
  ready(name: string, version?: string): ReadyModel {
    const model = this.find(name, version);
    if (isReady(model)) {
      // An ensemble serves while its composing models do.
      const missing = model.runtime.unavailable?.();
      if (missing === undefined) return model;
      throw new errors.MODEL_NOT_READY(model.name, missing);
    }
    const why = model.state === 'LOADING' ? 'still loading' : `failed to load (${model.reason ?? 'unknown'})`;
    const error = new errors.MODEL_NOT_READY(model.name, why);
    if (model.state === 'LOADING') withExtras(error, { retryAfter: 1 });
    throw error;
  }

  /**
   * Marks a call as using a version until the returned function is called: an unload or reload releases the
   * version only after such calls are done. A version already released is MODEL_NOT_READY (the caller retries
   * and finds its successor).
   */
  use(model: ReadyModel): () => void {
    const slot = this.#slots.get(model);
    if (!slot) return () => undefined; // not from this repository (a test's stand-in)
    if (slot.entry.state === 'UNAVAILABLE') {
      throw withExtras(new errors.MODEL_NOT_READY(model.name, 'it was just unloaded or replaced'), {
        retryAfter: 1,
      });
    }
    slot.inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--slot.inFlight === 0) slot.drained?.();
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poller);
    await this.#starting;
    await Promise.all([...this.#queues.values()]);
    for (const model of this.#models.values())
      for (const slot of model.slots) await slot.entry.runtime?.unload();
  }
}
