// The one way tests wait for something to become true: polling a predicate, never a sleep that hopes it is long enough.
import { AssertionError } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

/** What a truthy value can be. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

export interface WaitOptions {
  /** What is awaited, as the failure message says it: 'both apps reach Redis' (a function: read at the failure). */
  what: string | (() => string);
  /** How long to keep asking; 5 s unless given. */
  timeoutMs?: number;
  /** The pause between two questions; 20 ms unless given. */
  intervalMs?: number;
}

/**
 * Resolves with the predicate's first truthy value, asking at once and then every `intervalMs`. Past `timeoutMs` it
 * fails with an AssertionError that names `what` and the last value seen. A predicate that throws ends the wait with
 * its error (an assertion inside it, or a process that exited): catch inside it what only means "not yet".
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { what, timeoutMs = 5000, intervalMs = 20 }: WaitOptions,
): Promise<Truthy<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value as Truthy<T>;
    if (performance.now() >= deadline) {
      throw new AssertionError({
        message: `timed out after ${timeoutMs} ms waiting until ${typeof what === 'function' ? what() : what} (last value: ${inspect(value, { depth: 3, breakLength: Infinity })})`,
      });
    }
    await sleep(intervalMs);
  }
}
