// End to end over gRPC: the built server as a real process with 2 workers sharing the gRPC port, raw and typed
// contents, streaming, authentication on and off, and SIGTERM during unary calls and streams (all answered).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { FIXTURE_MODELS, MODELS, tempRepository, signedToken } from '../helpers.js';
import { accessLines, answeredBy, startServer as start, takenIn, type Running } from '../server.js';
import { waitFor } from '../wait.js';
import {
  grpcClient,
  irisRequest,
  outputOf,
  rawRequest,
  rejection,
  type GrpcClient,
  type InferAnswer,
  type StreamAnswer,
} from '../grpc.js';

/** 2 workers at info, both serving gRPC on the one port the server was given. */
async function startServer(env: Record<string, string>): Promise<Running> {
  const server = await start({ SERVAL_WORKERS: '2', SERVAL_LOG_LEVEL: 'info', ...env }, { workers: 2 });
  const ready = server.lines().filter((l) => l.msg === 'worker ready');
  const grpcPort = Number(server.grpcAddress.split(':').at(-1));
  assert.deepEqual(
    ready.map((l) => l.grpcPort),
    [grpcPort, grpcPort],
    server.log(),
  );
  return server;
}

/** Clients on connections of their own, so that the cluster spreads them over its workers. */
function clients(address: string, count: number): GrpcClient[] {
  return Array.from({ length: count }, () => grpcClient(address));
}

/** Writes the requests on one stream; collects the answers and how the stream ended. */
function streamOf(client: GrpcClient, metadata: Record<string, string> = {}) {
  const call = client.stream(metadata);
  const answers: StreamAnswer[] = [];
  call.on('data', (m: StreamAnswer) => answers.push(m));
  const ended = new Promise<ServiceError | null>((resolve) => {
    call.on('error', (err: ServiceError) => resolve(err));
    call.on('end', () => resolve(null));
  });
  return { call, answers, ended };
}

const heavy = (id: string) =>
  rawRequest(
    'heavy',
    [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: Float32Array.from([1, 2, 3, 4]) }],
    {
      id,
    },
  );

describe('the built server over gRPC, 2 workers, authentication off', () => {
  let server: Running;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository({
      'iris/1': { from: join(MODELS, 'iris/1') },
      'heavy/1': { from: join(FIXTURE_MODELS, 'heavy/1') },
    });
    cleanup = repo.cleanup;
    server = await startServer({
      SERVAL_MODEL_REPOSITORY: repo.root,
      SERVAL_BATCH_MAX_ROWS: '1',
      SERVAL_SHUTDOWN_DELAY_MS: '300',
    });
  });
  after(async () => {
    server.child.kill('SIGKILL');
    await cleanup();
  });

  it('answers raw contents from both workers, each call with its own rows and id', async () => {
    const pool = clients(server.grpcAddress, 8);
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
    ];
    const answers = await Promise.all(
      pool.map((c, i) =>
        c.call<InferAnswer>('ModelInfer', irisRequest({ id: `r${i}` }, [rows[i % 2]!]), {
          'x-request-id': `e2e-g${i}`,
        }),
      ),
    );
    answers.forEach((answer, i) => {
      assert.equal(answer.id, `r${i}`);
      assert.deepEqual(outputOf(answer, 'label').values, [i % 2 === 0 ? 0n : 2n]);
    });
    for (const c of pool) c.close();
    await waitFor(() => accessLines(server.lines(), 'e2e-g').length === 8, {
      what: '8 access lines are written',
    });
    const pids = answeredBy(server.lines(), 'e2e-g');
    assert.equal(pids.size, 2, 'both workers answered');
  });

  it('answers typed contents and a stream of 20 in order', async () => {
    const [client] = clients(server.grpcAddress, 1);
    const typed = await client!.call<InferAnswer>('ModelInfer', {
      model_name: 'iris',
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [6.7, 3.0, 5.2, 2.3] } },
      ],
    });
    assert.deepEqual(outputOf(typed, 'label').values, [2n]);
    const { call, answers, ended } = streamOf(client!);
    for (let i = 0; i < 20; i++) call.write(irisRequest({ id: `s${i}` }));
    call.end();
    assert.equal(await ended, null);
    assert.deepEqual(
      answers.map((a) => a.infer_response?.id),
      Array.from({ length: 20 }, (_, i) => `s${i}`),
    );
    client!.close();
  });

  it('unloads and loads through RepositoryModel* in both workers; ModelStatistics sums them', async () => {
    const pool = clients(server.grpcAddress, 6);
    const before = await pool[0]!.call<{
      model_stats: { inference_stats: { success: { count: string } } }[];
    }>('ModelStatistics', { name: 'iris', version: '1' });
    const start = Number(before.model_stats[0]?.inference_stats.success.count);
    await Promise.all(
      pool.map((c, i) =>
        c.call('ModelInfer', irisRequest({}, [[5.1, 3.5, 1.4, 0.2]]), { 'x-request-id': `e2e-st${i}` }),
      ),
    );
    await waitFor(() => accessLines(server.lines(), 'e2e-st').length === 6, {
      what: '6 access lines are written',
    });
    const pids = answeredBy(server.lines(), 'e2e-st');
    assert.equal(pids.size, 2, 'both workers answered');
    const after = await pool[1]!.call<{ model_stats: { inference_stats: { success: { count: string } } }[] }>(
      'ModelStatistics',
      { name: 'iris', version: '1' },
    );
    assert.equal(
      Number(after.model_stats[0]?.inference_stats.success.count) - start,
      6,
      'both workers counted',
    );

    assert.deepEqual(await pool[0]!.call('RepositoryModelUnload', { model_name: 'iris' }), {});
    // Every connection, whichever worker holds it, finds the model unloaded.
    for (const c of pool) {
      const err = await rejection(c.call('ModelInfer', irisRequest()));
      assert.equal(err.code, status.NOT_FOUND, err.details);
      assert.equal(err.metadata.get('serval-error-code')[0], 'MODEL_NOT_LOADED');
    }
    const index = await pool[2]!.call<{ models: { name: string; state: string }[] }>('RepositoryIndex', {});
    assert.equal(index.models.find((m) => m.name === 'iris')?.state, 'UNAVAILABLE');
    assert.deepEqual(await pool[3]!.call('RepositoryModelLoad', { model_name: 'iris' }), {});
    await Promise.all(pool.map((c) => c.call('ModelInfer', irisRequest())));
    for (const c of pool) c.close();
  });

  it('answers every unary call and every stream request in flight at SIGTERM, then exits 0', async () => {
    const pool = clients(server.grpcAddress, 4);
    // A few calls first: the batcher admits by the run time it learned, which a busy start-up inflates.
    for (const c of pool) await c.call('ModelInfer', heavy('warm'));
    const before = await takenIn(server.base, 'heavy');
    const unary = pool.flatMap((c, i) =>
      [0, 1].map((j) =>
        c.call<InferAnswer>('ModelInfer', heavy(`u${i}-${j}`)).then(
          (a) => a.id,
          (err: unknown) => `failed: ${(err as ServiceError).details}`,
        ),
      ),
    );
    const open = streamOf(pool[0]!);
    const closing = streamOf(pool[1]!);
    for (let i = 0; i < 3; i++) {
      open.call.write(heavy(`o${i}`));
      closing.call.write(heavy(`c${i}`));
    }
    closing.call.end();
    // 14 heavy calls on two workers, one at a time each: SIGTERM comes once all are taken in.
    await waitFor(async () => (await takenIn(server.base, 'heavy')) - before >= 14, {
      what: 'the workers have taken in the 14 calls',
    });
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await waitFor(async () => !(await pool[2]!.call<{ ready: boolean }>('ServerReady', {})).ready, {
      what: 'ServerReady says not ready while draining',
    });
    assert.deepEqual(
      (await Promise.all(unary)).sort(),
      pool.flatMap((_, i) => [`u${i}-0`, `u${i}-1`]).sort(),
    );
    assert.equal(await closing.ended, null, 'a half-closed stream ends OK');
    assert.deepEqual(
      closing.answers.map((a) => a.infer_response?.id),
      ['c0', 'c1', 'c2'],
    );
    const cut = await open.ended;
    assert.deepEqual(
      open.answers.map((a) => a.infer_response?.id),
      ['o0', 'o1', 'o2'],
      'an open stream answers what it took',
    );
    assert.equal(cut?.code, status.UNAVAILABLE, 'then ends UNAVAILABLE: open a new stream');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, server.log().slice(-3000));
    for (const c of pool) c.close();
  });
});

describe('the built server over gRPC, authentication on', () => {
  it('refuses calls without a token and serves those with one, unary and streaming', async (t) => {
    const secret = 'an-e2e-secret-that-is-long-enough-0123456789';
    const server = await startServer({ SERVAL_AUTH_ENABLED: 'true', SERVAL_JWT_SECRET: secret });
    t.after(() => server.child.kill('SIGKILL'));
    const token = await signedToken(secret, 'serval:predict serval:read', 'e2e');
    const [client] = clients(server.grpcAddress, 1);
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await rejection(client!.call('ModelInfer', irisRequest()))).code, status.UNAUTHENTICATED);
    assert.deepEqual(
      outputOf(await client!.call<InferAnswer>('ModelInfer', irisRequest(), auth), 'label').values,
      [0n, 2n],
    );
    assert.deepEqual(await client!.call('ServerLive', {}), { live: true });
    const refused = streamOf(client!);
    refused.call.write(irisRequest());
    assert.equal((await refused.ended)?.code, status.UNAUTHENTICATED);
    const allowed = streamOf(client!, auth);
    allowed.call.write(irisRequest({ id: 'a1' }));
    allowed.call.end();
    assert.equal(await allowed.ended, null);
    assert.equal(allowed.answers[0]?.infer_response?.id, 'a1');
    client!.close();
  });
});
