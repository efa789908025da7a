// Worker-thread entry for the inference pool: keeps one onnxruntime session per model file, runs tasks.
import { createSession, runSession, type Session } from './onnx.js';
import type { TensorMap } from './tensor.js';

export interface InferenceTask {
  path: string;
  intraOpThreads: number;
  feeds: TensorMap;
  outputs: string[];
}

const sessions = new Map<string, Promise<Session>>();

export default async function infer(task: InferenceTask): Promise<TensorMap> {
  let session = sessions.get(task.path);
  if (session === undefined) {
    session = createSession(task.path, task.intraOpThreads);
    sessions.set(task.path, session);
    session.catch(() => sessions.delete(task.path));
  }
  return runSession(await session, task.feeds, task.outputs);
}
