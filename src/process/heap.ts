// One V8 setting for a server that receives large bodies. node:http hands every chunk of a request body over in a
// Buffer of its own, memory outside V8's heap; by default V8 starts a full collection of the whole heap each time
// such memory grows by a fixed amount, whatever the heap holds. A 588 KiB tensor at a thousand requests a second
// made that a collection every 50 ms, a fifth of the CPU. With the flag that memory counts in the heap's own,
// growing limit: fewer full collections, more garbage waiting for one (A-B, one process, the large fixture at 8
// connections: 0.7-0.9 against 1.1-1.6 ms of server CPU per request, RSS 366 against 302 MB).
import v8 from 'node:v8';
import vm from 'node:vm';

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

/** V8's own collector call (`--expose-gc`), with the options its extension takes. */
type Collect = (options: { type: 'minor'; execution: 'async' }) => unknown;

/**
 * Collects the young generation each time the Buffers' memory has grown by `stepBytes` since its lowest point after
 * the last such collection (checked every `everyMs`). A large request's chunks die young, but V8 collects the young
 * generation as JavaScript objects fill it: a few times in 10 s when each request makes few, while 588 KiB images at
 * hundreds a second add up to the heap's limit first, and a full collection then marks the whole heap to free them.
 * Small requests grow that memory slowly and never trigger it. Returns the function that stops it.
 */
export function collectYoungOnBufferGrowth(stepBytes: number, everyMs = 20): () => void {
  v8.setFlagsFromString('--expose-gc');
  // A context made after the flag has V8's gc(); the main context of a running process never gets it.
  const collect = vm.runInNewContext('gc') as Collect;
  let low = v8.getHeapStatistics().external_memory;
  const timer = setInterval(() => {
    const now = v8.getHeapStatistics().external_memory;
    if (now - low < stepBytes) {
      low = Math.min(low, now);
      return;
    }
    low = now;
    collect({ type: 'minor', execution: 'async' });
  }, everyMs).unref();
  return () => clearInterval(timer);
}
