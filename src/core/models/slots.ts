// One version's life in the repository: loaded into a slot (READY or FAILED with its reason), kept serving when
// its replacement fails, and released once the calls using it are done.
import { performance } from 'node:perf_hooks';
import { loadEnsemble } from '../ensemble/load.js';
import type { StepModels } from '../ensemble/runtime.js';
import type { Descriptor } from './descriptor.js';
import type { VersionFiles } from './layout.js';
import { loadVersion } from './loader.js';
import type { TritonPlan } from './triton/config.js';
import type { ModelVersion, RepositoryOptions, Slot } from './state.js';

/** What loading a slot needs of the repository. */
export interface SlotContext {
  options: RepositoryOptions;
  /** Every slot by its entry, replaced ones included: a call counts against the version it really uses. */
  slots: WeakMap<ModelVersion, Slot>;
  /** The models an ensemble's steps run. */
  steps: StepModels;
}

/** What a version is loaded with: the repository API's descriptor or Triton configuration, and the model's plan. */
export interface SlotLoad {
  descriptor?: Descriptor | undefined;
  triton?: TritonPlan | undefined;
  tritonOverride?: unknown;
}

async function loadEntry(ctx: SlotContext, entry: ModelVersion, files: VersionFiles, how: SlotLoad) {
  const { load, observer } = ctx.options;
  const { name } = entry;
  if (how.triton?.ensemble) {
    // An ensemble's answers are filed under its composing versions too: its generation is read when asked.
    const { generationNow, ...loaded } = await loadEnsemble(
      name,
      how.triton,
      files,
      ctx.steps,
      observer,
      how.descriptor,
    );
    Object.assign(entry, loaded, { state: 'READY' });
    Object.defineProperty(entry, 'generation', { get: generationNow, enumerable: true });
  } else {
    const runs = observer?.runs(name, files.version);
    const loader = ctx.options.loader ?? loadVersion;
    Object.assign(entry, await loader(files, load, how.descriptor, runs, how.triton), {
      state: 'READY',
    });
  }
}

/** Loads a version into a new slot: READY, or FAILED with the first line of the reason. */
export async function loadSlot(
  ctx: SlotContext,
  name: string,
  files: VersionFiles,
  fingerprint: string,
  how: SlotLoad,
): Promise<Slot> {
  const { log, root, observer } = ctx.options;
  const entry: ModelVersion = { name, version: files.version, state: 'LOADING', descriptor: {} };
  const started = performance.now();
  try {
    await loadEntry(ctx, entry, files, how);
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
  const override = how.descriptor !== undefined || how.tritonOverride !== undefined;
  const slot = { entry, files, fingerprint, override, inFlight: 0 };
  ctx.slots.set(entry, slot);
  return slot;
}

export function failedSlot(ctx: SlotContext, name: string, files: VersionFiles, reason: string): Slot {
  const entry: ModelVersion = { name, version: files.version, state: 'FAILED', reason, descriptor: {} };
  const slot = { entry, files, fingerprint: '', override: false, inFlight: 0 };
  ctx.slots.set(entry, slot);
  return slot;
}

/** A failed reload of a version that serves: the old one goes on, the new one's reason noted on it. */
export function keep(current: Slot, failed: Slot): Slot {
  current.entry.reason = `a newer load failed and this one keeps serving: ${failed.entry.reason ?? ''}`;
  return current;
}

/** Releases a version that no longer serves, once the calls that were using it are done. */
export async function retire(ctx: SlotContext, slot: Slot): Promise<void> {
  const runtime = slot.entry.runtime;
  if (slot.entry.state === 'READY') slot.entry.state = 'UNLOADING';
  if (slot.inFlight > 0) await new Promise<void>((resolve) => (slot.drained = resolve));
  slot.entry.state = 'UNAVAILABLE';
  await runtime?.unload().catch((err: unknown) => ctx.options.log.warn({ err }, 'unloading a model failed'));
}
