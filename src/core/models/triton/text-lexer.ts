// The tokens of protocol buffers' text format: identifiers, numbers, quoted strings (C escapes, adjacent literals
// joined) and punctuation, each with its line and column; # comments and whitespace between them.

export class TextFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    reason: string,
  ) {
    super(`${file}:${line}:${column}: ${reason}`);
    this.name = 'TextFormatError';
  }
}

type Kind = 'ident' | 'number' | 'string' | 'punct' | 'end';

export interface Token {
  kind: Kind;
  text: string;
  /** A string literal's bytes (adjacent literals already joined). */
  bytes?: Uint8Array;
  line: number;
  column: number;
}

const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?)/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  b: 8,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  '\\': 92,
  "'": 39,
  '"': 34,
  '?': 63,
};

/** Splits the text into tokens; comments (# to the end of the line) and whitespace separate them. */
export class Lexer {
  #text: string;
  #file: string;
  #at = 0;
  #line = 1;
  #lineStart = 0;

  constructor(text: string, file: string) {
    this.#text = text;
    this.#file = file;
  }

  fail(line: number, column: number, reason: string): never {
    throw new TextFormatError(this.#file, line, column, reason);
  }

  #skip(): void {
    const text = this.#text;
    while (this.#at < text.length) {
      const c = text[this.#at];
      if (c === '\n') {
        this.#at++;
        this.#line++;
        this.#lineStart = this.#at;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') this.#at++;
      else if (c === '#') while (this.#at < text.length && text[this.#at] !== '\n') this.#at++;
      else return;
    }
  }

  next(): Token {
    this.#skip();
    const line = this.#line;
    const column = this.#at - this.#lineStart + 1;
    const text = this.#text;
    if (this.#at >= text.length) return { kind: 'end', text: '', line, column };
    const c = text[this.#at] as string;
    if (c === '"' || c === "'") {
      const parts: Uint8Array[] = [];
      // Adjacent literals ("a" 'b') are one string, as in C.
      do {
        parts.push(this.#string(text[this.#at] as string));
        this.#skip();
      } while (text[this.#at] === '"' || text[this.#at] === "'");
      return { kind: 'string', text: 'a string', bytes: Buffer.concat(parts), line, column };
    }
    for (const [kind, pattern] of [
      ['number', NUMBER],
      ['ident', IDENT],
    ] as const) {
      pattern.lastIndex = this.#at;
      const match = pattern.exec(text);
      if (match) {
        this.#at += match[0].length;
        const after = text[this.#at];
        if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) {
          this.fail(line, column, `unexpected "${match[0]}${after}"`);
        }
        return { kind, text: match[0], line, column };
      }
    }
    if ('{}[]<>:,;-'.includes(c)) {
      this.#at++;
      return { kind: 'punct', text: c, line, column };
    }
    return this.fail(line, column, `unexpected character ${JSON.stringify(c)}`);
  }

  #string(quote: string): Uint8Array {
    const text = this.#text;
    const line = this.#line;
    const startColumn = this.#at - this.#lineStart + 1;
    const bytes: number[] = [];
    this.#at++;
    for (;;) {
      const c = text[this.#at];
      const column = this.#at - this.#lineStart + 1;
      if (c === undefined || c === '\n') this.fail(line, startColumn, 'unterminated string');
      this.#at++;
      if (c === quote) return Uint8Array.from(bytes);
      if (c !== '\\') {
        bytes.push(...Buffer.from(c, 'utf8'));
        continue;
      }
      const e = text[this.#at] ?? '';
      this.#at++;
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) bytes.push(simple);
      else if (/[0-7]/.test(e)) {
        let digits = e;
        while (digits.length < 3 && /[0-7]/.test(text[this.#at] ?? '')) digits += text[this.#at++] ?? '';
        const value = parseInt(digits, 8);
        if (value > 255) this.fail(line, column, `octal escape \\${digits} is past \\377`);
        bytes.push(value);
      } else if (e === 'x' || e === 'X') {
        let digits = '';
        while (digits.length < 2 && /[0-9a-fA-F]/.test(text[this.#at] ?? ''))
          digits += text[this.#at++] ?? '';
        if (digits === '') this.fail(line, column, '\\x needs a hexadecimal digit');
        bytes.push(parseInt(digits, 16));
      } else if (e === 'u' || e === 'U') {
        const width = e === 'u' ? 4 : 8;
        const digits = text.slice(this.#at, this.#at + width);
        if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(digits)) {
          this.fail(line, column, `\\${e} needs ${width} hexadecimal digits`);
        }
        this.#at += width;
        const code = parseInt(digits, 16);
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
          this.fail(line, column, `\\${e}${digits} is not a Unicode character`);
        }
        bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
      } else this.fail(line, column, `unknown escape \\${e}`);
    }
  }
}
