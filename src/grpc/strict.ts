// Requests whose bytes are not a valid message are the client's fault: INVALID_ARGUMENT, never grpc-js's INTERNAL
// "Error deserializing request" (what it answers when a deserializer throws). Every service the server adds (ours,
// health, reflection) decodes through the strict check of wire-check.ts; a request that fails it reaches no handler
// but a MalformedMessage, which the interceptor answers, or, for a stream that owes earlier answers, the stream.
import {
  Metadata,
  Server,
  ServerInterceptingCall,
  type MethodDefinition,
  type ServerInterceptor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { errorType } from '../core/errors.js';
import { AccessLog } from './access-log.js';
import { requestDescriptor } from './descriptors.js';
import { callRequestId } from './rpc.js';
import { failureOf, serviceError } from './status.js';
import { checkMessage, WireError } from './wire-check.js';

const INVALID_MESSAGE = errorType('INVALID_MESSAGE', 'invalid_argument', '%s');

/** What a request that failed decoding becomes: the handlers' deserialized value, recognised by its class. */
export class MalformedMessage {
  readonly reason: string;

  constructor(reason: string) {
    this.reason = reason;
  }

  /** The coded error the call ends with. */
  error(): Error {
    return new INVALID_MESSAGE(this.reason);
  }
}

type Deserialize = (bytes: Buffer) => unknown;

/** Each request message's bytes, kept when asked (payload logging logs requests as they came). */
const messageBytes = new WeakMap<object, Buffer>();

/** The bytes a request message was decoded from, when its server keeps them. */
export function bytesOf(message: object): Buffer | undefined {
  return messageBytes.get(message);
}

/**
 * A deserializer that checks the bytes strictly first and answers a MalformedMessage instead of throwing; with
 * `keepBytes`, the bytes stay reachable from the message (bytesOf).
 */
export function strictDeserializer(
  method: MethodDefinition<unknown, unknown>,
  keepBytes = false,
): Deserialize {
  const original = method.requestDeserialize;
  const type = requestDescriptor(method);
  const name = type?.typeName ?? 'request message';
  return (bytes) => {
    try {
      if (type !== undefined) checkMessage(type, bytes);
      const message = original(bytes);
      if (keepBytes && typeof message === 'object' && message !== null) messageBytes.set(message, bytes);
      return message;
    } catch (err) {
      const where =
        err instanceof WireError
          ? `${err.message} (at byte ${err.at} of ${bytes.length})`
          : 'it does not decode';
      return new MalformedMessage(`the request is not a valid ${name}: ${where}`);
    }
  };
}

/** The same service with strict deserializers. */
export function strictService(service: ServiceDefinition, keepBytes = false): ServiceDefinition {
  const strict: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(
    service as Record<string, MethodDefinition<unknown, unknown>>,
  )) {
    strict[name] = { ...method, requestDeserialize: strictDeserializer(method, keepBytes) };
  }
  return strict;
}

/** A grpc-js Server whose every service decodes strictly (health and reflection add theirs through addService). */
export class StrictServer extends Server {
  /** Whether request messages keep their bytes (bytesOf). */
  keepBytes = false;

  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    super.addService(strictService(service, this.keepBytes), implementation);
  }
}

/**
 * Ends a call whose request is a MalformedMessage with INVALID_ARGUMENT, its request id and Serval code, and writes
 * its access line. Methods in `ownHandling` (a stream that must first answer the requests before it) get the
 * MalformedMessage as their request instead.
 */
export function refuseMalformed(log: Logger, ownHandling: ReadonlySet<string>): ServerInterceptor {
  const logs = new Map<string, AccessLog>();
  const accessLog = (service: string) => {
    let access = logs.get(service);
    if (access === undefined) logs.set(service, (access = new AccessLog(log, service)));
    return access;
  };
  return (method, call) => {
    if (ownHandling.has(method.path)) return new ServerInterceptingCall(call);
    const startedAt = performance.now();
    let metadata = new Metadata();
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (received, pass) => {
            metadata = received;
            pass(received);
          },
          onReceiveMessage: (message, pass) => {
            if (!(message instanceof MalformedMessage)) return pass(message);
            const reqId = callRequestId(metadata);
            const failure = failureOf(message.error());
            const [, service = '', name = ''] = /^\/(.+)\/([^/]+)$/.exec(method.path) ?? [];
            accessLog(service).write(name, reqId, startedAt, failure.code, {});
            call.sendStatus(serviceError(failure, reqId));
          },
        }),
    });
  };
}
