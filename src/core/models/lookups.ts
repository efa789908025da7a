// The lookups every protocol makes in the repository's models: a version by name, the one that serves, the counts
// that probes and metrics read. Read-only: loading and unloading live in the repository.
import { dependentsOf } from '../ensemble/order.js';
import { EnsembleRuntime } from '../ensemble/runtime.js';
import { errors, excerpt, withExtras } from '../errors.js';
import { isReady, type Model, type ModelVersion, type ReadyModel, type Slot } from './state.js';

export type Models = ReadonlyMap<string, Model>;

function modelOf(models: Models, name: string): Model {
  const model = models.get(name);
  if (!model) throw new errors.MODEL_NOT_FOUND(excerpt(name));
  if (model.slots.length === 0) throw new errors.MODEL_NOT_LOADED(excerpt(name));
  return model;
}

/** All versions of a model that serve or failed, highest first; throws MODEL_NOT_FOUND or MODEL_NOT_LOADED. */
export function versionsOf(models: Models, name: string): ModelVersion[] {
  return modelOf(models, name).slots.map((s) => s.entry);
}

/** A version, or the default one (the highest that is ready); throws MODEL_NOT_FOUND or VERSION_NOT_FOUND. */
export function slotOf(models: Models, name: string, version: string | undefined): Slot {
  const slots = modelOf(models, name).slots;
  // The default version is the highest that is ready (the version policy chose what is loaded).
  const found =
    version === undefined
      ? (slots.find((s) => isReady(s.entry)) ?? slots[0])
      : slots.find((s) => s.entry.version === version);
  if (!found) throw new errors.VERSION_NOT_FOUND(excerpt(name), excerpt(version ?? ''));
  return found;
}

/** The version that would serve, if it is ready; never throws. */
export function peekAt(models: Models, name: string, version?: string): ReadyModel | undefined {
  const slots = models.get(name)?.slots;
  const found =
    version === undefined
      ? slots?.find((s) => isReady(s.entry))
      : slots?.find((s) => s.entry.version === version);
  return isReady(found?.entry) ? found.entry : undefined;
}

/** The version itself if it can serve; else MODEL_NOT_READY saying why (503 with Retry-After while loading). */
export function readyOrWhy(model: ModelVersion): ReadyModel {
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

export function readyCount(models: Models): number {
  let count = 0;
  for (const model of models.values()) for (const slot of model.slots) if (isReady(slot.entry)) count++;
  return count;
}

/** Calls waiting or running per served version. */
export function pendingOf(models: Models): { model: string; version: string; count: number }[] {
  const rows = [];
  for (const model of models.values()) {
    for (const { entry } of model.slots) {
      if (entry.runtime)
        rows.push({ model: model.name, version: entry.version, count: entry.runtime.pending });
    }
  }
  return rows;
}

/** Models loaded at start that serve no version because their versions failed, named with those versions. */
export function startupFailuresOf(models: Models): string[] {
  const failed: string[] = [];
  for (const model of models.values()) {
    if (!model.startup || model.slots.some((s) => isReady(s.entry))) continue;
    const versions = model.slots.filter((s) => s.entry.state === 'FAILED').map((s) => s.entry.version);
    if (versions.length > 0) failed.push(`${model.name}/${versions.join(',')}`);
  }
  return failed;
}

/** The versions ready to serve. */
export function servedOf(models: Models): { name: string; version: string }[] {
  const rows = [];
  for (const model of models.values()) {
    for (const { entry } of model.slots)
      if (isReady(entry)) rows.push({ name: model.name, version: entry.version });
  }
  return rows;
}

/**
 * Marks a call as using a slot until the returned function is called. A version already released is MODEL_NOT_READY
 * (the caller retries and finds its successor).
 */
export function useSlot(slot: Slot, name: string, idle?: () => void): () => void {
  if (slot.entry.state === 'UNAVAILABLE') {
    throw withExtras(new errors.MODEL_NOT_READY(name, 'it was just unloaded or replaced'), {
      retryAfter: 1,
    });
  }
  slot.inFlight++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--slot.inFlight === 0) {
      slot.drained?.();
      idle?.();
    }
  };
}

/** The ensembles served now whose steps run a model, directly or through other ensembles. */
export function dependentsIn(models: Models, name: string): string[] {
  const runs = new Map<string, string[]>();
  for (const model of models.values()) {
    const steps = model.slots.flatMap(({ entry }) =>
      entry.runtime instanceof EnsembleRuntime ? entry.runtime.graph.steps.map((s) => s.model) : [],
    );
    if (steps.length > 0) runs.set(model.name, steps);
  }
  return dependentsOf(name, runs);
}

/** On demand: the memory the loaded models took, as measured at their loads. */
export function loadedBytesOf(models: Models): number {
  let bytes = 0;
  for (const model of models.values()) {
    const holds = model.slots.some((s) => s.entry.runtime !== undefined && s.entry.state !== 'UNAVAILABLE');
    if (holds) bytes += model.bytes ?? 0;
  }
  return bytes;
}

/** MODEL_LOAD_FAILED naming each version that failed (or stands in, or keeps serving), or undefined. */
export function loadFailure(models: Models, name: string): Error | undefined {
  const failed = models.get(name)?.slots.filter((s) => s.entry.state === 'FAILED' || s.entry.reason) ?? [];
  if (failed.length === 0) return undefined;
  const reasons = failed.map((s) => `version ${s.entry.version}: ${s.entry.reason ?? ''}`).join('; ');
  return withExtras(new errors.MODEL_LOAD_FAILED(name, reasons), {
    details: { versions: failed.map((s) => s.entry.version) },
  });
}

/** A model as the model list shows it: its default version and all its versions, highest first. */
export interface ListedModel {
  name: string;
  chosen: ModelVersion;
  versions: ModelVersion[];
}

/** Every model known: served, failed or not loaded. */
export function listOf(models: Models): ListedModel[] {
  return [...models.values()].flatMap((m) => {
    if (m.slots.length > 0)
      return [
        {
          name: m.name,
          chosen: slotOf(models, m.name, undefined).entry,
          versions: m.slots.map((s) => s.entry),
        },
      ];
    // Not loaded (on demand, or unloaded): listed with its state and why, without the graph's tensors.
    const versions = m.idle.map((row): ModelVersion => ({ ...row, descriptor: {} }));
    const [chosen] = versions;
    return chosen ? [{ name: m.name, chosen, versions }] : [];
  });
}
