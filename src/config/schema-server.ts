// The config schema's server keys: where it listens, its timeouts, the bounds of a request, its logs.
import { Type } from 'typebox';
import { Milliseconds } from './schema-units.js';

export const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The server: address, processes, timeouts, request bounds, CORS, proxies, logs. */
export const ServerKeys = {
  host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Address to bind.' }),
  port: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 50505,
    description: 'TCP port (0 = any free port).',
  }),
  workers: Type.Integer({
    minimum: 0,
    maximum: 256,
    default: 0,
    description: 'HTTP worker processes; 0 = one per CPU core, 1 = a single process without a primary.',
  }),
  requestTimeoutMs: Milliseconds(30_000, 'Longest time to receive a whole request.'),
  headersTimeoutMs: Milliseconds(10_000, 'Longest time to receive the request headers (slow clients).'),
  keepAliveTimeoutMs: Milliseconds(5_000, 'How long an idle keep-alive connection stays open.'),
  shutdownGraceMs: Milliseconds(8_000, 'Time to drain in-flight requests on SIGTERM/SIGINT before exiting.'),
  shutdownDelayMs: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 1_000,
    description: 'After SIGTERM, keep accepting (with /readyz 503) this long, then close and drain.',
  }),
  bodyLimitBytes: Type.Integer({
    minimum: 1024,
    maximum: 1_073_741_824,
    default: 1_048_576,
    description: 'Largest accepted request body.',
  }),
  binaryBodyLimitBytes: Type.Integer({
    minimum: 1024,
    maximum: 2_147_483_647,
    default: 67_108_864,
    description:
      'Largest accepted V2 inference body with binary tensor data (Inference-Header-Content-Length).',
  }),
  jsonMaxDepth: Type.Integer({
    minimum: 4,
    maximum: 1000,
    default: 32,
    description: 'Most arrays and objects nested inside each other in a JSON body; deeper ones get 400.',
  }),
  maxInstances: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 1024,
    description: 'Most instances (rows of the batch dimension) in one inference request.',
  }),
  maxHeaderBytes: Type.Integer({
    minimum: 1024,
    maximum: 1_048_576,
    default: 16_384,
    description: 'Largest accepted request header block (431 beyond it).',
  }),
  corsOrigins: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Origins allowed by CORS (comma-separated in env); empty = no CORS headers.',
  }),
  trustProxy: Type.String({
    default: '',
    description:
      'X-Forwarded-For trust: empty = none, true, a hop count, or comma-separated proxy IPs/CIDRs.',
  }),
  logLevel: Type.Enum(LogLevels, { default: 'info', description: 'pino log level.' }),
  logFormat: Type.Enum(['json', 'pretty'], {
    default: 'json',
    description: 'json in production; pretty needs the dev dependency pino-pretty.',
  }),
};
