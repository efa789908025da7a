// The one-pass depth check of JSON text, on hand-made texts and against the depth of what JSON.parse builds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nestedDeeperThan } from '../../src/lib/json-depth.js';

/** How deeply a parsed value nests arrays and objects: the reference the text scan must agree with. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('nestedDeeperThan', () => {
  it('lets through a text nested exactly to the limit and refuses one level past it', () => {
    assert.equal(nestedDeeperThan('[[[1]]]', 3), false);
    assert.equal(nestedDeeperThan('[[[1]]]', 2), true);
    assert.equal(nestedDeeperThan('{"a":{"b":{"c":1}}}', 3), false);
    assert.equal(nestedDeeperThan('{"a":{"b":{"c":1}}}', 2), true);
    assert.equal(nestedDeeperThan('{"a":[{"b":[]}]}', 4), false);
    assert.equal(nestedDeeperThan('{"a":[{"b":[]}]}', 3), true);
  });

  it('counts nesting, not brackets: siblings and closed levels do not add up', () => {
    assert.equal(nestedDeeperThan('[[],[],[],{},{"a":1}]', 2), false);
    assert.equal(nestedDeeperThan('[[1],[2]],[[3]],[[4]]', 2), false);
    assert.equal(nestedDeeperThan('[[[1]],[[2]]]', 2), true);
  });

  it('counts no bracket inside a string, in values or in keys', () => {
    assert.equal(nestedDeeperThan('["[[[[[[", "{{{{{{", "]]]]"]', 1), false);
    assert.equal(nestedDeeperThan('{"[[[[[[": 1, "{{{": "}}}"}', 1), false);
    // Closing brackets in a string do not lower the depth either.
    assert.equal(nestedDeeperThan('[["]]]]]]", [1]]]', 2), true);
  });

  it('keeps an escaped quote inside its string', () => {
    // The string is "[[[[ : its escaped quote does not end it, so its brackets stay text.
    assert.equal(nestedDeeperThan(String.raw`["\"[[[[", 1]`, 1), false);
    assert.equal(nestedDeeperThan(String.raw`{"k\"[[": "\"{{{\""}`, 1), false);
  });

  it('ends a string at a quote after an escaped backslash', () => {
    // The string is a single backslash: the quote after it closes the string, and the arrays after it count.
    assert.equal(nestedDeeperThan(String.raw`["\\", [[1]]]`, 2), true);
    assert.equal(nestedDeeperThan(String.raw`["\\", [[1]]]`, 3), false);
    assert.equal(nestedDeeperThan(String.raw`["\\\"[[[", 1]`, 1), false);
  });

  it('reads a \\u escape as text: "\\u005b" is a string, not a bracket', () => {
    assert.equal(nestedDeeperThan(String.raw`["\u005b\u005b\u007b", 1]`, 1), false);
  });

  it('refuses deep arrays and objects past the limit, closed or not', () => {
    const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.equal(nestedDeeperThan(arrays(1000), 1000), false);
    assert.equal(nestedDeeperThan(arrays(1001), 1000), true);
    assert.equal(nestedDeeperThan('['.repeat(33), 32), true, 'an unclosed text is judged by what it opens');
    const objects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    assert.equal(nestedDeeperThan(objects(32), 32), false);
    assert.equal(nestedDeeperThan(objects(33), 32), true);
  });

  it('finds no nesting in scalars and empty text', () => {
    for (const text of ['', '1', '"[{"', 'true', 'null'])
      assert.equal(nestedDeeperThan(text, 0), false, text);
    assert.equal(nestedDeeperThan('[]', 0), true);
    assert.equal(nestedDeeperThan('{}', 0), true);
  });

  it('agrees with the depth of the parsed value on generated JSON with awkward strings', () => {
    // A small deterministic generator: values nested up to 8 deep, strings full of brackets, quotes and backslashes.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pieces = ['[', ']', '{', '}', '"', '\\', 'a', ' ', '\\"', '\u005b'];
    const text = () =>
      Array.from({ length: Math.floor(random() * 6) }, () => pieces[Math.floor(random() * 10)]).join('');
    const value = (room: number): unknown => {
      const pick = random();
      if (room === 0 || pick < 0.3) return pick < 0.15 ? text() : Math.round(pick * 100);
      const size = Math.floor(random() * 4);
      if (pick < 0.65) return Array.from({ length: size }, () => value(room - 1));
      return Object.fromEntries(Array.from({ length: size }, (_, i) => [`${text()}${i}`, value(room - 1)]));
    };
    for (let i = 0; i < 500; i++) {
      const parsed = value(8);
      const json = JSON.stringify(parsed);
      const depth = depthOf(parsed);
      assert.equal(nestedDeeperThan(json, depth), false, json);
      if (depth > 0) assert.equal(nestedDeeperThan(json, depth - 1), true, json);
    }
  });
});
