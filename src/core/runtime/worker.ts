// Worker-thread entry for the inference pool: keeps onnxruntime sessions per loaded model file (one per intra-op thread
// count asked for), runs tasks, and releases the sessions of unloaded or replaced versions.
import { workerData } from 'piscina';
import type { TensorMap } from '../tensor/tensor.js';
import { createSession, runSession, type Session } from './onnx.js';

export interface InferenceTask {
  path: string;
  /** The path and content hash of this load: a reloaded file gets a new session. */
  key: string;
  /** The intra-op threads of the session that runs it: each count asked for is a session of its own. */
  intraOpThreads: number;
  feeds: TensorMap;
  outputs: string[];
  /** Keys of versions unloaded or replaced since: their sessions go. */
  retired: readonly string[];
}

/** Sent to every thread when a version goes, so that even an idle thread frees its session. */
export interface ReleaseTask {
  retired: readonly string[];
}

/** What the pool shares with its threads: a counter per thread of the sessions it holds (slot 0 hands out slots). */
export interface ThreadData {
  sessions: SharedArrayBuffer;
}

const counters = new Int32Array((workerData as ThreadData).sessions);
const slot = Atomics.add(counters, 0, 1) + 1;
/** Publishes this thread's session count (a thread started past the slots, after many restarts, is not counted). */
const publish = () => {
  let count = 0;
  for (const widths of sessions.values()) count += widths.size;
  if (slot < counters.length) Atomics.store(counters, slot, count);
};

/** Sessions by version key, then by intra-op thread count. */
const sessions = new Map<string, Map<number, Promise<Session>>>();

async function release(keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const widths = sessions.get(key);
    if (widths === undefined) continue;
    sessions.delete(key);
    publish();
    for (const session of widths.values()) await session.then((s) => s.release()).catch(() => undefined);
  }
}

function sessionFor(task: InferenceTask): Promise<Session> {
  let widths = sessions.get(task.key);
  if (widths === undefined) sessions.set(task.key, (widths = new Map<number, Promise<Session>>()));
  let session = widths.get(task.intraOpThreads);
  if (session === undefined) {
    const made = createSession(task.path, task.intraOpThreads);
    widths.set(task.intraOpThreads, (session = made));
    publish();
    made.catch(() => {
      if (widths.get(task.intraOpThreads) === made) widths.delete(task.intraOpThreads);
      publish();
    });
  }
  return session;
}

/** A run's outputs and when it ran, in epoch ms by this thread's clock: a traced call's compute span. */
export interface ThreadResult {
  outputs: TensorMap;
  start: number;
  end: number;
}

const epochNow = () => performance.timeOrigin + performance.now();

export default async function infer(task: InferenceTask | ReleaseTask): Promise<ThreadResult | null> {
  if (task.retired.length > 0) await release(task.retired);
  if (!('key' in task)) return null;
  const ready = await sessionFor(task);
  const start = epochNow();
  const outputs = await runSession(ready, task.feeds, task.outputs);
  return { outputs, start, end: epochNow() };
}
