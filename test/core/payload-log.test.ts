// Payload logging's events with a fake sink, read back by the cloudevents package as a receiver reads them: the
// pair of a request and its answer, the modes, the metadata allow-list, and bodies taken from reused memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { pino } from 'pino';
import { traceIdOf, type EventMessage } from '../../src/core/payload-log/events.js';
import { PayloadLog, type PayloadLogMode } from '../../src/core/payload-log/payload-log.js';
import type { SendOutcome } from '../../src/core/payload-log/queue.js';
import { bytesOf, QueueSender } from '../../src/core/payload-log/sender.js';
import type { Sink } from '../../src/core/payload-log/sinks.js';
import { waitFor } from '../wait.js';

const IRIS = { name: 'iris', version: '2' };

/** A payload log whose sink keeps every event, parsed as a CloudEvents receiver parses it. */
function logOf(mode: PayloadLogMode = 'all', headers: string[] = []) {
  const events: CloudEvent<unknown>[] = [];
  const log = budgeted(
    async (message: EventMessage) => {
      events.push(HTTP.toEvent({ headers: message.headers, body: message.body }) as CloudEvent<unknown>);
    },
    { maxEvents: 100, maxBytes: 1 << 20 },
    { mode, headers },
  );
  return { log: log.log, events };
}

/** A payload log over `send` (its sender on this thread) with `budget`, its outcomes tallied. */
function budgeted(
  send: Sink['send'],
  budget: { maxEvents: number; maxBytes: number },
  options: { mode?: PayloadLogMode; headers?: string[] } = {},
) {
  const outcomes: Record<SendOutcome, number> = { sent: 0, dropped: 0, failed: 0 };
  const log = new PayloadLog({
    sender: (settled) =>
      new QueueSender(
        {
          sink: { send, close: async () => undefined },
          origin: {
            source: 'http://localhost:8080/',
            namespace: 'models',
            component: 'predictor',
            endpoint: 'default',
          },
          workers: 2,
          retries: 0,
        },
        settled,
      ),
    mode: options.mode ?? 'all',
    headers: options.headers ?? [],
    budget,
    log: pino({ level: 'silent' }),
    count: (outcome, events) => (outcomes[outcome] += events),
  });
  return { log, outcomes };
}

const JSON_BODY = '{"instances":[[5.1,3.5,1.4,0.2]]}';

describe('payload log events', () => {
  it('sends a request and its answer as KServe does: one ce-id, its types, source and extensions', async () => {
    const { log, events } = logOf();
    const exchange = log.open({ body: JSON_BODY, contentType: 'application/json', headers: {} });
    exchange.request(IRIS);
    exchange.respond(Buffer.from('{"predictions":[0]}'), 'application/json; charset=utf-8');
    await waitFor(() => events.length === 2, { what: 'both events arrive' });
    const [request, response] = events as [CloudEvent<unknown>, CloudEvent<unknown>];
    assert.equal(request.type, 'org.kubeflow.serving.inference.request');
    assert.equal(response.type, 'org.kubeflow.serving.inference.response');
    assert.equal(request.id, response.id);
    assert.match(request.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (const event of events) {
      assert.equal(event.specversion, '1.0');
      assert.equal(event.source, 'http://localhost:8080/');
      assert.ok(!Number.isNaN(Date.parse(event.time as string)));
      assert.equal(event.inferenceservicename, 'iris');
      assert.equal(event.modelversion, '2');
      assert.equal(event.namespace, 'models');
      assert.equal(event.component, 'predictor');
      assert.equal(event.endpoint, 'default');
      assert.equal(event.metadata, '{}');
    }
    assert.deepEqual(request.data, JSON.parse(JSON_BODY), 'the body as the client sent it');
    assert.equal(request.datacontenttype, 'application/json');
    assert.equal(String(response.data), '{"predictions":[0]}');
    assert.equal(response.datacontenttype, 'application/json; charset=utf-8');
  });

  it("takes the request's ce-id and the caller's trace id", async () => {
    const { log, events } = logOf();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const exchange = log.open({
      body: JSON_BODY,
      contentType: 'application/json',
      headers: { 'ce-id': 'order-17', traceparent },
    });
    exchange.request(IRIS);
    exchange.respond('{}', 'application/json');
    await waitFor(() => events.length === 2, { what: 'both events arrive' });
    for (const event of events) {
      assert.equal(event.id, 'order-17');
      assert.equal(event.traceid, '4bf92f3577b34da6a3ce929d0e0e4736');
    }
  });

  it("takes the request's own trace id when the server traces it, over the caller's header", async () => {
    const { log, events } = logOf();
    const exchange = log.open({
      body: JSON_BODY,
      contentType: 'application/json',
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    exchange.request(IRIS, '0af7651916cd43dd8448eb211c80319c');
    exchange.respond('{}', 'application/json');
    await waitFor(() => events.length === 2, { what: 'both events arrive' });
    for (const event of events) assert.equal(event.traceid, '0af7651916cd43dd8448eb211c80319c');
  });

  it('copies only allow-listed headers into metadata, named and encoded as KServe does', async () => {
    const { log, events } = logOf('request', ['X-Request-Id', 'x-tenant', 'x-absent']);
    const exchange = log.open({
      body: JSON_BODY,
      contentType: 'application/json',
      headers: { 'x-request-id': 'r-1', 'x-tenant': ['a', 'b'], 'x-other': 'no', authorization: 'Bearer t' },
    });
    exchange.request(IRIS);
    await waitFor(() => events.length === 1, { what: 'the request event arrives' });
    assert.deepEqual(JSON.parse(events[0]?.metadata as string), {
      'X-Request-Id': ['r-1'],
      'X-Tenant': ['a', 'b'],
    });
  });

  it('logs only requests, or only responses, as the mode says', async () => {
    for (const [mode, types] of [
      ['request', ['org.kubeflow.serving.inference.request']],
      ['response', ['org.kubeflow.serving.inference.response']],
    ] as const) {
      const { log, events } = logOf(mode);
      const exchange = log.open({ body: JSON_BODY, contentType: 'application/json', headers: {} });
      exchange.request(IRIS);
      exchange.respond('{}', 'application/json');
      await log.close(Date.now() + 1000);
      assert.deepEqual(
        events.map((e) => e.type),
        types,
      );
    }
  });

  it('logs no answer for a request that reached no model', async () => {
    const { log, events } = logOf();
    log
      .open({ body: JSON_BODY, contentType: 'application/json', headers: {} })
      .respond('{}', 'application/json');
    await log.close(Date.now() + 1000);
    assert.equal(events.length, 0);
  });

  it('logs a body in reused memory as it was when the request reached its model', async () => {
    const { log, events } = logOf('request');
    const memory = Buffer.from('binary tensors');
    const exchange = log.open({
      body: memory,
      contentType: 'application/octet-stream',
      headers: {},
      headerLength: 6,
    });
    exchange.request(IRIS);
    memory.fill(0); // the next request's body
    await log.close(Date.now() + 1000);
    assert.equal(Buffer.from(events[0]?.data as Uint8Array).toString(), 'binary tensors');
    assert.equal(events[0]?.jsonheaderlength, '6');
  });

  it('holds at most its budget of events, sending or waiting, and drops and counts the rest', async () => {
    const held: (() => void)[] = [];
    const { log, outcomes } = budgeted(() => new Promise<void>((resolve) => held.push(resolve)), {
      maxEvents: 3,
      maxBytes: 1 << 20,
    });
    const exchanges = [0, 1, 2, 3, 4].map(() =>
      log.open({ body: JSON_BODY, contentType: 'application/json', headers: {} }),
    );
    for (const exchange of exchanges) exchange.request(IRIS);
    assert.equal(outcomes.dropped, 2, 'three are held, whether being sent (two) or waiting (one)');
    await waitFor(() => held.length === 2, { what: 'two events are being sent' });
    for (const resolve of held.splice(0)) resolve();
    await waitFor(() => outcomes.sent === 2, { what: 'two are sent' });
    exchanges[0]?.respond('{"predictions":[0]}', 'application/json');
    exchanges[1]?.respond('{"predictions":[0]}', 'application/json');
    exchanges[2]?.respond('{"predictions":[0]}', 'application/json');
    assert.equal(outcomes.dropped, 3, 'the two sent made room for two answers, not three');
    while (outcomes.sent < 5) {
      for (const resolve of held.splice(0)) resolve();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(outcomes, { sent: 5, dropped: 3, failed: 0 });
  });

  it('holds at most its budget of bytes, and takes a smaller event that still fits', async () => {
    const held: (() => void)[] = [];
    const small = '{"instances":[1]}';
    const big = 'x'.repeat(1000);
    const { log, outcomes } = budgeted(() => new Promise<void>((resolve) => held.push(resolve)), {
      maxEvents: 100,
      maxBytes: bytesOf(big) + bytesOf(small),
    });
    const logged = (body: string) => {
      log.open({ body, contentType: 'application/json', headers: {} }).request(IRIS);
      return outcomes.dropped;
    };
    assert.deepEqual([logged(big), logged(big), logged(small), logged(small)], [0, 1, 1, 2]);
    await waitFor(() => held.length === 2, { what: 'both events are being sent' });
    for (const resolve of held.splice(0)) resolve();
    await waitFor(() => outcomes.sent === 2, { what: 'both are sent' });
    assert.equal(logged(big), 2, 'the budget is free again');
    await waitFor(() => held.length === 1, { what: 'the third is being sent' });
    held[0]?.();
    await log.close(Date.now() + 1000);
    assert.deepEqual(outcomes, { sent: 3, dropped: 2, failed: 0 });
  });

  it('reads a trace id only from a valid traceparent', () => {
    assert.equal(
      traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    assert.equal(traceIdOf('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined);
    assert.equal(traceIdOf('not a traceparent'), undefined);
    assert.equal(traceIdOf(undefined), undefined);
  });
});
