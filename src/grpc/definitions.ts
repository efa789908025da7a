// The service definitions, loaded from the .proto files at start with @grpc/proto-loader (docs/design.md says why not
// generated code): the inference service for the server, with inference answers passed through as the bytes the
// cache keeps; and the package definition (with the health service) that reflection describes.
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { MODEL_CONFIG_PROTO_DIR } from '../core/models/triton/schema.js';

export const SERVICE_NAME = 'inference.GRPCInferenceService';

const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));
export const SERVICE_PROTO = 'grpc_service.proto';

/**
 * How messages are decoded (messages.ts describes the result): field names as in the .proto, 64-bit integers as
 * decimal strings (exact, unlike numbers), enums by name, defaults filled in, a oneof's set member named.
 */
export const LOAD_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  // grpc_service.proto imports model_config.proto, the core's one copy of Triton's configuration messages.
  includeDirs: [PROTO_DIR, MODEL_CONFIG_PROTO_DIR],
};

/** Answers already encoded (ModelInferResponse or ModelStreamInferResponse bytes) go out as they are. */
const passThrough = (value: Buffer): Buffer => value;

export interface Definitions {
  service: ServiceDefinition;
  /** Everything the server describes to reflection: the inference service and grpc.health.v1. */
  packageDefinition: PackageDefinition;
}

/** Both files in one load (parsing is most of the gRPC front end's start-up cost). */
export function loadDefinitions(): Definitions {
  const packageDefinition = loadSync([SERVICE_PROTO, healthProto], LOAD_OPTIONS);
  const methods = packageDefinition[SERVICE_NAME] as Record<string, MethodDefinition<unknown, unknown>>;
  const service: Record<string, MethodDefinition<unknown, unknown>> = { ...methods };
  for (const name of ['ModelInfer', 'ModelStreamInfer']) {
    const method = methods[name];
    if (method === undefined) throw new Error(`${SERVICE_PROTO} has no ${name}`);
    service[name] = { ...method, responseSerialize: passThrough as (value: unknown) => Buffer };
  }
  return { service, packageDefinition };
}
