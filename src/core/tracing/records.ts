// A finished span as the serving thread records it: plain data, which crosses to the export thread in a message, and
// becomes there the SDK's ReadableSpan that its span processors and OTLP exporters take.
import type {
  Attributes,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
  SpanStatusCode,
} from '@opentelemetry/api';
import { hrTimeDuration, millisToHrTime, TraceState, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

/** A span's identity: what a child's parent and a link name. */
export interface SpanIds {
  traceId: string;
  spanId: string;
  traceFlags: number;
  /** The W3C tracestate, serialized. */
  traceState?: string | undefined;
}

export interface SpanRecord extends SpanIds {
  name: string;
  kind: SpanKind;
  /** The parent, in the same trace: a span of this server, or the caller's (remote). */
  parent?: { spanId: string; remote: boolean } | undefined;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  attributes: Attributes;
  /** Named moments, epoch milliseconds. */
  events: { name: string; time: number }[];
  links: SpanIds[];
  status: SpanStatus;
}

/** The instrumentation scope every span of Serval carries (the tracer's name, as the SDK named it). */
const SCOPE: InstrumentationScope = { name: 'serval' };

function contextOf(ids: SpanIds, isRemote = false): SpanContext {
  return {
    traceId: ids.traceId,
    spanId: ids.spanId,
    traceFlags: ids.traceFlags,
    isRemote,
    ...(ids.traceState === undefined ? {} : { traceState: new TraceState(ids.traceState) }),
  };
}

/** The SDK's ReadableSpan of a record, under `resource`. */
export function readableOf(record: SpanRecord, resource: Resource): ReadableSpan {
  const context = contextOf(record);
  const startTime: HrTime = millisToHrTime(record.start);
  const endTime: HrTime = millisToHrTime(record.end);
  const events: TimedEvent[] = record.events.map((e) => ({ name: e.name, time: millisToHrTime(e.time) }));
  const links: Link[] = record.links.map((ids) => ({ context: contextOf(ids) }));
  const { parent } = record;
  return {
    name: record.name,
    kind: record.kind,
    spanContext: () => context,
    ...(parent === undefined
      ? {}
      : { parentSpanContext: contextOf({ ...record, spanId: parent.spanId }, parent.remote) }),
    startTime,
    endTime,
    status: record.status,
    attributes: record.attributes,
    links,
    events,
    duration: hrTimeDuration(startTime, endTime),
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A record as one flat array of strings and numbers: copied to a thread in a third of the time of the object. */
export type WireRecord = (string | number | boolean | undefined)[];

const FIELDS = 12;

export function wireOf(r: SpanRecord): WireRecord {
  const { parent, status } = r;
  const wire: WireRecord = [
    r.name,
    r.kind,
    r.traceId,
    r.spanId,
    r.traceFlags,
    r.traceState,
    parent?.spanId,
    parent?.remote,
    r.start,
    r.end,
    status.code,
    status.message,
  ];
  const names = Object.keys(r.attributes);
  wire.push(names.length);
  for (const name of names) wire.push(name, r.attributes[name] as string | number | boolean);
  wire.push(r.events.length);
  for (const event of r.events) wire.push(event.name, event.time);
  wire.push(r.links.length);
  for (const link of r.links) wire.push(link.traceId, link.spanId, link.traceFlags, link.traceState);
  return wire;
}

export function recordOf(wire: WireRecord): SpanRecord {
  const [
    name,
    kind,
    traceId,
    spanId,
    traceFlags,
    traceState,
    parentSpanId,
    remote,
    start,
    end,
    code,
    message,
  ] = wire as [
    string,
    SpanKind,
    string,
    string,
    number,
    string | undefined,
    string | undefined,
    boolean | undefined,
    number,
    number,
    SpanStatusCode,
    string | undefined,
  ];
  let at = FIELDS;
  const next = () => wire[at++];
  const attributes: Attributes = {};
  for (let n = next() as number; n > 0; n--) attributes[next() as string] = next();
  const events: SpanRecord['events'] = [];
  for (let n = next() as number; n > 0; n--) events.push({ name: next() as string, time: next() as number });
  const links: SpanIds[] = [];
  for (let n = next() as number; n > 0; n--) {
    const [linkTrace, linkSpan, flags, state] = [next(), next(), next(), next()] as [
      string,
      string,
      number,
      string?,
    ];
    links.push({
      traceId: linkTrace,
      spanId: linkSpan,
      traceFlags: flags,
      ...(state === undefined ? {} : { traceState: state }),
    });
  }
  const ids = { traceId, traceFlags, ...(traceState === undefined ? {} : { traceState }) };
  return {
    ...ids,
    spanId,
    name,
    kind,
    parent: parentSpanId === undefined ? undefined : { spanId: parentSpanId, remote: remote === true },
    start,
    end,
    attributes,
    events,
    links,
    status: message === undefined ? { code } : { code, message },
  };
}
