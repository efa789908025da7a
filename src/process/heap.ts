// One V8 setting for a server that receives large bodies. node:http hands every chunk of a request body over in a
// Buffer of its own, memory outside V8's heap; by default V8 starts a full collection of the whole heap each time
// such memory grows by a fixed amount, whatever the heap holds. A 588 KiB tensor at a thousand requests a second
// made that a collection every 50 ms, a fifth of the CPU. With the flag that memory counts in the heap's own,
// growing limit: fewer full collections, more garbage waiting for one (A-B, one process, the large fixture at 8
// connections: 0.7-0.9 against 1.1-1.6 ms of server CPU per request, RSS 366 against 302 MB).
import v8 from 'node:v8';

export const EXTERNAL_MEMORY_FLAG = '--external-memory-accounted-in-global-limit';

/** V8 13 (Node 24) has the flag; Node 22's V8 12 has none, and would print an error for it. */
export function hasExternalMemoryFlag(v8Version = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) >= 13;
}

/** Turns the flag on where V8 has it; true when it did. V8 reads it at each collection, so now is soon enough. */
export function countExternalMemoryInHeapLimit(): boolean {
  if (!hasExternalMemoryFlag()) return false;
  v8.setFlagsFromString(EXTERNAL_MEMORY_FLAG);
  return true;
}
