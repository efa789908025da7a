// V1 bodies to tensors (row and columnar formats, through the core's checks) and responses to JSON, against fake
// models.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReadyModel } from '../../../src/core/models/repository.js';
import { decodeInputs } from '../../../src/core/tensor/decode.js';
import { batchSize } from '../../../src/core/tensor/tensor.js';
import { columnarResponse, serializeResponse, type PredictResponse } from '../../../src/http/v1/codec.js';
import { columnInputs, instanceInputs, type V1Inputs } from '../../../src/http/v1/instances.js';
import { fakeModel, spec } from '../../fakes.js';

/** A V1 body's inputs as the core's pipeline checks them. */
function decoded(model: ReadyModel, read: V1Inputs, maxRows: number) {
  const feeds = decodeInputs(model.runtime.inputs, read.inputs, {
    maxRows,
    ...(read.locate ? { locate: read.locate } : {}),
  });
  return { feeds, rows: batchSize(feeds) };
}
const decodeInstances = (model: ReadyModel, instances: unknown[], maxRows: number) =>
  decoded(model, instanceInputs(model, instances), maxRows);
const decodeColumns = (model: ReadyModel, inputs: unknown, maxRows: number) =>
  decoded(model, columnInputs(model, inputs), maxRows);

const features = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const iris = fakeModel({
  inputs: [spec('input', 'FP32', ['batch', 4])],
  outputs: [spec('label', 'INT64', ['batch']), spec('probabilities', 'FP32', ['batch', 3])],
  descriptor: {
    task: 'classification',
    features,
    labels: ['setosa', 'versicolor', 'virginica'],
    outputs: { label: 'label', probabilities: 'probabilities' },
  },
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code + ': ' + (err as Error).message;
  }
  return 'no error';
}

describe('decodeInstances for a [batch, features] model', () => {
  it('packs arrays and named objects into one [n, 4] FP32 tensor in input order', () => {
    const { feeds, rows } = decodeInstances(
      iris,
      [[5.1, 3.5, 1.4, 0.2], { petal_width: 2.3, sepal_length: 6.7, petal_length: 5.2, sepal_width: 3.0 }],
      8,
    );
    const input = feeds.input!;
    assert.equal(rows, 2);
    assert.deepEqual(input.dims, [2, 4]);
    assert.ok(input.data instanceof Float32Array);
    assert.deepEqual([...input.data], [...Float32Array.from([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3])]);
  });

  it('names the instance and the expected width when a row is too short', () => {
    assert.match(
      code(() =>
        decodeInstances(
          iris,
          [
            [1, 2, 3, 4],
            [1, 2, 3],
          ],
          8,
        ),
      ),
      /^INVALID_INPUT: instances\[1\] has 3 values; the model expects 4/,
    );
  });

  it('names unknown and missing features', () => {
    const unknown = code(() =>
      decodeInstances(iris, [{ ...Object.fromEntries(features.map((f) => [f, 1])), petal_colour: 1 }], 8),
    );
    assert.match(unknown, /^INVALID_INPUT: instances\[0\] has unknown feature\(s\) "petal_colour"/);
    const missing = code(() => decodeInstances(iris, [{ sepal_length: 1, sepal_width: 1 }], 8));
    assert.match(missing, /missing feature\(s\) "petal_length", "petal_width"/);
  });

  it('treats "constructor" as an unknown feature, not a property of Object', () => {
    assert.match(
      code(() => decodeInstances(iris, [{ constructor: 1 }], 8)),
      /unknown feature\(s\) "constructor"/,
    );
  });

  it('rejects values outside the FP32 range or not numbers, naming the instance and the feature', () => {
    assert.match(
      code(() => decodeInstances(iris, [[1, 2, 3e39, 4]], 8)),
      /^INVALID_INPUT: instances\[0\]\.petal_length must be a finite number within the FP32 range, got 3e\+39/,
    );
    assert.match(
      code(() => decodeInstances(iris, [[1, 2, Infinity, 4]], 8)),
      /instances\[0\]\.petal_length/,
    );
    assert.match(
      code(() => decodeInstances(iris, [[1, 2, 3, '4']], 8)),
      /instances\[0\]\.petal_width .*got "4"/,
    );
  });

  it('refuses more rows than allowed', () => {
    assert.match(
      code(() => decodeInstances(iris, Array(9).fill([1, 2, 3, 4]), 8)),
      /9 rows; at most 8/,
    );
  });

  it('requires integers within range for integer inputs, and encodes INT64 as BigInt', () => {
    const int8 = fakeModel({ inputs: [spec('x', 'INT8', ['n', 2])], outputs: [spec('y', 'INT8', ['n'])] });
    assert.deepEqual([...decodeInstances(int8, [[1, -128]], 8).feeds.x!.data], [1, -128]);
    assert.match(
      code(() => decodeInstances(int8, [[1, 128]], 8)),
      /instances\[0\]\[1\] must be an integer from -128 to 127, got 128/,
    );
    assert.match(
      code(() => decodeInstances(int8, [[1.5, 1]], 8)),
      /instances\[0\]\[0\] must be an integer/,
    );
    const int64 = fakeModel({ inputs: [spec('x', 'INT64', ['n', 1])], outputs: [spec('y', 'INT64', ['n'])] });
    assert.deepEqual([...decodeInstances(int64, [[7]], 8).feeds.x!.data], [7n]);
  });

  it('refuses objects for a model without feature names', () => {
    const raw = fakeModel({ inputs: [spec('x', 'FP32', ['n', 2])], outputs: [spec('y', 'FP32', ['n'])] });
    assert.match(
      code(() => decodeInstances(raw, [{ a: 1 }], 8)),
      /no feature names: send an array/,
    );
  });
});

describe('decodeInstances for other models (TF Serving row format)', () => {
  const image = fakeModel({
    inputs: [spec('image', 'FP32', ['batch', 1, 2, 2])],
    outputs: [spec('p', 'FP32', ['batch', 10])],
  });

  it('takes one nested row of a 4-D input per instance', () => {
    const { feeds } = decodeInstances(
      image,
      [
        [
          [
            [0, 1],
            [2, 3],
          ],
        ],
        [
          [
            [4, 5],
            [6, 7],
          ],
        ],
      ],
      8,
    );
    assert.deepEqual(feeds.image!.dims, [2, 1, 2, 2]);
    assert.deepEqual([...feeds.image!.data], [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('takes the same row flat', () => {
    const { feeds } = decodeInstances(
      image,
      [
        [0, 1, 2, 3],
        [
          [
            [4, 5],
            [6, 7],
          ],
        ],
      ],
      8,
    );
    assert.deepEqual([...feeds.image!.data], [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('names the instance whose row has the wrong shape', () => {
    assert.match(
      code(() =>
        decodeInstances(
          image,
          [
            [
              [
                [0, 1],
                [2, 3],
              ],
            ],
            [[[4, 5]]],
          ],
          8,
        ),
      ),
      /instances\[1\] has shape \[1, 1, 2\]; the model's "image" takes \[1, 2, 2\] per instance \(nested, or 4 values flat\)/,
    );
  });

  const mixed = fakeModel({
    inputs: [spec('amount', 'FP32', ['batch', 1]), spec('country', 'BYTES', ['batch', 1])],
    outputs: [spec('p', 'FP32', ['batch', 2])],
  });

  it('takes objects of named input rows for a multi-input model, strings included', () => {
    const { feeds } = decodeInstances(
      mixed,
      [
        { amount: [12.5], country: ['FR'] },
        { country: ['DE'], amount: [99] },
      ],
      8,
    );
    assert.deepEqual([...feeds.amount!.data], [12.5, 99]);
    assert.deepEqual(feeds.country!.data, ['FR', 'DE']);
    assert.deepEqual(feeds.country!.dims, [2, 1]);
  });

  it('names a missing or unknown input and a value of the wrong type', () => {
    assert.match(
      code(() => decodeInstances(mixed, [{ amount: [1] }], 8)),
      /instances\[0\] has no "country"/,
    );
    assert.match(
      code(() => decodeInstances(mixed, [{ amount: [1], country: ['FR'], colour: [1] }], 8)),
      /instances\[0\] has unknown input\(s\) "colour"/,
    );
    assert.match(
      code(() => decodeInstances(mixed, [{ amount: [1], country: [7] }], 8)),
      /instances\[0\]\.country\[0\] must be a string, got 7/,
    );
    assert.match(
      code(() => decodeInstances(mixed, [[1, 'FR']], 8)),
      /instances\[0\] must be an object of the model's inputs/,
    );
  });
});

describe('decodeColumns (TF Serving columnar format)', () => {
  it('takes named tensors with the batch included', () => {
    const two = fakeModel({
      inputs: [spec('a', 'FP32', ['batch', 2]), spec('b', 'INT64', ['batch'])],
      outputs: [spec('y', 'FP32', ['batch'])],
    });
    const { feeds, rows } = decodeColumns(
      two,
      {
        a: [
          [1, 2],
          [3, 4],
        ],
        b: [5, 6],
      },
      8,
    );
    assert.equal(rows, 2);
    assert.deepEqual(feeds.a!.dims, [2, 2]);
    assert.deepEqual([...feeds.b!.data], [5n, 6n]);
    assert.match(
      code(() => decodeColumns(two, [[1, 2]], 8)),
      /must be an object of named tensors/,
    );
  });

  it('takes a bare tensor for a single-input model', () => {
    const { feeds } = decodeColumns(iris, [[1, 2, 3, 4]], 8);
    assert.deepEqual(feeds.input!.dims, [1, 4]);
  });

  it('answers the output tensor itself for one output, an object for several', () => {
    const y = { datatype: 'FP32' as const, data: Float32Array.from([1, 2]), dims: [2] };
    assert.equal(columnarResponse({ y }), '{"outputs":[1,2]}');
    const m = { datatype: 'BOOL' as const, data: Uint8Array.from([1, 0, 0, 1]), dims: [2, 2] };
    assert.equal(columnarResponse({ y, m }), '{"outputs":{"y":[1,2],"m":[[true,false],[false,true]]}}');
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
    const unlabelled = fakeModel({
      inputs: iris.runtime.inputs.slice(),
      outputs: iris.runtime.outputs.slice(),
      descriptor: { task: 'classification', outputs: { probabilities: 'probabilities' } },
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
    const reg = fakeModel({
      inputs: [spec('input', 'FP32', ['n', 2])],
      outputs: [spec('value', 'FP32', ['n', 2])],
      descriptor: { task: 'regression', outputs: { value: 'value' } },
    });
    const body = response([1.5, [2, -3]]);
    assert.equal(serializeResponse(reg, body), JSON.stringify(body));
  });
});
