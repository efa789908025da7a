// The payload log's sender thread as the server runs it: events sent to a real loopback HTTP receiver from the thread,
// and a thread that fails, whose events are all accounted for (settled as failed or dropped), never left held.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { REQUEST_TYPE, type PayloadRecord } from '../../src/core/payload-log/events.js';
import type { SendOutcome } from '../../src/core/payload-log/queue.js';
import { bytesOf, ThreadSender } from '../../src/core/payload-log/sender.js';
import { testConfig } from '../helpers.js';
import { waitFor } from '../wait.js';

const record = (id: string, body: string | Buffer = '{"instances":[[1,2,3,4]]}'): PayloadRecord => ({
  type: REQUEST_TYPE,
  id,
  time: new Date().toISOString(),
  model: 'iris',
  version: '1',
  body,
  contentType: 'application/json',
  metadata: '{}',
});

/** A sender thread for `url`, with what it settled tallied (events and bytes by outcome). */
function senderTo(url: string) {
  const settled: Record<SendOutcome, { events: number; bytes: number }> = {
    sent: { events: 0, bytes: 0 },
    dropped: { events: 0, bytes: 0 },
    failed: { events: 0, bytes: 0 },
  };
  const errors: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  const sender = new ThreadSender(
    testConfig({ payloadLogUrl: url, payloadLogRetries: 0 }),
    (outcome, events, bytes) => {
      settled[outcome].events += events;
      settled[outcome].bytes += bytes;
    },
    log,
  );
  const total = () => settled.sent.events + settled.dropped.events + settled.failed.events;
  return { sender, settled, errors, total };
}

describe('the payload log sender thread', () => {
  it('posts each record from its thread as a CloudEvent, bytes as they were, and says what it sent', async (t) => {
    const received: { id: string | undefined; body: string }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ id: req.headers['ce-id'] as string, body: Buffer.concat(chunks).toString() });
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.after(() => receiver.close());
    const { port } = receiver.address() as AddressInfo;
    const { sender, settled } = senderTo(`http://127.0.0.1:${port}/`);
    const records = [record('a'), record('b', Buffer.from('{"bytes":true}'))];
    sender.send(records);
    await waitFor(() => settled.sent.events === 2, { what: 'both events are sent' });
    await sender.close(Date.now() + 1000);
    assert.deepEqual(received.map((r) => r.id).sort(), ['a', 'b']);
    assert.equal(received.find((r) => r.id === 'b')?.body, '{"bytes":true}');
    assert.equal(settled.sent.bytes, bytesOf(records[0]!.body) + bytesOf(records[1]!.body));
  });

  it('settles every event it held as failed when its thread fails, and drops what comes after', async () => {
    // A URL the thread cannot make a sink of: it fails as it starts.
    const { sender, settled, errors, total } = senderTo('http://[::1');
    sender.send([record('a'), record('b')]);
    await waitFor(() => total() === 2, { what: 'both events are settled' });
    assert.equal(settled.failed.events + settled.dropped.events, 2);
    assert.equal(settled.sent.events, 0);
    sender.send([record('c')]);
    await waitFor(() => total() === 3, { what: 'the next event is settled at once' });
    assert.equal(settled.dropped.events + settled.failed.events, 3);
    assert.match(errors.join(''), /the sender thread failed/);
    await sender.close(Date.now() + 1000);
  });
});
