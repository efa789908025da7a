// The spans of one request inside the pipeline, named as Triton's OpenTelemetry mode names them: a span named after
// the model (triton.model_name, triton.model_version, triton.request_id; events REQUEST_START, Serval's INPUTS_END
// once the request is read, processed and checked, QUEUE_START, REQUEST_END) and its "compute" (COMPUTE_START,
// COMPUTE_END; the batch's size, links to every request it served); an ensemble step is a model span of its composing
// model under the ensemble's. The stages are events, as Triton's timestamps are, not spans: each span costs its
// making and its export, per request.
import { SpanStatusCode, trace, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import { ServalError } from '../errors.js';
import { epochMs, type ModelTrace, type RunRecord } from './trace.js';

export class ModelSpan implements ModelTrace {
  readonly span: Span;
  #tracer: Tracer;
  #context: Context;
  #reqId: string;
  #started = epochMs(performance.now());

  constructor(tracer: Tracer, parent: Context, name: string, version: string, reqId: string, step?: number) {
    this.#tracer = tracer;
    this.#reqId = reqId;
    this.span = tracer.startSpan(
      name,
      {
        attributes: {
          'triton.model_name': name,
          'triton.model_version': version,
          'triton.request_id': reqId,
          ...(step === undefined ? {} : { 'serval.ensemble.step': step }),
        },
        startTime: this.#started,
      },
      parent,
    );
    this.span.addEvent('REQUEST_START', this.#started);
    this.#context = trace.setSpan(parent, this.span);
  }

  inputs(): void {
    this.span.addEvent('INPUTS_END', epochMs(performance.now()));
  }

  ran(run: RunRecord): void {
    const { queued, compute } = run;
    this.span.addEvent('QUEUE_START', queued);
    // Every request a batched run served, this one's own span included: the run is the same for all of them.
    const links: Link[] = [];
    if (run.calls.length > 1) {
      for (const call of run.calls)
        if (call instanceof ModelSpan) links.push({ context: call.span.spanContext() });
    }
    const span = this.#tracer.startSpan(
      'compute',
      {
        startTime: compute.start,
        attributes: { 'serval.batch.size': run.rows, 'serval.batch.requests': run.calls.length },
        links,
      },
      this.#context,
    );
    span.addEvent('COMPUTE_START', compute.start);
    span.addEvent('COMPUTE_END', compute.end);
    span.end(compute.end);
  }

  step(name: string, version: string, index: number): ModelTrace {
    return new ModelSpan(this.#tracer, this.#context, name, version, this.#reqId, index);
  }

  end(cache: string | undefined, error?: unknown): void {
    if (cache !== undefined) this.span.setAttribute('serval.cache', cache);
    if (error !== undefined) {
      const code = error instanceof ServalError ? error.code : 'INTERNAL';
      this.span.setAttribute('error.type', code);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    }
    const now = epochMs(performance.now());
    this.span.addEvent('REQUEST_END', now);
    this.span.end(now);
  }
}
