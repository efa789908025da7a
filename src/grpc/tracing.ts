// A server span per gRPC call (and per request of a stream) when tracing is on, a child of the caller's W3C trace
// context from its metadata (traceparent, tracestate), with the semantic conventions' rpc.* attributes and status.
import { status, type Metadata } from '@grpc/grpc-js';
import type { RequestTrace, Tracer } from '../core/tracing/trace.js';
import type { RpcFields } from './access-log.js';
import { metadataText } from './guard.js';

const SERVICE = 'inference.GRPCInferenceService';

/** The codes the semantic conventions count as a server's error. */
const SERVER_ERRORS = new Set<status>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

/** Starts a call's trace, or undefined (off, or not sampled); its ids go on the access line. */
export function traceCall(
  tracer: Tracer | null,
  method: string,
  metadata: Metadata,
  reqId: string,
  model: unknown,
  fields: RpcFields,
): RequestTrace | undefined {
  if (tracer === null) return undefined;
  const trace = tracer.serve({
    name: `${SERVICE}/${method}`,
    header: (name) => metadataText(metadata, name),
    attributes: () => ({ 'rpc.system': 'grpc', 'rpc.service': SERVICE, 'rpc.method': method }),
    model: typeof model === 'string' && model !== '' ? model : undefined,
    reqId,
    started: performance.now(),
  });
  if (trace !== undefined) {
    fields.traceId = trace.traceId;
    fields.spanId = trace.spanId;
  }
  return trace;
}

export function endCall(trace: RequestTrace | undefined, code: status): void {
  trace?.end({ 'rpc.grpc.status_code': code }, SERVER_ERRORS.has(code));
}
