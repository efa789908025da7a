// The container image, built and run with the plain docker CLI: what a user of `docker run` relies on.
// Needs a Docker engine (here: eval "$(../shared/container/provision.sh)"); fails without one when CI is set.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  commandExists,
  docker,
  dockerOk,
  engineProblem,
  freePort,
  postJson,
  run,
  waitFor200,
} from './docker.js';
import { grpcClient, irisRequest, outputOf, type InferAnswer } from '../grpc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'serval:test';
const BASE_IMAGE = 'node:24-bookworm-slim';
const MAX_GROWTH_MB = 120;
const HEALTHY_TARGET_MS = 3000; // the goal, printed; fails only past HEALTHY_LIMIT_MS (cold caches, slow CI)
const HEALTHY_LIMIT_MS = 10_000;
const STOP_TIMEOUT_S = 10; // Docker's default, given explicitly: podman's Docker API defaults to 0 (SIGKILL at once)
const SHUTDOWN_GRACE_MS = 8000; // serval.config.json's shutdownGraceMs
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
const IRIS = [5.1, 3.5, 1.4, 0.2];
// /readyz answers for the one worker that got the connection: this many 200s in a row (fresh connections,
// round-robin) mean every worker has loaded its models.
const READY_STREAK = 8;

const ci = !['', '0', 'false', undefined].includes(process.env.CI);
const problem = engineProblem();
const skip =
  problem === undefined
    ? false
    : `no Docker engine (${problem}); run eval "$(../shared/container/provision.sh)" from /work/main first`;
if (problem !== undefined && ci) {
  test('a Docker engine answers `docker info` (required when CI is set)', () => {
    assert.fail(`docker info failed: ${problem}`);
  });
}

const started = new Set<string>();

interface StopReport {
  stopMs: number;
  exitCode: number;
  /** When the last answer (or reset) came, counted from the start of docker stop. */
  lastMs: number;
  failed: { status: number; body: string; at: number }[];
}

/** `docker run -d` of the test image under a unique name, removed by the after hook. */
async function runContainer(suffix: string, args: string[]): Promise<string> {
  const name = `serval-test-${process.pid}-${suffix}`;
  started.add(name);
  await dockerOk(['run', '-d', '--name', name, ...args, IMAGE]);
  return name;
}

async function inspect(name: string, format: string): Promise<string> {
  return dockerOk(['inspect', '-f', format, name]);
}

/** The container's HEALTHCHECK as a command for `docker exec`. */
async function healthcheckCommand(name: string): Promise<string[]> {
  const check = JSON.parse(await inspect(name, '{{json .Config.Healthcheck}}')) as { Test?: string[] } | null;
  const [kind, ...command] = check?.Test ?? [];
  if (kind === 'CMD') return command;
  if (kind === 'CMD-SHELL') return ['sh', '-c', command.join(' ')];
  throw new Error(`no HEALTHCHECK command: ${JSON.stringify(check)}`);
}

describe('the container image', { skip }, () => {
  let name = '';
  let port = 0;
  let grpcPort = 0;
  let healthyMs = 0;
  let mainStreak = READY_STREAK;

  before(
    async () => {
      await dockerOk(['build', '-t', IMAGE, '--build-arg', `VERSION=${VERSION}`, ROOT], 15 * 60_000);
      port = await freePort();
      grpcPort = await freePort();
      const start = performance.now();
      name = await runContainer('main', ['-p', `${port}:50505`, '-p', `${grpcPort}:50506`]);
      await waitFor200(port, '/healthz');
      healthyMs = performance.now() - start;
      // SERVAL_WORKERS=0: one worker per core as the container sees them.
      const cores = await dockerOk(['exec', name, 'node', '-p', 'os.availableParallelism()']);
      mainStreak = Math.max(READY_STREAK, 2 * Number(cores));
    },
    { timeout: 16 * 60_000 },
  );

  after(async () => {
    for (const container of started) await docker(['rm', '-f', '-v', container]);
  });

  test('is at most 120 MB larger than node:24-bookworm-slim', async (t) => {
    const [image = 0, base = 0] = (await dockerOk(['image', 'inspect', '-f', '{{.Size}}', IMAGE, BASE_IMAGE]))
      .split('\n')
      .map(Number);
    const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
    t.diagnostic(`${IMAGE}: ${mb(image)} MB; ${BASE_IMAGE}: ${mb(base)} MB; added: ${mb(image - base)} MB`);
    assert.ok(base > 0 && image > base, `sizes: ${image} and ${base}`);
    assert.ok(image - base <= MAX_GROWTH_MB * 1e6, `the image adds ${mb(image - base)} MB`);
  });

  test('carries the OCI labels, with the version of package.json', async () => {
    const labels = JSON.parse(
      await dockerOk(['image', 'inspect', '-f', '{{json .Config.Labels}}', IMAGE]),
    ) as Record<string, string>;
    assert.equal(labels['org.opencontainers.image.title'], 'serval');
    assert.equal(labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.equal(labels['org.opencontainers.image.version'], VERSION);
    assert.ok('org.opencontainers.image.source' in labels);
    assert.ok(labels['org.opencontainers.image.description']);
  });

  test('answers /healthz soon after docker run', (t) => {
    const verdict = healthyMs < HEALTHY_TARGET_MS ? 'within' : 'OVER';
    t.diagnostic(
      `docker run -> /healthz 200: ${Math.round(healthyMs)} ms (${verdict} the ${HEALTHY_TARGET_MS} ms target)`,
    );
    assert.ok(healthyMs < HEALTHY_LIMIT_MS, `healthy after ${Math.round(healthyMs)} ms`);
  });

  test('declares a HEALTHCHECK on /healthz that passes', async (t) => {
    const command = await healthcheckCommand(name);
    assert.match(command.join(' '), /\/healthz/);
    // The engine's own probe when it is podman (whose periodic checks need systemd); the same command otherwise.
    if (commandExists('podman') && (await run('podman', ['container', 'exists', name])).code === 0) {
      const probe = await run('podman', ['healthcheck', 'run', name]);
      t.diagnostic(`podman healthcheck run: exit ${probe.code} ${probe.stdout.trim()}`);
      assert.equal(probe.code, 0, probe.stderr);
      assert.equal(await inspect(name, '{{.State.Health.Status}}'), 'healthy');
    }
    await dockerOk(['exec', name, ...command]);
  });

  test('GET / names the service and its version', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { name: string; version: string };
    assert.equal(body.name, 'serval');
    assert.equal(body.version, VERSION);
  });

  test('predicts iris from the models baked into the image', async () => {
    await waitFor200(port, '/readyz', mainStreak);
    const res = await fetch(`http://127.0.0.1:${port}/v1/models/iris:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [IRIS] }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { model_name: string; predictions: { label: string }[] };
    assert.equal(body.model_name, 'iris');
    assert.equal(body.predictions[0]?.label, 'setosa');
  });

  test('serves the gRPC service on 50506: health, readiness and an inference', async () => {
    await waitFor200(port, '/readyz', mainStreak);
    const client = grpcClient(`127.0.0.1:${grpcPort}`);
    try {
      assert.deepEqual(await client.call('ServerReady', {}), { ready: true });
      const answer = await client.call<InferAnswer>('ModelInfer', irisRequest({ id: 'c1' }, [IRIS]));
      assert.equal(answer.id, 'c1');
      assert.deepEqual(outputOf(answer, 'label').values, [0n]);
    } finally {
      client.close();
    }
  });

  test('serves the playground: / sends a browser there, the page loads its hashed assets', async () => {
    const root = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    assert.equal(root.status, 303);
    assert.equal(root.headers.get('location'), '/playground');
    const page = await fetch(`http://127.0.0.1:${port}/playground`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/playground\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    assert.equal(assets.length, 2, html);
    for (const asset of assets) {
      const res = await fetch(`http://127.0.0.1:${port}${asset}`);
      assert.equal(res.status, 200, asset);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    }
  });

  test('serves an OpenAPI document with paths', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { paths?: Record<string, unknown> };
    const paths = Object.keys(doc.paths ?? {});
    assert.ok(
      paths.some((path) => path.includes('predict')),
      `paths: ${paths.join(', ')}`,
    );
  });

  test('runs node as PID 1 under a non-root user', async () => {
    assert.equal(await inspect(name, '{{.Config.User}}'), 'node');
    assert.notEqual(await dockerOk(['exec', name, 'id', '-u']), '0');
    const cmdline = await dockerOk(['exec', name, 'cat', '/proc/1/cmdline']);
    assert.equal(cmdline.split('\0').filter(Boolean).join(' '), 'node dist/server.js');
  });

  test('keeps onnxruntime telemetry off (no device id under ~/.cache)', async () => {
    assert.equal(await dockerOk(['exec', name, 'printenv', 'ORT_DISABLE_TELEMETRY']), '1');
    const found = await docker(['exec', name, 'ls', '/home/node/.cache/Microsoft']);
    assert.notEqual(found.code, 0, `telemetry files: ${found.stdout}`);
  });

  test('takes its configuration from SERVAL_* variables', async () => {
    const hostPort = await freePort();
    const configured = await runContainer('env', [
      ...['-p', `${hostPort}:8080`, '-e', 'SERVAL_PORT=8080', '-e', 'SERVAL_WORKERS=1'],
      ...['-e', 'SERVAL_LOG_LEVEL=debug', '-e', 'SERVAL_MAX_INSTANCES=1'],
    ]);
    await waitFor200(hostPort, '/readyz', READY_STREAK);
    const predict = (instances: number[][]): Promise<Response> =>
      fetch(`http://127.0.0.1:${hostPort}/v1/models/iris:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances }),
      });
    assert.equal((await predict([IRIS])).status, 200);
    assert.equal((await predict([IRIS, IRIS])).status, 400);
    // The image's HEALTHCHECK follows SERVAL_PORT.
    await dockerOk(['exec', configured, ...(await healthcheckCommand(configured))]);
    const logs = await docker(['logs', configured]);
    const lines = logs.stdout + logs.stderr;
    assert.match(lines, /"level":20/, 'debug lines (probe requests) appear at SERVAL_LOG_LEVEL=debug');
    assert.doesNotMatch(lines, /starting workers/, 'SERVAL_WORKERS=1 runs without a cluster primary');
  });

  test('exits non-zero naming SERVAL_PORT when it is not a port', async (t) => {
    const failing = await runContainer('badport', ['-e', 'SERVAL_PORT=notaport']);
    const code = Number(await dockerOk(['wait', failing], 30_000));
    const logs = await docker(['logs', failing]);
    t.diagnostic(`exit code ${code}: ${(logs.stdout + logs.stderr).trim()}`);
    assert.notEqual(code, 0);
    assert.match(logs.stdout + logs.stderr, /SERVAL_PORT/);
  });

  /**
   * Starts a container serving the slow fixture model from a volume, sends 20 predictions, waits `settleMs`,
   * runs `docker stop` and reports what every request got.
   */
  async function stopUnderLoad(t: TestContext, suffix: string, settleMs: number): Promise<StopReport> {
    const hostPort = await freePort();
    const container = await runContainer(suffix, [
      ...['-p', `${hostPort}:50505`, '-v', `${ROOT}test/fixtures/models:/models:ro`],
      // Two workers: the cluster path (the primary forwards SIGTERM) at a cost independent of the host's cores.
      ...['-e', 'SERVAL_MODEL_REPOSITORY=/models', '-e', 'SERVAL_WORKERS=2'],
      // One call per request (no dynamic batching), so that the requests are still running at docker stop.
      ...['-e', 'SERVAL_BATCH_MAX_ROWS=1'],
    ]);
    await waitFor200(hostPort, '/readyz', READY_STREAK);
    const payload = { instances: [[1, 2, 3, 4]] };
    const warm = await postJson(hostPort, '/v1/models/heavy:predict', payload).response;
    assert.equal(warm.status, 200, warm.body);

    const requests = Array.from({ length: 20 }, () =>
      postJson(hostPort, '/v1/models/heavy:predict', payload),
    );
    await Promise.all(requests.map((r) => r.written));
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const stopStart = performance.now();
    const stopping = dockerOk(['stop', '-t', String(STOP_TIMEOUT_S), container], 60_000);
    const outcomes = await Promise.all(
      requests.map(async (r) => ({ ...(await r.response), at: performance.now() - stopStart })),
    );
    await stopping;
    const report = {
      stopMs: performance.now() - stopStart,
      exitCode: Number(await inspect(container, '{{.State.ExitCode}}')),
      lastMs: Math.max(...outcomes.map((o) => o.at)),
      failed: outcomes.filter((o) => o.status !== 200),
    };
    t.diagnostic(
      `docker stop ${settleMs} ms after the last request was sent: took ${Math.round(report.stopMs)} ms, ` +
        `exit code ${report.exitCode}; ${outcomes.length - report.failed.length}/${outcomes.length} got 200, ` +
        `the last ${Math.round(report.lastMs)} ms after docker stop began`,
    );
    for (const o of report.failed) {
      t.diagnostic(
        `not 200, ${Math.round(o.at)} ms after docker stop began: ${o.status} ${o.body.slice(0, 200)}`,
      );
    }
    if (report.failed.length > 0) {
      const logs = await docker(['logs', container]);
      const lines = (logs.stdout + logs.stderr).split('\n').filter((line) => !line.includes('"status":200'));
      t.diagnostic(`container log, 200s left out:\n${lines.slice(-12).join('\n')}`);
    }
    return report;
  }

  test('serves a mounted model and finishes in-flight requests on docker stop, exiting 0', async (t) => {
    // 300 ms: every connection has reached a worker; ~10 of the 20 (80 ms each, 2 at a time) are still running.
    const { exitCode, stopMs, lastMs, failed } = await stopUnderLoad(t, 'drain', 300);
    assert.equal(exitCode, 0);
    assert.ok(stopMs < SHUTDOWN_GRACE_MS + 1000, `docker stop took ${Math.round(stopMs)} ms`);
    assert.ok(lastMs > 200, 'requests were still being answered well after docker stop began');
    assert.deepEqual(failed, [], 'every request in flight at docker stop completes with 200');
  });

  // The shutdown delay (shutdownDelayMs) keeps the workers accepting for a second after SIGTERM, so that
  // connections the cluster primary accepted but had not yet handed over are served, not reset.
  test('answers every request sent just before docker stop', async (t) => {
    const { exitCode, failed } = await stopUnderLoad(t, 'burst', 0);
    assert.equal(exitCode, 0);
    assert.deepEqual(failed, [], 'every request sent before docker stop completes with 200');
  });
});
