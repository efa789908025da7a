// What one process asks of every serving process (itself included): loading and unloading models, statistics and
// metrics to sum, log and trace settings to apply. In a cluster the process layer carries these through the primary; alone,
// they stay local.
import { ServalError, type ErrorKind } from './errors.js';
import type { LogSettingsValues } from './log-settings.js';
import type { LoadOverride } from './models/descriptor.js';
import type { TracePatch } from './tracing/settings.js';

export type ClusterRequest =
  | { kind: 'load'; name: string; override?: LoadOverride }
  | { kind: 'unload'; name: string; dependents?: boolean }
  | { kind: 'stats' }
  | { kind: 'metrics' }
  | { kind: 'logging'; settings: Partial<LogSettingsValues> }
  | { kind: 'trace'; settings: TracePatch; model?: string };

/** One process's answer: its value, or its error as plain data (errors cross process boundaries as JSON). */
export interface ClusterReply {
  pid: number;
  value?: unknown;
  error?: { code: string; kind: ErrorKind; message: string };
}

/** Sends a request to every serving process and resolves with each one's reply. */
export type Broadcast = (request: ClusterRequest) => Promise<ClusterReply[]>;

/** Runs `handle` and packs its outcome as a reply. */
export async function reply(pid: number, handle: () => Promise<unknown>): Promise<ClusterReply> {
  try {
    return { pid, value: await handle() };
  } catch (err) {
    const e = err instanceof ServalError ? err : undefined;
    return {
      pid,
      error: { code: e?.code ?? 'INTERNAL', kind: e?.kind ?? 'internal', message: (err as Error).message },
    };
  }
}

/** The error of the first failed reply, as a Serval error again (the same code and kind), or undefined. */
export function firstError(replies: readonly ClusterReply[]): ServalError | undefined {
  const failed = replies.find((r) => r.error !== undefined)?.error;
  if (failed === undefined) return undefined;
  const failedIn = replies.filter((r) => r.error !== undefined).length;
  const where = replies.length > 1 ? ` (in ${failedIn} of ${replies.length} workers)` : '';
  return new ServalError(failed.code, failed.kind, `${failed.message}${where}`);
}

/** Sends a change to every serving process; resolves once all applied it, or rejects with the first error. */
export async function applyEverywhere(broadcast: Broadcast, request: ClusterRequest): Promise<void> {
  const error = firstError(await broadcast(request));
  if (error) throw error;
}
