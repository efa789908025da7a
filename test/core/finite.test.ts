// The WebAssembly finite check: every IEEE 754 non-finite value (NaN, +Infinity, -Infinity) found wherever it is,
// in the SIMD lanes and in the tail, in arrays larger than the module's memory, and in views that do not start their buffer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { allFinite } from '../../src/core/tensor/finite.js';

const NON_FINITE = [NaN, Infinity, -Infinity];
// Finite values at the edges: the largest, the smallest subnormal, negative zero.
const EDGES32 = [3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45, -0];
const EDGES64 = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -0];

for (const [Type, edges] of [
  [Float32Array, EDGES32],
  [Float64Array, EDGES64],
] as const) {
  describe(`allFinite(${Type.name})`, () => {
    const make = (length: number, value: (i: number) => number) => {
      const values = new Type(length);
      for (let i = 0; i < length; i++) values[i] = value(i);
      return values;
    };

    it('is true for finite values, the extremes and subnormals included', () => {
      assert.equal(allFinite(new Type(0)), true);
      assert.equal(allFinite(make(edges.length, (i) => edges[i] as number)), true);
      assert.equal(allFinite(make(1001, (i) => (i - 500) / 7)), true);
    });

    it('finds NaN and both infinities at every position of arrays of 1 to 40 elements', () => {
      for (let length = 1; length <= 40; length++) {
        for (let at = 0; at < length; at++) {
          for (const bad of NON_FINITE) {
            const values = make(length, (i) => edges[i % edges.length] as number);
            values[at] = bad;
            assert.equal(allFinite(values), false, `${bad} at ${at} of ${length}`);
          }
        }
      }
    });

    it('finds one in an array larger than its 1 MiB memory, in the last part too', () => {
      const length = (3 * 1024 * 1024) / Type.BYTES_PER_ELEMENT + 3;
      const values = new Type(length).fill(0.5);
      assert.equal(allFinite(values), true);
      for (const at of [0, 131_071, 131_072, length - 1]) {
        values[at] = NaN;
        assert.equal(allFinite(values), false, `NaN at ${at}`);
        values[at] = 0.5;
      }
    });

    it('reads only its own elements of a view inside a larger buffer (a tensor inside a request body)', () => {
      const whole = new Type(24).fill(1.5);
      whole[0] = NaN; // just before the view
      whole[22] = Infinity; // just after it
      const view = new Type(whole.buffer, Type.BYTES_PER_ELEMENT, 21);
      assert.equal(allFinite(view), true);
      view[20] = -Infinity;
      assert.equal(allFinite(view), false);
    });
  });
}

describe('finite.wasm', () => {
  it('is finite.wat compiled (npm run build:wasm)', () => {
    execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { stdio: 'pipe' });
  });
});
