// ModelInfer: the message read as the core's request, one call of the core's pipeline, the answer encoded; the one
// inference that ModelStreamInfer (stream-infer.ts) runs for each request of a stream too.
import type { Metadata } from '@grpc/grpc-js';
import { Scopes } from '../auth/scopes.js';
import { bypassRequested } from '../core/cache/prediction-cache.js';
import type { Core } from '../core/core.js';
import type { TensorMap } from '../core/tensor/tensor.js';
import type { RpcFields } from './access-log.js';
import { decodeRequest, encodeAnswer } from './contents.js';
import { metadataText } from './guard.js';
import type { ModelInferRequest } from './messages.js';
import { deadlineOf, type RpcDeps, unary } from './rpc.js';
import { bytesOf } from './strict.js';
import { withId } from './wire.js';
import type { RequestTrace } from '../core/tracing/trace.js';

/** Payload logging's content types: the messages' protobuf bytes, named as protobuf's media type names them. */
const REQUEST_TYPE = 'application/x-protobuf; messageType="inference.ModelInferRequest"';
const RESPONSE_TYPE = 'application/x-protobuf; messageType="inference.ModelInferResponse"';

/** One inference: the request read as the core's request, one call of the core's pipeline, the encoded answer. */
export async function inferOne(
  core: Core,
  request: ModelInferRequest,
  call: { metadata: Metadata; getDeadline(): Date | number },
  note: RpcFields,
  signal: AbortSignal,
  trace: RequestTrace | undefined,
): Promise<Buffer> {
  // Raw contents sit anywhere in their message: those not aligned for their datatype are copied into reused memory,
  // given back once the call is answered (only its run reads them: inline runs end before the answer, thread-mode
  // runs copy their inputs, and a call dropped by its deadline never runs).
  const lent: Uint8Array[] = [];
  const alignedMemory = (bytes: number) => {
    const memory = core.tensorMemory.take(bytes);
    lent.push(memory);
    return memory;
  };
  const payload = core.payloadLog?.open({
    body: bytesOf(request) ?? Buffer.alloc(0),
    contentType: REQUEST_TYPE,
    headers: call.metadata.getMap(),
  });
  try {
    const answer = await core.inference.infer({
      model: request.model_name,
      version: request.model_version || undefined,
      protocol: 'grpc',
      received: performance.now(),
      read: (model) => {
        const { inputs, outputs, variant, priority, timeoutUs } = decodeRequest(request);
        const encoding = {
          format: 'grpc',
          variant,
          encode: (tensors: TensorMap) => encodeAnswer(model, tensors),
        };
        return { inputs, outputs, encoding, alignedMemory, priority, timeoutUs };
      },
      cache: { bypass: bypassRequested(metadataText(call.metadata, 'cache-control')) },
      deadline: deadlineOf(call),
      signal,
      note,
      payload,
      trace,
      id: request.id,
    });
    const body = withId(answer.body, request.id);
    payload?.respond(body, RESPONSE_TYPE);
    return body;
  } finally {
    for (const memory of lent) core.tensorMemory.give(memory);
  }
}

/**
 * The reason a cancelled call's signal carries. grpc-js reports the close of every call's stream as a cancel, answered
 * ones too: one shared reason spares each of them an AbortError (a DOMException and its stack).
 */
const CALL_CANCELLED = 'the client cancelled the call';

/** Aborts when the client cancels the call (or its deadline passes): queued requests of it then never run. */
export function cancellation(call: { once(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(CALL_CANCELLED));
  return controller.signal;
}

export function modelInfer(deps: RpcDeps, core: Core) {
  return unary<ModelInferRequest, Buffer>(
    deps,
    'ModelInfer',
    { scope: Scopes.predict, bucket: 'predict' },
    (request, context, call) =>
      inferOne(core, request, call, context.fields, cancellation(call), context.trace),
  );
}
