// The path of a module beside the caller's, for a worker thread's entry.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The file of module `name` in the folder of the module at `url` (its import.meta.url), with the caller's own
 * extension: under tsx (tests, dev) both are .ts; once built, both are .js.
 */
export function besideModule(url: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${extname(fileURLToPath(url))}`, url));
}
