// The repository index: every model and version in the folder or served, with its state and why.
import type { ModelFiles } from './layout.js';
import type { IndexEntry, Model } from './state.js';

/**
 * The rows of the models known (served, failed or unloaded) and of those only found on disk, by name. Models on disk
 * that were never loaded (explicit mode) are UNAVAILABLE, as in Triton's index.
 */
export function indexRows(
  models: ReadonlyMap<string, Model>,
  found: ReadonlyMap<string, ModelFiles>,
): IndexEntry[] {
  const names = [...new Set([...models.keys(), ...found.keys()])].sort((a, b) => a.localeCompare(b));
  const rows: IndexEntry[] = [];
  for (const name of names) {
    const model = models.get(name);
    if (!model) {
      for (const v of found.get(name)?.versions ?? []) {
        rows.push({ name, version: v.version, state: 'UNAVAILABLE', reason: 'not loaded' });
      }
      continue;
    }
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
  }
  return rows;
}
