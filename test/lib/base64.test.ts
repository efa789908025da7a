// Strict base64 against RFC 4648's own test vectors (section 10) and what it says is not base64.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBase64 } from '../../src/lib/base64.js';

describe('fromBase64', () => {
  it('decodes the RFC 4648 test vectors', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['Zg==', 'f'],
      ['Zm8=', 'fo'],
      ['Zm9v', 'foo'],
      ['Zm9vYg==', 'foob'],
      ['Zm9vYmE=', 'fooba'],
      ['Zm9vYmFy', 'foobar'],
    ];
    for (const [text, bytes] of vectors) assert.equal(fromBase64(text)?.toString('latin1'), bytes, text);
  });

  it('keeps every byte value (the alphabet’s + and /)', () => {
    assert.deepEqual([...fromBase64('+/8A')!], [0xfb, 0xff, 0x00]);
  });

  it('refuses what is not padded base64', () => {
    for (const text of [
      'Zg',
      'Zm9',
      'Zg=',
      'Z===',
      'Zm9v!',
      'Zm 9v',
      'Zm9v\n',
      '-_8A',
      'Zg==Zg==',
      'not base64 at all',
    ])
      assert.equal(fromBase64(text), undefined, JSON.stringify(text));
  });
});
