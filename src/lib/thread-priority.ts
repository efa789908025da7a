// A background thread's CPU priority: serving comes first.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers the calling thread's priority to the lowest (nice 19) on Linux, where a thread's id is a pid to
 * setpriority, so that on a busy machine the thread takes only what the serving threads leave. Elsewhere, or when not
 * allowed, the thread keeps the process's priority.
 */
export function yieldToServing(): void {
  try {
    const [, , tid] = readlinkSync('/proc/thread-self').split('/');
    setPriority(Number(tid), 19);
  } catch {
    // Not Linux, or not allowed.
  }
}
