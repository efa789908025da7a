// Payload logging's sinks end to end: an HTTP sink that is down, hangs or fails costs clients nothing and its lost
// events are counted; SIGTERM sends what is queued before the process exits; a Redis stream takes every event,
// capped in length, for a consumer group to read.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { Redis } from 'ioredis';
import { freePort, redisSkip, startRedis, type RunningRedis } from '../helpers.js';
import { payloadEvents, startReceiver, type Behaviour, type Receiver } from '../receiver.js';
import { startServer, type Running } from '../server.js';
import { waitFor } from '../wait.js';

const V1_BODY = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });

/** `n` V1 predictions one after another, with ids `prefix-i`; each must answer 200. Resolves with the time taken. */
async function predictions(base: string, n: number, prefix: string): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/v1/models/iris:predict`, {
      method: 'POST',
      body: V1_BODY,
      headers: { 'content-type': 'application/json', 'ce-id': `${prefix}-${i}` },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  return performance.now() - started;
}

/** One event sender that waits half a second for an answer and retries once; room for four waiting events. */
const TIGHT = {
  SERVAL_WORKERS: '1',
  SERVAL_PAYLOAD_LOG_WORKERS: '1',
  SERVAL_PAYLOAD_LOG_RETRIES: '1',
  SERVAL_PAYLOAD_LOG_TIMEOUT_MS: '500',
  SERVAL_PAYLOAD_LOG_QUEUE_EVENTS: '4',
};

for (const sink of ['down', 'hang', 'fail'] as const) {
  describe(`a payload log sink that is ${sink === 'down' ? 'down' : sink === 'hang' ? 'hung' : 'failing'}`, () => {
    let receiver: Receiver | undefined;
    let server: Running;
    before(async () => {
      let url = `http://127.0.0.1:${await freePort()}/`;
      if (sink !== 'down') {
        receiver = await startReceiver(sink satisfies Behaviour);
        url = receiver.url;
      }
      server = await startServer({ ...TIGHT, SERVAL_PAYLOAD_LOG_URL: url });
    });
    after(async () => {
      server.child.kill('SIGKILL');
      await receiver?.close();
    });

    it('answers every request at once, and counts the events dropped and lost', async () => {
      // Twenty requests that each waited for a half-second sink would take ten seconds.
      const took = await predictions(server.base, 20, sink);
      assert.ok(took < 5000, `20 predictions took ${Math.round(took)} ms`);
      const counts = await waitFor(
        async () => {
          const c = await payloadEvents(server.base);
          return (c.dropped ?? 0) > 0 && (c.failed ?? 0) > 0 && c;
        },
        { what: 'events are counted as dropped and as failed' },
      );
      assert.equal(counts.sent, 0);
      if (receiver) assert.ok(receiver.posts() > 0, 'the sink was tried');
      assert.match(server.log(), /payload log: events dropped, the queue is full/);
    });
  });
}

describe('payload logging at SIGTERM', () => {
  it('sends the queued events before the process exits', async () => {
    const receiver = await startReceiver('slow');
    try {
      const server = await startServer({
        SERVAL_WORKERS: '1',
        SERVAL_SHUTDOWN_DELAY_MS: '0',
        SERVAL_PAYLOAD_LOG_WORKERS: '1',
        SERVAL_PAYLOAD_LOG_URL: receiver.url,
      });
      await predictions(server.base, 10, 'term');
      assert.ok(receiver.events.length < 20, 'a slow sink has not taken every event yet');
      const exited = once(server.child, 'exit');
      server.child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      assert.equal(receiver.events.length, 20, 'every request and answer arrived');
    } finally {
      await receiver.close();
    }
  });
});

describe('payload logging to a Redis stream', { skip: redisSkip() }, () => {
  let redis: RunningRedis;
  let client: Redis;
  let server: Running;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    server = await startServer({
      SERVAL_WORKERS: '1',
      SERVAL_REDIS_URL: redis.url,
      SERVAL_PAYLOAD_LOG_URL: 'redis-stream://serval:payloads',
      SERVAL_PAYLOAD_LOG_STREAM_MAX_LENGTH: '10',
    });
  });
  after(async () => {
    server.child.kill('SIGKILL');
    client.disconnect();
    await redis.stop();
  });

  /** A stream entry's fields as the event it carries: its headers and its data. */
  const eventOf = (fields: string[]): CloudEvent<unknown> => {
    const headers: Record<string, string> = {};
    let body = '';
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'data') body = fields[i + 1] as string;
      else headers[fields[i] as string] = fields[i + 1] as string;
    }
    return HTTP.toEvent({ headers, body }) as CloudEvent<unknown>;
  };

  it('adds each request and answer to the stream, which a consumer group reads', async () => {
    await client.xgroup('CREATE', 'serval:payloads', 'monitors', '$', 'MKSTREAM');
    await predictions(server.base, 2, 'stream');
    // XREADGROUP answers null when nothing is new.
    const read = async () =>
      (await client.xreadgroup(
        'GROUP',
        'monitors',
        'drift',
        'COUNT',
        10,
        'STREAMS',
        'serval:payloads',
        '>',
      )) as [string, [string, string[]][]][] | null;
    const entries: [string, string[]][] = [];
    await waitFor(
      async () => {
        for (const [, got] of (await read()) ?? []) entries.push(...got);
        return entries.length === 4;
      },
      { what: 'the group reads four entries' },
    );
    const events = entries.map(([, fields]) => eventOf(fields));
    const request = events.find((e) => e.id === 'stream-0' && e.type.endsWith('.request'));
    const response = events.find((e) => e.id === 'stream-0' && e.type.endsWith('.response'));
    assert.deepEqual(request?.data, JSON.parse(V1_BODY));
    assert.equal((response?.data as { model_name: string }).model_name, 'iris');
    assert.equal(request?.inferenceservicename, 'iris');
  });

  it('keeps the stream near its length cap', async () => {
    await predictions(server.base, 150, 'cap');
    await waitFor(async () => (await payloadEvents(server.base)).sent === 304, {
      what: 'every event is sent',
    });
    const length = await client.xlen('serval:payloads');
    // MAXLEN ~ trims whole nodes of the stream (100 entries by default), never below the cap.
    assert.ok(length >= 10 && length < 200, `the stream holds ${length} of 304 entries`);
  });
});
