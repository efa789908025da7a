// V1 model metadata: the graph's tensors merged with the descriptor, computed per request from the repository's state.
import { tensorMetadata } from '../../core/models/describe.js';
import type { ModelVersion } from '../../core/models/repository.js';
import type { ModelMetadata, VersionMetadata } from '../schemas/common.js';

export function v1VersionMetadata(entry: ModelVersion): VersionMetadata {
  const { descriptor, runtime } = entry;
  // A loaded ensemble does not serve while one of its composing models does not.
  const reason = entry.reason ?? runtime?.unavailable?.();
  return {
    name: entry.name,
    version: entry.version,
    state: entry.state,
    ready: entry.state === 'READY' && runtime?.unavailable?.() === undefined,
    ...(reason === undefined ? {} : { reason }),
    task: descriptor.task ?? 'raw',
    ...(descriptor.description === undefined ? {} : { description: descriptor.description }),
    ...(runtime ? { execution: runtime.execution } : {}),
    inputs: tensorMetadata(runtime?.inputs ?? [], entry.signature?.images),
    outputs: tensorMetadata(runtime?.outputs ?? []),
    ...(descriptor.features ? { features: descriptor.features } : {}),
    ...(descriptor.labels ? { labels: descriptor.labels } : {}),
  };
}

/** The default version's metadata plus the list of all versions. */
export function v1ModelMetadata(chosen: ModelVersion, versions: readonly ModelVersion[]): ModelMetadata {
  return {
    ...v1VersionMetadata(chosen),
    default_version: chosen.version,
    versions: versions.map((v) => ({
      version: v.version,
      state: v.state,
      ...(v.reason === undefined ? {} : { reason: v.reason }),
    })),
  };
}
