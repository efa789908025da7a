// Output tensors as raw little-endian bytes, the form of the binary extension and of gRPC's raw contents.
import { endianness } from 'node:os';
import type { TensorData } from './tensor.js';

if (endianness() !== 'LE')
  throw new Error('Serval needs a little-endian CPU: raw tensors are sent as they lie');

/** The tensor's elements as bytes: a view of numeric data (no copy); BYTES as 4-byte-length-prefixed UTF-8. */
export function tensorBytes(tensor: TensorData): Uint8Array {
  const { data } = tensor;
  if (!Array.isArray(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const parts = data.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}
