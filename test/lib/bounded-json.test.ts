// JSON parsed only within bounds of depth and size, whatever the text holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonBoundsError, parseBoundedJson } from '../../src/lib/bounded-json.js';

const bounds = { maxDepth: 4, maxBytes: 64 };

describe('parseBoundedJson', () => {
  it('parses JSON within its bounds', () => {
    assert.deepEqual(parseBoundedJson('{"a": [[["x"]]]}', bounds), { a: [[['x']]] });
    // Brackets inside strings do not nest.
    assert.deepEqual(parseBoundedJson('["[[[[[[", "\\"]]]]"]', bounds), ['[[[[[[', '"]]]]']);
  });

  it('refuses a text nested deeper than maxDepth before parsing it, naming the bound', () => {
    assert.throws(() => parseBoundedJson('[[[[[1]]]]]', bounds), {
      name: 'JsonBoundsError',
      message: 'nests arrays and objects more than 4 deep',
    });
    // 5,000 deep: refused at the cost of a scan, where a parse and a schema check recurse.
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    assert.throws(() => parseBoundedJson(deep, { maxDepth: 32, maxBytes: 1e6 }), JsonBoundsError);
  });

  it('counts size in bytes of UTF-8, not characters', () => {
    assert.equal(parseBoundedJson(`"${'x'.repeat(62)}"`, bounds), 'x'.repeat(62));
    assert.throws(() => parseBoundedJson(`"${'雪'.repeat(22)}"`, bounds), {
      message: 'is larger than 64 bytes',
    });
  });

  it('leaves what is not JSON to JSON.parse: a SyntaxError', () => {
    assert.throws(() => parseBoundedJson('{"a": ', bounds), SyntaxError);
  });
});
