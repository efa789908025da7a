// Protocol buffers' text format (config.pbtxt), read against a message type's reflection: the fields, their types,
// repeated fields, maps and enums all come from the .proto, none from a list here. Strict: an unknown field, a
// value of the wrong type, a field given twice or two members of one oneof are errors with line and column.
import protobuf from 'protobufjs';
import { checkInteger, isMap, scalarKind, type ConfigMessage, type ConfigValue } from './schema.js';
import { Lexer, type Token } from './text-lexer.js';

export { TextFormatError } from './text-lexer.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

const ENTRIES = new WeakMap<protobuf.MapField, protobuf.Type>();

/** The message a map's entry is on the wire and in the text format: key = 1, value = 2. */
function entryType(field: protobuf.MapField): protobuf.Type {
  let type = ENTRIES.get(field);
  if (type === undefined) {
    const key = new protobuf.Field('key', 1, field.keyType);
    const value = new protobuf.Field('value', 2, field.type);
    value.resolvedType = field.resolvedType;
    type = new protobuf.Type(`${field.name} entry`).add(key).add(value);
    ENTRIES.set(field, type);
  }
  return type;
}

/** Where a message's fields end: the closing bracket of its block, or the end of the text for the top one. */
const CLOSE: Record<string, string> = { '{': '}', '<': '>' };

class Parser {
  #lexer: Lexer;
  #token: Token;

  constructor(text: string, file: string) {
    this.#lexer = new Lexer(text, file);
    this.#token = this.#lexer.next();
  }

  #fail(token: Token, reason: string): never {
    return this.#lexer.fail(token.line, token.column, reason);
  }

  #take(): Token {
    const token = this.#token;
    this.#token = this.#lexer.next();
    return token;
  }

  #at(text: string): boolean {
    return this.#token.kind === 'punct' && this.#token.text === text;
  }

  /** The fields of one message, up to `close` (a bracket, or the end of the text). */
  message(type: protobuf.Type, close: string | undefined): ConfigMessage {
    const out: ConfigMessage = {};
    const seen = new Map<string, Token>();
    for (;;) {
      const token = this.#token;
      if (close === undefined ? token.kind === 'end' : this.#at(close)) {
        this.#take();
        return out;
      }
      if (token.kind === 'end') this.#fail(token, `expected "${close ?? ''}" to close ${type.name}`);
      if (token.kind !== 'ident') this.#fail(token, `expected a field name, found ${describe(token)}`);
      this.#take();
      const field = type.fields[token.text];
      if (field === undefined) this.#fail(token, `unknown field "${token.text}" in ${type.name}`);
      this.#field(type, field, token, out, seen);
      if (this.#at(',') || this.#at(';')) this.#take();
    }
  }

  #field(
    type: protobuf.Type,
    field: protobuf.Field,
    name: Token,
    out: ConfigMessage,
    seen: Map<string, Token>,
  ): void {
    const repeated = field.repeated || isMap(field);
    if (!repeated && seen.has(field.name)) this.#fail(name, `field "${field.name}" is given twice`);
    const other = field.partOf?.oneof.find((member) => member !== field.name && seen.has(member));
    if (other !== undefined) {
      this.#fail(name, `"${field.name}" and "${other}" are both set, but ${type.name} takes one of them`);
    }
    seen.set(field.name, name);
    const composite = isMap(field) || field.resolvedType instanceof protobuf.Type;
    // A scalar needs its colon; a message may leave it out (input { ... }, input [ { ... } ]).
    if (this.#at(':')) this.#take();
    else if (!composite) this.#fail(this.#token, `expected ":" after "${field.name}"`);
    const values: ConfigValue[] = [];
    if (this.#at('[')) {
      const open = this.#take();
      if (!repeated)
        this.#fail(open, `field "${field.name}" is not repeated: it takes one value, not a list`);
      while (!this.#at(']')) {
        values.push(this.#value(field));
        if (this.#at(',')) this.#take();
        else if (!this.#at(']'))
          this.#fail(this.#token, `expected "," or "]", found ${describe(this.#token)}`);
      }
      this.#take();
    } else {
      values.push(this.#value(field));
    }
    store(field, values, out);
  }

  /** One value of a field: a message block, a map entry, or a scalar. */
  #value(field: protobuf.Field): ConfigValue {
    if (isMap(field)) return this.#block((close) => this.#entry(field, close));
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.#block((close) => this.message(resolved, close));
    return this.#scalar(field.type, resolved, field.name);
  }

  #block<T>(read: (close: string) => T): T {
    const open = this.#token;
    const close = open.kind === 'punct' ? CLOSE[open.text] : undefined;
    if (close === undefined) this.#fail(open, `expected "{", found ${describe(open)}`);
    this.#take();
    return read(close);
  }

  /** A map entry, { key: k value: v }, as the two-member message protobuf makes of it. */
  #entry(field: protobuf.MapField, close: string): ConfigMessage {
    return this.message(entryType(field), close);
  }

  #scalar(type: string, resolved: protobuf.Enum | protobuf.Type | null, name: string): ConfigValue {
    let negative: Token | undefined;
    if (this.#at('-')) negative = this.#take();
    const token = this.#take();
    const scalar: Scalar = {
      token,
      negative,
      wrong: (what) => this.#fail(negative ?? token, `"${name}" takes ${what}, not ${describe(token)}`),
    };
    if (resolved instanceof protobuf.Enum) return this.#enumValue(resolved, scalar);
    switch (scalarKind(type)) {
      case 'integer':
        return this.#integer(type, name, scalar);
      case 'float':
        return floatOf(scalar);
      case 'bool':
        return boolOf(scalar);
      case 'string':
      case 'bytes':
        if (negative || token.kind !== 'string' || token.bytes === undefined)
          return scalar.wrong('a quoted string');
        try {
          return UTF8.decode(token.bytes);
        } catch {
          return this.#fail(token, `"${name}" is not valid UTF-8`);
        }
      default:
        return this.#fail(token, `"${name}" has type ${type}, which the text format reader does not know`);
    }
  }

  /** An enum's value by name, or by number. */
  #enumValue(resolved: protobuf.Enum, { token, negative, wrong }: Scalar): string {
    if (token.kind === 'ident' && !negative) {
      if (!(token.text in resolved.values))
        this.#fail(
          token,
          `${token.text} is not a ${resolved.name} (${Object.keys(resolved.values).join(', ')})`,
        );
      return token.text;
    }
    if (token.kind === 'number' && /^[0-9]+$/.test(token.text)) {
      const sign = negative ? '-' : '';
      const found = resolved.valuesById[Number(sign + token.text)];
      if (found === undefined) this.#fail(token, `${sign}${token.text} is not a value of ${resolved.name}`);
      return found;
    }
    return wrong(`a ${resolved.name} name`);
  }

  /** Decimal, hexadecimal or octal, within the field type's range. */
  #integer(type: string, name: string, { token, negative, wrong }: Scalar): ConfigValue {
    if (token.kind !== 'number' || /[.eEfF]/.test(token.text.replace(/^0[xX][0-9a-fA-F]*/, '')))
      return wrong('an integer');
    const text = token.text;
    const octal = /^0[0-7]+$/.test(text);
    if (/^0[0-9]+$/.test(text) && !octal) this.#fail(token, `${text} is not a valid octal number`);
    const magnitude = octal ? BigInt(`0o${text.slice(1)}`) : BigInt(text);
    const checked = checkInteger(negative ? -magnitude : magnitude, type);
    if (typeof checked === 'string') this.#fail(negative ?? token, `"${name}": ${checked}`);
    return checked;
  }
}

/** A scalar's token, the minus sign before it if any, and the error for a token of the wrong kind. */
interface Scalar {
  token: Token;
  negative: Token | undefined;
  wrong: (what: string) => never;
}

function floatOf({ token, negative, wrong }: Scalar): number {
  if (token.kind === 'ident' && /^(inf|infinity|nan)$/i.test(token.text))
    return token.text.toLowerCase() === 'nan' ? NaN : negative ? -Infinity : Infinity;
  if (token.kind !== 'number' || /^0[xX]/.test(token.text)) return wrong('a number');
  return Number((negative ? '-' : '') + token.text.replace(/[fF]$/, ''));
}

function boolOf({ token, negative, wrong }: Scalar): boolean {
  if (negative) return wrong('true or false');
  if (token.kind === 'ident' && /^(true|True|t)$/.test(token.text)) return true;
  if (token.kind === 'ident' && /^(false|False|f)$/.test(token.text)) return false;
  if (token.kind === 'number' && (token.text === '1' || token.text === '0')) return token.text === '1';
  return wrong('true or false');
}

function describe(token: Token): string {
  if (token.kind === 'end') return 'the end of the file';
  if (token.kind === 'string') return 'a string';
  return `"${token.text}"`;
}

/** The value a proto3 scalar has when absent: writing it is the same as not writing it. */
function isDefault(field: protobuf.Field, value: ConfigValue): boolean {
  if (field.partOf || field.resolvedType instanceof protobuf.Type) return false;
  if (field.resolvedType instanceof protobuf.Enum) return field.resolvedType.values[value as string] === 0;
  return value === 0 || value === false || value === '';
}

/**
 * Stores a field's values as protobuf's JSON form holds them: a list for a repeated field (absent when empty), an
 * object for a map (keys as text; of a key given twice the last value stands, as protobuf's parsers have it), and a
 * scalar left out when it is proto3's default.
 */
export function store(field: protobuf.Field, values: readonly ConfigValue[], out: ConfigMessage): void {
  if (isMap(field)) {
    if (values.length === 0) return;
    const map = (out[field.name] ??= {}) as ConfigMessage;
    for (const value of values) {
      const entry = value as ConfigMessage;
      const key = entry.key as string | number | boolean | undefined;
      map[String(key ?? (scalarKind(field.keyType) === 'string' ? '' : 0))] = entry.value ?? defaultOf(field);
    }
    return;
  }
  if (field.repeated) {
    if (values.length > 0) ((out[field.name] ??= []) as ConfigValue[]).push(...values);
    return;
  }
  const only = values[0];
  if (only !== undefined && !isDefault(field, only)) out[field.name] = only;
}

/** A map value left out of its entry: the empty message, the first enum value, or the scalar's zero. */
function defaultOf(field: protobuf.Field): ConfigValue {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return {};
  if (resolved instanceof protobuf.Enum) return resolved.valuesById[0] ?? '';
  const kind = scalarKind(field.type);
  return kind === 'string' || kind === 'bytes' ? '' : kind === 'bool' ? false : 0;
}

/** Parses a message of `type` from its text format; errors are TextFormatErrors naming `file`, line and column. */
export function parseTextFormat(text: string, type: protobuf.Type, file: string): ConfigMessage {
  return new Parser(text, file).message(type, undefined);
}
