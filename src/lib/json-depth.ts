// How deeply a JSON text nests, found in one pass over its characters before anything is parsed.

/**
 * True when `text` opens more than `max` arrays or objects inside each other. Brackets inside strings do not count.
 * The check costs about what reading the characters does, so a body nested 400,000 deep is refused at that cost
 * instead of the parser's and the validator's (whose work grows with the depth).
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
