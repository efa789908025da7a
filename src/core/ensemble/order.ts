// Which models an ensemble's steps run, read from its settings before it loads: ensembles load after the models they
// run (at start, and when the load API loads an ensemble), and an unload with unload_dependents follows them back.
import type { ModelFiles } from '../models/layout.js';
import { readModelSettings } from '../models/triton/settings.js';

/** The models an ensemble's steps run; undefined for another model (an error here is named when it loads). */
export async function ensembleSteps(files: ModelFiles): Promise<string[] | undefined> {
  try {
    const { triton } = await readModelSettings(files, undefined, false);
    if (!triton?.ensemble) return undefined;
    const steps = (triton.config.ensemble_scheduling?.step ?? []) as { model_name?: string }[];
    return [...new Set(steps.map((s) => s.model_name ?? ''))];
  } catch {
    return undefined;
  }
}

/** The models in an order where every ensemble comes after the models (and ensembles) its steps run. */
export async function loadOrder(models: readonly ModelFiles[]): Promise<ModelFiles[]> {
  const steps = new Map<string, string[]>();
  for (const files of models) {
    const names = await ensembleSteps(files);
    if (names) steps.set(files.name, names);
  }
  // A cycle of ensembles counts no deeper: each then fails its load, naming the step not served.
  const depth = (name: string, seen: readonly string[]): number =>
    !steps.has(name) || seen.includes(name)
      ? 0
      : 1 + Math.max(0, ...(steps.get(name) ?? []).map((m) => depth(m, [...seen, name])));
  const depths = new Map(models.map((f) => [f.name, depth(f.name, [])]));
  return [...models].sort((a, b) => (depths.get(a.name) ?? 0) - (depths.get(b.name) ?? 0));
}

/** The ensembles that run `name`, directly or through other ensembles; `runs` says which models an ensemble runs. */
export function dependentsOf(name: string, runs: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  const visit = (model: string) => {
    for (const [ensemble, models] of runs) {
      if (models.includes(model) && !found.includes(ensemble) && ensemble !== name) {
        found.push(ensemble);
        visit(ensemble);
      }
    }
  };
  visit(name);
  return found;
}

/** The chosen models and, for each ensemble among them, the models its steps run (found in the repository). */
export async function withSteps(
  chosen: readonly ModelFiles[],
  found: ReadonlyMap<string, ModelFiles>,
): Promise<ModelFiles[]> {
  const all = [...chosen];
  for (let i = 0; i < all.length; i++) {
    for (const step of (await ensembleSteps(all[i] as ModelFiles)) ?? []) {
      const files = found.get(step);
      if (files && !all.includes(files)) all.push(files);
    }
  }
  return all;
}
