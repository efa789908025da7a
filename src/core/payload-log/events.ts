// One logged payload as a CloudEvent 1.0 in binary mode, with the attributes and extensions KServe's logger sends
// (so its consumers read ours unchanged), plus the model version, the trace id and a binary body's header length.
import { CloudEvent, HTTP } from 'cloudevents';

export const REQUEST_TYPE = 'org.kubeflow.serving.inference.request';
export const RESPONSE_TYPE = 'org.kubeflow.serving.inference.response';

/** One request or response, as captured on its way. */
export interface PayloadRecord {
  type: typeof REQUEST_TYPE | typeof RESPONSE_TYPE;
  /** Shared by a request and its response. */
  id: string;
  /** When it was captured (ISO 8601). */
  time: string;
  model: string;
  version: string;
  /** The body as it travelled: a string for JSON text, bytes otherwise. */
  body: Buffer | string;
  contentType: string;
  /** The allow-listed request headers, encoded as KServe encodes them. */
  metadata: string;
  traceId?: string | undefined;
  /** A V2 binary body's JSON header length (Inference-Header-Content-Length). */
  headerLength?: number | undefined;
}

/** What every event of this server says of where it comes from. */
export interface EventOrigin {
  source: string;
  namespace: string;
  component: string;
  endpoint: string;
}

/** An event as a sink sends it: the HTTP binary mode's headers (ce-*, content-type) and the body. */
export interface EventMessage {
  headers: Record<string, string>;
  body: Buffer | string;
}

/**
 * The event's headers from the cloudevents package. `strict` checks the event against the specification: a sender
 * checks its first event so (its origin comes from the configuration), and then skips the checks, a third of the
 * cost, for events whose other attributes it makes itself.
 */
export function eventMessage(record: PayloadRecord, origin: EventOrigin, strict = false): EventMessage {
  const event = new CloudEvent(
    {
      specversion: '1.0',
      id: record.id,
      type: record.type,
      source: origin.source,
      time: record.time,
      datacontenttype: record.contentType,
      inferenceservicename: record.model,
      namespace: origin.namespace,
      component: origin.component,
      endpoint: origin.endpoint,
      metadata: record.metadata,
      modelversion: record.version,
      ...(record.traceId === undefined ? {} : { traceid: record.traceId }),
      ...(record.headerLength === undefined ? {} : { jsonheaderlength: String(record.headerLength) }),
    },
    strict,
  );
  // The body goes as it is, not through the event: the package would otherwise encode bytes in base64 first.
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(HTTP.binary(event).headers)) headers[name] = String(value);
  return { headers, body: record.body };
}

/** `x-request-id` → `X-Request-Id`, as Go's net/http names headers (KServe's metadata keys). */
export function canonicalHeader(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** The allow-listed headers present in a request, as KServe's metadata extension: JSON of name → values. */
export function metadataOf(allowed: readonly string[], headers: Readonly<Record<string, unknown>>): string {
  const metadata: Record<string, string[]> = {};
  for (const name of allowed) {
    const value = headers[name];
    const values = (Array.isArray(value) ? value : [value]).filter((v) => typeof v === 'string');
    if (values.length > 0) metadata[canonicalHeader(name)] = values;
  }
  return JSON.stringify(metadata);
}

/** The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`), if it is one. */
export function traceIdOf(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent.trim());
  return match === null || /^0+$/.test(match[1] as string) ? undefined : match[1];
}
