// End to end: the built server as a real process (2 workers) over real HTTP (V1 and binary V2), including SIGTERM draining.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_MODELS, freePort, MODELS, ROOT, redisSkip, startRedis, tempRepository } from '../helpers.js';
import { binaryRequest, rawBytes, readResponse } from '../oip.js';
import { accessLines, answeredBy, startServer, takenIn, type Running } from '../server.js';
import { waitFor } from '../wait.js';

const workersReady = (server: Running) => server.lines().filter((l) => l.msg === 'worker ready');

/** Waits until `count` workers have logged that they are ready (each loads its own models). */
async function waitForWorkers(server: Running, count: number): Promise<void> {
  await waitFor(() => workersReady(server).length >= count, {
    what: `${count} workers have logged "worker ready"`,
    timeoutMs: 10_000,
  });
  assert.equal(workersReady(server).length, count);
}

const heavyBody = JSON.stringify({ instances: [[1, 2, 3, 4]] });
const post = (base: string, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('the built server over real HTTP', () => {
  let server: Running;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await tempRepository({
      'iris/1': { from: join(MODELS, 'iris/1') },
      'heavy/1': { from: join(FIXTURE_MODELS, 'heavy/1') },
    });
    cleanup = repo.cleanup;
    server = await startServer({
      SERVAL_WORKERS: '2',
      SERVAL_MODEL_REPOSITORY: repo.root,
      SERVAL_LOG_LEVEL: 'info',
    });
    await waitForWorkers(server, 2);
  });
  after(async () => {
    server.child.kill('SIGKILL');
    await cleanup();
  });

  it('answers GET / and predicts Iris, with a request id and one access line without the body', async () => {
    const root = await fetch(server.base + '/');
    assert.equal(root.status, 200);
    assert.equal(((await root.json()) as { name: string }).name, 'serval');
    const res = await post(
      server.base,
      '/v1/models/iris:predict',
      JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
      {
        'x-request-id': 'e2e-1',
        authorization: 'Bearer secret-token-e2e',
      },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'e2e-1');
    assert.equal(
      ((await res.json()) as { predictions: { label: string }[] }).predictions[0]?.label,
      'setosa',
    );
    // The worker writes its access line once it has answered: it reaches the pipe a moment after the answer.
    await waitFor(() => accessLines(server.lines(), 'e2e-1').length > 0, {
      what: 'the access line is written',
    });
    const access = server.lines().filter((l) => l.reqId === 'e2e-1');
    assert.equal(access.length, 1);
    const [line] = access as [Record<string, unknown>];
    assert.equal(line.route, '/v1/models/:model:predict');
    assert.equal(line.status, 200);
    assert.equal(line.model, 'iris');
    assert.equal(line.instances, 1);
    assert.equal(typeof line.ms, 'number');
    const all = JSON.stringify(server.lines());
    assert.doesNotMatch(all, /secret-token-e2e/);
    assert.doesNotMatch(all, /5\.1,3\.5/);
  });

  it('answers binary V2 requests sent without a Content-Type from both workers, each with its own rows', async () => {
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
      [5.7, 2.8, 4.1, 1.3],
    ];
    const species = [0n, 2n, 1n];
    const calls = Array.from({ length: 30 }, (_, i) => {
      const row = rows[i % 3]!;
      const { payload, headers } = binaryRequest(
        [{ name: 'input', datatype: 'FP32', shape: [1, 4], bytes: rawBytes(Float32Array.from(row)) }],
        { id: `b${i}`, outputs: [{ name: 'label', parameters: { binary_data: true } }] },
      );
      return postRaw(server.base, '/v2/models/iris/infer', payload, {
        ...headers,
        'x-request-id': `v2-${i}`,
      });
    });
    const answers = await Promise.all(calls);
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200, answer.body.toString());
      const { json } = readResponse(answer.body, answer.headers['inference-header-content-length']);
      assert.equal(json.id, `b${i}`);
      const label = new BigInt64Array(new Uint8Array(json.outputs[0]!.bytes!).buffer)[0];
      assert.equal(label, species[i % 3], `request ${i}`);
    });
    await waitFor(() => accessLines(server.lines(), 'v2-').length === 30, {
      what: '30 access lines are written',
    });
    const pids = answeredBy(server.lines(), 'v2-');
    assert.equal(pids.size, 2, 'both workers answered');
  });

  it('replaces a worker that dies and keeps serving', async () => {
    const workers = workersReady(server).map((l) => l.pid as number);
    process.kill(workers[0]!, 'SIGKILL');
    await waitForWorkers(server, 3);
    assert.ok(server.lines().some((l) => l.msg === 'worker died; starting a new one'));
    for (let i = 0; i < 4; i++) assert.equal((await fetch(server.base + '/healthz')).status, 200);
  });

  it('drains in-flight requests on SIGTERM and exits 0', async () => {
    const before = await takenIn(server.base, 'heavy');
    const inFlight = Array.from({ length: 6 }, () =>
      post(server.base, '/v1/models/heavy:predict', heavyBody),
    );
    // Three per worker take about 240 ms on their threads: SIGTERM comes once all six are taken in.
    await waitFor(async () => (await takenIn(server.base, 'heavy')) - before >= 6, {
      what: 'the workers have taken in the 6 requests',
    });
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    // During the shutdown delay the server still accepts, but says it is not ready.
    const readiness = await waitFor(
      async () => {
        const res = await fetch(server.base + '/readyz');
        return res.status !== 200 && res;
      },
      { what: '/readyz stops answering 200' },
    );
    assert.equal(readiness.status, 503);
    assert.match(((await readiness.json()) as { error: string }).error, /shutting down/);
    const responses = await Promise.all(inFlight);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    await assert.rejects(fetch(server.base + '/healthz'));
  });
});

/** One POST of raw bytes on a fresh connection (no Content-Type unless given), as tritonclient sends it. */
function postRaw(
  base: string,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method: 'POST', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One POST on a fresh connection, so that the cluster spreads requests over its workers. */
function postFresh(base: string, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      base + path,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('a rate limit shared through Redis by 2 worker processes', { skip: redisSkip() }, () => {
  it('lets exactly the limit through, whichever worker answers', async (t) => {
    const redis = await startRedis();
    const server = await startServer({
      SERVAL_WORKERS: '2',
      SERVAL_LOG_LEVEL: 'info',
      SERVAL_RATE_LIMIT_ENABLED: 'true',
      SERVAL_RATE_LIMIT_PREDICT_MAX: '6',
      SERVAL_REDIS_URL: redis.url,
    });
    t.after(async () => {
      server.child.kill('SIGKILL');
      await redis.stop();
    });
    await waitForWorkers(server, 2);
    const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push(await postFresh(server.base, '/v1/models/iris:predict', body));
    assert.equal(statuses.filter((s) => s === 200).length, 6, String(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 6, String(statuses));
    const predictions = () => server.lines().filter((l) => l.route === '/v1/models/:model:predict');
    await waitFor(() => predictions().length === 12, { what: '12 access lines are written' });
    const answeredBy = new Set(predictions().map((l) => l.pid));
    assert.equal(answeredBy.size, 2, 'both workers answered');
  });
});

/** Starts the built server with `env`; resolves with its exit code and stderr once it stops by itself. */
async function startAndExit(env: Record<string, string>): Promise<{ code: number; err: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVAL_HOST: '127.0.0.1',
      SERVAL_PORT: String(await freePort()),
      SERVAL_GRPC_PORT: String(await freePort()),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, err };
}

describe('startup with a bad configuration: exit 78 (EX_CONFIG), the reason named', () => {
  it('names the variable of a bad value', async () => {
    const { code, err } = await startAndExit({ SERVAL_PORT: 'not-a-port' });
    assert.equal(code, 78);
    assert.match(err, /SERVAL_PORT/);
  });

  it('stops when the model repository does not exist (it would be live and never ready)', async () => {
    const { code, err } = await startAndExit({ SERVAL_MODEL_REPOSITORY: '/nonexistent/models' });
    assert.equal(code, 78);
    assert.match(err, /modelRepository "\/nonexistent\/models" does not exist/);
  });

  it('stops when the algorithms cannot verify with the key, also from two workers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-keys-'));
    const file = join(dir, 'public.pem');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(file, publicKey.export({ type: 'spki', format: 'pem' }));
    for (const workers of ['1', '2']) {
      const { code, err } = await startAndExit({
        SERVAL_WORKERS: workers,
        SERVAL_AUTH_ENABLED: 'true',
        SERVAL_JWT_PUBLIC_KEY_FILE: file,
        SERVAL_JWT_ALGORITHMS: 'HS256,ES256',
      });
      assert.equal(code, 78, `${workers} worker(s): ${err}`);
      assert.match(err, /jwtAlgorithms HS256 cannot verify tokens with the ec key of jwtPublicKeyFile/);
    }
  });

  it('warns of a SERVAL_* variable that names no setting, with the closest one', async () => {
    const { code, err } = await startAndExit({ SERVAL_PORTT: '1', SERVAL_PORT: 'not-a-port' });
    assert.equal(code, 78);
    assert.match(err, /SERVAL_PORTT is not a Serval setting; did you mean SERVAL_PORT\?/);
  });
});
