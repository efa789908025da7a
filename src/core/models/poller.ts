// Polling mode: the repository folder read every interval; new and changed versions load once their files stopped
// changing, removed models unload.
import type { ModelFiles, VersionFiles } from './layout.js';
import { fingerprintOf, type Model } from './state.js';

/** What polling needs of the repository. */
export interface PollTarget {
  discover(): Promise<Map<string, ModelFiles>>;
  model(name: string): Model | undefined;
  names(): string[];
  /** Applies a model's (stable) files, one operation at a time per model. */
  apply(files: ModelFiles): Promise<void>;
  /** Unloads and forgets a model no longer on disk. */
  remove(name: string): Promise<void>;
}

export class Poller {
  #target: PollTarget;
  /** Fingerprints seen by the last poll: a version is loaded only once its files stopped changing. */
  #seen = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(target: PollTarget) {
    this.#target = target;
  }

  start(intervalMs: number, poll: () => Promise<void>): void {
    this.#timer = setInterval(() => void poll(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Loads new and changed versions whose files stopped changing, unloads removed ones. */
  async poll(): Promise<void> {
    const target = this.#target;
    const found = await target.discover();
    for (const [name, files] of found) {
      const model = target.model(name);
      const stable = await this.#stable(name, files, model);
      if (model?.unloaded) continue;
      // Half-written versions wait for the next poll; the ones that stopped changing are applied.
      if (await differs(model, stable)) await target.apply({ ...files, versions: stable });
    }
    for (const name of target.names()) {
      if (!found.has(name)) await target.remove(name);
    }
  }

  /** The versions unchanged since the last poll, or since they were loaded: complete. */
  async #stable(name: string, files: ModelFiles, model: Model | undefined): Promise<VersionFiles[]> {
    const stable: VersionFiles[] = [];
    for (const version of files.versions) {
      const key = `${name}/${version.version}`;
      const fingerprint = await fingerprintOf(version);
      const served = model?.slots.find((s) => s.entry.version === version.version)?.fingerprint;
      if (this.#seen.get(key) === fingerprint || served === fingerprint) stable.push(version);
      this.#seen.set(key, fingerprint);
    }
    return stable;
  }
}

async function differs(model: Model | undefined, versions: readonly VersionFiles[]): Promise<boolean> {
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
