// Triton's statistics and model repository extensions over gRPC (tritonclient.grpc's get_inference_statistics,
// get_model_repository_index, load_model, unload_model), over the same core calls as REST's.
import { Scopes } from '../auth/scopes.js';
import type { Core } from '../core/core.js';
import { errors, excerpt } from '../core/errors.js';
import { loadOverride } from '../core/models/descriptor.js';
import type { ModelRequest } from './messages.js';
import { unary, type RpcDeps } from './rpc.js';

/** ModelRepositoryParameter: one of its members, named by `parameter_choice`. */
interface RepositoryParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  bytes_param?: Buffer;
}

interface RepositoryRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, RepositoryParameter>;
}

const read = { scope: Scopes.read, bucket: 'api' } as const;
const admin = { scope: Scopes.admin, bucket: 'api' } as const;

/** Serval serves one repository, unnamed: a name would be a request for one it does not have. */
function oneRepository(name: string): void {
  if (name !== '') {
    throw new errors.INVALID_REQUEST(
      `repository_name "${excerpt(name, 64)}" is not supported: Serval serves one repository, leave it empty`,
    );
  }
}

/** The parameters as REST's JSON would carry them: each one's set member. */
function plain(parameters: Record<string, RepositoryParameter>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, parameter] of Object.entries(parameters)) {
    const choice = parameter.parameter_choice;
    // int64 arrives as a decimal string (longs: String): a number, as REST's JSON would carry it.
    values[key] = choice === 'int64_param' ? Number(parameter.int64_param) : choice && parameter[choice];
  }
  return values;
}

export function repositoryService(deps: RpcDeps, core: Core) {
  return {
    // No name: every served version; a name: its versions (NOT_FOUND if it is not served); and a version: that one.
    ModelStatistics: unary<ModelRequest, unknown>(
      deps,
      'ModelStatistics',
      read,
      async (request, { fields }) => {
        if (request.name === '') {
          if (request.version !== '') throw new errors.INVALID_REQUEST('a version needs the model’s name');
          return { model_stats: await core.statistics() };
        }
        Object.assign(fields, {
          model: request.name,
          ...(request.version ? { version: request.version } : {}),
        });
        return { model_stats: await core.statistics(request.name, request.version || undefined) };
      },
    ),
    RepositoryIndex: unary<{ repository_name: string; ready: boolean }, unknown>(
      deps,
      'RepositoryIndex',
      admin,
      async (request) => {
        oneRepository(request.repository_name);
        return { models: await core.models.index(request.ready ? { ready: true } : {}) };
      },
    ),
    RepositoryModelLoad: unary<RepositoryRequest, unknown>(
      deps,
      'RepositoryModelLoad',
      admin,
      async (request, { fields }) => {
        oneRepository(request.repository_name);
        fields.model = request.model_name;
        await core.control.load(request.model_name, loadOverride(plain(request.parameters)));
        return {};
      },
    ),
    RepositoryModelUnload: unary<RepositoryRequest, unknown>(
      deps,
      'RepositoryModelUnload',
      admin,
      async (request, { fields }) => {
        oneRepository(request.repository_name);
        fields.model = request.model_name;
        const dependents = plain(request.parameters).unload_dependents === true;
        await core.control.unload(request.model_name, { dependents });
        return {};
      },
    ),
  };
}
