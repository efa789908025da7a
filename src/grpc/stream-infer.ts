// ModelStreamInfer: each request of a stream run as one inference, the answers written in request order, errors
// in-band as error_message; the stream goes on, bounded in the bytes it holds.
import { status, type handleBidiStreamingCall, type ServerDuplexStream } from '@grpc/grpc-js';
import { Scopes } from '../auth/scopes.js';
import type { Principal } from '../auth/verifier.js';
import type { Core } from '../core/core.js';
import type { RpcFields } from './access-log.js';
import { cancellation, inferOne } from './infer.js';
import type { ModelInferRequest } from './messages.js';
import { callRequestId, type RpcDeps } from './rpc.js';
import { failureOf, serviceError } from './status.js';
import { MalformedMessage } from './strict.js';
import type { Streams } from './streams.js';
import { endCall, traceCall } from './tracing.js';
import { streamError, streamResponse } from './wire.js';

const METHOD = 'ModelStreamInfer';

type Duplex = ServerDuplexStream<ModelInferRequest, Buffer>;
type Failure = ReturnType<typeof failureOf>;

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

/**
 * One call of ModelStreamInfer: its requests read, their answers chained in order, the bytes it holds counted for
 * flow control, and its one end (OK, a refusal, a drain or a cancel) logged once.
 */
class InferStream {
  readonly #deps: RpcDeps;
  readonly #core: Core;
  readonly #streams: Streams;
  readonly #call: Duplex;
  readonly #startedAt = performance.now();
  readonly #reqId: string;
  readonly #peer: string;
  readonly #fields: RpcFields = { messages: 0, errors: 0 };
  readonly #signal: AbortSignal;
  #ended = false;
  #halfClosed = false;
  #cancelled = false;
  /** The answers so far, written in order: each waits for the one before. */
  #tail: Promise<void> = Promise.resolve();
  /** Bytes this stream holds (also counted in `streams`), and whether it has stopped reading for them. */
  #held = 0;
  #paused = false;
  readonly #forget: () => void;
  /** The call is authenticated once: a refused token or scope ends the whole call with its status, no request run. */
  readonly #admitted: Promise<Principal | null>;
  #refused: Failure | undefined;
  #malformed = false;

  constructor(deps: RpcDeps, core: Core, streams: Streams, call: Duplex) {
    this.#deps = deps;
    this.#core = core;
    this.#streams = streams;
    this.#call = call;
    this.#reqId = callRequestId(call.metadata);
    this.#peer = call.getPeer();
    this.#signal = cancellation(call);
    this.#forget = streams.add((why) => this.#drain(why));
    this.#admitted = deps.guard.authenticate(call.metadata, this.#peer, Scopes.predict, 'predict');
    this.#admitted.catch((err: unknown) => {
      const failure = (this.#refused = failureOf(err));
      this.#tail = this.#tail.then(() => this.#finish(failure.code, failure));
    });
  }

  /** A request read from the stream: run now, its answer written after those before it. */
  read(request: ModelInferRequest | MalformedMessage): void {
    if (this.#ended || this.#streams.closing || this.#malformed) return; // taken no more: the status that ends the stream says so
    if (request instanceof MalformedMessage) {
      // The requests before it are answered first; then the stream ends with INVALID_ARGUMENT.
      this.#malformed = true;
      const failure = failureOf(request.error());
      this.#tail = this.#tail.then(() => this.#finish(failure.code, failure));
      return;
    }
    this.#fields.messages = (this.#fields.messages ?? 0) + 1;
    const answer = this.#answer(request);
    const size = requestBytes(request);
    this.#hold(size);
    // The request's bytes give way to its answer's, held until the transport takes them.
    const counted = answer.then((bytes) => {
      if (!this.#ended) this.#hold(bytes.length);
      if (!this.#ended) this.#release(size);
      return bytes;
    });
    this.#tail = this.#tail.then(() => this.#write(counted));
  }

  /** The client half-closed: the stream ends OK once every answer is written. */
  end(): void {
    this.#halfClosed = true;
    void this.#tail.then(() => this.#finish(status.OK));
  }

  cancel(): void {
    this.#cancelled = true;
    this.#finish(status.CANCELLED);
  }

  /** One request's answer, a response or an in-band error; each request is logged and traced as one of its own. */
  #answer(request: ModelInferRequest): Promise<Buffer> {
    const deps = this.#deps;
    const messageStarted = performance.now();
    const own: RpcFields = {};
    // Traced under the caller's context of the call.
    const trace = traceCall(deps.tracer, METHOD, this.#call.metadata, this.#reqId, request.model_name, own);
    return this.#admitted
      .then((principal) => deps.guard.count(principal, this.#peer, 'predict'))
      .then(() => inferOne(this.#core, request, this.#call, own, this.#signal, trace))
      .then(
        (body) => {
          deps.access.write(METHOD, this.#reqId, messageStarted, status.OK, own, { probe: true });
          endCall(trace, status.OK);
          // The stream's own line names the model; trace ids are each request's.
          Object.assign(this.#fields, { ...own, traceId: undefined, spanId: undefined });
          return streamResponse(body);
        },
        (err: unknown) => {
          const failure = failureOf(err);
          this.#fields.errors = (this.#fields.errors ?? 0) + 1;
          deps.access.write(METHOD, this.#reqId, messageStarted, failure.code, own, {
            probe: true,
            fault: failure.fault,
          });
          endCall(trace, failure.code);
          return streamError(serviceError(failure, this.#reqId).details);
        },
      );
  }

  /** Writes an answer in its turn; its bytes are given back once the transport takes them. */
  async #write(counted: Promise<Buffer>): Promise<void> {
    const bytes = await counted;
    if (this.#ended) return;
    if (this.#cancelled || this.#refused !== undefined) return this.#release(bytes.length);
    this.#call.write(bytes, () => {
      if (!this.#ended) this.#release(bytes.length);
    });
  }

  /** A drain: the stream answers what it took, then ends, OK if the client had half-closed, else UNAVAILABLE. */
  async #drain(why: string): Promise<void> {
    await this.#tail;
    if (this.#halfClosed) return this.#finish(status.OK);
    this.#finish(status.UNAVAILABLE, {
      code: status.UNAVAILABLE,
      details: `${why}: this stream ends; send the requests it did not answer on a new one`,
      serval: 'SHUTTING_DOWN',
    });
  }

  #finish(code: status, failure?: Failure): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#forget();
    // Whatever is still counted (answers a cancelled call never sent) is given back.
    this.#streams.wait(this.#throttle, false);
    this.#streams.release(this.#held);
    this.#held = 0;
    this.#deps.access.write(METHOD, this.#reqId, this.#startedAt, code, this.#fields, {
      fault: failure?.fault,
    });
    if (this.#cancelled) return;
    if (failure) this.#call.emit('error', serviceError(failure, this.#reqId));
    else this.#call.end();
  }

  #hold(bytes: number): void {
    this.#held += bytes;
    this.#streams.hold(bytes);
    this.#throttle();
  }

  #release(bytes: number): void {
    this.#held -= bytes;
    this.#streams.release(bytes);
    this.#throttle();
  }

  /** Pauses reading past the stream's bound or all streams'; an arrow, so `streams` knows it by one identity. */
  readonly #throttle = (): void => {
    // Past all streams' bound a stream holding nothing still reads one request at a time: stalled readers that fill
    // the process's bound slow the other streams down, and stop none.
    const over =
      !this.#ended && (this.#held > this.#streams.bounds.stream || (this.#streams.full && this.#held > 0));
    if (over === this.#paused) return;
    this.#paused = over;
    this.#streams.wait(this.#throttle, over);
    if (over) this.#call.pause();
    else this.#call.resume();
  };
}

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
  return (call: Duplex) => {
    const stream = new InferStream(deps, core, streams, call);
    call.on('data', (request: ModelInferRequest | MalformedMessage) => stream.read(request));
    call.on('end', () => stream.end());
    call.on('cancelled', () => stream.cancel());
  };
}
