// V1 instances to tensors and tensors to predictions, and the signature checks behind them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TensorData } from '../../src/inference/tensor.js';
import { buildSignature } from '../../src/models/signature.js';
import {
  decodePredictions,
  encodeInstances,
  serializeResponse,
  type PredictResponse,
} from '../../src/protocols/v1/codec.js';

const irisInputs = [{ name: 'input', type: 'float32', shape: ['batch', 4] }];
const irisOutputs = [
  { name: 'label', type: 'int64', shape: ['batch'] },
  { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
];
const features = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const iris = buildSignature(irisInputs, irisOutputs, {
  task: 'classification',
  features,
  labels: ['setosa', 'versicolor', 'virginica'],
  outputs: { label: 'label', probabilities: 'probabilities' },
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code + ': ' + (err as Error).message;
  }
  return 'no error';
}

describe('encodeInstances', () => {
  it('packs arrays and named objects into one [n, 4] float32 tensor in input order', () => {
    const feeds = encodeInstances(iris, [
      [5.1, 3.5, 1.4, 0.2],
      { petal_width: 2.3, sepal_length: 6.7, petal_length: 5.2, sepal_width: 3.0 },
    ]);
    const input = feeds.input!;
    assert.deepEqual(input.dims, [2, 4]);
    assert.ok(input.data instanceof Float32Array);
    assert.deepEqual([...input.data], [...Float32Array.from([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3])]);
  });

  it('names the instance and the expected width when a row is too short', () => {
    assert.match(
      code(() =>
        encodeInstances(iris, [
          [1, 2, 3, 4],
          [1, 2, 3],
        ]),
      ),
      /^INVALID_INPUT: instances\[1\] has 3 values; the model expects 4/,
    );
  });

  it('names unknown and missing features', () => {
    const unknown = code(() =>
      encodeInstances(iris, [{ ...Object.fromEntries(features.map((f) => [f, 1])), petal_colour: 1 }]),
    );
    assert.match(unknown, /^INVALID_INPUT: instances\[0\] has unknown feature\(s\) "petal_colour"/);
    const missing = code(() => encodeInstances(iris, [{ sepal_length: 1, sepal_width: 1 }]));
    assert.match(missing, /missing feature\(s\) "petal_length", "petal_width"/);
  });

  it('treats "constructor" as an unknown feature, not a property of Object', () => {
    assert.match(
      code(() => encodeInstances(iris, [{ constructor: 1 }])),
      /unknown feature\(s\) "constructor"/,
    );
  });

  it('rejects values outside the float32 range, naming the field', () => {
    assert.match(
      code(() => encodeInstances(iris, [[1, 2, 3e39, 4]])),
      /instances\[0\]\.petal_length must be a finite number/,
    );
    assert.match(
      code(() => encodeInstances(iris, [[1, 2, Infinity, 4]])),
      /instances\[0\]\.petal_length/,
    );
  });

  it('requires integers within range for integer inputs', () => {
    const int8 = buildSignature(
      [{ name: 'x', type: 'int8', shape: ['n', 2] }],
      [{ name: 'y', type: 'int8', shape: ['n'] }],
      {},
    );
    assert.deepEqual([...encodeInstances(int8, [[1, -128]]).x!.data], [1, -128]);
    assert.match(
      code(() => encodeInstances(int8, [[1, 128]])),
      /instances\[0\]\.1 must be an integer within the int8 range/,
    );
    assert.match(
      code(() => encodeInstances(int8, [[1.5, 1]])),
      /instances\[0\]\.0 must be an integer/,
    );
  });

  it('encodes int64 inputs as BigInt', () => {
    const int64 = buildSignature(
      [{ name: 'x', type: 'int64', shape: ['n', 1] }],
      [{ name: 'y', type: 'int64', shape: ['n'] }],
      {},
    );
    assert.deepEqual([...encodeInstances(int64, [[7]]).x!.data], [7n]);
  });

  it('refuses objects for a model without feature names', () => {
    const raw = buildSignature(
      [{ name: 'x', type: 'float32', shape: ['n', 2] }],
      [{ name: 'y', type: 'float32', shape: ['n'] }],
      {},
    );
    assert.match(
      code(() => encodeInstances(raw, [{ a: 1 }])),
      /no feature names: send an array/,
    );
  });

  it('says why a multi-input model cannot take instances', () => {
    const two = buildSignature(
      [
        { name: 'a', type: 'float32', shape: ['n', 1] },
        { name: 'b', type: 'float32', shape: ['n', 1] },
      ],
      [{ name: 'y', type: 'float32', shape: ['n'] }],
      {},
    );
    assert.match(
      code(() => encodeInstances(two, [[1]])),
      /^UNSUPPORTED_MODEL: .*2 inputs/,
    );
  });
});

describe('decodePredictions', () => {
  it('maps int64 labels and probabilities to label names, in instance order', () => {
    const outputs: Record<string, TensorData> = {
      label: { type: 'int64', data: BigInt64Array.from([2n, 0n]), dims: [2] },
      probabilities: {
        type: 'float32',
        data: Float32Array.from([0.1, 0.2, 0.7, 0.5, 0.25, 0.25]),
        dims: [2, 3],
      },
    };
    const [first, second] = decodePredictions(iris, outputs, 2) as {
      label: string;
      probabilities: Record<string, number>;
    }[];
    assert.equal(first!.label, 'virginica');
    assert.equal(second!.label, 'setosa');
    assert.deepEqual(Object.keys(first!.probabilities), ['setosa', 'versicolor', 'virginica']);
    assert.equal(second!.probabilities.setosa, 0.5);
  });

  it('returns one number per instance for a [n, 1] regression output', () => {
    const reg = buildSignature(
      [{ name: 'input', type: 'float32', shape: ['n', 2] }],
      [{ name: 'value', type: 'float32', shape: ['n', 1] }],
      { task: 'regression', outputs: { value: 'value' } },
    );
    const outputs = { value: { type: 'float32', data: Float32Array.from([1.5, -2]), dims: [2, 1] } };
    assert.deepEqual(decodePredictions(reg, outputs, 2), [1.5, -2]);
  });

  it('returns every output by name for raw models', () => {
    const raw = buildSignature(
      [{ name: 'x', type: 'float32', shape: ['n', 2] }],
      [{ name: 'y', type: 'float32', shape: ['n', 2] }],
      {},
    );
    const outputs = { y: { type: 'float32', data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] } };
    assert.deepEqual(decodePredictions(raw, outputs, 2), [{ y: [1, 2] }, { y: [3, 4] }]);
  });
});

describe('serializeResponse', () => {
  const response = (predictions: PredictResponse['predictions']): PredictResponse => ({
    model_name: 'm',
    model_version: '1',
    predictions,
  });

  it('writes a classifier response exactly as JSON.stringify does, labels of the model or not', () => {
    const body = response([
      { label: 'virginica', probabilities: { setosa: 0.1, versicolor: 0.2, virginica: 0.7 } },
      { label: 'setosa', probabilities: { setosa: 1, versicolor: 1.4506358780863593e-8, virginica: 0 } },
      { label: 'a "quoted"\nlabel', probabilities: { setosa: 0.5, 'not a label': 0.5 } },
    ]);
    assert.equal(serializeResponse(iris, body), JSON.stringify(body));
    const unlabelled = buildSignature(irisInputs, irisOutputs, {
      task: 'classification',
      outputs: { probabilities: 'probabilities' },
    });
    const numbered = response([{ label: '2', probabilities: { '0': 0.25, '1': 0.25, '2': 0.5 } }]);
    assert.equal(serializeResponse(unlabelled, numbered), JSON.stringify(numbered));
  });

  it('writes a non-finite probability as null, as JSON.stringify does', () => {
    const body = response([
      { label: 'setosa', probabilities: { setosa: NaN, versicolor: Infinity, virginica: 0 } },
    ]);
    assert.equal(
      serializeResponse(iris, body),
      '{"model_name":"m","model_version":"1","predictions":[{"label":"setosa","probabilities":{"setosa":null,"versicolor":null,"virginica":0}}]}',
    );
  });

  it('writes regression and raw responses with JSON.stringify', () => {
    const reg = buildSignature(
      [{ name: 'input', type: 'float32', shape: ['n', 2] }],
      [{ name: 'value', type: 'float32', shape: ['n', 2] }],
      { task: 'regression', outputs: { value: 'value' } },
    );
    const body = response([1.5, [2, -3]]);
    assert.equal(serializeResponse(reg, body), JSON.stringify(body));
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
  });
});
