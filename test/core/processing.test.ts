// Image declarations resolved against graphs (what fails a load, and why), and pixels laid out as tensors, against
// values worked out by hand from the formula (value × scale − mean) / std.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imagePlan, imagePlans, type ImageInput } from '../../src/core/processing/declaration.js';
import { sniffFormat } from '../../src/core/processing/image.js';
import { rowDims, writeRow } from '../../src/core/processing/layout.js';
import { fromHalf } from '../../src/core/tensor/dtypes.js';
import { spec } from '../fakes.js';

const nchw = spec('image', 'FP32', ['batch', 3, 224, 224]);

describe('imagePlan: a declaration against its graph input', () => {
  it('takes what the graph fixes and the documented defaults for the rest', () => {
    assert.deepEqual(imagePlan(nchw, 'image', {}), {
      input: 'image',
      datatype: 'FP32',
      width: 224,
      height: 224,
      channels: 3,
      colorOrder: 'RGB',
      layout: 'NCHW',
      resize: 'fill',
      kernel: 'lanczos3',
      background: 0,
      scale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    });
    const nhwc = imagePlan(
      spec(
        'x',
        'UINT8',
        [-1, 32, 48, 1].map((d) => (d < 0 ? 'n' : d)),
      ),
      'x',
      {
        layout: 'NHWC',
      },
    );
    assert.deepEqual([nhwc.height, nhwc.width, nhwc.channels], [32, 48, 1]);
    assert.deepEqual(rowDims(nhwc), [32, 48, 1]);
  });

  it('needs the size of a dynamic graph dim, and takes the declared one', () => {
    const dynamic = spec('image', 'FP32', ['batch', 3, 'h', 'w']);
    assert.throws(() => imagePlan(dynamic, 'image', {}), /inputs\.image\.image\.width is needed/);
    const plan = imagePlan(dynamic, 'image', { width: 64, height: 32 });
    assert.deepEqual(rowDims(plan), [3, 32, 64]);
  });

  const refusals: [string, ImageInput, RegExp, typeof nchw?][] = [
    [
      'a size the graph contradicts',
      { width: 100 },
      /width is 100, but the graph's width dim \(NCHW\) is 224/,
    ],
    ['channels the graph contradicts', { channels: 1 }, /channels is 1, but the graph's channel dim/],
    ['a mean per channel of the wrong length', { mean: [0.5, 0.5] }, /mean has 2 values; give 1 or 3/],
    ['a zero std', { std: [0.2, 0, 0.2] }, /std holds a 0/],
    ['a graph input of rank 2', {}, /has rank 2; an image input is/, spec('image', 'FP32', ['batch', 4])],
    [
      'a graph input of strings',
      {},
      /an image becomes FP32, FP64, FP16, UINT8/,
      spec('image', 'BYTES', ['batch', 1, 2, 2]),
    ],
    [
      'a channel dim of 4',
      {},
      /channel dim \(NCHW\) is 4; images have 1 or 3/,
      spec('image', 'FP32', ['n', 4, 8, 8]),
    ],
  ];
  for (const [what, declared, message, graph] of refusals) {
    it(`fails the load on ${what}, naming the field`, () => {
      assert.throws(() => imagePlan(graph ?? nchw, 'image', declared), message);
    });
  }

  it('fails the load when model.json declares an input the graph does not have', () => {
    assert.throws(
      () => imagePlans([nchw], { picture: { image: {} } }),
      /inputs\.picture\.image: the graph has no input "picture"/,
    );
    assert.equal(imagePlans([nchw], undefined), undefined);
  });
});

describe('writeRow: pixels to one row of the tensor', () => {
  // A 2 × 1 colour image: pixel 0 is (10, 20, 30), pixel 1 is (40, 50, 60), interleaved as sharp gives them.
  const pixels = Uint8Array.of(10, 20, 30, 40, 50, 60);
  const plan = (image: ImageInput, datatype: 'FP32' | 'UINT8' | 'FP16' = 'FP32') =>
    imagePlan(spec('x', datatype, ['n', 3, 1, 2]), 'x', image);

  it('writes NCHW planes, scaled, minus the mean, over the std', () => {
    const target = new Float32Array(6);
    writeRow(pixels, plan({ scale: 0.1, mean: [1, 2, 3], std: [1, 2, 4] }), target, 0);
    // R plane: (10·0.1 − 1)/1, (40·0.1 − 1)/1; G: (2 − 2)/2, (5 − 2)/2; B: (3 − 3)/4, (6 − 3)/4.
    assert.deepEqual([...target], [0, 3, 0, 1.5, 0, 0.75]);
  });

  it('swaps to BGR and interleaves for NHWC, at the row’s offset', () => {
    const target = new Float32Array(8).fill(-1);
    const bgr = imagePlan(spec('x', 'FP32', ['n', 1, 2, 3]), 'x', {
      colorOrder: 'BGR',
      layout: 'NHWC',
      scale: 1,
    });
    writeRow(pixels, bgr, target, 2);
    assert.deepEqual([...target], [-1, -1, 30, 20, 10, 60, 50, 40]);
  });

  it('rounds and clamps to UINT8, and writes FP16 bits', () => {
    const bytes = new Uint8Array(6);
    writeRow(pixels, plan({ scale: 10 }, 'UINT8'), bytes, 0);
    assert.deepEqual([...bytes], [100, 255, 200, 255, 255, 255]);
    const halves = new Uint16Array(6);
    writeRow(pixels, plan({ scale: 1 / 255 }, 'FP16'), halves, 0);
    assert.ok(Math.abs(fromHalf(halves[1]!) - 40 / 255) < 1e-3);
  });
});

describe('sniffFormat', () => {
  it('knows the four formats by their signatures and nothing else', () => {
    assert.equal(sniffFormat(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0)), 'jpeg');
    assert.equal(sniffFormat(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)), 'png');
    assert.equal(sniffFormat(Buffer.from('GIF89a')), 'gif');
    assert.equal(sniffFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
    for (const other of ['GIF90a', 'RIFF\0\0\0\0WAVE', 'BM', '<svg', '', 'II*\0'])
      assert.equal(sniffFormat(Buffer.from(other)), undefined, other);
  });
});
