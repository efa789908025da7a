// Stopping: a SIGTERM to the whole process group (systemd, supervisord, `kill -- -PGID`) and a double SIGTERM to the
// primary, with 50 requests in flight: every one answered, exit 0, every time.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_MODELS, freePort, ROOT, tempRepository } from '../helpers.js';
import { takenIn } from '../server.js';
import { waitFor } from '../wait.js';

/** One POST on a fresh connection (spread over the workers); resolves with the status, 0 when the call failed. */
function post(base: string, path: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      base + path,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function start(repo: string): Promise<{ child: ChildProcess; base: string; log: () => string }> {
  const port = await freePort();
  // detached: the server leads a process group of its own, as under systemd or supervisord.
  const child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      SERVAL_PORT: String(port),
      SERVAL_GRPC_PORT: String(await freePort()),
      SERVAL_HOST: '127.0.0.1',
      SERVAL_WORKERS: '2',
      SERVAL_MODEL_REPOSITORY: repo,
      SERVAL_BATCH_MAX_ROWS: '1',
      SERVAL_LOG_LEVEL: 'info',
      SERVAL_SHUTDOWN_DELAY_MS: '200',
      // 50 heavy calls queue for seconds on a busy machine: none may be refused for the wait (this is about draining).
      SERVAL_INFERENCE_TIMEOUT_MS: '60000',
      SERVAL_SHUTDOWN_GRACE_MS: '90000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(() => (out.match(/"worker ready"/g) ?? []).length >= 2, {
    what: () => `2 workers are ready (log: ${out})`,
    timeoutMs: 10_000,
  });
  assert.equal((out.match(/"worker ready"/g) ?? []).length, 2, out);
  return { child, base, log: () => out };
}

const heavy = JSON.stringify({ instances: [[1, 2, 3, 4]] });

describe('stop signals with requests in flight', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await tempRepository({ 'heavy/1': { from: join(FIXTURE_MODELS, 'heavy/1') } });
  });
  after(() => repo.cleanup());

  const group = (signal: NodeJS.Signals) => (child: ChildProcess) =>
    process.kill(-(child.pid as number), signal);
  const ways: [string, (child: ChildProcess) => void, number][] = [
    ['a SIGTERM to the whole process group', group('SIGTERM'), 2],
    [
      'two SIGTERMs to the primary',
      (child) => {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGTERM'), 20); // the second a moment later, as an impatient operator sends it
      },
      1,
    ],
    ['a SIGINT to the whole group (Ctrl-C)', group('SIGINT'), 1],
  ];
  for (const [name, signal, rounds] of ways) {
    for (let round = 1; round <= rounds; round++) {
      it(`answers all 50 in-flight requests and exits 0 after ${name} (round ${round})`, async () => {
        const server = await start(repo.root);
        const inFlight = Array.from({ length: 50 }, () =>
          post(server.base, '/v1/models/heavy:predict', heavy),
        );
        // Two workers take about 2 s for them, one at a time: the signal comes once all 50 are taken in.
        await waitFor(async () => (await takenIn(server.base, 'heavy')) >= 50, {
          what: 'the workers have taken in the 50 requests',
        });
        const exited = once(server.child, 'exit');
        signal(server.child);
        const statuses = await Promise.all(inFlight);
        const [code] = (await exited) as [number | null];
        assert.deepEqual(
          statuses.filter((s) => s !== 200),
          [],
          `statuses ${JSON.stringify(statuses)}\n${server.log().slice(-3000)}`,
        );
        assert.equal(code, 0, server.log().slice(-3000));
        assert.doesNotMatch(server.log(), /worker died|Napi::Error|exiting/);
      });
    }
  }
});

describe('npm start', () => {
  it('builds nothing when dist/ is current, and stops with the server when npm itself is signalled', async () => {
    const stamp = statSync(join(ROOT, 'dist/.build-stamp')).mtimeMs;
    const port = await freePort();
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        SERVAL_PORT: String(port),
        SERVAL_GRPC_PORT: String(await freePort()),
        SERVAL_HOST: '127.0.0.1',
        SERVAL_WORKERS: '2',
      },
      stdio: 'ignore',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      () =>
        fetch(`${base}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      { what: 'npm start serves', timeoutMs: 10_000 },
    );
    assert.equal(statSync(join(ROOT, 'dist/.build-stamp')).mtimeMs, stamp, 'no rebuild of a current dist/');
    const exited = once(npm, 'exit');
    npm.kill('SIGTERM'); // npm's own pid, as `kill <pid of npm>` does
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    await assert.rejects(fetch(`${base}/healthz`), 'nothing is left listening');
    assert.throws(() => process.kill(-(npm.pid as number), 0), 'no process of its group is left');
  });
});
