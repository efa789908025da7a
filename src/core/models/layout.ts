// What a model repository holds on disk: models, their version folders and files, in the layouts Serval serves.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Logger } from 'pino';

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const VERSION = /^[1-9][0-9]{0,8}$/;

/** One version's files as found: the graph, and its descriptor when there is one. */
export interface VersionFiles {
  version: string;
  dir: string;
  onnx: string;
  json: string;
  /** The model's config.pbtxt (Triton's layout), whose changes reload the version too. */
  config?: string;
}

export interface ModelFiles {
  name: string;
  /** The model's own folder: its model.json holds model-wide settings (the version policy). */
  dir: string;
  /** Found versions, highest first. */
  versions: VersionFiles[];
}

export interface Discovery {
  models: ModelFiles[];
  /** Folders skipped, with why: logged, never fatal. */
  skipped: { path: string; reason: string }[];
}

interface Entry {
  name: string;
  dir: boolean;
}

/** Entries of a folder, following symbolic links (Kubernetes mounts config maps and volumes through them). */
async function entries(path: string): Promise<Entry[]> {
  const found = await readdir(path, { withFileTypes: true });
  const resolved = await Promise.all(
    found.map(async (e): Promise<Entry | undefined> => {
      if (e.isDirectory()) return { name: e.name, dir: true };
      if (e.isFile()) return { name: e.name, dir: false };
      if (!e.isSymbolicLink()) return undefined;
      const target = await stat(join(path, e.name)).catch(() => undefined);
      return target && { name: e.name, dir: target.isDirectory() };
    }),
  );
  return resolved.filter((e): e is Entry => e !== undefined && !e.name.startsWith('.'));
}

/** The graph of a folder: model.onnx, or its only .onnx file. */
function graphOf(files: readonly Entry[]): string | undefined {
  const onnx = files.filter((e) => !e.dir && extname(e.name) === '.onnx').map((e) => e.name);
  if (onnx.includes('model.onnx')) return 'model.onnx';
  return onnx.length === 1 ? onnx[0] : undefined;
}

/** A folder holding a graph is one version; its descriptor is model.json, or <graph>.json. */
function versionIn(dir: string, version: string, files: readonly Entry[]): VersionFiles | undefined {
  const graph = graphOf(files);
  if (graph === undefined) return undefined;
  const sibling = `${basename(graph, '.onnx')}.json`;
  const json = files.some((e) => e.name === 'model.json') ? 'model.json' : sibling;
  return { version, dir, onnx: join(dir, graph), json: join(dir, json) };
}

/**
 * The numbered version folders of a model folder that hold a graph, highest first. Beside a config.pbtxt (Triton's
 * layout) every numbered folder is a version, as in Triton: its graph is the configuration's default_model_filename
 * (model.onnx by default), and a folder without it fails to load with that reason instead of being skipped.
 */
async function versionsOf(dir: string, folders: readonly Entry[]): Promise<VersionFiles[]> {
  const config = folders.some((e) => !e.dir && e.name === 'config.pbtxt')
    ? join(dir, 'config.pbtxt')
    : undefined;
  const numbered = folders.filter((e) => e.dir && VERSION.test(e.name));
  const versions = await Promise.all(
    numbered.map(async (e) => {
      const folder = join(dir, e.name);
      const found = versionIn(folder, e.name, await entries(folder));
      if (config === undefined) return found;
      const onnx = found?.onnx ?? join(folder, 'model.onnx');
      return { version: e.name, dir: folder, onnx, json: found?.json ?? join(folder, 'model.json'), config };
    }),
  );
  return versions
    .filter((v): v is VersionFiles => v !== undefined)
    .sort((a, b) => Number(b.version) - Number(a.version));
}

/**
 * Reads a repository. Four layouts, the first that fits wins:
 * - a bare .onnx file (KServe's storage initializer with a file URI): one model, version 1;
 * - a folder with a graph at its root (/mnt/models/model.onnx): one model, version 1;
 * - a folder of numbered version folders: one model with those versions;
 * - a folder of model folders, each with numbered version folders (or its graph at its root: version 1).
 * A single model is named `modelName`, or after the file or folder.
 */
export async function discover(root: string, modelName: string): Promise<Discovery> {
  const info = await stat(root);
  const skipped: Discovery['skipped'] = [];
  const single = (name: string, dir: string, versions: VersionFiles[]): Discovery => ({
    models: [{ name: modelName || name, dir, versions }],
    skipped,
  });
  if (!info.isDirectory()) {
    const dir = dirname(root);
    const stem = basename(root, extname(root));
    const named = (await entries(dir)).some((e) => e.name === `${stem}.json`);
    const json = join(dir, named ? `${stem}.json` : 'model.json');
    return single(stem, dir, [{ version: '1', dir, onnx: root, json }]);
  }
  const top = await entries(root);
  const atRoot = versionIn(root, '1', top);
  if (atRoot) return single(basename(root), root, [atRoot]);
  const rootVersions = await versionsOf(root, top);
  if (rootVersions.length > 0) return single(basename(root), root, rootVersions);

  const models: ModelFiles[] = [];
  for (const folder of top.filter((e) => e.dir).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = join(root, folder.name);
    if (!MODEL_NAME.test(folder.name)) {
      skipped.push({ path: dir, reason: 'not a valid model name' });
      continue;
    }
    const inside = await entries(dir);
    const flat = versionIn(dir, '1', inside);
    const versions = flat ? [flat] : await versionsOf(dir, inside);
    if (versions.length === 0) {
      skipped.push({
        path: dir,
        reason: 'no model.onnx, and no numbered version folder holding one (e.g. 1/model.onnx)',
      });
      continue;
    }
    models.push({ name: folder.name, dir, versions });
  }
  return { models, skipped };
}

/** The models of a repository by name, skipped folders logged; a repository that cannot be read is empty, logged. */
export async function discoverLogged(
  root: string,
  modelName: string,
  log: Logger,
): Promise<Map<string, ModelFiles>> {
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
