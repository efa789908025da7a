// createGrpcServer(config, core): the gRPC front end over the core, without listening; the process owns its life.
// inference.GRPCInferenceService, grpc.health.v1.Health (Kubernetes gRPC probes, grpc_health_probe) and server
// reflection (grpcurl without the .proto), on @grpc/grpc-js.
import { readFileSync } from 'node:fs';
import type { Http2Session } from 'node:http2';
import { ServerCredentials, type Server, type ServerOptions } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { createAccess, type Access } from '../auth/access.js';
import type { Config } from '../config/schema.js';
import type { Core } from '../core/core.js';
import { AccessLog } from './access-log.js';
import { loadDefinitions, SERVICE_NAME } from './definitions.js';
import { Guard } from './guard.js';
import { inferenceService } from './service.js';
import { Streams } from './streams.js';
import { refuseMalformed, StrictServer } from './strict.js';

export interface GrpcServer {
  /** Binds grpcHost:grpcPort and serves; resolves with the bound port (the chosen one for port 0). */
  listen(): Promise<number>;
  /** Readiness turns NOT_SERVING (the health service; ServerReady follows core.health): the start of a drain. */
  notServing(): void;
  /**
   * Stops taking calls: streams answer what they took and end, in-flight calls finish (tryShutdown); whatever is left
   * after `withinMs` is cut (forceShutdown).
   */
  close(withinMs: number): Promise<void>;
}

/** The server's own settings from the config: message sizes, keepalive, connection age. */
export function serverOptions(config: Config): ServerOptions {
  return {
    'grpc.max_receive_message_length': config.grpcMaxReceiveBytes,
    'grpc.max_send_message_length': config.grpcMaxSendBytes,
    'grpc.keepalive_time_ms': config.grpcKeepaliveTimeMs,
    'grpc.keepalive_timeout_ms': config.grpcKeepaliveTimeoutMs,
    'grpc.max_concurrent_streams': config.grpcMaxConcurrentStreams,
    // channelz (per-call counters for the channelz admin service, which Serval does not serve) costs every call.
    'grpc.enable_channelz': 0,
    ...(config.grpcMaxConnectionAgeMs > 0
      ? { 'grpc.max_connection_age_ms': config.grpcMaxConnectionAgeMs }
      : {}),
    ...(config.grpcMaxConnectionAgeGraceMs > 0
      ? { 'grpc.max_connection_age_grace_ms': config.grpcMaxConnectionAgeGraceMs }
      : {}),
  };
}

/** HTTP/2 flow-control windows for gRPC connections: a large tensor arrives without waiting on window updates. */
const WINDOW_BYTES = 16 * 1024 * 1024;

interface Http2Internals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<{ on(event: 'session', listener: (session: Http2Session) => void): unknown }, unknown>;
}

/**
 * grpc-js leaves its HTTP/2 servers at Node's 64 KiB windows (stream and connection) and has no option for them: a
 * 588 KiB request then crosses the connection in ten round trips of window updates, its calls sharing one window.
 * 16 MiB windows doubled the large-tensor bench's gRPC req/s and cut its server CPU per call by 40%. They are set
 * through grpc-js's own fields, when they are there (a later grpc-js may name them otherwise: the server then keeps
 * the defaults, and test/grpc/security.test.ts says so).
 */
function widenWindowsBeforeBind(server: Server): void {
  const internals = server as unknown as Http2Internals;
  if (internals.commonServerOptions) {
    internals.commonServerOptions.settings = {
      ...internals.commonServerOptions.settings,
      initialWindowSize: WINDOW_BYTES,
    };
  }
}

function widenWindowsAfterBind(server: Server): void {
  for (const http2Server of (server as unknown as Http2Internals).http2Servers?.keys() ?? []) {
    http2Server.on('session', (session) => session.setLocalWindowSize(WINDOW_BYTES));
  }
}

/** host:port as gRPC writes addresses: an IPv6 host in brackets. */
export function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function credentials(config: Config): ServerCredentials {
  if (!config.grpcTlsCertFile) return ServerCredentials.createInsecure();
  const pair = {
    cert_chain: readFileSync(config.grpcTlsCertFile),
    private_key: readFileSync(config.grpcTlsKeyFile),
  };
  return ServerCredentials.createSsl(null, [pair], false);
}

/** Lets the calls in flight finish and the streams end, within `withinMs`; whatever is left then is cut. */
async function drain(server: Server, streams: Streams, withinMs: number, log: Logger): Promise<void> {
  const shutdown = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  const streamsEnded = streams.closeAll('Server is shutting down');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), withinMs)));
  const outcome = await Promise.race([Promise.all([shutdown, streamsEnded]), late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    log.warn({ withinMs }, 'gRPC calls still open after the grace period: cut');
    server.forceShutdown();
  }
}

export async function createGrpcServer(config: Config, core: Core, shared?: Access): Promise<GrpcServer> {
  const log = core.log.child({ protocol: 'grpc' });
  const definitions = loadDefinitions();
  const { verifier, limiter } = shared ?? (await createAccess(config, core));
  const deps = {
    guard: new Guard(verifier, limiter, config),
    access: new AccessLog(log, SERVICE_NAME),
    tracer: core.tracer,
  };
  const streams = new Streams({
    stream: config.grpcStreamMaxPendingBytes,
    all: config.grpcAllStreamsMaxPendingBytes,
  });
  // A stream answers the requests before a malformed one first: it ends itself (stream-infer.ts).
  const streamPath = `/${SERVICE_NAME}/ModelStreamInfer`;
  const server = new StrictServer({
    ...serverOptions(config),
    interceptors: [refuseMalformed(log, new Set([streamPath]))],
  });
  // Payload logging logs requests as they came: their messages' bytes.
  server.keepBytes = core.payloadLog !== null;
  server.addService(definitions.service, inferenceService(deps, core, streams));
  const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  new ReflectionService(definitions.packageDefinition).addToServer(server);

  const setHealth = (serving: ServingStatus) => {
    health.setStatus('', serving);
    health.setStatus(SERVICE_NAME, serving);
  };
  let closing: Promise<void> | undefined;
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const address = bindAddress(config.grpcHost || config.host, config.grpcPort);
        widenWindowsBeforeBind(server);
        server.bindAsync(address, credentials(config), (err, port) => {
          if (err) return reject(err);
          widenWindowsAfterBind(server);
          setHealth(core.health.readiness().ready ? 'SERVING' : 'NOT_SERVING');
          log.info({ address, port, tls: Boolean(config.grpcTlsCertFile) }, 'gRPC listening');
          resolve(port);
        });
      }),
    notServing: () => setHealth('NOT_SERVING'),
    close: (withinMs) =>
      (closing ??= (async () => {
        setHealth('NOT_SERVING');
        await drain(server, streams, withinMs, log);
      })()),
  };
}
