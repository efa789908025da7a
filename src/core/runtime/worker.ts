// Worker-thread entry for the inference pool: keeps one onnxruntime session per loaded model file, runs tasks, and
// releases the sessions of unloaded or replaced versions.
import { workerData } from 'piscina';
import type { TensorMap } from '../tensor/tensor.js';
import { createSession, runSession, type Session } from './onnx.js';

export interface InferenceTask {
  path: string;
  /** The path and content hash of this load: a reloaded file gets a new session. */
  key: string;
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
  if (slot < counters.length) Atomics.store(counters, slot, sessions.size);
};

const sessions = new Map<string, Promise<Session>>();

async function release(keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const session = sessions.get(key);
    if (session === undefined) continue;
    sessions.delete(key);
    publish();
    await session.then((s) => s.release()).catch(() => undefined);
  }
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
  let session = sessions.get(task.key);
  if (session === undefined) {
    session = createSession(task.path, task.intraOpThreads);
    sessions.set(task.key, session);
    publish();
    session.catch(() => {
      sessions.delete(task.key);
      publish();
    });
  }
  const ready = await session;
  const start = epochNow();
  const outputs = await runSession(ready, task.feeds, task.outputs);
  return { outputs, start, end: epochNow() };
}
