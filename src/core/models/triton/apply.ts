// A Triton configuration applied to one loaded version: the runtime's options it sets (batching, instances,
// threads), the descriptor it adds to (class labels, caching), and the runtime clients then see.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LoadOptions } from '../../runtime/load.js';
import type { ModelRuntime } from '../../runtime/runtime.js';
import { schedulePolicy, type DynamicBatchingConfig } from '../../runtime/schedule.js';
import type { Descriptor } from '../descriptor.js';
import type { VersionFiles } from '../layout.js';
import { buildSignature, type Signature } from '../signature.js';
import { ConfigRefused, type TritonPlan } from './config.js';
import { bindGraph, DEFAULT_MAX_BATCH_SIZE, type Binding } from './graph.js';
import { TritonRuntime } from './runtime.js';

/** What Serval applies of a model's Triton configuration, for its config answer and its request limits. */
export interface AppliedConfig {
  plan: TritonPlan;
  binding: Binding;
  /** Calls of the model that run at once: its instances, within the thread pool (one for an inline model). */
  instances: number;
  /** The fields not applied, each with why. */
  notApplied: string[];
  /** The graph's file name in the version folder. */
  graphFile: string;
}

/** The load options a configuration sets: rows merged (max_batch_size, when it batches), instances, threads. */
export function tritonOptions(plan: TritonPlan, options: LoadOptions): LoadOptions {
  const maxBatchSize = plan.config.max_batch_size || DEFAULT_MAX_BATCH_SIZE;
  return {
    ...options,
    // Batching stays off where the server turns it off (batchMaxRows 1).
    batchMaxRows: plan.dynamicBatching && options.batchMaxRows > 1 ? maxBatchSize : 1,
    threads: Math.max(1, Math.min(plan.instances, options.threads)),
    schedule: schedulePolicy(plan.config.dynamic_batching as DynamicBatchingConfig | undefined),
    ...(plan.intraOpThreads !== undefined ? { intraOpThreads: plan.intraOpThreads } : {}),
  };
}

/**
 * The descriptor a configuration adds to: class labels from an output's label_filename (a file in the model's
 * folder, one label a line), and no caching unless response_cache enables it (Triton's rule), both unless the
 * version's model.json says otherwise.
 */
export async function tritonDescriptor(
  plan: TritonPlan,
  descriptor: Descriptor,
  files: VersionFiles,
): Promise<Descriptor> {
  const labelled = (plan.config.output ?? []).filter((o) => o.label_filename);
  const files_ = [...new Set(labelled.map((o) => o.label_filename as string))];
  if (files_.length > 1) {
    throw new ConfigRefused(
      `${plan.source}: output label_filename: ${files_.join(', ')}: Serval has one list of class labels per model`,
    );
  }
  let labels = descriptor.labels;
  const labelFile = files_[0];
  if (labelFile !== undefined && labels === undefined) {
    const path = join(dirname(files.dir), labelFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`${plan.source}: output label_filename "${labelFile}" cannot be read: ${code}`);
    }
    labels = text.split(/\r?\n/).filter((line, i, all) => line !== '' || i < all.length - 1);
  }
  return {
    ...descriptor,
    ...(labels ? { labels } : {}),
    cache: descriptor.cache ?? plan.config.response_cache?.enable === true,
  };
}

/** The loaded graph bound to its configuration; throws with the field at fault when they disagree. */
export function applyTriton(
  plan: TritonPlan,
  runtime: ModelRuntime,
  descriptor: Descriptor,
  options: LoadOptions,
  graphFile: string,
): { runtime: ModelRuntime; signature: Signature; triton: AppliedConfig } {
  let binding: Binding;
  try {
    binding = bindGraph(plan, runtime.inputs, runtime.outputs);
  } catch (err) {
    throw new Error(`${plan.source}: ${(err as Error).message}`);
  }
  const presented = new TritonRuntime(runtime, binding);
  const signature = {
    ...buildSignature(presented.inputs, presented.outputs, descriptor),
    batched: binding.maxBatchSize > 0,
  };
  const instances =
    runtime.execution === 'thread' ? Math.max(1, Math.min(plan.instances, options.threads)) : 1;
  const notApplied = [...plan.notApplied];
  // Triton's default of 2 instances is not worth a warning where the model runs one call at a time.
  if (instances !== plan.instances && plan.config.instance_group?.length) {
    const why =
      runtime.execution === 'thread'
        ? `the server has ${options.threads} inference threads (inferenceThreads)`
        : 'the model runs on the event loop, faster than a thread would take it (execution "inline")';
    notApplied.push(`instance_group count ${plan.instances} (runs as ${instances}: ${why})`);
  }
  return { runtime: presented, signature, triton: { plan, binding, instances, notApplied, graphFile } };
}
