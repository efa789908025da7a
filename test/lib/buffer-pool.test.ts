// The request-body pool: memory is reused only once given back, once, and only memory the pool lent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool } from '../../src/lib/buffer-pool.js';

const KiB = 1024;
const pool = () => new BufferPool({ minBytes: 64 * KiB, maxBytes: 1024 * KiB, maxHeldBytes: 2048 * KiB });

describe('BufferPool', () => {
  it('lends buffers of the size asked, at offset 0 of memory of a power-of-two size', () => {
    const buffer = pool().take(600 * KiB);
    assert.equal(buffer.length, 600 * KiB);
    assert.equal(buffer.byteOffset, 0);
    assert.equal(buffer.buffer.byteLength, 1024 * KiB);
  });

  it('reuses memory given back (through any view of it), for a size of the same class', () => {
    const p = pool();
    const first = p.take(600 * KiB);
    p.give(first.subarray(100));
    assert.equal(p.heldBytes, 1024 * KiB);
    const second = p.take(700 * KiB);
    assert.equal(second.buffer, first.buffer);
    assert.equal(p.heldBytes, 0);
    assert.notEqual(p.take(700 * KiB).buffer, first.buffer, 'lent once at a time');
  });

  it('takes memory back once: a second give cannot lend it to two callers', () => {
    const p = pool();
    const buffer = p.take(100 * KiB);
    p.give(buffer);
    p.give(buffer);
    assert.equal(p.heldBytes, 128 * KiB);
    const [a, b] = [p.take(100 * KiB), p.take(100 * KiB)];
    assert.notEqual(a.buffer, b.buffer);
  });

  it('ignores memory it did not lend, sizes outside its range and detached memory', () => {
    const p = pool();
    p.give(Buffer.allocUnsafeSlow(128 * KiB));
    const small = p.take(1 * KiB);
    const large = p.take(2048 * KiB);
    p.give(small);
    p.give(large);
    const moved = p.take(100 * KiB);
    structuredClone(moved.buffer, { transfer: [moved.buffer as ArrayBuffer] }); // as a transfer to a worker thread detaches it
    p.give(moved);
    assert.equal(p.heldBytes, 0);
  });

  it('keeps at most maxHeldBytes idle', () => {
    const p = pool();
    const lent = [1, 2, 3].map(() => p.take(1000 * KiB));
    for (const buffer of lent) p.give(buffer);
    assert.equal(p.heldBytes, 2048 * KiB);
  });

  it('lends shared memory (for other threads to read) when asked, and reuses it as the rest', () => {
    const p = new BufferPool({
      minBytes: 64 * KiB,
      maxBytes: 1024 * KiB,
      maxHeldBytes: 2048 * KiB,
      shared: true,
    });
    const buffer = p.take(600 * KiB);
    assert.ok(buffer.buffer instanceof SharedArrayBuffer);
    p.give(buffer);
    assert.equal(p.take(600 * KiB).buffer, buffer.buffer);
    assert.ok(!(p.take(1 * KiB).buffer instanceof SharedArrayBuffer), 'sizes out of range as usual');
  });
});
