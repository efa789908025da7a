// Task semantics over output tensors (classification, regression, raw, top-k) and the signature checks behind them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSignature } from '../../src/core/models/signature.js';
import { predictions, topClasses } from '../../src/core/models/tasks.js';
import type { TensorData } from '../../src/core/tensor/tensor.js';
import { spec } from '../fakes.js';

const irisInputs = [spec('input', 'FP32', ['batch', 4])];
const irisOutputs = [spec('label', 'INT64', ['batch']), spec('probabilities', 'FP32', ['batch', 3])];
const labels = ['setosa', 'versicolor', 'virginica'];
const iris = buildSignature(irisInputs, irisOutputs, {
  task: 'classification',
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  labels,
  outputs: { label: 'label', probabilities: 'probabilities' },
});
const probabilities: TensorData = {
  datatype: 'FP32',
  data: Float32Array.from([0.1, 0.2, 0.7, 0.5, 0.25, 0.25]),
  dims: [2, 3],
};

describe('predictions', () => {
  it('maps INT64 labels and probabilities to label names, in row order', () => {
    const outputs = {
      label: { datatype: 'INT64' as const, data: BigInt64Array.from([2n, 0n]), dims: [2] },
      probabilities,
    };
    const [first, second] = predictions(iris, outputs, 2) as {
      label: string;
      probabilities: Record<string, number>;
    }[];
    assert.equal(first!.label, 'virginica');
    assert.equal(second!.label, 'setosa');
    assert.deepEqual(Object.keys(first!.probabilities), labels);
    assert.equal(second!.probabilities.setosa, 0.5);
  });

  it('returns one number per row for a [n, 1] regression output', () => {
    const reg = buildSignature([spec('input', 'FP32', ['n', 2])], [spec('value', 'FP32', ['n', 1])], {
      task: 'regression',
      outputs: { value: 'value' },
    });
    const outputs = {
      value: { datatype: 'FP32' as const, data: Float32Array.from([1.5, -2]), dims: [2, 1] },
    };
    assert.deepEqual(predictions(reg, outputs, 2), [1.5, -2]);
  });

  it('returns every output by name for raw models, nested past the batch, BOOL as booleans', () => {
    const raw = buildSignature(
      [spec('x', 'FP32', ['n', 2])],
      [spec('y', 'FP32', ['n', 2, 2]), spec('b', 'BOOL', ['n'])],
      {},
    );
    const outputs = {
      y: { datatype: 'FP32' as const, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), dims: [2, 2, 2] },
      b: { datatype: 'BOOL' as const, data: Uint8Array.from([1, 0]), dims: [2] },
    };
    assert.deepEqual(predictions(raw, outputs, 2), [
      {
        y: [
          [1, 2],
          [3, 4],
        ],
        b: true,
      },
      {
        y: [
          [5, 6],
          [7, 8],
        ],
        b: false,
      },
    ]);
  });
});

describe('topClasses (the classification extension)', () => {
  it('gives the top k of each row as "score:index:label", best first', () => {
    const top = topClasses(probabilities, 2, labels, 'probabilities', true);
    assert.deepEqual(top.dims, [2, 2]);
    assert.equal(top.datatype, 'BYTES');
    assert.deepEqual(top.data, ['0.7:2:virginica', '0.2:1:versicolor', '0.5:0:setosa', '0.25:1:versicolor']);
  });

  it('leaves labels out when they do not fit, gives [k] without a batch dim, and caps k at the classes', () => {
    const scores: TensorData = { datatype: 'FP64', data: Float64Array.from([3, 9, 1]), dims: [3] };
    const top = topClasses(scores, 5, ['only', 'two'], 'scores', false);
    assert.deepEqual(top.dims, [3]);
    assert.deepEqual(top.data, ['9:1', '3:0', '1:2']);
  });

  it('treats each row of a [batch] output as one class, as Triton does', () => {
    const ids: TensorData = { datatype: 'INT64', data: BigInt64Array.from([2n, 0n]), dims: [2] };
    const top = topClasses(ids, 2, labels, 'label', true);
    assert.deepEqual(top.dims, [2, 1]);
    assert.deepEqual(top.data, ['2:0', '0:0']);
  });

  it('refuses outputs that hold no scores', () => {
    const text: TensorData = { datatype: 'BYTES', data: ['a'], dims: [1] };
    assert.throws(
      () => topClasses(text, 1, undefined, 'text', false),
      /classification needs a numeric output/,
    );
  });
});

describe('buildSignature', () => {
  it('fails when the descriptor disagrees with the graph', () => {
    assert.throws(
      () => buildSignature(irisInputs, irisOutputs, { features: ['a', 'b'] }),
      /2 features but input "input" has 4/,
    );
    assert.throws(
      () => buildSignature(irisInputs, irisOutputs, { task: 'classification', outputs: { label: 'nope' } }),
      /label output "nope", which the graph does not have/,
    );
    assert.throws(
      () =>
        buildSignature(irisInputs, irisOutputs, {
          task: 'classification',
          labels: ['a'],
          outputs: { probabilities: 'probabilities' },
        }),
      /1 labels but "probabilities" has 3 classes/,
    );
    assert.throws(
      () => buildSignature(irisInputs, irisOutputs, { task: 'regression' }),
      /needs outputs.value/,
    );
    assert.throws(
      () =>
        buildSignature([spec('a', 'FP32', ['n', 1]), spec('b', 'FP32', ['n', 1])], irisOutputs, {
          features: ['x'],
        }),
      /lists features, but the model has no single \[batch, features\] input/,
    );
  });
});
