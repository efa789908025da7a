// V2 bodies to calls and tensors to answers: parameters, binary splits, JSON values and the envelope.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCall, encodeAnswer, envelope } from '../../../src/http/v2/codec.js';
import { fakeModel, spec } from '../../fakes.js';
import { readResponse } from '../../oip.js';

const input = { name: 'x', datatype: 'FP32', shape: [1, 2] };

describe('decodeCall', () => {
  it('takes each binary input’s bytes in input order', () => {
    const binary = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const call = decodeCall(
      {
        inputs: [
          { ...input, parameters: { binary_data_size: 8 } },
          { name: 'y', datatype: 'BOOL', shape: [1], data: [true] },
          { name: 'z', datatype: 'UINT8', shape: [4], parameters: { binary_data_size: 4 } },
        ],
      },
      binary,
    );
    assert.deepEqual(
      call.inputs.map((i) => ('bytes' in i.data ? [...i.data.bytes] : i.data.values)),
      [[1, 2, 3, 4, 5, 6, 7, 8], [true], [9, 10, 11, 12]],
    );
  });

  it('decides each output’s form: binary_data on the output, else binary_data_output, else JSON', () => {
    const call = decodeCall(
      {
        inputs: [{ ...input, data: [1, 2] }],
        parameters: { binary_data_output: true },
        outputs: [
          { name: 'a', parameters: { binary_data: false } },
          { name: 'b' },
          { name: 'c', parameters: { classification: 3 } },
        ],
      },
      undefined,
    );
    assert.deepEqual([call.binary('a'), call.binary('b')], [false, true]);
    assert.deepEqual(call.outputs, [{ name: 'a' }, { name: 'b' }, { name: 'c', classification: 3 }]);
    assert.equal(call.anyBinary, true);
    const plain = decodeCall({ inputs: [{ ...input, data: [1, 2] }] }, undefined);
    assert.equal(plain.outputs, undefined);
    assert.equal(plain.anyBinary, false);
    assert.notEqual(call.variant, plain.variant);
  });

  it('refuses parameters of the wrong type, naming them', () => {
    assert.throws(
      () => decodeCall({ inputs: [{ ...input, parameters: { binary_data_size: -1 } }] }, Buffer.alloc(0)),
      /inputs\[0\] \("x"\) parameters.binary_data_size must be a non-negative integer, got -1/,
    );
    assert.throws(
      () =>
        decodeCall(
          { inputs: [{ ...input, data: [1, 2] }], parameters: { binary_data_output: 'yes' } },
          undefined,
        ),
      /the request parameters.binary_data_output must be true or false/,
    );
  });
});

describe('encodeAnswer and envelope', () => {
  const model = fakeModel({
    name: 'm"x',
    inputs: [spec('x', 'FP32', ['n', 2])],
    outputs: [spec('y', 'FP32', ['n', 2])],
  });

  it('writes JSON values exactly: BigInts in full, non-finite numbers as null, BOOL as booleans', () => {
    const encoded = encodeAnswer(
      model,
      {
        i: { datatype: 'INT64', data: BigInt64Array.of(2n ** 62n, -1n), dims: [2] },
        f: { datatype: 'FP32', data: Float32Array.of(NaN, 1.5), dims: [2] },
        b: { datatype: 'BOOL', data: Uint8Array.of(1, 0), dims: [2] },
        s: { datatype: 'BYTES', data: ['a"b', '☃'], dims: [2] },
      },
      () => false,
      false,
    );
    const { body, header } = envelope(encoded, false, 'id "7"');
    assert.equal(header, 0);
    const text = body.toString();
    assert.match(text, /"data":\[4611686018427387904,-1\]/);
    const json = JSON.parse(text);
    assert.equal(json.model_name, 'm"x');
    assert.equal(json.id, 'id "7"');
    assert.deepEqual(json.outputs.map((o: { data: unknown[] }) => o.data).slice(1), [
      [null, 1.5],
      [true, false],
      ['a"b', '☃'],
    ]);
  });

  it('puts binary outputs after the JSON header, whose length it reports', () => {
    const encoded = encodeAnswer(
      model,
      {
        y: { datatype: 'FP32', data: Float32Array.of(1, 2), dims: [1, 2] },
        s: { datatype: 'BYTES', data: ['hi'], dims: [1] },
      },
      () => true,
      true,
    );
    const { body, header } = envelope(encoded, true, undefined);
    const { json } = readResponse(body, header);
    assert.equal(body.buffer, encoded.buffer, 'without an id the cached answer goes as it is');
    const withId = envelope(encoded, true, 'x');
    assert.equal(readResponse(withId.body, withId.header).json.id, 'x');
    assert.deepEqual([...new Float32Array(new Uint8Array(json.outputs[0]!.bytes!).buffer)], [1, 2]);
    assert.deepEqual([...json.outputs[1]!.bytes!], [2, 0, 0, 0, 104, 105]);
  });
});
