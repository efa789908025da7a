// The server configuration schema: the one truth for defaults, validation, env names and docs/configuration.md. Its
// groups of keys live in schema-*.ts by concern; this file assembles them in the order the page lists them.
import { Type, type Static } from 'typebox';
import { GrpcKeys } from './schema-grpc.js';
import { ModelKeys } from './schema-models.js';
import { MetricsKeys, PayloadLogKeys, TracingKeys } from './schema-observability.js';
import { AuthKeys, CacheKeys, OAuthKeys, RateLimitKeys } from './schema-security.js';
import { ServerKeys } from './schema-server.js';

export { InferenceModes } from './schema-models.js';
export { PayloadLogModes, SECRET_HEADERS, TraceProtocols, TraceSamplers } from './schema-observability.js';
export { JwtAlgorithms } from './schema-security.js';
export { LogLevels } from './schema-server.js';

/**
 * Every key with its type, default and description, in groups: scripts/config-doc.ts writes docs/configuration.md in
 * this order, with a heading at each group's first key.
 */
export const ConfigSchema = Type.Object(
  {
    ...ServerKeys,
    ...ModelKeys,
    ...GrpcKeys,
    ...AuthKeys,
    ...OAuthKeys,
    ...RateLimitKeys,
    ...CacheKeys,
    ...TracingKeys,
    ...MetricsKeys,
    ...PayloadLogKeys,
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
