// The model repository: finds <root>/<model>/<version>/model.onnx, loads every version, serves lookups.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { errors, excerpt, withExtras } from '../errors.js';
import { loadOnnxModel, type LoadOptions } from '../runtime/load.js';
import type { ModelRuntime } from '../runtime/runtime.js';
import { readDescriptor, type Descriptor } from './descriptor.js';
import { buildSignature, type Signature } from './signature.js';

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const VERSION = /^[1-9][0-9]{0,8}$/;

export type ModelState = 'LOADING' | 'READY' | 'FAILED';

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
}

/** A version that can serve predictions. */
export type ReadyModel = ModelVersion & {
  state: 'READY';
  generation: string;
  runtime: ModelRuntime;
  signature: Signature;
};

export interface RepositoryOptions {
  root: string;
  load: LoadOptions;
  log: Logger;
}

/** Folders, following symbolic links: Kubernetes mounts config maps and volumes through them. */
async function subdirectories(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true });
  const folders = await Promise.all(
    entries.map(async (e) => {
      if (e.isDirectory()) return e.name;
      if (!e.isSymbolicLink()) return undefined;
      const target = await stat(join(path, e.name)).catch(() => undefined);
      return target?.isDirectory() ? e.name : undefined;
    }),
  );
  return folders.filter((name): name is string => name !== undefined);
}

/** The named version, or the default one: the highest version that is ready (else the highest). */
function select(versions: readonly ModelVersion[], version: string | undefined): ModelVersion | undefined {
  if (version !== undefined) return versions.find((v) => v.version === version);
  return versions.find((v) => v.state === 'READY') ?? versions[0];
}

function isReady(model: ModelVersion): model is ReadyModel {
  return model.state === 'READY' && model.runtime !== undefined && model.signature !== undefined;
}

/**
 * The digest of a version's files. Cache keys include it, so a reloaded model is never answered from its
 * predecessor's entries, while replicas serving the same files share theirs through Redis.
 */
async function generationOf(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['model.onnx', 'model.json']) {
    const bytes = await readFile(join(dir, file)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file === 'model.json') return Buffer.alloc(0);
      throw err;
    });
    hash.update(`${file}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest('base64url').slice(0, 16);
}

export class ModelRepository {
  #models = new Map<string, ModelVersion[]>(); // versions sorted highest first
  #options: RepositoryOptions;
  #loaded = false;
  #loading: Promise<void> | undefined;

  constructor(options: RepositoryOptions) {
    this.#options = { ...options, root: resolve(options.root) };
  }

  /** True once every model found has finished loading, successfully or not. */
  get loaded(): boolean {
    return this.#loaded;
  }

  get readyCount(): number {
    return this.list().flatMap((m) => m.versions).filter((v) => v.state === 'READY').length;
  }

  /** Starts (once) and returns the loading of all models; never rejects: failures are recorded per model. */
  load(): Promise<void> {
    this.#loading ??= this.#loadAll();
    return this.#loading;
  }

  async #loadAll(): Promise<void> {
    const { root, log } = this.#options;
    let names: string[] = [];
    try {
      names = (await subdirectories(root)).sort();
    } catch (err) {
      log.error({ err, root }, 'model repository cannot be read');
    }
    for (const name of names) {
      if (!MODEL_NAME.test(name)) {
        log.warn({ folder: name }, 'skipping folder: not a valid model name');
        continue;
      }
      const versions = (await subdirectories(join(root, name))).filter((v) => VERSION.test(v));
      versions.sort((a, b) => Number(b) - Number(a));
      if (versions.length === 0) {
        log.warn({ model: name }, 'skipping model: no numeric version folder (e.g. 1/model.onnx)');
        continue;
      }
      this.#models.set(name, versions.map((version) => ({ name, version, state: 'LOADING', descriptor: {} })));
    }
    for (const entry of [...this.#models.values()].flat()) await this.#loadVersion(entry);
    this.#loaded = true;
    log.info({ models: this.#models.size, ready: this.readyCount }, 'model repository loaded');
  }

  async #loadVersion(entry: ModelVersion): Promise<void> {
    const { root, log, load } = this.#options;
    const dir = join(root, entry.name, entry.version);
    try {
      entry.descriptor = await readDescriptor(join(dir, 'model.json'));
      const mode = entry.descriptor.execution ?? load.mode;
      const generation = await generationOf(dir);
      const path = join(dir, 'model.onnx');
      const runtime = await loadOnnxModel(path, `${path}#${generation}`, { ...load, mode });
      try {
        entry.signature = buildSignature(runtime.inputs, runtime.outputs, entry.descriptor);
      } catch (err) {
        await runtime.unload();
        throw err;
      }
      entry.runtime = runtime;
      entry.generation = generation;
      entry.state = 'READY';
      log.info(
        { model: entry.name, version: entry.version, execution: runtime.execution, warmupMs: runtime.warmupMs },
        'model loaded',
      );
    } catch (err) {
      entry.state = 'FAILED';
      entry.reason = (err as Error).message.split('\n')[0]?.replaceAll(root, '<models>').slice(0, 300);
      log.error({ model: entry.name, version: entry.version, reason: entry.reason }, 'model failed to load');
    }
  }

  list(): { name: string; versions: ModelVersion[] }[] {
    return [...this.#models].map(([name, versions]) => ({ name, versions }));
  }

  /** All versions of a model, highest first; throws MODEL_NOT_FOUND. */
  versions(name: string): ModelVersion[] {
    const versions = this.#models.get(name);
    if (!versions) throw new errors.MODEL_NOT_FOUND(excerpt(name));
    return versions;
  }

  /** A version, or the default one; throws MODEL_NOT_FOUND or VERSION_NOT_FOUND. */
  find(name: string, version?: string): ModelVersion {
    const found = select(this.versions(name), version);
    if (!found && version !== undefined) throw new errors.VERSION_NOT_FOUND(excerpt(name), excerpt(version));
    if (!found) throw new errors.MODEL_NOT_READY(excerpt(name), 'it has no versions');
    return found;
  }

  /** The version that would serve, if it is ready; never throws (for lookups that may simply give up). */
  peek(name: string, version?: string): ReadyModel | undefined {
    const versions = this.#models.get(name);
    const found = versions && select(versions, version);
    return found && isReady(found) ? found : undefined;
  }

  /** Like find, but only a version that can serve; 503 with Retry-After while loading. */
  ready(name: string, version?: string): ReadyModel {
    const model = this.find(name, version);
    if (isReady(model)) return model;
    const why = model.state === 'LOADING' ? 'still loading' : `failed to load (${model.reason ?? 'unknown'})`;
    const error = new errors.MODEL_NOT_READY(model.name, why);
    if (model.state === 'LOADING') withExtras(error, { retryAfter: 1 });
    throw error;
  }

  async close(): Promise<void> {
    await this.#loading;
    for (const entry of [...this.#models.values()].flat()) await entry.runtime?.unload();
  }
}
