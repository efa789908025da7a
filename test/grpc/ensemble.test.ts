// Triton ensembles over gRPC (test/fixtures/triton/ensemble): ModelConfig with its steps, ModelInfer and
// ModelStreamInfer answering as the composing models run by hand, a step's failure as INVALID_ARGUMENT naming the
// step, and RepositoryModelUnload's unload_dependents.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { loadedGrpc, outputOf, rawRequest, rejection, type InferAnswer, type RunningGrpc } from '../grpc.js';
import { ROOT } from '../helpers.js';

const ENSEMBLES = join(ROOT, 'test/fixtures/triton/ensemble');

const TOKENS = [0, 1, 2, 3, 4, 99, 98, 97, 96, 95];

const tokens = (data: number[], id = '') =>
  rawRequest(
    'embed_classify',
    [
      {
        name: 'TOKENS',
        datatype: 'INT64',
        shape: [data.length / 5, 5],
        data: BigInt64Array.from(data.map(BigInt)),
      },
    ],
    { id },
  );

describe('an ensemble over gRPC', () => {
  let grpc: RunningGrpc;
  before(async () => {
    grpc = await loadedGrpc({
      modelRepository: ENSEMBLES,
      modelControl: 'explicit',
      // The ensembles only: the models their steps run load with them.
      startupModels: ['classify_mm', 'embed_classify', 'fan_out'],
    });
  });
  after(() => grpc.close());

  it('loads at start the models the startup ensembles run, and no other', async () => {
    const index = await grpc.client.call<{ models: { name: string; state: string }[] }>(
      'RepositoryIndex',
      {},
    );
    const ready = index.models.filter((m) => m.state === 'READY').map((m) => m.name);
    assert.deepEqual(ready.sort(), [
      'classify_mm',
      'embed_classify',
      'embedding',
      'fan_out',
      'iris',
      'iris_mm',
      'millimetres',
    ]);
  });

  it('answers ModelConfig with platform "ensemble" and its steps', async () => {
    const { config } = await grpc.client.call<{ config: Record<string, unknown> }>('ModelConfig', {
      name: 'embed_classify',
    });
    assert.equal(config.platform, 'ensemble');
    const steps = (config.ensemble_scheduling as { step: Record<string, unknown>[] }).step;
    assert.deepEqual(
      steps.map((s) => [s.model_name, String(s.model_version), s.input_map]),
      [
        ['embedding', '-1', { tokens: 'TOKENS' }],
        ['iris', '1', { input: 'EMBEDDING' }],
      ],
    );
  });

  it('answers ModelInfer as the composing models run one after the other', async () => {
    const answer = await grpc.client.call<InferAnswer>('ModelInfer', tokens(TOKENS));
    assert.equal(answer.model_name, 'embed_classify');
    const embedding = outputOf(answer, 'EMBEDDING');
    assert.deepEqual(embedding.shape, [2, 4]);
    const iris = await grpc.client.call<InferAnswer>(
      'ModelInfer',
      rawRequest('iris', [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [2, 4],
          data: Float32Array.from(embedding.values as number[]),
        },
      ]),
    );
    assert.deepEqual(outputOf(answer, 'PROBABILITIES'), outputOf(iris, 'probabilities'));
    assert.deepEqual(outputOf(answer, 'LABEL'), outputOf(iris, 'label'));
  });

  it('answers the golden outputs of iris_mm (a preprocessing graph, then Iris)', async () => {
    const golden = JSON.parse(await readFile(join(ENSEMBLES, 'iris_mm/1/golden.json'), 'utf8')) as {
      tolerance: number;
      inputs: { shape: number[]; data: number[] }[];
      outputs: { name: string; data: number[] }[];
    };
    const input = golden.inputs[0]!;
    const answer = await grpc.client.call<InferAnswer>(
      'ModelInfer',
      rawRequest('iris_mm', [
        { name: 'MILLIMETRES', datatype: 'FP32', shape: input.shape, data: Float32Array.from(input.data) },
      ]),
    );
    const want = (name: string) => golden.outputs.find((o) => o.name === name)!.data;
    const probabilities = outputOf(answer, 'PROBABILITIES').values as number[];
    assert.ok(probabilities.every((p, i) => Math.abs(p - want('PROBABILITIES')[i]!) <= golden.tolerance));
    assert.deepEqual((outputOf(answer, 'LABEL').values as bigint[]).map(Number), want('LABEL'));
  });

  it('fails with INVALID_ARGUMENT naming the step when a composing model refuses the input', async () => {
    const err = await rejection(grpc.client.call('ModelInfer', tokens([0, 1, 2, 3, 400])));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /^ensemble step 0 \("embedding"\): /);
  });

  it('streams ensemble answers in order, a step’s error in-band', async () => {
    const stream = grpc.client.stream();
    const answers: { id: string; error: string }[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { error_message: string; infer_response: InferAnswer | null }) =>
        answers.push({ id: m.infer_response?.id ?? '', error: m.error_message }),
      );
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write(tokens(TOKENS, 'a'));
    stream.write(tokens([0, 1, 2, 3, 400], 'b'));
    stream.write(tokens(TOKENS.slice(0, 5), 'c'));
    stream.end();
    await ended;
    assert.deepEqual(answers[0], { id: 'a', error: '' });
    assert.match(answers[1]!.error, /ensemble step 0 \("embedding"\)/);
    assert.deepEqual(answers[2], { id: 'c', error: '' });
  });

  it('unloads the ensembles running a model with unload_dependents', async () => {
    await grpc.client.call('RepositoryModelUnload', {
      model_name: 'embedding',
      parameters: { unload_dependents: { bool_param: true } },
    });
    const ready = await grpc.client.call<{ ready: boolean }>('ModelReady', { name: 'embed_classify' });
    assert.equal(ready.ready, false);
    assert.equal((await grpc.client.call<{ ready: boolean }>('ModelReady', { name: 'fan_out' })).ready, true);
    await grpc.client.call('RepositoryModelLoad', { model_name: 'embedding' });
    assert.equal(
      (await grpc.client.call<{ ready: boolean }>('ModelReady', { name: 'embed_classify' })).ready,
      false,
    );
    await grpc.client.call('RepositoryModelLoad', { model_name: 'embed_classify' });
    assert.equal(
      (await grpc.client.call<{ ready: boolean }>('ModelReady', { name: 'embed_classify' })).ready,
      true,
    );
  });
});
