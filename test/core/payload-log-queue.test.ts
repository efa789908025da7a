// The payload log's queue with fake sinks: a few senders at once, retries with backoff, every outcome counted, and a
// close that sends what it can before its deadline and gives up the rest. (Its bounds are the payload log's budget.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendQueue, type QueueOptions, type SendOutcome } from '../../src/core/payload-log/queue.js';
import { waitFor } from '../wait.js';

/** A queue over `send`, with its outcomes tallied. */
function queueOf(send: QueueOptions<number>['send'], options: Partial<QueueOptions<number>> = {}) {
  const outcomes: Record<SendOutcome, number> = { sent: 0, dropped: 0, failed: 0 };
  const queue = new SendQueue<number>({
    workers: 2,
    retries: 2,
    backoffMs: 5,
    maxBackoffMs: 20,
    send,
    outcome: (outcome) => outcomes[outcome]++,
    ...options,
  });
  return { queue, outcomes };
}

/** A sink that holds every event until released, and says how many it holds at once. */
function heldSink() {
  const held: (() => void)[] = [];
  let most = 0;
  const received: number[] = [];
  const send = (item: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      received.push(item);
      held.push(resolve);
      most = Math.max(most, held.length);
      signal.addEventListener('abort', () => reject(new Error('given up')));
    });
  return {
    send,
    received,
    held,
    most: () => most,
    release: () => {
      for (const resolve of held.splice(0)) resolve();
    },
  };
}

/** Releases what the sink holds until `n` events are sent. */
async function sendAll(sink: ReturnType<typeof heldSink>, outcomes: Record<SendOutcome, number>, n: number) {
  while (outcomes.sent < n) {
    sink.release();
    await waitFor(() => sink.held.length > 0 || outcomes.sent === n, { what: `${n} events are sent` });
  }
}

describe('payload log queue', () => {
  it('sends every event, no more than `workers` at once', async () => {
    const sink = heldSink();
    const { queue, outcomes } = queueOf(sink.send, { workers: 3 });
    for (let i = 0; i < 10; i++) assert.equal(queue.push(i), true);
    await waitFor(() => sink.held.length === 3, { what: 'three events are being sent' });
    await sendAll(sink, outcomes, 10);
    assert.equal(sink.most(), 3);
    assert.deepEqual(sink.received, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(outcomes, { sent: 10, dropped: 0, failed: 0 });
  });

  it('retries an event the sink refused, then sends it once', async () => {
    let attempts = 0;
    const { queue, outcomes } = queueOf(async () => {
      attempts++;
      if (attempts < 3) throw new Error('500');
    });
    queue.push(1);
    await waitFor(() => outcomes.sent === 1, { what: 'the event is sent on its third try' });
    assert.equal(attempts, 3);
    assert.deepEqual(outcomes, { sent: 1, dropped: 0, failed: 0 });
  });

  it('counts an event as failed once its retries are spent, and goes on with the next', async () => {
    const tries = new Map<number, number>();
    const { queue, outcomes } = queueOf(
      async (item) => {
        tries.set(item, (tries.get(item) ?? 0) + 1);
        if (item === 1) throw new Error('refused');
      },
      { retries: 3, workers: 1 },
    );
    queue.push(1);
    queue.push(2);
    await waitFor(() => outcomes.failed === 1 && outcomes.sent === 1, { what: 'one failed, one sent' });
    assert.equal(tries.get(1), 4, 'the first try and three retries');
    assert.equal(tries.get(2), 1);
  });

  it('waits longer before each retry', async () => {
    const at: number[] = [];
    const { queue, outcomes } = queueOf(
      async () => {
        at.push(performance.now());
        throw new Error('down');
      },
      { retries: 3, backoffMs: 20, maxBackoffMs: 1000 },
    );
    queue.push(1);
    await waitFor(() => outcomes.failed === 1, { what: 'the event has failed' });
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // Jitter keeps each wait between half and all of 20, 40, 80 ms.
    assert.ok((gaps[0] as number) >= 9 && (gaps[2] as number) >= 39, `gaps ${gaps.join(', ')}`);
  });

  it('sends what is queued when closed, then takes nothing more', async () => {
    const sent: number[] = [];
    const { queue, outcomes } = queueOf(async (item) => void sent.push(item));
    for (let i = 0; i < 5; i++) queue.push(i);
    await queue.close(Date.now() + 5000);
    assert.deepEqual(sent, [0, 1, 2, 3, 4]);
    assert.equal(queue.push(5), false);
    assert.deepEqual(outcomes, { sent: 5, dropped: 1, failed: 0 });
  });

  it('gives up at the close deadline what a hung sink has not taken', async () => {
    const sink = heldSink();
    const { queue, outcomes } = queueOf(sink.send, { workers: 2 });
    for (let i = 0; i < 5; i++) queue.push(i);
    const started = Date.now();
    await queue.close(started + 200);
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 1000, `closed after ${took} ms`);
    assert.deepEqual(outcomes, { sent: 0, dropped: 3, failed: 2 }, 'two were being sent, three waited');
  });
});
