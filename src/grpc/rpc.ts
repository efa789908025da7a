// What every RPC handler shares, in one wrapper instead of a copy per handler: the request id, authentication and
// the rate limit before the work, the status mapping of whatever it throws, and the access line.
import { status, type handleUnaryCall, type Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Scope } from '../auth/scopes.js';
import type { Principal } from '../auth/verifier.js';
import { requestId } from '../lib/request-id.js';
import type { RequestTrace, Tracer } from '../core/tracing/trace.js';
import type { AccessLog, RpcFields } from './access-log.js';
import { metadataText, type Bucket, type Guard } from './guard.js';
import { failureOf, serviceError } from './status.js';
import { endCall, traceCall } from './tracing.js';

export interface RpcSpec {
  /** The scope the call needs when authentication is on; none: public, like /v2/health. */
  scope?: Scope;
  bucket: Bucket;
  /** Health probes log at debug. */
  probe?: boolean;
}

export interface RpcContext {
  readonly reqId: string;
  readonly principal: Principal | null;
  /** Filled by the handler for the access line (model, version, rows). */
  readonly fields: RpcFields;
  /** The call's trace, when it is traced: ModelInfer hands it to the core's pipeline. */
  readonly trace: RequestTrace | undefined;
}

export interface RpcDeps {
  guard: Guard;
  access: AccessLog;
  /** null when tracing is off. */
  tracer: Tracer | null;
}

/** The call's request id: the client's x-request-id metadata when it is plain and short, else a new UUID. */
export function callRequestId(metadata: Metadata): string {
  return requestId(metadataText(metadata, 'x-request-id'));
}

/** The client's deadline in epoch ms, if it set one. */
export function deadlineOf(call: { getDeadline(): Date | number }): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

export type UnaryBody<Req, Res> = (
  request: Req,
  context: RpcContext,
  call: ServerUnaryCall<Req, Res>,
) => Res | Promise<Res>;

/** A unary handler: admits the call (token, scope, budget), runs `body`, answers its value or its error's status. */
export function unary<Req, Res>(
  deps: RpcDeps,
  method: string,
  spec: RpcSpec,
  body: UnaryBody<Req, Res>,
): handleUnaryCall<Req, Res> {
  const probe = { probe: spec.probe === true };
  return (call, callback) => {
    const startedAt = performance.now();
    const reqId = callRequestId(call.metadata);
    const fields: RpcFields = {};
    // Health probes are not traced.
    const trace = spec.probe
      ? undefined
      : traceCall(
          deps.tracer,
          method,
          call.metadata,
          reqId,
          (call.request as { model_name?: unknown }).model_name,
          fields,
        );
    const succeed = (value: Res) => {
      deps.access.write(method, reqId, startedAt, status.OK, fields, probe);
      endCall(trace, status.OK);
      callback(null, value);
    };
    const fail = (err: unknown) => {
      const failure = failureOf(err);
      deps.access.write(method, reqId, startedAt, failure.code, fields, { ...probe, fault: failure.fault });
      endCall(trace, failure.code);
      callback(serviceError(failure, reqId));
    };
    const context = { reqId, principal: null, fields, trace };
    if (deps.guard.open) {
      // No token to verify and no budget to count: the body runs at once (the hot path of an open server).
      try {
        const value = body(call.request, context, call);
        if (value instanceof Promise) value.then(succeed, fail);
        else succeed(value);
      } catch (err) {
        fail(err);
      }
      return;
    }
    const admitted = async () => {
      const peer = call.getPeer();
      const principal = spec.scope
        ? await deps.guard.authenticate(call.metadata, peer, spec.scope, spec.bucket)
        : null;
      await deps.guard.count(principal, peer, spec.bucket);
      return body(call.request, { ...context, principal }, call);
    };
    admitted().then(succeed, fail);
  };
}
