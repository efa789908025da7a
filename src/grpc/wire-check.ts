// The strict check a request's bytes pass before @grpc/proto-loader (protobufjs) builds the message from them.
// protobufjs reads lengths and tags as 32-bit values, dropping higher bits, so that a length prefix of 2^32 + 3 reads
// as 3, and it accepts a sub-message whose last field runs past its end; @bufbuild/protobuf, though it passes the
// conformance suite, reads lengths the same way. This walk over the wire format refuses what a conforming decoder
// refuses, and what protobufjs would misread, in one pass that allocates nothing: every varint at most 10 bytes and
// within 64 bits, every length within what is left of its enclosing message, wire types 0 to 5 only, groups closed by
// their own field, nesting at most MAX_DEPTH deep, strings valid UTF-8, packed runs whole, and each known field with a
// wire type its type has. test/grpc/wire-check.test.ts holds it to @bufbuild/protobuf as the reference.
import { isUtf8 } from 'node:buffer';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const I32 = 5;
const WIRE_NAMES = [
  'a varint',
  'a fixed64',
  'length-delimited',
  'a start-group',
  'an end-group',
  'a fixed32',
];

/** Messages and groups nested inside each other, the message itself being 1: protobuf's default recursion limit. */
export const MAX_DEPTH = 100;

/** Why bytes are not a valid message, and the offset where decoding stopped. */
export class WireError extends Error {
  override name = 'WireError';
  readonly at: number;

  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

/** What a field number holds, as far as its wire format goes. */
interface Slot {
  name: string;
  /** The wire type of one value. */
  wire: number;
  /** A repeated number, which may also come packed in one length-delimited run: the size of each, 0 for varints. */
  packed?: 0 | 4 | 8;
  /** A 32-bit varint, which protobufjs reads 5 bytes of (or 10, a negative int32 as it is written): no length between. */
  narrow?: boolean;
  utf8?: boolean;
  /** A message (or map entry): its fields, looked up when a value comes (message types may contain themselves). */
  fields?: () => Fields;
}

type Fields = ReadonlyMap<number, Slot>;

function scalarSlot(name: string, scalar: ScalarType, repeated: boolean): Slot {
  const packed = repeated ? { packed: 0 as const } : {};
  switch (scalar) {
    case ScalarType.STRING:
      return { name, wire: LEN, utf8: true };
    case ScalarType.BYTES:
      return { name, wire: LEN };
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return { name, wire: I64, ...(repeated ? { packed: 8 as const } : {}) };
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return { name, wire: I32, ...(repeated ? { packed: 4 as const } : {}) };
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
      return { name, wire: VARINT, ...packed };
    default: // INT32, UINT32, SINT32, BOOL
      return { name, wire: VARINT, narrow: true, ...packed };
  }
}

function messageSlot(name: string, message: DescMessage, delimited: boolean): Slot {
  return { name, wire: delimited ? START_GROUP : LEN, fields: () => fieldsOf(message) };
}

function slotOf(field: DescField): Slot {
  const { name } = field;
  switch (field.fieldKind) {
    case 'scalar':
      return scalarSlot(name, field.scalar, false);
    case 'enum':
      return { name, wire: VARINT, narrow: true };
    case 'message':
      return messageSlot(name, field.message, field.delimitedEncoding);
    case 'list':
      if (field.listKind === 'scalar') return scalarSlot(name, field.scalar, true);
      if (field.listKind === 'enum') return { name, wire: VARINT, narrow: true, packed: 0 };
      return messageSlot(name, field.message, field.delimitedEncoding);
    case 'map': {
      const value =
        field.mapKind === 'message'
          ? messageSlot('value', field.message, false)
          : field.mapKind === 'enum'
            ? { name: 'value', wire: VARINT, narrow: true }
            : scalarSlot('value', field.scalar, false);
      const entry: Fields = new Map([
        [1, scalarSlot('key', field.mapKey, false)],
        [2, value],
      ]);
      return { name, wire: LEN, fields: () => entry };
    }
  }
}

const cache = new WeakMap<DescMessage, Fields>();

function fieldsOf(message: DescMessage): Fields {
  let fields = cache.get(message);
  if (fields === undefined) {
    fields = new Map(message.fields.map((f) => [f.number, slotOf(f)]));
    cache.set(message, fields);
  }
  return fields;
}

class Walk {
  #buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  fail(message: string, at: number): never {
    throw new WireError(message, at);
  }

  /** A varint's value (exact below 2^53, which is all that lengths and tags need). */
  varint(end: number): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= end) this.fail('a varint runs past the end of its message', start);
      const byte = this.#buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      const size = this.pos - start;
      if (byte < 0x80) {
        if (size === 10 && byte > 1) this.fail('a varint overflows 64 bits', start);
        return value;
      }
      if (size === 10) this.fail('a varint is longer than 10 bytes', start);
      scale *= 0x80;
    }
  }

  /** The varint at `at`, every digit of it (for messages: a double rounds 2^63). */
  exact(at: number): string {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.#buf[at + i] as number;
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) break;
    }
    return String(value);
  }

  /** The fields of a message (or a group, closed by its own field's end-group tag) up to `end`. */
  message(fields: Fields | undefined, end: number, depth: number, group?: number): void {
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint(end);
      if (this.pos - at > 5 || tag > 0xffffffff) this.fail('a tag is longer than 32 bits', at);
      const number = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === END_GROUP) {
        if (number === group) return;
        this.fail(
          group === undefined
            ? `an end-group tag (field ${number}) closes no group`
            : `an end-group tag of field ${number} closes the group of field ${group}`,
          at,
        );
      }
      if (number === 0) this.fail('a tag has field number 0', at);
      if (wire > I32) this.fail(`field ${number} has wire type ${wire}, which does not exist`, at);
      const slot = fields?.get(number);
      if (slot !== undefined && wire !== slot.wire && !(wire === LEN && slot.packed !== undefined)) {
        const [got, wants] = [WIRE_NAMES[wire], WIRE_NAMES[slot.wire]];
        this.fail(`field ${number} (${slot.name}) is ${got}, but its type is ${wants}`, at);
      }
      this.value(slot, number, wire, end, depth);
    }
    if (group !== undefined) this.fail(`the group of field ${group} is not closed`, this.pos);
  }

  value(slot: Slot | undefined, number: number, wire: number, end: number, depth: number): void {
    const at = this.pos;
    switch (wire) {
      case VARINT: {
        this.varint(end);
        const size = this.pos - at;
        if (slot?.narrow === true && size > 5 && size < 10) {
          this.fail(`field ${number} (${slot.name}) is a 32-bit varint of ${size} bytes`, at);
        }
        return;
      }
      case I64:
      case I32: {
        const size = wire === I64 ? 8 : 4;
        if (end - this.pos < size) this.fail(`field ${number} runs past the end of its message`, at);
        this.pos += size;
        return;
      }
      case START_GROUP:
        this.nested(depth, at);
        this.message(slot?.fields?.(), end, depth + 1, number);
        return;
    }
    const length = this.varint(end);
    const left = end - this.pos;
    if (length > left) {
      const field = slot === undefined ? `field ${number}` : `field ${number} (${slot.name})`;
      const claimed = length < 2 ** 53 ? String(length) : this.exact(at);
      this.fail(`${field} claims ${claimed} bytes, but ${left} remain in its message`, at);
    }
    if (this.pos - at > 5) this.fail(`field ${number} has a length prefix longer than 5 bytes`, at);
    const stop = this.pos + length;
    if (slot === undefined) this.pos = stop;
    else if (slot.wire !== LEN) this.packed(slot, number, stop);
    else if (slot.fields !== undefined) {
      this.nested(depth, at);
      this.message(slot.fields(), stop, depth + 1);
    } else {
      if (slot.utf8 === true && !isUtf8(this.#buf.subarray(this.pos, stop))) {
        this.fail(`field ${number} (${slot.name}) is not valid UTF-8`, this.pos);
      }
      this.pos = stop;
    }
  }

  nested(depth: number, at: number): void {
    if (depth >= MAX_DEPTH) this.fail(`messages and groups nest more than ${MAX_DEPTH} deep`, at);
  }

  /** A packed run of numbers: whole fixed-size values, or varints that each end inside it. */
  packed(slot: Slot, number: number, stop: number): void {
    const size = slot.packed;
    if (size === 4 || size === 8) {
      if ((stop - this.pos) % size !== 0) {
        this.fail(
          `field ${number} (${slot.name}) packs ${stop - this.pos} bytes of ${size}-byte values`,
          this.pos,
        );
      }
      this.pos = stop;
      return;
    }
    while (this.pos < stop) this.value(slot, number, VARINT, stop, 0);
  }
}

/** Throws a WireError unless `bytes` are a valid `message` as every field's declared type reads it. */
export function checkMessage(message: DescMessage, bytes: Uint8Array): void {
  new Walk(bytes).message(fieldsOf(message), bytes.length, 1);
}
