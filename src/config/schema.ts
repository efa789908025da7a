// The server configuration schema: the one truth for defaults, validation, env names and the README table.
import { Type, type Static } from 'typebox';

const Milliseconds = (def: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 3_600_000, default: def, description });

export const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const InferenceModes = ['auto', 'inline', 'thread'] as const;

export const ConfigSchema = Type.Object(
  {
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
    inferenceTimeoutMs: Milliseconds(10_000, 'Longest time one inference may wait and run before a 504.'),
    shutdownGraceMs: Milliseconds(
      8_000,
      'Time to drain in-flight requests on SIGTERM/SIGINT before exiting.',
    ),
    bodyLimitBytes: Type.Integer({
      minimum: 1024,
      maximum: 1_073_741_824,
      default: 1_048_576,
      description: 'Largest accepted request body.',
    }),
    maxInstances: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1024,
      description: 'Most instances in one predict request.',
    }),
    logLevel: Type.Enum(LogLevels, { default: 'info', description: 'pino log level.' }),
    logFormat: Type.Enum(['json', 'pretty'], {
      default: 'json',
      description: 'json in production; pretty needs the dev dependency pino-pretty.',
    }),
    modelRepository: Type.String({
      minLength: 1,
      default: 'models',
      description: 'Folder of <model>/<version>/model.onnx, relative to the working directory.',
    }),
    inferenceMode: Type.Enum(InferenceModes, {
      default: 'auto',
      description: 'Where inference runs: auto (measured per model at load), inline (event loop), thread.',
    }),
    inlineThresholdMs: Type.Number({
      minimum: 0,
      maximum: 10_000,
      default: 1,
      description: 'In auto mode, a model slower than this per warm-up call runs on worker threads.',
    }),
    inferenceThreads: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 1,
      description: 'Worker threads per HTTP process for thread-mode models.',
    }),
    inferenceQueueSize: Type.Integer({
      minimum: 0,
      maximum: 100_000,
      default: 64,
      description: 'Thread-mode calls that may wait per HTTP process; beyond it requests get 503.',
    }),
    ortIntraOpThreads: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 1,
      description: 'onnxruntime intra-op threads per session (1 avoids oversubscribing the cores).',
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
