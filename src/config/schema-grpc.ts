// The config schema's gRPC keys: the port, message sizes, keepalive, stream bounds and TLS.
import { Type } from 'typebox';
import { INT32_MAX, Optional } from './schema-units.js';

/** gRPC: its port, message sizes, keepalive and connection age, streams, TLS. */
export const GrpcKeys = {
  grpcEnabled: Type.Boolean({
    default: true,
    description: 'Serve the Open Inference Protocol over gRPC (GRPCInferenceService) in every HTTP process.',
  }),
  grpcPort: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 50506,
    description: 'gRPC TCP port (0 = any free port).',
  }),
  grpcHost: Type.String({ default: '', description: 'Address gRPC binds; empty = host.' }),
  grpcMaxReceiveBytes: Type.Integer({
    minimum: 1024,
    maximum: INT32_MAX,
    default: 67_108_864,
    description: 'Largest gRPC message received (larger ones get RESOURCE_EXHAUSTED).',
  }),
  grpcMaxSendBytes: Type.Integer({
    minimum: 1024,
    maximum: INT32_MAX,
    default: INT32_MAX,
    description: 'Largest gRPC message sent; the default is what tritonclient accepts (2 GiB).',
  }),
  grpcKeepaliveTimeMs: Type.Integer({
    minimum: 1000,
    maximum: INT32_MAX,
    default: 7_200_000,
    description: 'Idle time after which the server pings a gRPC client to check the connection.',
  }),
  grpcKeepaliveTimeoutMs: Type.Integer({
    minimum: 1000,
    maximum: 3_600_000,
    default: 20_000,
    description: 'How long a keepalive ping may go unanswered before the connection is closed.',
  }),
  grpcMaxConnectionAgeMs: Type.Integer({
    minimum: 0,
    maximum: INT32_MAX,
    default: 0,
    description: 'Close gRPC connections after this long (spreads clients over replicas); 0 = never.',
  }),
  grpcMaxConnectionAgeGraceMs: Type.Integer({
    minimum: 0,
    maximum: INT32_MAX,
    default: 0,
    description: 'Time calls get to finish on a connection closed by its age; 0 = as long as they need.',
  }),
  grpcMaxConcurrentStreams: Type.Integer({
    minimum: 1,
    maximum: INT32_MAX,
    default: 100,
    description:
      'Calls (HTTP/2 streams) open at once on one gRPC connection; a client opens more as earlier ones end (SETTINGS_MAX_CONCURRENT_STREAMS).',
  }),
  grpcStreamMaxPendingBytes: Type.Integer({
    minimum: 65_536,
    maximum: INT32_MAX,
    default: 8_388_608,
    description:
      'ModelStreamInfer: most bytes of requests in progress and answers not yet sent that one stream holds; past it the stream reads no more requests until the client reads answers.',
  }),
  grpcAllStreamsMaxPendingBytes: Type.Integer({
    minimum: 65_536,
    maximum: Number.MAX_SAFE_INTEGER,
    default: 134_217_728,
    description:
      'The same bound over all ModelStreamInfer streams of a process: past it, every stream reads no more requests until answers are sent.',
  }),
  grpcTlsCertFile: Optional('PEM certificate (chain) for gRPC over TLS; with grpcTlsKeyFile.'),
  grpcTlsKeyFile: Optional('PEM private key for gRPC over TLS; with grpcTlsCertFile.'),
};
