// Brings one model in line with its files: the versions its policy wants loaded (a changed one reloaded beside the
// old, which serves until the new one is ready), failed ones stood in for by lower versions, the others unloaded.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadOrder, withSteps } from '../ensemble/order.js';
import { selectVersions, type LoadOverride, type VersionPolicy } from './descriptor.js';
import type { ModelFiles, VersionFiles } from './layout.js';
import { failedSlot, keep, loadSlot, retire, type SlotContext, type SlotLoad } from './slots.js';
import { fingerprintOf, isReady, type Model, type Slot } from './state.js';
import type { TritonPlan } from './triton/config.js';
import { readModelSettings } from './triton/settings.js';

export type ApplyHow = { startup?: boolean } & Partial<LoadOverride>;

interface Settings {
  policy: VersionPolicy | undefined;
  triton: TritonPlan | undefined;
  error: string | undefined;
}

/** What one apply works with: the model, its files, the versions its policy wants, how they load. */
interface Plan {
  model: Model;
  files: ModelFiles;
  wanted: Set<string>;
  settings: Settings;
  load: SlotLoad;
  how: ApplyHow;
}

async function settingsOf(ctx: SlotContext, files: ModelFiles, how: ApplyHow): Promise<Settings> {
  try {
    // A single model's folder is named by the server's settings, not by a configuration's name.
    const named = resolve(files.dir) !== ctx.options.root;
    const { policy, triton } = await readModelSettings(files, how.triton, named);
    return { policy, triton, error: undefined };
  } catch (err) {
    return { policy: undefined, triton: undefined, error: (err as Error).message };
  }
}

/** One wanted version: kept when nothing changed, else loaded (a failure keeps the one that serves). */
async function wantedSlot(ctx: SlotContext, plan: Plan, version: VersionFiles): Promise<Slot> {
  const { model, files, settings, how } = plan;
  const current = model.slots.find((s) => s.entry.version === version.version);
  const fingerprint = await fingerprintOf(version);
  if (settings.error !== undefined) {
    // Without its settings the model's versions are unknown: what serves keeps serving, nothing new loads.
    const failed = failedSlot(ctx, files.name, version, settings.error);
    return current && isReady(current.entry) ? keep(current, failed) : failed;
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
    return current;
  }
  const loaded = await loadSlot(ctx, files.name, version, fingerprint, plan.load);
  return current && isReady(current.entry) && loaded.entry.state !== 'READY' ? keep(current, loaded) : loaded;
}

/**
 * Versions that failed are stood in for by the highest lower ones: those serving now, or (a latest-N policy, as in
 * a worker started after a broken version was added) the next ones that load. Never a model with nothing.
 */
async function standIns(ctx: SlotContext, plan: Plan, next: Slot[]): Promise<Set<string>> {
  const { model, files, wanted, settings } = plan;
  const { policy } = settings;
  const fallback =
    settings.error === undefined &&
    (policy === undefined || (typeof policy === 'object' && 'latest' in policy));
  const failed = next.filter((slot) => !isReady(slot.entry)).map((slot) => slot.entry.version);
  let missing = failed.length;
  const chosen = new Set<string>();
  for (const version of files.versions.filter((v) => !wanted.has(v.version))) {
    if (missing === 0) break;
    let slot = model.slots.find((s) => s.entry.version === version.version && isReady(s.entry));
    if (!slot && fallback) {
      const fingerprint = await fingerprintOf(version);
      slot = await loadSlot(ctx, files.name, version, fingerprint, plan.load);
    }
    if (!slot || !isReady(slot.entry)) continue;
    slot.entry.reason = `serving in place of version ${failed.join(', ')}, which failed to load`;
    next.push(slot);
    chosen.add(version.version);
    missing--;
  }
  return chosen;
}

/** The switch: from here on, lookups see the new versions; the ones gone are released once their calls are done. */
function switchTo(ctx: SlotContext, plan: Plan, next: Slot[], stoodIn: Set<string>): void {
  const { model, files, wanted } = plan;
  next.sort((a, b) => Number(b.entry.version) - Number(a.entry.version));
  const gone = model.slots.filter((s) => !next.includes(s));
  model.slots = next;
  model.idle = files.versions
    .filter((v) => !wanted.has(v.version) && !stoodIn.has(v.version))
    .map((v) => ({
      name: files.name,
      version: v.version,
      state: 'UNAVAILABLE' as const,
      reason: 'not in the version policy',
    }));
  for (const slot of gone) void retire(ctx, slot);
}

function logOutcome(ctx: SlotContext, plan: Plan): void {
  const { log } = ctx.options;
  const next = plan.model.slots;
  const notApplied = new Set(next.flatMap((s) => s.entry.triton?.notApplied ?? []));
  if (notApplied.size > 0) {
    log.warn(
      { model: plan.files.name, source: plan.settings.triton?.source, notApplied: [...notApplied] },
      'model configuration fields not applied',
    );
  }
  for (const { entry } of next) {
    if (entry.state === 'FAILED') {
      log.error({ model: entry.name, version: entry.version, reason: entry.reason }, 'model failed to load');
    }
  }
}

/**
 * Applies a model's files to it. A version that fails to load leaves the one it would replace serving, with the
 * reason in the index.
 */
export async function applyFiles(
  ctx: SlotContext,
  model: Model,
  files: ModelFiles,
  how: ApplyHow,
): Promise<void> {
  model.unloaded = false;
  const settings = await settingsOf(ctx, files, how);
  const wanted = new Set(
    selectVersions(
      files.versions.map((v) => v.version),
      settings.policy,
    ),
  );
  const load = { descriptor: how.descriptor, triton: settings.triton, tritonOverride: how.triton };
  const plan: Plan = { model, files, wanted, settings, load, how };
  const next: Slot[] = [];
  for (const version of files.versions.filter((v) => wanted.has(v.version))) {
    next.push(await wantedSlot(ctx, plan, version));
  }
  const stoodIn = await standIns(ctx, plan, next);
  switchTo(ctx, plan, next, stoodIn);
  logOutcome(ctx, plan);
}

/** Stops serving a model: its versions listed as unloaded, released once the calls using them are done. */
export async function unloadSlots(ctx: SlotContext, model: Model, reason: string): Promise<void> {
  const gone = model.slots;
  model.idle = [
    ...gone.map((s) => ({
      name: model.name,
      version: s.entry.version,
      state: 'UNAVAILABLE' as const,
      reason,
    })),
    ...model.idle,
  ].sort((a, b) => Number(b.version) - Number(a.version));
  model.slots = [];
  model.unloaded = true;
  model.startup = false;
  await Promise.all(gone.map((s) => retire(ctx, s)));
}

/**
 * The models loaded at start, in the order they load: all of them, or the `startup` ones (explicit mode), with the
 * models their ensembles' steps run; ensembles after those, as in Triton.
 */
export async function startupOrder(
  found: ReadonlyMap<string, ModelFiles>,
  startup: readonly string[] | undefined,
  log: Logger,
): Promise<ModelFiles[]> {
  const all = [...found.values()];
  const chosen = startup === undefined ? all : all.filter((m) => startup.includes(m.name));
  for (const name of startup ?? []) {
    if (!found.has(name)) log.error({ model: name }, 'a startup model is not in the repository');
  }
  return loadOrder(await withSteps(chosen, found));
}
