// Worker-thread entry for the inference pool: keeps one onnxruntime session per loaded model file, runs tasks.
import type { TensorMap } from '../tensor/tensor.js';
import { createSession, runSession, type Session } from './onnx.js';

export interface InferenceTask {
  path: string;
  /** The path and content hash of this load: a reloaded file gets a new session. */
  key: string;
  intraOpThreads: number;
  feeds: TensorMap;
  outputs: string[];
}

const sessions = new Map<string, Promise<Session>>();

export default async function infer(task: InferenceTask): Promise<TensorMap> {
  let session = sessions.get(task.key);
  if (session === undefined) {
    session = createSession(task.path, task.intraOpThreads);
    sessions.set(task.key, session);
    session.catch(() => sessions.delete(task.key));
  }
  return runSession(await session, task.feeds, task.outputs);
}
