// What the playground's tests share: a prepared call as the page's Api sends it, for app.inject, and the fixtures
// of image files.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Call, ImageFile } from '../../src/playground/request.js';
import { MODELS, ROOT } from '../helpers.js';

export const IMAGES = join(ROOT, 'test/fixtures/images');

/** A prepared call as the page's Api sends it: JSON, or the file as the body with its own Content-Type. */
export function injected(call: Call) {
  if (call.body === undefined && call.file) {
    const { bytes, type } = call.file;
    return {
      method: 'POST' as const,
      url: call.path,
      payload: Buffer.from(bytes),
      headers: { 'content-type': type },
    };
  }
  return { method: 'POST' as const, url: call.path, payload: call.body as object };
}

/** digits-cnn's model.json without its image declaration: its input a tensor like any other. */
export async function undeclared(): Promise<string> {
  const json = JSON.parse(await readFile(join(MODELS, 'digits-cnn/1/model.json'), 'utf8')) as object;
  return JSON.stringify({ ...json, inputs: undefined });
}

/** A fixture image as the page sends a loaded file. */
export async function imageFile(name: string): Promise<ImageFile> {
  const type = name.endsWith('.jpg') ? 'image/jpeg' : 'image/png';
  return { name, type, bytes: new Uint8Array(await readFile(join(IMAGES, name))) };
}
