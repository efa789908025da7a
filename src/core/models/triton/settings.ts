// A model's own settings, read once per load of the model: Triton's configuration (config.pbtxt, or model.json in
// Triton's JSON form, or the load request's parameters.config) or Serval's model.json ({"versionPolicy": ...}).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSettings, type VersionPolicy } from '../descriptor.js';
import type { ModelFiles } from '../layout.js';
import { isTritonJson, planConfig, type TritonPlan } from './config.js';
import { readJsonForm } from './json-form.js';
import { modelConfigType, type ConfigMessage } from './schema.js';
import { parseTextFormat } from './text-format.js';

export const CONFIG_FILE = 'config.pbtxt';

export interface ModelSettings {
  policy: VersionPolicy | undefined;
  /** The Triton configuration the model's versions load with, when it has one. */
  triton: TritonPlan | undefined;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The settings of one model. `override` is a configuration in Triton's JSON form from the load request (already
 * read); `checkName` is false where the model is named by the server's settings rather than by its folder.
 * Throws with the file (and line and column, or field) at fault.
 */
export async function readModelSettings(
  files: ModelFiles,
  override: ConfigMessage | undefined,
  checkName: boolean,
): Promise<ModelSettings> {
  const name = checkName ? files.name : undefined;
  const plan = (config: ConfigMessage, source: string): ModelSettings => {
    try {
      const triton = planConfig(config, name, source);
      return { policy: triton.versionPolicy, triton };
    } catch (err) {
      throw new Error(`${source}: ${(err as Error).message}`);
    }
  };
  if (override) return plan(override, 'parameters.config');
  const versioned = files.versions.some((v) => v.dir !== files.dir);
  const text = await readText(join(files.dir, CONFIG_FILE));
  const json = versioned ? await readText(join(files.dir, 'model.json')) : undefined;
  if (text !== undefined) {
    if (json !== undefined) {
      throw new Error(`${CONFIG_FILE} and the model's own model.json both configure it: keep one`);
    }
    return plan(parseTextFormat(text, modelConfigType(), CONFIG_FILE), CONFIG_FILE);
  }
  if (json === undefined) return { policy: undefined, triton: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // Serval's reader names the position of the JSON error.
    return { policy: (await readSettings(join(files.dir, 'model.json'))).versionPolicy, triton: undefined };
  }
  if (!isTritonJson(parsed)) {
    return { policy: (await readSettings(join(files.dir, 'model.json'))).versionPolicy, triton: undefined };
  }
  let config: ConfigMessage;
  try {
    config = readJsonForm(parsed, modelConfigType());
  } catch (err) {
    throw new Error(`model.json (Triton's configuration): ${(err as Error).message}`);
  }
  return plan(config, 'model.json');
}
