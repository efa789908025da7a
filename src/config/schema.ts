// The server configuration schema: the one truth for defaults, validation, env names and docs/configuration.md.
import { Type, type Static } from 'typebox';

const Milliseconds = (def: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 3_600_000, default: def, description });

const Optional = (description: string) => Type.String({ default: '', description });

/** gRPC's (and protobuf's) largest message: 2 GiB - 1. */
const INT32_MAX = 2_147_483_647;

export const JwtAlgorithms = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'ES256',
  'ES384',
  'EdDSA',
] as const;
export const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const InferenceModes = ['auto', 'inline', 'thread'] as const;
export const PayloadLogModes = ['all', 'request', 'response'] as const;
/** Request headers payload logging never copies into events, even when listed: credentials. */
export const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'] as const;
export const TraceProtocols = ['http/protobuf', 'http/json'] as const;
/** The OpenTelemetry specification's built-in samplers (OTEL_TRACES_SAMPLER). */
export const TraceSamplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/**
 * Every key with its type, default and description, in groups separated by blank lines: scripts/config-doc.ts writes
 * docs/configuration.md in this order, with a heading at each group's first key.
 */
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
    shutdownGraceMs: Milliseconds(
      8_000,
      'Time to drain in-flight requests on SIGTERM/SIGINT before exiting.',
    ),
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

    modelRepository: Type.String({
      minLength: 1,
      default: 'models',
      description: 'Folder of <model>/<version>/model.onnx, relative to the working directory.',
    }),
    modelName: Type.String({
      default: '',
      description:
        'The name of the model when the repository holds one (a bare .onnx file, a folder with model.onnx or version folders at its root, as KServe mounts /mnt/models); default: the file or folder name.',
    }),
    modelControl: Type.Enum(['none', 'poll', 'explicit', 'on-demand'], {
      default: 'none',
      description:
        'none: load every model at start; poll: also watch the repository and load, reload and unload as files change; explicit: only startupModels at start, the rest through the repository API; on-demand: every model listed at start and loaded by its first request, the least recently used unloaded past maxLoadedModels or maxLoadedBytes.',
    }),
    startupModels: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'In explicit mode, the models loaded at start (comma-separated in env).',
    }),
    maxLoadedModels: Type.Integer({
      minimum: 0,
      maximum: 100_000,
      default: 0,
      description:
        'In on-demand mode, the most models loaded per process (0: no bound); past it the least recently used model with no request in flight is unloaded.',
    }),
    maxLoadedBytes: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        "In on-demand mode, the most memory the loaded models may take per process (0: no bound), each measured at its load as the growth of the resident memory, at least its files' size.",
    }),
    loadWaitMs: Milliseconds(
      30_000,
      'In on-demand mode, how long a request waits for its model to load (or for room to load it) before a 503 with Retry-After.',
    ),
    pollIntervalMs: Milliseconds(
      2_000,
      'In poll mode, how often the repository is read; a version loads once its files are unchanged for one interval.',
    ),
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
    inferenceTimeoutMs: Milliseconds(10_000, 'Longest time one inference may wait and run before a 504.'),
    imageMaxBytes: Type.Integer({
      minimum: 1024,
      maximum: 1_073_741_824,
      default: 16_777_216,
      description:
        'Largest encoded image (JPEG, PNG, WebP, GIF) one row of an image input may carry; larger ones get 400.',
    }),
    imageMaxPixels: Type.Integer({
      minimum: 1,
      maximum: 1_000_000_000,
      default: 40_000_000,
      description:
        'Most pixels (width × height, as the file declares them) of an image to decode; larger ones get 400 before they are decoded.',
    }),
    batchMaxRows: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 256,
      description: 'Dynamic batching: most rows merged into one inference call; 1 turns it off.',
    }),
    ortIntraOpThreads: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 1,
      description: 'onnxruntime intra-op threads per session (1 avoids oversubscribing the cores).',
    }),
    externalMemoryInHeapLimit: Type.Boolean({
      default: true,
      description:
        "V8 counts Buffers' memory (request bodies) in its heap limit instead of collecting for it on a schedule of its own: about 40% less CPU per large binary request, about 20% more RSS under such load (Node 24; no effect on Node 22).",
    }),

    grpcEnabled: Type.Boolean({
      default: true,
      description:
        'Serve the Open Inference Protocol over gRPC (GRPCInferenceService) in every HTTP process.',
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

    authEnabled: Type.Boolean({ default: false, description: 'Require a JWT bearer token on model routes.' }),
    jwtSecret: Optional('HS256 shared secret (at least 32 characters); prefer jwtSecretFile.'),
    jwtSecretFile: Optional('File holding the HS256 shared secret.'),
    jwtPublicKeyFile: Optional('PEM public key (RS256/ES256/...) that verifies tokens.'),
    jwtJwksUrl: Optional('JWKS URL of the token issuer (Auth0, Keycloak, Entra ID); keys are cached.'),
    jwtAlgorithms: Type.Array(Type.Enum(JwtAlgorithms), {
      default: [],
      description:
        'Allowed algorithms; empty = HS256 with a secret, RS256 and ES256 with a public key or JWKS.',
    }),
    jwtIssuer: Optional('Required "iss" claim, when set.'),
    jwtAudience: Optional('Required "aud" claim, when set.'),
    jwtClockSkewSeconds: Type.Integer({
      minimum: 0,
      maximum: 300,
      default: 30,
      description: 'Tolerance for exp and nbf.',
    }),

    oauthClientsFile: Optional('JSON file of client-credentials clients; enables POST /oauth/token.'),
    oauthPrivateKeyFile: Optional('PEM private key that signs issued tokens (else jwtSecret with HS256).'),
    oauthTokenTtlSeconds: Type.Integer({
      minimum: 30,
      maximum: 86_400,
      default: 300,
      description: 'Lifetime of issued tokens.',
    }),

    rateLimitEnabled: Type.Boolean({ default: false, description: 'Limit requests per principal (or IP).' }),
    rateLimitWindowMs: Milliseconds(60_000, 'Rate limit window.'),
    rateLimitMax: Type.Integer({
      minimum: 1,
      default: 1200,
      description: 'Requests per window per principal on metadata routes.',
    }),
    rateLimitPredictMax: Type.Integer({
      minimum: 1,
      default: 600,
      description: 'Predict requests per window per principal.',
    }),
    rateLimitTokenMax: Type.Integer({
      minimum: 1,
      default: 30,
      description: 'Token requests per window per client IP.',
    }),
    redisUrl: Optional('redis://host:port shared by all workers and replicas for rate limits and the cache.'),
    redisFailurePolicy: Type.Enum(['open', 'closed'], {
      default: 'open',
      description: 'When Redis fails: open = serve (limit per process), closed = 503 for limited routes.',
    }),

    cacheEnabled: Type.Boolean({ default: false, description: 'Cache predictions of deterministic models.' }),
    cacheMaxEntries: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Most cached predictions per process.',
    }),
    cacheMaxBytes: Type.Integer({
      minimum: 1024,
      default: 67_108_864,
      description: 'Most bytes of cached predictions per process.',
    }),
    cacheTtlMs: Milliseconds(60_000, 'How long a cached prediction lives.'),

    traceEndpoint: Optional(
      'OTLP/HTTP URL spans are exported to (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces); set, tracing is on.',
    ),
    traceProtocol: Type.Enum(TraceProtocols, {
      default: 'http/protobuf',
      description: 'How spans are sent (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL).',
    }),
    traceDisabled: Type.Boolean({
      default: false,
      description: 'Tracing off whatever the endpoint (OTEL_SDK_DISABLED).',
    }),
    traceServiceName: Optional(
      "The resource's service.name (OTEL_SERVICE_NAME); empty: OTEL_RESOURCE_ATTRIBUTES' service.name, else serval.",
    ),
    traceResourceAttributes: Optional(
      'More resource attributes, key=value pairs separated by commas, values percent-encoded (OTEL_RESOURCE_ATTRIBUTES).',
    ),
    traceSampler: Type.Enum(TraceSamplers, {
      default: 'parentbased_always_on',
      description:
        "Which traces are kept (OTEL_TRACES_SAMPLER); parentbased_*: a caller's sampled trace is followed.",
    }),
    traceSamplerArg: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 1,
      description: 'The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG).',
    }),
    traceExportDelayMs: Milliseconds(
      5000,
      'The longest a finished span waits before its batch is exported (OTEL_BSP_SCHEDULE_DELAY).',
    ),
    traceExportTimeoutMs: Milliseconds(
      30_000,
      'How long one export may take before it is given up (OTEL_BSP_EXPORT_TIMEOUT).',
    ),
    traceQueueSize: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 2048,
      description: 'Finished spans held for export per process; more are dropped (OTEL_BSP_MAX_QUEUE_SIZE).',
    }),
    traceExportBatchSize: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 512,
      description: 'Most spans in one export, at most traceQueueSize (OTEL_BSP_MAX_EXPORT_BATCH_SIZE).',
    }),
    traceRate: Type.Integer({
      minimum: 0,
      maximum: 4_294_967_295,
      default: 1,
      description:
        "Triton's trace_rate at start: one request in this many (without a caller's trace) is offered to the sampler; 0: only callers' traces.",
    }),

    metricsEnabled: Type.Boolean({
      default: true,
      description: 'Serve Prometheus metrics at /metrics (summed over workers).',
    }),
    metricsPort: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 0,
      description:
        '0: /metrics on the HTTP port; else its own port (as Triton 8002), unauthenticated: keep it inside the cluster.',
    }),
    metricsAuth: Type.Boolean({
      default: false,
      description: 'With authEnabled, /metrics on the HTTP port needs a token with the serval:admin scope.',
    }),

    payloadLogUrl: Optional(
      'Payload logging: where each inference request and response goes as a CloudEvent (KServe logger format): an http(s):// URL, or redis-stream://<key> for a Redis stream on redisUrl; empty = off.',
    ),
    payloadLogMode: Type.Enum(PayloadLogModes, {
      default: 'all',
      description: 'What payload logging logs: all (requests and responses), request, or response.',
    }),
    payloadLogHeaders: Type.Array(Type.String({ minLength: 1, pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), {
      default: [],
      description: `Request headers copied into each event's metadata extension (comma-separated in env); never ${SECRET_HEADERS.join(', ')}.`,
    }),
    payloadLogSource: Optional("The events' ce-source; empty = http://localhost:<port>/."),
    payloadLogNamespace: Optional(
      "The events' namespace extension: the Kubernetes namespace (from the downward API's metadata.namespace).",
    ),
    payloadLogEndpoint: Type.String({
      default: 'default',
      description: "The events' endpoint extension (KServe: default or canary).",
    }),
    payloadLogQueueEvents: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 10_000,
      description:
        'Most events waiting to be sent per process; past it (or payloadLogQueueBytes) events are dropped.',
    }),
    payloadLogQueueBytes: Type.Integer({
      minimum: 65_536,
      maximum: 4_294_967_296,
      default: 67_108_864,
      description: 'Most bytes of events waiting to be sent per process.',
    }),
    payloadLogWorkers: Type.Integer({
      minimum: 1,
      maximum: 1024,
      default: 64,
      description:
        'Events sent at once per process, each on a kept-alive connection to the sink: as many as requests in flight keeps up with them.',
    }),
    payloadLogRetries: Type.Integer({
      minimum: 0,
      maximum: 10,
      default: 3,
      description: 'Retries (with exponential backoff from 100 ms to 2 s) of an event the sink did not take.',
    }),
    payloadLogTimeoutMs: Milliseconds(5_000, 'Longest wait for the HTTP sink to answer one event.'),
    payloadLogStreamMaxLength: Type.Integer({
      minimum: 1,
      maximum: 1_000_000_000,
      default: 100_000,
      description: 'redis-stream:// sink: the stream is trimmed to about this many entries (XADD MAXLEN ~).',
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
