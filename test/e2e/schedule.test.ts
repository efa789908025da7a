// Triton's schedule policy end to end: a model whose config.pbtxt declares two priority levels, behind one inference
// thread; requests of the higher priority sent last run before the lower ones that waited, over V2 and gRPC, and a
// request whose timeout cannot be met never runs.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../src/core/core.js';
import { frontEnds, rawRequest, type FrontEnds, type GrpcClient } from '../grpc.js';
import { FIXTURE_MODELS, tempRepository } from '../helpers.js';
import { waitFor } from '../wait.js';

const CONFIG = `
name: "heavy"
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ { name: "input" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "value" data_type: TYPE_FP32 dims: [ 1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { priority_levels: 2 default_priority_level: 2 }
`;

describe('priorities and timeouts per request', () => {
  let both: FrontEnds;
  let core: Core;
  let app: FastifyInstance;
  let grpc: GrpcClient;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository({ 'heavy/1': { from: `${FIXTURE_MODELS}/heavy/1` } });
    cleanup = repo.cleanup;
    await writeFile(join(repo.root, 'heavy/config.pbtxt'), CONFIG);
    both = await frontEnds({
      modelRepository: repo.root,
      inferenceMode: 'thread',
      inferenceThreads: 1,
      // Every run on one core: the calls that arrive while one runs (~60 ms) must find it still running.
      ortLoneIntraOpThreads: 1,
      cacheEnabled: false,
    });
    ({ core, app, client: grpc } = both);
  });
  after(async () => {
    await both.close();
    await cleanup();
  });

  /** Waits until the model holds this many calls, waiting or running: what arrived is in its queue. */
  const holding = (count: number) =>
    waitFor(() => (core.models.pending().find((p) => p.model === 'heavy')?.count ?? 0) >= count, {
      what: `${count} calls of heavy waiting or running`,
    });

  const v2 = (id: string, parameters: Record<string, number> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v2/models/heavy/infer',
      payload: {
        id,
        parameters,
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
      },
    });

  it('runs the higher priority first over V2, whatever waited before it', async () => {
    const finished: string[] = [];
    const send = (id: string, priority?: number) =>
      v2(id, priority === undefined ? {} : { priority }).then((res) => {
        assert.equal(res.statusCode, 200, res.body);
        finished.push(id);
      });
    const running = send('running');
    await holding(1);
    const waiting = [send('low-1'), send('low-2', 2)];
    await holding(3);
    const urgent = send('urgent', 1);
    await Promise.all([running, ...waiting, urgent]);
    assert.deepEqual(finished, ['running', 'urgent', 'low-1', 'low-2']);
  });

  it('runs the higher priority first over gRPC, from its request parameters', async () => {
    const finished: string[] = [];
    const request = (id: string) =>
      rawRequest(
        'heavy',
        [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: Float32Array.of(1, 2, 3, 4) }],
        {
          id,
        },
      );
    const send = (id: string, priority?: number) =>
      grpc
        .call('ModelInfer', {
          ...request(id),
          ...(priority === undefined ? {} : { parameters: { priority: { int64_param: priority } } }),
        })
        .then(() => finished.push(id));
    const running = send('running');
    await holding(1);
    const waiting = [send('low-1'), send('low-2')];
    await holding(3);
    const urgent = send('urgent', 1);
    await Promise.all([running, ...waiting, urgent]);
    assert.deepEqual(finished, ['running', 'urgent', 'low-1', 'low-2']);
  });

  it('refuses a priority past the model’s levels, and never runs a request whose timeout cannot be met', async () => {
    const past = await v2('past', { priority: 3 });
    assert.equal(past.statusCode, 400);
    assert.equal(past.json().code, 'INVALID_REQUEST');
    // V1 says the same through its headers.
    const v1 = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/v1/models/heavy:predict',
        headers: { 'content-type': 'application/json', ...headers },
        payload: { instances: [[1, 2, 3, 4]] },
      });
    const bad: Record<string, string>[] = [
      { 'x-inference-priority': '3' },
      { 'x-inference-timeout': 'soon' },
    ];
    for (const headers of bad) {
      const res = await v1(headers);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'INVALID_REQUEST');
    }
    assert.equal(
      (await v1({ 'x-inference-priority': '1', 'x-inference-timeout': '10000000' })).statusCode,
      200,
    );
    const [before] = await core.statistics('heavy', '1');
    const running = v2('running');
    await holding(1);
    // 5 ms to wait behind a call of some 80 ms: refused at once (503) or answered at its timeout (504).
    const hurried = await v2('hurried', { timeout: 5000 });
    assert.ok([503, 504].includes(hurried.statusCode), hurried.body);
    assert.ok(['OVERLOADED', 'INFERENCE_TIMEOUT'].includes(hurried.json().code));
    await running;
    const [after] = await core.statistics('heavy', '1');
    assert.equal(after!.execution_count - before!.execution_count, 1, 'only the running request ran');
  });
});
