// The primary tells each worker how many other workers run inference, as they start and stop and when one dies.
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import pino from 'pino';
import { PrimaryHub } from '../../src/process/ipc.js';

/** A cluster worker as the hub sees one: its messages, and what the primary sent it. */
function fakeWorker(id: number) {
  const worker = Object.assign(new EventEmitter(), {
    id,
    sent: [] as unknown[],
    send(message: unknown) {
      worker.sent.push(message);
      return true;
    },
    isConnected: () => true,
    process: { pid: 1000 + id },
  });
  return worker;
}

/** The last count of other busy workers the primary sent. */
const othersBusy = (worker: ReturnType<typeof fakeWorker>) =>
  (
    worker.sent.filter((m) => (m as { serval: string }).serval === 'others-busy').at(-1) as
      { count: number } | undefined
  )?.count;

describe('PrimaryHub: the cores shared by the workers', () => {
  it('tells every worker how many others run inference', () => {
    const hub = new PrimaryHub({ log: pino({ level: 'silent' }) });
    const [a, b, c] = [fakeWorker(1), fakeWorker(2), fakeWorker(3)];
    for (const w of [a, b, c]) hub.attach(w as unknown as Worker);
    a.emit('message', { serval: 'busy', busy: true });
    assert.deepEqual([othersBusy(a), othersBusy(b), othersBusy(c)], [0, 1, 1]);
    b.emit('message', { serval: 'busy', busy: true });
    assert.deepEqual([othersBusy(a), othersBusy(b), othersBusy(c)], [1, 1, 2]);
    a.emit('message', { serval: 'busy', busy: false });
    assert.deepEqual([othersBusy(a), othersBusy(b), othersBusy(c)], [1, 0, 1]);
  });

  it('tells a worker that starts serving how many others run inference', () => {
    const hub = new PrimaryHub({ log: pino({ level: 'silent' }) });
    const [a, b] = [fakeWorker(1), fakeWorker(2)];
    hub.attach(a as unknown as Worker);
    a.emit('message', { serval: 'busy', busy: true });
    hub.attach(b as unknown as Worker);
    b.emit('message', { serval: 'serving' });
    assert.equal(othersBusy(b), 1);
  });

  it('says nothing when a worker repeats itself, and counts a worker that died as idle', () => {
    const hub = new PrimaryHub({ log: pino({ level: 'silent' }) });
    const [a, b] = [fakeWorker(1), fakeWorker(2)];
    for (const w of [a, b]) hub.attach(w as unknown as Worker);
    a.emit('message', { serval: 'busy', busy: true });
    const sent = b.sent.length;
    a.emit('message', { serval: 'busy', busy: true });
    assert.equal(b.sent.length, sent);
    a.emit('exit', 1);
    assert.equal(othersBusy(b), 0);
  });
});
