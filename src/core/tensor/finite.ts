// Whether every element of a float tensor is finite, for raw tensors (the binary extension, gRPC's raw contents):
// WebAssembly's SIMD lanes in finite.wat, four to eight times the speed of a JavaScript loop on a large image.
import { readFileSync } from 'node:fs';

// TypeScript's WebAssembly types come with the DOM's lib, which a server leaves out: the little used here.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface Exports {
  memory: { buffer: ArrayBuffer };
  finite32(at: number, count: number): number;
  finite64(at: number, count: number): number;
}

const instance = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(new URL('./finite.wasm', import.meta.url))),
);
const wasm = instance.exports as Exports;
// The module's memory never grows, so this view stays valid.
const memory = new Uint8Array(wasm.memory.buffer);

/** True when no element is NaN, Infinity or -Infinity. */
export function allFinite(floats: Float32Array | Float64Array): boolean {
  const wide = floats.BYTES_PER_ELEMENT === 8;
  const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
  for (let at = 0; at < bytes.length; at += memory.length) {
    const part = bytes.subarray(at, at + memory.length);
    memory.set(part);
    const count = part.length / floats.BYTES_PER_ELEMENT;
    if ((wide ? wasm.finite64(0, count) : wasm.finite32(0, count)) === 0) return false;
  }
  return true;
}
