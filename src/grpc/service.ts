// inference.GRPCInferenceService's handlers over the core: health, metadata, readiness and configuration here,
// inference in infer.ts and stream-infer.ts, statistics and the model repository in repository.ts.
import { CORE_EXTENSIONS } from '../core/extensions.js';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { Scopes } from '../auth/scopes.js';
import type { Core } from '../core/core.js';
import { ServalError } from '../core/errors.js';
import { modelConfig, modelMetadata, type TensorMetadata } from '../core/models/describe.js';
import { SERVAL_VERSION } from '../lib/version.js';
import { modelInfer } from './infer.js';
import { logSettingsRpc } from './logging.js';
import { traceSettingRpc } from './trace.js';
import type { ModelRequest } from './messages.js';
import { repositoryService } from './repository.js';
import { unary, type RpcDeps } from './rpc.js';
import { modelStreamInfer } from './stream-infer.js';
import type { Streams } from './streams.js';

/** What ServerMetadata lists: the extensions served over gRPC (raw contents replace binary_tensor_data). */
export const GRPC_EXTENSIONS: readonly string[] = CORE_EXTENSIONS;

const probe = { bucket: false, probe: true } as const;
const read = { scope: Scopes.read, bucket: 'api' } as const;

export function inferenceService(deps: RpcDeps, core: Core, streams: Streams): UntypedServiceImplementation {
  const { models, config } = core;
  const versionOf = (request: ModelRequest) => request.version || undefined;
  const limits = {
    maxRows: config.maxInstances,
    batchMaxRows: config.batchMaxRows,
    threads: config.inferenceThreads,
  };
  return {
    ServerLive: unary(deps, 'ServerLive', probe, () => ({ live: true })),
    ServerReady: unary(deps, 'ServerReady', probe, () => ({ ready: core.health.readiness().ready })),
    ServerMetadata: unary(deps, 'ServerMetadata', { bucket: 'api' }, () => ({
      name: 'serval',
      version: SERVAL_VERSION,
      extensions: GRPC_EXTENSIONS,
    })),
    // Known but not ready (loading, failed, unloaded) is an answer, ready: false; an unknown model or version is NOT_FOUND.
    ModelReady: unary<ModelRequest, { ready: boolean }>(deps, 'ModelReady', read, (request, { fields }) => {
      try {
        const model = models.ready(request.name, versionOf(request));
        Object.assign(fields, { model: model.name, version: model.version });
        return { ready: true };
      } catch (err) {
        // Known but not loaded (unloaded, or explicit mode) is in the repository: not ready, as Triton answers.
        if (err instanceof ServalError && (err.kind === 'unavailable' || err.code === 'MODEL_NOT_LOADED')) {
          return { ready: false };
        }
        throw err;
      }
    }),
    ModelMetadata: unary<ModelRequest, unknown>(deps, 'ModelMetadata', read, async (request, { fields }) => {
      // Metadata is what clients ask before their first inference: on demand, it loads the model.
      const model = await models.serving(request.name, versionOf(request));
      Object.assign(fields, { model: model.name, version: model.version });
      const metadata = modelMetadata(model, models.versions(request.name));
      // Tensor parameters travel as InferParameter values.
      const tensors = (list: TensorMetadata[]) =>
        list.map(({ parameters, ...tensor }) => ({
          ...tensor,
          parameters: Object.fromEntries(
            Object.entries(parameters ?? {}).map(([key, value]) => [key, { string_param: value }]),
          ),
        }));
      return { ...metadata, inputs: tensors(metadata.inputs), outputs: tensors(metadata.outputs) };
    }),
    ModelConfig: unary<ModelRequest, unknown>(deps, 'ModelConfig', read, async (request, { fields }) => {
      const model = await models.serving(request.name, versionOf(request));
      Object.assign(fields, { model: model.name, version: model.version });
      return { config: modelConfig(model, limits) };
    }),
    ModelInfer: modelInfer(deps, core),
    ModelStreamInfer: modelStreamInfer(deps, core, streams),
    ...repositoryService(deps, core),
    LogSettings: logSettingsRpc(deps, core),
    TraceSetting: traceSettingRpc(deps, core),
  };
}
