// JSON parsed only once its size and depth are known to be within bounds, wherever it comes from (a load override,
// model.json, the config file, the OAuth clients file): a parser or a schema check whose work grows with the depth
// (TypeBox hashes nested arrays for uniqueItems by recursion) never sees a text nested 5,000 deep.
import { nestedDeeperThan } from './json-depth.js';

export interface JsonBounds {
  /** Most arrays and objects nested inside each other. */
  maxDepth: number;
  /** Most bytes of UTF-8. */
  maxBytes: number;
}

/** What files Serval reads at start (the config file, the OAuth clients file) may hold. */
export const FILE_JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxBytes: 1024 * 1024 };

/** A text past a bound; the message names the bound ("nests arrays and objects more than 32 deep"). */
export class JsonBoundsError extends Error {
  override name = 'JsonBoundsError';
}

/** Parses `text` once it is within `bounds`; throws JsonBoundsError past them, SyntaxError for what is not JSON. */
export function parseBoundedJson(text: string, bounds: JsonBounds): unknown {
  if (text.length > bounds.maxBytes || Buffer.byteLength(text) > bounds.maxBytes) {
    throw new JsonBoundsError(`is larger than ${bounds.maxBytes} bytes`);
  }
  if (nestedDeeperThan(text, bounds.maxDepth)) {
    throw new JsonBoundsError(`nests arrays and objects more than ${bounds.maxDepth} deep`);
  }
  return JSON.parse(text);
}
