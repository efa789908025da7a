// The core's tensor checks, shared by every protocol: names, datatypes, shapes, element counts and value ranges, for
// JSON values (flat and nested) and raw bytes (the binary extension, gRPC raw contents).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedMessage, excerptList, MAX_MESSAGE_BYTES } from '../../src/core/errors.js';
import { decodeInputs, formatShape, type WireTensor } from '../../src/core/tensor/decode.js';
import { DATATYPES, DATATYPE_NAMES, fromHalf, toHalf, type DataType } from '../../src/core/tensor/dtypes.js';
import type { TensorSpec } from '../../src/core/tensor/tensor.js';
import { spec } from '../fakes.js';

const options = { maxRows: 8 };

function decode(specs: TensorSpec[], tensors: WireTensor[]) {
  return decodeInputs(specs, tensors, options);
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
}

const json = (name: string, datatype: string, shape: number[], values: unknown): WireTensor => ({
  name,
  datatype,
  shape,
  data: { values },
});
const raw = (name: string, datatype: string, shape: number[], bytes: Uint8Array): WireTensor => ({
  name,
  datatype,
  shape,
  data: { bytes },
});
const le = (array: ArrayBufferView) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

const x = [spec('x', 'FP32', ['batch', 3])];

describe('decodeInputs: names, datatypes and shapes', () => {
  it('takes flat and nested row-major data alike', () => {
    const flat = decode(x, [json('x', 'FP32', [2, 3], [1, 2, 3, 4, 5, 6])]);
    const nested = decode(x, [
      json(
        'x',
        'FP32',
        [2, 3],
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ),
    ]);
    assert.deepEqual([...flat.x!.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...nested.x!.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(nested.x!.dims, [2, 3]);
  });

  it('refuses data that matches neither the flat count nor the nested shape', () => {
    for (const values of [
      [1, 2, 3, 4, 5],
      [
        [1, 2, 3],
        [4, 5],
      ],
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      7,
    ]) {
      assert.match(
        failure(() => decode(x, [json('x', 'FP32', [2, 3], values)])),
        /^INVALID_INPUT: input "x" data/,
      );
    }
  });

  it('names unknown, missing and repeated inputs', () => {
    assert.match(
      failure(() => decode(x, [json('y', 'FP32', [1, 3], [1, 2, 3])])),
      /unknown input "y"; the model's inputs are "x"/,
    );
    assert.match(
      failure(() => decode(x, [])),
      /missing input "x" \(FP32 \[-1, 3\]\)/,
    );
    const twice = json('x', 'FP32', [1, 3], [1, 2, 3]);
    assert.match(
      failure(() => decode(x, [twice, twice])),
      /input "x" is given twice/,
    );
  });

  it('requires the model datatype, rank, fixed dims, and dims of at least 1', () => {
    assert.match(
      failure(() => decode(x, [json('x', 'FP64', [1, 3], [1, 2, 3])])),
      /has datatype FP64; the model expects FP32/,
    );
    assert.match(
      failure(() => decode(x, [json('x', 'FLOAT', [1, 3], [1, 2, 3])])),
      /unknown datatype FLOAT/,
    );
    assert.match(
      failure(() => decode(x, [json('x', 'FP32', [3], [1, 2, 3])])),
      /shape \[3\] \(rank 1\); the model expects \[-1, 3\]/,
    );
    assert.match(
      failure(() => decode(x, [json('x', 'FP32', [1, 4], [1, 2, 3, 4])])),
      /dimension 1 is 4; the model expects 3/,
    );
    assert.match(
      failure(() => decode(x, [json('x', 'FP32', [0, 3], [])])),
      /dimension 0 is 0/,
    );
    assert.match(
      failure(() => decode(x, [json('x', 'FP32', [1.5, 3], [])])),
      /dimension 0 is 1.5/,
    );
  });

  it('refuses more rows than allowed, and batch sizes that disagree between inputs', () => {
    assert.match(
      failure(() => decode(x, [json('x', 'FP32', [9, 3], new Array(27).fill(0))])),
      /9 rows; at most 8/,
    );
    const two = [spec('a', 'FP32', ['batch', 1]), spec('b', 'INT64', ['n', 1])];
    assert.match(
      failure(() => decode(two, [json('a', 'FP32', [2, 1], [1, 2]), json('b', 'INT64', [1, 1], [1])])),
      /input "b" has 1 rows, but input "a" has 2/,
    );
    const named = [spec('a', 'FP32', ['batch', 'k']), spec('b', 'FP32', ['batch', 'k'])];
    assert.match(
      failure(() => decode(named, [json('a', 'FP32', [1, 2], [1, 2]), json('b', 'FP32', [1, 3], [1, 2, 3])])),
      /dimension 1 \("k"\) is 3, but input "a" has 2/,
    );
  });

  it('refuses a huge shape before allocating anything', () => {
    const big = [spec('x', 'FP32', ['a', 'b', 'c'])];
    assert.match(
      failure(() => decode(big, [json('x', 'FP32', [1, 100000, 100000], [1])])),
      /at most 2147483647/,
    );
    assert.match(
      failure(() =>
        decode([spec('x', 'FP32', [1, 'b', 'c'])], [json('x', 'FP32', [1, 40000, 40000], [[[1]]])]),
      ),
      /data does not match its shape/,
    );
  });

  it('quotes a bounded excerpt of what it names: shapes, names, lists', () => {
    const rank = failure(() => decode(x, [json('x', 'FP32', Array<number>(100_000).fill(1), [])]));
    assert.match(rank, /^INVALID_INPUT: input "x" has 100000 dimensions; at most 16 are allowed$/);
    const long = 'n'.repeat(100_000);
    for (const message of [
      failure(() => decode(x, [json(long, 'FP32', [1, 3], [1, 2, 3])])),
      failure(() =>
        decode([spec(long, 'FP32', [1])], [json(long, 'FP32', [1], [1]), json(long, 'FP32', [1], [1])]),
      ),
      failure(() => decode([spec(long, 'FP32', [1, 2])], [json(long, 'FP32', [1, 3], [1, 2, 3])])),
      failure(() => decode([spec(long, 'FP32', [1])], [json(long, 'FP64', [1], [1])])),
      failure(() =>
        decode(
          Array.from({ length: 1000 }, (_, i) => spec(`in${i}`, 'FP32', [1])),
          [json(long, 'FP32', [1], [1])],
        ),
      ),
    ]) {
      assert.ok(message.length < 1200, `${message.length} characters: ${message.slice(0, 200)}`);
    }
    assert.match(
      failure(() =>
        decode(
          Array.from({ length: 1000 }, (_, i) => spec(`in${i}`, 'FP32', [1])),
          [json('?', 'FP32', [1], [1])],
        ),
      ),
      /the model's inputs are "in0", "in1", .*"in15", … 984 more$/,
    );
    const shape = [1, ...Array<number>(15).fill(2)];
    assert.match(
      failure(() => decode([spec('s', 'FP32', Array<number>(16).fill(2))], [json('s', 'FP32', shape, [])])),
      /dimension 0 is 1; the model expects 2 \(shape \[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2\]\)/,
    );
  });

  it('writes at most 16 dims of a shape and how many more, and lists at most 16 items', () => {
    assert.equal(
      formatShape(Array<number>(100_000).fill(7)),
      `[${Array<string>(16).fill('7').join(', ')}, … 99984 more]`,
    );
    assert.equal(formatShape([1, 'batch', 3]), '[1, -1, 3]');
    assert.equal(excerptList(['a', 'b'], 1), 'a, … 1 more');
  });

  it('cuts any message to 2 KiB of UTF-8 as the last guard, never inside a character', () => {
    assert.equal(boundedMessage('short'), 'short');
    for (const unit of ['x', 'é', '雪', '🦊']) {
      const cut = boundedMessage(unit.repeat(100_000));
      assert.ok(Buffer.byteLength(cut) <= MAX_MESSAGE_BYTES, unit);
      assert.ok(cut.endsWith(`${unit}…`), unit);
    }
  });
});

/** Two values inside a datatype's JSON range and two just outside it. */
const RANGES: Partial<Record<DataType, { ok: unknown[]; bad: unknown[] }>> = {
  BOOL: { ok: [true, false], bad: [1, 'true'] },
  UINT8: { ok: [0, 255], bad: [-1, 256] },
  UINT16: { ok: [0, 65535], bad: [65536, 0.5] },
  UINT32: { ok: [0, 4294967295], bad: [4294967296, -1] },
  UINT64: { ok: [0, 2 ** 53 - 1], bad: [-1, 2 ** 53] },
  INT8: { ok: [-128, 127], bad: [128, -129] },
  INT16: { ok: [-32768, 32767], bad: [32768, '1'] },
  INT32: { ok: [-2147483648, 2147483647], bad: [2147483648, 1.25] },
  INT64: { ok: [-(2 ** 53) + 1, 2 ** 53 - 1], bad: [2 ** 53, null] },
  FP32: { ok: [-3.4028234663852886e38, 1.5e-45], bad: [3.5e38, Infinity] },
  FP64: { ok: [-Number.MAX_VALUE, 5e-324], bad: [NaN, -Infinity] },
  BYTES: { ok: ['', 'naïve ☃'], bad: [7, 'a\0b'] },
};

describe('decodeInputs: JSON values of every datatype', () => {
  for (const [datatype, { ok, bad }] of Object.entries(RANGES) as [
    DataType,
    { ok: unknown[]; bad: unknown[] },
  ][]) {
    it(`${datatype}: accepts its range and names the element outside it`, () => {
      const specs = [spec('t', datatype, ['batch', 2])];
      const feeds = decode(specs, [json('t', datatype, [1, 2], ok)]);
      assert.equal(feeds.t!.datatype, datatype);
      assert.equal(feeds.t!.data.length, 2);
      for (const value of bad) {
        const message = failure(() => decode(specs, [json('t', datatype, [1, 2], [ok[0], value])]));
        assert.match(
          message,
          /^INVALID_INPUT: input "t" element \[0, 1\] (must|contains)/,
          `${datatype} ${String(value)}`,
        );
      }
    });
  }

  it('keeps INT64 and UINT64 as BigInts, and takes BigInts over the whole 64-bit range (gRPC)', () => {
    const specs = [spec('i', 'INT64', [2]), spec('u', 'UINT64', [1])];
    const feeds = decode(specs, [
      json('i', 'INT64', [2], [-(2n ** 63n), 2n ** 63n - 1n]),
      json('u', 'UINT64', [1], [2n ** 64n - 1n]),
    ]);
    assert.deepEqual([...feeds.i!.data], [-(2n ** 63n), 2n ** 63n - 1n]);
    assert.deepEqual([...feeds.u!.data], [2n ** 64n - 1n]);
    assert.match(
      failure(() => decode(specs.slice(1), [json('u', 'UINT64', [1], [2n ** 64n])])),
      /within the UINT64 range/,
    );
  });

  it('stores BOOL as 0/1 bytes, as onnxruntime takes them', () => {
    const feeds = decode([spec('b', 'BOOL', [3])], [json('b', 'BOOL', [3], [true, false, true])]);
    assert.ok(feeds.b!.data instanceof Uint8Array);
    assert.deepEqual([...feeds.b!.data], [1, 0, 1]);
  });

  it('refuses FP16 as JSON: it travels only as binary data', () => {
    assert.match(
      failure(() => decode([spec('h', 'FP16', [1])], [json('h', 'FP16', [1], [1])])),
      /FP16, which travels only as binary data/,
    );
  });
});

describe('decodeInputs: raw little-endian bytes', () => {
  it('takes each numeric datatype as its native size, FP16 as its bits', () => {
    for (const datatype of DATATYPE_NAMES.filter((d) => d !== 'BYTES')) {
      const size = DATATYPES[datatype].size;
      const bytes = new Uint8Array(size * 2);
      const feeds = decode([spec('t', datatype, [2])], [raw('t', datatype, [2], bytes)]);
      assert.equal(feeds.t!.data.length, 2, datatype);
    }
    const halves = Uint16Array.from([toHalf(1.5), toHalf(-65504)]);
    const feeds = decode([spec('h', 'FP16', [2])], [raw('h', 'FP16', [2], le(halves))]);
    assert.deepEqual([...(feeds.h!.data as Uint16Array)].map(fromHalf), [1.5, -65504]);
  });

  it('reads values at an odd offset (a view into a request body, a Buffer or not) correctly', () => {
    for (const body of [new Uint8Array(1 + 8), Buffer.alloc(1 + 8)]) {
      body.set(le(Float32Array.from([2.5, -1])), 1);
      const feeds = decode([spec('f', 'FP32', [2])], [raw('f', 'FP32', [2], body.subarray(1))]);
      assert.deepEqual([...feeds.f!.data], [2.5, -1]);
    }
  });

  it('copies values at an odd offset into the memory alignedMemory gives, and aligned values into none', () => {
    const given: Uint8Array[] = [];
    const alignedMemory = (bytes: number) => {
      const memory = new Uint8Array(bytes);
      given.push(memory);
      return memory;
    };
    const body = new Uint8Array(2 + 16);
    body.set(le(Float64Array.from([0.5, -3])), 2);
    const odd = decodeInputs([spec('d', 'FP64', [2])], [raw('d', 'FP64', [2], body.subarray(2))], {
      ...options,
      alignedMemory,
    });
    assert.equal(given.length, 1);
    assert.equal(given[0]!.length, 16);
    assert.equal(
      (odd.d!.data as Float64Array).buffer,
      given[0]!.buffer,
      'the tensor is a view of the memory given',
    );
    assert.deepEqual([...odd.d!.data], [0.5, -3]);
    const aligned = new Uint8Array(16);
    aligned.set(le(Float64Array.from([1, 2])));
    const same = decodeInputs([spec('d', 'FP64', [2])], [raw('d', 'FP64', [2], aligned)], {
      ...options,
      alignedMemory,
    });
    assert.equal(given.length, 1, 'aligned values need no copy');
    assert.equal((same.d!.data as Float64Array).buffer, aligned.buffer);
  });

  it('says how many bytes the shape takes when the sizes disagree', () => {
    assert.match(
      failure(() => decode(x, [raw('x', 'FP32', [1, 3], new Uint8Array(11))])),
      /has 11 bytes of binary data; FP32 \[1, 3\] takes 12/,
    );
  });

  it('refuses NaN and infinities in floats, and BOOL bytes other than 0 and 1', () => {
    assert.match(
      failure(() =>
        decode([spec('f', 'FP32', [2])], [raw('f', 'FP32', [2], le(Float32Array.from([1, NaN])))]),
      ),
      /element \[1\] must be finite/,
    );
    assert.match(
      failure(() =>
        decode([spec('h', 'FP16', [1])], [raw('h', 'FP16', [1], le(Uint16Array.from([0x7c00])))]),
      ),
      /must be finite/,
    );
    assert.match(
      failure(() => decode([spec('b', 'BOOL', [2])], [raw('b', 'BOOL', [2], Uint8Array.from([1, 2]))])),
      /a byte 0 \(false\) or 1 \(true\), got 2/,
    );
  });

  const strings = (...parts: (string | Uint8Array)[]) => {
    const chunks = parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)));
    return Buffer.concat(chunks.flatMap((c) => [Buffer.from(Uint32Array.of(c.length).buffer), c]));
  };
  const text = [spec('s', 'BYTES', [2])];

  it('takes BYTES as 4-byte little-endian lengths, each followed by the UTF-8 bytes', () => {
    const feeds = decode(text, [raw('s', 'BYTES', [2], strings('FR', 'naïve'))]);
    assert.deepEqual(feeds.s!.data, ['FR', 'naïve']);
  });

  it('refuses BYTES that are cut short, run on, are not UTF-8 or hold a NUL', () => {
    const good = strings('FR', 'DE');
    assert.match(
      failure(() => decode(text, [raw('s', 'BYTES', [2], good.subarray(0, good.length - 1))])),
      /runs past the end/,
    );
    assert.match(
      failure(() => decode(text, [raw('s', 'BYTES', [2], Buffer.concat([good, Buffer.from([0])]))])),
      /1 bytes of binary data past its 2 elements/,
    );
    assert.match(
      failure(() => decode(text, [raw('s', 'BYTES', [2], strings('FR', Uint8Array.from([0xff])))])),
      /element \[1\] is not valid UTF-8/,
    );
    assert.match(
      failure(() => decode(text, [raw('s', 'BYTES', [2], strings('FR', 'a\0'))])),
      /element \[1\] contains a NUL/,
    );
    assert.match(
      failure(() => decode(text, [raw('s', 'BYTES', [2], new Uint8Array(5))])),
      /too few for 2 BYTES elements/,
    );
  });
});

describe('FP16 conversions', () => {
  it('rounds to nearest even and keeps the specials, as numpy.float16 does', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [Infinity, 0x7c00],
    ];
    for (const [value, bits] of cases) assert.equal(toHalf(value), bits, String(value));
    assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
    assert.equal(fromHalf(0x7bff), 65504);
    assert.equal(fromHalf(0x0001), 2 ** -24);
  });
});
