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
import { streamError, streamResponse, withId } from './wire.js';

/** One inference: the request read as the core's request, one call of the core's pipeline, the encoded answer. */
async function inferOne(
  core: Core,
  request: ModelInferRequest,
  call: { metadata: Metadata; getDeadline(): Date | number },
  note: RpcFields,
  signal: AbortSignal,
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
  try {
    const answer = await core.inference.infer({
      model: request.model_name,
      version: request.model_version || undefined,
      protocol: 'grpc',
      received: performance.now(),
      read: (model) => {
        const { inputs, outputs, variant } = decodeRequest(request);
        const encoding = {
          format: 'grpc',
          variant,
          encode: (tensors: TensorMap) => encodeAnswer(model, tensors),
        };
        return { inputs, outputs, encoding, alignedMemory };
      },
      cache: { bypass: bypassRequested(metadataText(call.metadata, 'cache-control')) },
      deadline: deadlineOf(call),
      signal,
      note,
    });
    return withId(answer.body, request.id);
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
    (request, context, call) => inferOne(core, request, call, context.fields, cancellation(call)),
  );
}

/** The open streams of a server, so that a drain can end each once its answers are written. */
export class Streams {
  #open = new Set<(why: string) => Promise<void>>();
  #closing = false;

  get closing(): boolean {
    return this.#closing;
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

type Duplex = ServerDuplexStream<ModelInferRequest, Buffer>;

/**
 * Requests run as they arrive (concurrent ones batch together) and their answers are written in request order. The
 * call is authenticated once; each request counts against the predict budget. On a drain the stream stops taking
 * requests, writes what it owes, and ends: OK if the client had half-closed, else UNAVAILABLE (open a new stream).
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

    const finish = (code: status, failure?: ReturnType<typeof failureOf>) => {
      if (ended) return;
      ended = true;
      forget();
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

    call.on('data', (request: ModelInferRequest) => {
      if (ended || streams.closing) return; // taken no more: the status that ends the stream says so
      fields.messages = (fields.messages ?? 0) + 1;
      const messageStarted = performance.now();
      const own: RpcFields = {};
      const answer = admitted
        .then((principal) => deps.guard.count(principal, peer, 'predict'))
        .then(() => inferOne(core, request, call, own, signal))
        .then(
          (body) => {
            deps.access.write(method, reqId, messageStarted, status.OK, own, { probe: true });
            Object.assign(fields, own);
            return streamResponse(body);
          },
          (err: unknown) => {
            const failure = failureOf(err);
            fields.errors = (fields.errors ?? 0) + 1;
            deps.access.write(method, reqId, messageStarted, failure.code, own, {
              probe: true,
              fault: failure.fault,
            });
            return streamError(serviceError(failure, reqId).details ?? failure.details);
          },
        );
      tail = tail.then(async () => {
        const bytes = await answer;
        if (!ended && !cancelled && refused === undefined) call.write(bytes);
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
