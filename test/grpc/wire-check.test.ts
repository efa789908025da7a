// The strict check of request bytes against @bufbuild/protobuf, an independent encoder and conformance-tested decoder:
// every message it writes passes and decodes to the same values; the defects of a hostile trial are refused with where
// decoding stopped; and on thousands of damaged messages, whatever passes the check @bufbuild/protobuf decodes too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadDefinitions, SERVICE_NAME } from '../../src/grpc/definitions.js';
import { requestDescriptor } from '../../src/grpc/descriptors.js';
import type { ModelInferRequest } from '../../src/grpc/messages.js';
import { MalformedMessage, strictDeserializer } from '../../src/grpc/strict.js';
import { checkMessage, MAX_DEPTH, WireError } from '../../src/grpc/wire-check.js';

const { packageDefinition } = loadDefinitions();
const methods = packageDefinition[SERVICE_NAME] as Record<string, MethodDefinition<unknown, unknown>>;
const infer = methods.ModelInfer!;
const Request = requestDescriptor(infer) as DescMessage;
const strict = strictDeserializer(infer);

/** A seeded generator, so that a failure can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const text = () =>
    Array.from({ length: int(12) }, () => ['a', 'Z', '_', 'é', '雪', '🦊', ' '][int(7)]).join('');
  return { next, int, text };
}

/** A ModelInferRequest with random contents of every kind, written by @bufbuild/protobuf. */
function randomRequest(seed: number) {
  const r = random(seed);
  const parameter = () =>
    [
      { case: 'boolParam', value: r.int(2) === 1 },
      { case: 'int64Param', value: BigInt(r.int(2 ** 31)) - 2n ** 30n },
      { case: 'stringParam', value: r.text() },
      { case: 'doubleParam', value: r.next() * 1e6 },
      { case: 'uint64Param', value: 2n ** 63n + BigInt(r.int(1000)) },
    ][r.int(5)];
  const parameters = () =>
    Object.fromEntries(Array.from({ length: r.int(3) }, () => [r.text(), { parameterChoice: parameter() }]));
  const numbers = (n: number) => Array.from({ length: n }, () => r.int(1000) - 500);
  return create(Request, {
    modelName: r.text(),
    modelVersion: String(r.int(10)),
    id: r.text(),
    parameters: parameters(),
    inputs: Array.from({ length: r.int(4) }, () => ({
      name: r.text(),
      datatype: ['FP32', 'INT64', 'BYTES'][r.int(3)],
      shape: Array.from({ length: r.int(4) }, () => BigInt(r.int(2 ** 40))),
      parameters: parameters(),
      contents: {
        boolContents: Array.from({ length: r.int(3) }, () => r.int(2) === 1),
        intContents: numbers(r.int(4)),
        int64Contents: numbers(r.int(4)).map((n) => BigInt(n) * 2n ** 33n),
        uintContents: numbers(r.int(4)).map(Math.abs),
        fp32Contents: numbers(r.int(4)).map((n) => n / 4),
        fp64Contents: numbers(r.int(4)).map((n) => n / 3),
        bytesContents: Array.from({ length: r.int(3) }, () => new TextEncoder().encode(r.text())),
      },
    })),
    outputs: Array.from({ length: r.int(3) }, () => ({ name: r.text(), parameters: parameters() })),
    rawInputContents: Array.from({ length: r.int(3) }, () =>
      Uint8Array.from(numbers(r.int(40)), (n) => n & 255),
    ),
  });
}

/** The fields both decoders are compared on, as @bufbuild/protobuf names them. */
interface Bufbuild {
  modelName: string;
  modelVersion: string;
  id: string;
  inputs: { name: string; datatype: string; shape: bigint[]; contents?: { fp32Contents: number[] } }[];
  outputs: { name: string }[];
  rawInputContents: Uint8Array[];
}

/** What both decoders must agree on, in one form. */
function fromBufbuild(message: unknown) {
  const m = message as Bufbuild;
  return {
    model: [m.modelName, m.modelVersion, m.id],
    inputs: m.inputs.map((i) => [i.name, i.datatype, i.shape.map(String), i.contents?.fp32Contents ?? []]),
    outputs: m.outputs.map((o) => o.name),
    raw: m.rawInputContents.map((b) => Buffer.from(b).toString('hex')),
  };
}

function fromProtobufjs(m: ModelInferRequest) {
  return {
    model: [m.model_name, m.model_version, m.id],
    inputs: m.inputs.map((i) => [i.name, i.datatype, i.shape, i.contents?.fp32_contents ?? []]),
    outputs: m.outputs.map((o) => o.name),
    raw: m.raw_input_contents.map((b) => b.toString('hex')),
  };
}

/** The check's verdict: undefined when the bytes pass, else its message. */
function verdict(bytes: Uint8Array): string | undefined {
  try {
    checkMessage(Request, bytes);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof WireError, String(err));
    assert.ok(err.at >= 0 && err.at <= bytes.length);
    return err.message;
  }
}

const VALID = toBinary(
  Request,
  create(Request, {
    modelName: 'iris',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1n, 4n] }],
    rawInputContents: [new Uint8Array(16)],
  }),
);
const after = (...bytes: number[]) => Buffer.concat([VALID, Buffer.from(bytes)]);

describe('the strict check of request bytes', () => {
  it('passes every message an independent encoder writes, which protobufjs then decodes to the same values', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const message = randomRequest(seed);
      const bytes = toBinary(Request, message);
      assert.equal(verdict(bytes), undefined, `seed ${seed}`);
      const decoded = strict(Buffer.from(bytes));
      assert.ok(!(decoded instanceof MalformedMessage), `seed ${seed}`);
      assert.deepEqual(fromProtobufjs(decoded as ModelInferRequest), fromBufbuild(message), `seed ${seed}`);
    }
  });

  it('refuses what no valid message holds, saying what and where', () => {
    const deepGroups = Buffer.concat(Array.from({ length: 500 }, () => Buffer.from([0xa3, 0x01])));
    const cases: [string, Uint8Array, RegExp][] = [
      ['a truncated varint', after(0x78, 0x80), /varint runs past the end/],
      ['a varint of 11 bytes', after(0x78, ...Array<number>(10).fill(0xff), 0x01), /longer than 10 bytes/],
      ['a varint past 64 bits', after(0x78, ...Array<number>(9).fill(0xff), 0x02), /overflows 64 bits/],
      ['wire type 7', after(0x7f, 0x00), /field 15 has wire type 7, which does not exist/],
      ['wire type 6', after(0x7e, 0x00), /wire type 6, which does not exist/],
      ['a stray end-group', after(0x7c), /end-group tag \(field 15\) closes no group/],
      [
        'a group closed by another field',
        after(0x7b, 0x44),
        /end-group tag of field 8 closes the group of field 15/,
      ],
      ['a group never closed', after(0x7b, 0x78, 0x01), /group of field 15 is not closed/],
      [
        'groups nested 500 deep',
        Buffer.concat([VALID, deepGroups]),
        new RegExp(`nest more than ${MAX_DEPTH} deep`),
      ],
      [
        'a length of 2^32',
        after(0x1a, 0x80, 0x80, 0x80, 0x80, 0x10),
        /field 3 \(id\) claims 4294967296 bytes, but 0/,
      ],
      [
        'a length of 2^63',
        after(0x1a, ...Array<number>(9).fill(0x80), 0x01),
        /field 3 \(id\) claims 9223372036854775808 bytes/,
      ],
      [
        'an id claiming 4 GB with 3 bytes present',
        after(0x1a, 0x83, 0x80, 0x80, 0x80, 0x10, 0x61, 0x62, 0x63),
        /field 3 \(id\) claims 4294967299 bytes, but 3 remain/,
      ],
      [
        'an id claiming 2^32 - 1 bytes',
        after(0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61),
        /claims 4294967295 bytes/,
      ],
      [
        'a field running past its sub-message',
        Buffer.from([0x2a, 0x02, 0x0a, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65]),
        /field 1 \(name\) claims 5 bytes, but 0 remain/,
      ],
      [
        'a string that is not UTF-8',
        Buffer.from([0x0a, 0x02, 0xc3, 0x28]),
        /field 1 \(model_name\) is not valid UTF-8/,
      ],
      [
        'a known field of the wrong wire type',
        Buffer.from([0x08, 0x01]),
        /field 1 \(model_name\) is a varint, but its type is length-delimited/,
      ],
      [
        'a padded length protobufjs would misread',
        Buffer.from([0x1a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x61]),
        /length prefix longer than 5 bytes/,
      ],
      ['a tag past 32 bits', Buffer.from([0xf8, 0xff, 0xff, 0xff, 0x1f, 0x00]), /tag is longer than 32 bits/],
      ['field number 0', Buffer.from([0x00, 0x00]), /field number 0/],
      // InferInputTensor.contents.fp32_contents packed: 5 bytes are not whole 4-byte floats.
      [
        'a packed run of partial floats',
        Buffer.from([0x2a, 0x09, 0x2a, 0x07, 0x32, 0x05, 1, 2, 3, 4, 5]),
        /packs 5 bytes of 4-byte values/,
      ],
      [
        'a packed varint cut short',
        Buffer.from([0x2a, 0x04, 0x1a, 0x02, 0x01, 0x80]),
        /varint runs past the end/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      const why = verdict(bytes);
      assert.ok(why !== undefined, `${name}: passed`);
      assert.match(why, message, name);
      const lenient = LENIENT.includes(name);
      assert.equal(
        refusedByBufbuild(bytes),
        !lenient,
        `${name}: @bufbuild/protobuf ${lenient ? 'refused' : 'passed'} it`,
      );
      const answer = strict(Buffer.from(bytes));
      assert.ok(answer instanceof MalformedMessage, name);
      assert.match(
        answer.reason,
        /^the request is not a valid inference\.ModelInferRequest: .+ \(at byte \d+ of \d+\)$/,
      );
    }
  });

  it('is at least as strict as @bufbuild/protobuf on damaged messages, and protobufjs then agrees with it', () => {
    let passed = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const r = random(seed);
      const bytes = Buffer.from(toBinary(Request, randomRequest(seed)));
      const damaged = damage(bytes, r);
      if (verdict(damaged) !== undefined) continue;
      passed++;
      const reference = fromBinary(Request, damaged);
      const decoded = strict(Buffer.from(damaged));
      assert.ok(!(decoded instanceof MalformedMessage), `seed ${seed}`);
      assert.deepEqual(fromProtobufjs(decoded as ModelInferRequest), fromBufbuild(reference), `seed ${seed}`);
    }
    assert.ok(passed > 100, `only ${passed} damaged messages passed: the damage is too coarse to compare`);
  });
});

/**
 * The cases @bufbuild/protobuf's decoder lets through: it reads lengths as 32 bits (2^32 + 3 as 3), skips an unknown
 * varint of any length, lets a field run past the end of its sub-message, and reads padded lengths whole (which
 * protobufjs, building the message here, would misread).
 */
const LENIENT = [
  'a varint of 11 bytes',
  'a varint past 64 bits',
  'a length of 2^32',
  'a length of 2^63',
  'an id claiming 4 GB with 3 bytes present',
  'a field running past its sub-message',
  'a padded length protobufjs would misread',
];

function refusedByBufbuild(bytes: Uint8Array): boolean {
  try {
    fromBinary(Request, bytes);
    return false;
  } catch {
    return true;
  }
}

/** One random change: a byte flipped, inserted or removed, or the message cut. */
function damage(bytes: Buffer, r: ReturnType<typeof random>): Buffer {
  const at = r.int(bytes.length + 1);
  switch (r.int(4)) {
    case 0:
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([r.int(256)]), bytes.subarray(at + 1)]);
    case 1:
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([r.int(256)]), bytes.subarray(at)]);
    case 2:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    default:
      return bytes.subarray(0, at);
  }
}
