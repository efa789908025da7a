// Log settings changed at run time in a cluster: every worker applies them at once, and a worker started later gets
// them too. Health probes write their access lines at debug: with log_verbose_level on, each worker's own lines
// show that it applied the setting.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { accessLines, answeredBy, startServer, type Running } from '../server.js';
import { waitFor } from '../wait.js';

describe('log settings in every worker', () => {
  let server: Running;
  before(async () => {
    server = await startServer({ SERVAL_WORKERS: '2', SERVAL_LOG_LEVEL: 'info' }, { workers: 2 });
  });
  after(() => server.child.kill('SIGKILL'));

  /** GET /healthz on fresh connections (the primary spreads them over the workers), with ids `prefix-i`. */
  const probe = async (prefix: string, times = 8) => {
    for (let i = 0; i < times; i++) {
      const res = await fetch(`${server.base}/healthz`, {
        headers: { connection: 'close', 'x-request-id': `${prefix}-${i}` },
      });
      assert.equal(res.status, 200);
    }
  };
  const readyPids = () =>
    server
      .lines()
      .filter((l) => l.msg === 'worker ready')
      .map((l) => l.pid as number);

  it('applies a change in every worker', async () => {
    await probe('quiet');
    // Nothing to wait for when nothing is written: half a second for a line written by mistake to reach the pipe.
    await sleep(500);
    assert.equal(answeredBy(server.lines(), 'quiet').size, 0, 'probes log at debug');
    const res = await fetch(`${server.base}/v2/logging`, {
      method: 'POST',
      body: JSON.stringify({ log_verbose_level: 1 }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { log_verbose_level: number }).log_verbose_level, 1);
    await probe('verbose');
    await waitFor(() => accessLines(server.lines(), 'verbose').length === 8, {
      what: "the 8 probes' lines are written",
    });
    assert.deepEqual(
      answeredBy(server.lines(), 'verbose'),
      new Set(readyPids()),
      'both workers log at debug now',
    );
  });

  it('gives the settings to a worker started after the change', async () => {
    const [first] = readyPids();
    assert.ok(first);
    process.kill(first, 'SIGKILL');
    const started = await waitFor(() => readyPids()[2], {
      what: 'the primary started a new worker',
      timeoutMs: 15_000,
    });
    await probe('later', 12);
    await waitFor(() => accessLines(server.lines(), 'later').length === 12, {
      what: "the 12 probes' lines are written",
    });
    assert.ok(answeredBy(server.lines(), 'later').has(started), 'the new worker logs at debug too');
  });
});
