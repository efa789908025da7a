// The spans of one request inside the pipeline, named as Triton's OpenTelemetry mode names them: a span named after
// the model (triton.model_name, triton.model_version, triton.request_id; events REQUEST_START, Serval's INPUTS_END
// once the request is read, processed and checked, QUEUE_START, REQUEST_END) and its "compute" (COMPUTE_START,
// COMPUTE_END; the batch's size and links: the first request's compute span stands for the run and links to every
// request it served, each other request's links to it); an ensemble step is a model span of its composing model under
// the ensemble's. The stages are events, as Triton's timestamps are, not spans: each span costs its making and its
// export, per request. A span is recorded as plain data when it ends (records.ts) and handed on.
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { ServalError } from '../errors.js';
import type { SpanIds, SpanRecord } from './records.js';
import { epochMs, type ModelTrace, type RunRecord, type RunTrace } from './trace.js';

/** Where a traced request's spans come from and go: new ids, and the records of the spans that end. */
export interface SpanWork {
  ids: { generateTraceId(): string; generateSpanId(): string };
  ended(record: SpanRecord): void;
}

const OK = { code: SpanStatusCode.UNSET };

/**
 * Each batched run's compute span (the first traced request's) and the model spans it links to, made once per run by
 * the first of its requests to be told of it, by the run's calls (one array per run).
 */
const runSpans = new WeakMap<readonly RunTrace[], { ids: SpanIds; first: ModelSpan; links: SpanIds[] }>();

function runSpanOf(calls: readonly RunTrace[], work: SpanWork) {
  let run = runSpans.get(calls);
  if (run === undefined) {
    const traced = calls.filter((call) => call instanceof ModelSpan);
    const first = traced[0];
    if (first === undefined) return undefined;
    run = {
      ids: { ...first.ids, spanId: work.ids.generateSpanId() },
      first,
      links: traced.map((c) => c.ids),
    };
    runSpans.set(calls, run);
  }
  return run;
}

export class ModelSpan implements ModelTrace {
  readonly ids: SpanIds;
  #work: SpanWork;
  #parent: SpanIds;
  #reqId: string;
  #name: string;
  #attributes: Attributes;
  #start = epochMs(performance.now());
  #events: SpanRecord['events'];

  constructor(work: SpanWork, parent: SpanIds, name: string, version: string, reqId: string, step?: number) {
    this.#work = work;
    this.#parent = parent;
    this.#reqId = reqId;
    this.#name = name;
    this.ids = { ...parent, spanId: work.ids.generateSpanId() };
    this.#attributes = {
      'triton.model_name': name,
      'triton.model_version': version,
      'triton.request_id': reqId,
      ...(step === undefined ? {} : { 'serval.ensemble.step': step }),
    };
    this.#events = [{ name: 'REQUEST_START', time: this.#start }];
  }

  inputs(): void {
    this.#events.push({ name: 'INPUTS_END', time: epochMs(performance.now()) });
  }

  ran(run: RunRecord): void {
    const { queued, compute, calls } = run;
    this.#events.push({ name: 'QUEUE_START', time: queued });
    let ids: SpanIds = { ...this.ids, spanId: this.#work.ids.generateSpanId() };
    let links: SpanIds[] = [];
    const batch = calls.length > 1 ? runSpanOf(calls, this.#work) : undefined;
    if (batch?.first === this) {
      ids = batch.ids;
      links = batch.links;
    } else if (batch !== undefined) links = [batch.ids];
    this.#work.ended({
      ...ids,
      name: 'compute',
      kind: SpanKind.INTERNAL,
      parent: { spanId: this.ids.spanId, remote: false },
      start: compute.start,
      end: compute.end,
      attributes: { 'serval.batch.size': run.rows, 'serval.batch.requests': calls.length },
      events: [
        { name: 'COMPUTE_START', time: compute.start },
        { name: 'COMPUTE_END', time: compute.end },
      ],
      links,
      status: OK,
    });
  }

  step(name: string, version: string, index: number): ModelTrace {
    return new ModelSpan(this.#work, this.ids, name, version, this.#reqId, index);
  }

  end(cache: string | undefined, error?: unknown): void {
    const attributes = this.#attributes;
    let status: SpanRecord['status'] = OK;
    if (cache !== undefined) attributes['serval.cache'] = cache;
    if (error !== undefined) {
      const code = error instanceof ServalError ? error.code : 'INTERNAL';
      attributes['error.type'] = code;
      status = { code: SpanStatusCode.ERROR, message: code };
    }
    const now = epochMs(performance.now());
    this.#events.push({ name: 'REQUEST_END', time: now });
    this.#work.ended({
      ...this.ids,
      name: this.#name,
      kind: SpanKind.INTERNAL,
      parent: { spanId: this.#parent.spanId, remote: false },
      start: this.#start,
      end: now,
      attributes,
      events: this.#events,
      links: [],
      status,
    });
  }
}
