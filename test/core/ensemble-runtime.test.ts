// The ensemble runtime over stand-in composing models: a thread-mode step never takes memory another step or the
// answer still reads, a composing model reloaded with other tensors is refused naming the step, and every step is
// told to the observers as a request of its own model.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSteps } from '../../src/core/ensemble/graph.js';
import { loadEnsemble } from '../../src/core/ensemble/load.js';
import { EnsembleRuntime, type StepModels } from '../../src/core/ensemble/runtime.js';
import { errors, ServalError } from '../../src/core/errors.js';
import type { ReadyModel } from '../../src/core/models/repository.js';
import { planConfig } from '../../src/core/models/triton/config.js';
import { modelConfigType } from '../../src/core/models/triton/schema.js';
import { parseTextFormat } from '../../src/core/models/triton/text-format.js';
import type { Observer, RequestEvent } from '../../src/core/observe.js';
import type { TensorMap } from '../../src/core/tensor/tensor.js';
import { fakeModel, spec } from '../fakes.js';

const X = spec('x', 'FP32', ['batch', 2]);
const Y = spec('y', 'FP32', ['batch', 2]);

/** A model doubling x into y; on a thread it takes (detaches) its input's memory, as the thread pool does. */
function doubler(
  name: string,
  execution: 'inline' | 'thread',
  datatype: 'FP32' | 'INT32' = 'FP32',
): ReadyModel {
  const model = fakeModel({
    name,
    inputs: [spec('x', datatype, ['batch', 2])],
    outputs: [Y],
    predict: async (feeds) => {
      const x = feeds.x!.data as Float32Array;
      const y = x.map((v) => v * 2);
      if (execution === 'thread') structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
      return { y: { datatype: 'FP32', data: y, dims: feeds.x!.dims } };
    },
  });
  return { ...model, runtime: { ...model.runtime, execution } };
}

function repository(models: Map<string, ReadyModel>): StepModels {
  return {
    ready: (name) => {
      const model = models.get(name);
      if (!model) throw new errors.MODEL_NOT_FOUND(name);
      return model;
    },
    peek: (name) => models.get(name),
    use: () => () => undefined,
  };
}

/** IN feeds "inline" and "thread" at once; IN is also read by "after"; the thread step's input is shared. */
function fanOut(models: Map<string, ReadyModel>, observer?: Observer) {
  const graph = planSteps({
    platform: 'ensemble',
    input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [2] }],
    output: ['A', 'B', 'C'].map((name) => ({ name, data_type: 'TYPE_FP32', dims: [2] })),
    ensemble_scheduling: {
      step: [
        { model_name: 'thread', input_map: { x: 'IN' }, output_map: { y: 'A' } },
        { model_name: 'inline', input_map: { x: 'IN' }, output_map: { y: 'B' } },
        { model_name: 'inline', input_map: { x: 'A' }, output_map: { y: 'C' } },
      ],
    },
  });
  const specs = {
    inputs: [spec('IN', 'FP32', ['batch', 2])],
    outputs: ['A', 'B', 'C'].map((n) => spec(n, 'FP32', ['batch', 2])),
  };
  return new EnsembleRuntime(graph, specs, repository(models), observer);
}

const input = (): TensorMap => ({ IN: { datatype: 'FP32', data: new Float32Array([1, 2]), dims: [1, 2] } });

describe('the ensemble runtime', () => {
  it('gives a thread-mode step a copy of a tensor another step still reads', async () => {
    const models = new Map([
      ['thread', doubler('thread', 'thread')],
      ['inline', doubler('inline', 'inline')],
    ]);
    const runtime = fanOut(models);
    runtime.check();
    const answer = await runtime.predict(input());
    assert.deepEqual(
      ['A', 'B', 'C'].map((n) => Array.from(answer[n]!.data as Float32Array)),
      [
        [2, 4],
        [2, 4],
        [4, 8],
      ],
    );
  });

  it('refuses a step whose model was reloaded with other tensors, naming the step (503)', async () => {
    const models = new Map([
      ['thread', doubler('thread', 'thread')],
      ['inline', doubler('inline', 'inline')],
    ]);
    const runtime = fanOut(models);
    runtime.check();
    models.set('inline', doubler('inline', 'inline', 'INT32'));
    const err = await runtime.predict(input()).then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ServalError);
    assert.equal(err.code, 'MODEL_NOT_READY');
    assert.match(err.message, /^ensemble step \d \("inline"\): Model "inline" is not ready: .*takes INT32/);
  });

  it('tells the observers of each step as a request of its model, its failure included', async () => {
    const events: RequestEvent[] = [];
    const observer: Observer = {
      request: (e) => events.push(e),
      runs: () => ({ queued: () => undefined, executed: () => undefined }),
      loaded: () => undefined,
    };
    const failing = fakeModel({
      name: 'inline',
      inputs: [X],
      outputs: [Y],
      predict: () => Promise.reject(new errors.INFERENCE_REJECTED('bad row')),
    });
    const models = new Map([
      ['thread', doubler('thread', 'thread')],
      ['inline', failing],
    ]);
    const runtime = fanOut(models, observer);
    runtime.check();
    await assert.rejects(runtime.predict(input()), /ensemble step 1 \("inline"\): .*bad row/);
    const seen = events.map((e) => [e.model, e.protocol, e.rows, e.failure]).sort();
    assert.deepEqual(seen, [
      ['inline', 'ensemble', 1, 'invalid_input'],
      ['thread', 'ensemble', 1, undefined],
    ]);
  });
});

describe('an ensemble’s cached answers', () => {
  it('are filed under the versions of its composing models that serve now', async () => {
    const text = `platform: "ensemble" max_batch_size: 4
      input [ { name: "IN" data_type: TYPE_FP32 dims: [ 2 ] } ]
      output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 2 ] } ]
      ensemble_scheduling { step [ { model_name: "inline" model_version: -1 input_map { key: "x" value: "IN" } output_map { key: "y" value: "OUT" } } ] }`;
    const plan = planConfig(parseTextFormat(text, modelConfigType(), 'config.pbtxt'), 'e', 'config.pbtxt');
    const models = new Map([['inline', doubler('inline', 'inline')]]);
    const files = {
      version: '1',
      dir: '/nowhere/e/1',
      onnx: '/nowhere/e/1/model.onnx',
      json: '/nowhere/e/1/model.json',
    };
    const loaded = await loadEnsemble('e', plan, files, repository(models), undefined);
    const before = loaded.generationNow();
    assert.equal(loaded.generationNow(), before);
    models.set('inline', { ...doubler('inline', 'inline'), generation: 'reloaded' });
    assert.notEqual(loaded.generationNow(), before);
  });
});

describe('an ensemble’s deadline', () => {
  it('reaches every step, so that each model’s queue can drop a call past it', async () => {
    const seen: (number | undefined)[] = [];
    const models = new Map<string, ReadyModel>();
    for (const [name, execution] of [
      ['thread', 'thread'],
      ['inline', 'inline'],
    ] as const) {
      const model = doubler(name, execution);
      const predict = model.runtime.predict.bind(model.runtime);
      models.set(name, {
        ...model,
        runtime: {
          ...model.runtime,
          predict: (feeds, call) => {
            seen.push(call?.deadline);
            return predict(feeds, call);
          },
        },
      });
    }
    const runtime = fanOut(models);
    runtime.check();
    await runtime.predict(input(), { deadline: 12345 });
    assert.deepEqual(seen, [12345, 12345, 12345]);
  });
});

describe('an ensemble whose composing model is gone', () => {
  it('answers MODEL_NOT_READY (503) naming the step, not the client’s 404', async () => {
    const models = new Map([
      ['thread', doubler('thread', 'thread')],
      ['inline', doubler('inline', 'inline')],
    ]);
    const runtime = fanOut(models);
    runtime.check();
    models.delete('inline');
    const err = await runtime.predict(input()).then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ServalError);
    assert.equal(err.kind, 'unavailable');
    assert.match(
      err.message,
      /^ensemble step \d \("inline"\): Model "inline" is not ready: Model "inline" not found/,
    );
  });
});
