// ModelInfer and ModelStreamInfer: the message read as the core's request, one call of the core's pipeline, the
// answer encoded. A stream answers each request in order, errors in-band as error_message, and goes on.
import { status, type handleBidiStreamingCall, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import { Scopes } from '../auth/scopes.js';
import type { Principal } from '../auth/verifier.js';
import { bypassRequested } from '../core/cache/prediction-cache.js';
import type { Core } from '../core/core.js';
import type { TensorMap } from '../core/tensor/tensor.js';
import type { RpcFields } from './access-log.js';
import { decodeRequest, encodeAnswer } from './contents.js';
import { metadataText } from './guard.js';
import type { ModelInferRequest } from './messages.js';
import { callRequestId, deadlineOf, type RpcDeps, unary } from './rpc.js';
import { failureOf, serviceError } from './status.js';
import { bytesOf, MalformedMessage } from './strict.js';
import { endCall, traceCall } from './tracing.js';
import type { RequestTrace } from '../core/tracing/trace.js';
import { streamError, streamResponse, withId } from './wire.js';

/** Payload logging's content types: the messages' protobuf bytes, named as protobuf's media type names them. */
const REQUEST_TYPE = 'application/x-protobuf; messageType="inference.ModelInferRequest"';
const RESPONSE_TYPE = 'application/x-protobuf; messageType="inference.ModelInferResponse"';

/** One inference: the request read as the core's request, one call of the core's pipeline, the encoded answer. */
async function inferOne(
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

/** Aborts when the client cancels the call (or its deadline passes): queued requests of it then never run. */
function cancellation(call: { once(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort());
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

/** How many bytes ModelStreamInfer streams may hold: each one, and all of a process together. */
export interface StreamBounds {
  stream: number;
  all: number;
}

/**
 * The open streams of a server, so that a drain can end each once its answers are written; and the bytes they hold
 * together (requests in progress, answers not yet sent), so that past the process's bound every stream stops reading
 * until some are sent.
 */
export class Streams {
  #open = new Set<(why: string) => Promise<void>>();
  #closing = false;
  #held = 0;
  /** Streams stopped by the process's bound: told when bytes are released. */
  #waiting = new Set<() => void>();
  readonly bounds: StreamBounds;

  constructor(bounds: StreamBounds) {
    this.bounds = bounds;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Bytes held by all streams. */
  get heldBytes(): number {
    return this.#held;
  }

  /** Whether all streams together hold more than their bound. */
  get full(): boolean {
    return this.#held > this.bounds.all;
  }

  hold(bytes: number): void {
    this.#held += bytes;
  }

  release(bytes: number): void {
    this.#held -= bytes;
    if (!this.full) for (const wake of [...this.#waiting]) wake();
  }

  /** `wake` is called whenever bytes are released while it waits. */
  wait(wake: () => void, waiting: boolean): void {
    if (waiting) this.#waiting.add(wake);
    else this.#waiting.delete(wake);
  }

  add(close: (why: string) => Promise<void>): () => void {
    this.#open.add(close);
    return () => this.#open.delete(close);
  }

  /** Stops every stream taking requests; resolves once each has answered what it took and ended. */
  async closeAll(why: string): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#open].map((close) => close(why)));
  }
}

/** About the memory a request holds while it is in progress: its tensors' bytes, and a little for the rest. */
function requestBytes(request: ModelInferRequest): number {
  let bytes = 256;
  for (const raw of request.raw_input_contents) bytes += raw.length;
  for (const input of request.inputs) {
    const contents = input.contents;
    if (contents === null) continue;
    for (const value of Object.values(contents) as unknown[][]) bytes += value.length * 8;
    for (const value of contents.bytes_contents) bytes += value.length;
  }
  return bytes;
}

type Duplex = ServerDuplexStream<ModelInferRequest, Buffer>;

/**
 * Requests run as they arrive (concurrent ones batch together) and their answers are written in request order. The
 * call is authenticated once; each request counts against the predict budget. On a drain the stream stops taking
 * requests, writes what it owes, and ends: OK if the client had half-closed, else UNAVAILABLE (open a new stream).
 * Flow control: requests in progress and answers not yet sent (until the transport takes them, which it does as the
 * client reads) are counted in bytes; past the stream's bound or all streams', the stream stops reading requests
 * (call.pause(): HTTP/2 then holds the client's requests in its window) and reads on once under them. Every request
 * read is answered, in order.
 */
export function modelStreamInfer(
  deps: RpcDeps,
  core: Core,
  streams: Streams,
): handleBidiStreamingCall<ModelInferRequest, Buffer> {
  const method = 'ModelStreamInfer';
  return (call: Duplex) => {
    const startedAt = performance.now();
    const reqId = callRequestId(call.metadata);
    const fields: RpcFields = { messages: 0, errors: 0 };
    const peer = call.getPeer();
    let ended = false;
    let halfClosed = false;
    let cancelled = false;
    const signal = cancellation(call);
    /** The answers so far, written in order: each waits for the one before. */
    let tail: Promise<void> = Promise.resolve();

    /** Bytes this stream holds (also counted in `streams`), and whether it has stopped reading for them. */
    let held = 0;
    let paused = false;
    const throttle = () => {
      // Past all streams' bound a stream holding nothing still reads one request at a time: stalled readers that fill
      // the process's bound slow the other streams down, and stop none.
      const over = !ended && (held > streams.bounds.stream || (streams.full && held > 0));
      if (over === paused) return;
      paused = over;
      streams.wait(throttle, over);
      if (over) call.pause();
      else call.resume();
    };
    const hold = (bytes: number) => {
      held += bytes;
      streams.hold(bytes);
      throttle();
    };
    const release = (bytes: number) => {
      held -= bytes;
      streams.release(bytes);
      throttle();
    };

    const finish = (code: status, failure?: ReturnType<typeof failureOf>) => {
      if (ended) return;
      ended = true;
      forget();
      // Whatever is still counted (answers a cancelled call never sent) is given back.
      streams.wait(throttle, false);
      streams.release(held);
      held = 0;
      deps.access.write(method, reqId, startedAt, code, fields, { fault: failure?.fault });
      if (cancelled) return;
      if (failure) call.emit('error', serviceError(failure, reqId));
      else call.end();
    };
    const forget = streams.add(async (why) => {
      await tail;
      if (halfClosed) return finish(status.OK);
      finish(status.UNAVAILABLE, {
        code: status.UNAVAILABLE,
        details: `${why}: this stream ends; send the requests it did not answer on a new one`,
        serval: 'SHUTTING_DOWN',
      });
    });

    // A refused token or scope ends the whole call with its status; no request of it runs.
    let refused: ReturnType<typeof failureOf> | undefined;
    let malformed = false;
    const admitted: Promise<Principal | null> = deps.guard.authenticate(
      call.metadata,
      peer,
      Scopes.predict,
      'predict',
    );
    admitted.catch((err: unknown) => {
      const failure = (refused = failureOf(err));
      tail = tail.then(() => finish(failure.code, failure));
    });

    call.on('data', (request: ModelInferRequest | MalformedMessage) => {
      if (ended || streams.closing || malformed) return; // taken no more: the status that ends the stream says so
      if (request instanceof MalformedMessage) {
        // The requests before it are answered first; then the stream ends with INVALID_ARGUMENT.
        malformed = true;
        const failure = failureOf(request.error());
        tail = tail.then(() => finish(failure.code, failure));
        return;
      }
      fields.messages = (fields.messages ?? 0) + 1;
      const messageStarted = performance.now();
      const own: RpcFields = {};
      // Each request of the stream is traced as a request of its own, under the caller's context of the call.
      const trace = traceCall(deps.tracer, method, call.metadata, reqId, request.model_name, own);
      const size = requestBytes(request);
      hold(size);
      const answer = admitted
        .then((principal) => deps.guard.count(principal, peer, 'predict'))
        .then(() => inferOne(core, request, call, own, signal, trace))
        .then(
          (body) => {
            deps.access.write(method, reqId, messageStarted, status.OK, own, { probe: true });
            endCall(trace, status.OK);
            // The stream's own line names the model; trace ids are each request's.
            Object.assign(fields, { ...own, traceId: undefined, spanId: undefined });
            return streamResponse(body);
          },
          (err: unknown) => {
            const failure = failureOf(err);
            fields.errors = (fields.errors ?? 0) + 1;
            deps.access.write(method, reqId, messageStarted, failure.code, own, {
              probe: true,
              fault: failure.fault,
            });
            endCall(trace, failure.code);
            return streamError(serviceError(failure, reqId).details);
          },
        );
      // The request's bytes give way to its answer's, held until the transport takes them.
      const counted = answer.then((bytes) => {
        if (!ended) hold(bytes.length);
        if (!ended) release(size);
        return bytes;
      });
      tail = tail.then(async () => {
        const bytes = await counted;
        if (ended) return;
        if (cancelled || refused !== undefined) return release(bytes.length);
        call.write(bytes, () => {
          if (!ended) release(bytes.length);
        });
      });
    });
    call.on('end', () => {
      halfClosed = true;
      void tail.then(() => finish(status.OK));
    });
    call.on('cancelled', () => {
      cancelled = true;
      finish(status.CANCELLED);
    });
  };
}
