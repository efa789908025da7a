// Requested outputs checked before anything runs, and the run's answer cut to them (with the classification
// extension): what every protocol asks of a model's outputs, in one place.
import { errors, excerpt, excerptList, ServalError, withExtras } from './errors.js';
import type { ReadyModel } from './models/repository.js';
import { topClasses } from './models/tasks.js';
import type { TensorMap } from './tensor/tensor.js';

export interface RequestedOutput {
  name: string;
  /** The classification extension: the top k classes instead of the tensor. */
  classification?: number;
}

/** Checks requested outputs against the model before anything runs (Triton #140: no silent 200). */
export function checkOutputs(model: ReadyModel, requested: readonly RequestedOutput[]): RequestedOutput[] {
  const available = model.signature.tensorOutputs;
  const seen = new Set<string>();
  for (const output of requested) {
    if (!available.includes(output.name)) {
      const known = model.runtime.outputs.some((o) => o.name === output.name);
      throw withExtras(
        new errors.INVALID_INPUT(
          known
            ? `output "${excerpt(output.name, 64)}" is not a tensor (e.g. a ZipMap) and cannot be sent`
            : `unknown output "${excerpt(output.name, 64)}"; the model's outputs are ${excerptList(available.map((n) => `"${excerpt(n, 64)}"`))}`,
        ),
        { details: { output: excerpt(output.name, 64) } },
      );
    }
    if (seen.has(output.name))
      throw new errors.INVALID_INPUT(`output "${excerpt(output.name, 64)}" is requested twice`);
    seen.add(output.name);
    const k = output.classification;
    if (k !== undefined && !(Number.isSafeInteger(k) && k >= 1)) {
      throw new errors.INVALID_INPUT(
        `output "${excerpt(output.name, 64)}": classification must be an integer >= 1, got ${excerpt(k)}`,
      );
    }
  }
  return [...requested];
}

/** The requested outputs of a run (all by default), in the requested order. */
export function chooseOutputs(
  model: ReadyModel,
  all: TensorMap,
  requested: readonly RequestedOutput[] | undefined,
): TensorMap {
  const chosen: TensorMap = {};
  const outputs: readonly RequestedOutput[] =
    requested ?? model.signature.tensorOutputs.map((name) => ({ name }));
  for (const { name, classification } of outputs) {
    const tensor = all[name];
    if (tensor === undefined) throw new errors.INFERENCE_FAILED();
    chosen[name] =
      classification === undefined
        ? tensor
        : topClasses(tensor, classification, model.signature.labels, name, model.signature.batched);
  }
  return chosen;
}

/** onnxruntime refusing the request's values (an index out of range, a shape the graph rejects) is the client's 4xx. */
export function runFailure(err: unknown): Error {
  if (err instanceof ServalError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (
    /allocat|out of memory/i.test(message) ||
    !/Status Message:|invalid dimensions|Non-zero status/i.test(message)
  ) {
    const failed = new errors.INFERENCE_FAILED();
    failed.cause = err; // logged with the request id; the client sees the generic message
    return failed;
  }
  const reason = /Status Message:\s*(.*)/s.exec(message)?.[1] ?? message;
  return new errors.INFERENCE_REJECTED(reason.replace(/\s+/g, ' ').trim().slice(0, 300));
}
