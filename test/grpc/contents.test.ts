// The contents codecs on their own: ModelInferRequest contents to the core's wire tensors, answers written as
// protobuf bytes (compared byte for byte with @bufbuild/protobuf's encoder), the message shapes against the .proto,
// peer addresses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import type { MethodDefinition } from '@grpc/grpc-js';
import { decodeRequest } from '../../src/grpc/contents.js';
import { loadDefinitions, SERVICE_NAME } from '../../src/grpc/definitions.js';
import { registryOf } from '../../src/grpc/descriptors.js';
import { peerAddress } from '../../src/grpc/guard.js';
import type { ModelInferRequest } from '../../src/grpc/messages.js';
import { encodeInferResponse, streamError, streamResponse, withId } from '../../src/grpc/wire.js';

const { packageDefinition } = loadDefinitions();
const methods = packageDefinition[SERVICE_NAME] as Record<string, MethodDefinition<unknown, unknown>>;
const infer = methods.ModelInfer!;
const stream = methods.ModelStreamInfer!;
const registry = registryOf(
  (infer as { requestType?: { fileDescriptorProtos: Uint8Array[] } }).requestType!.fileDescriptorProtos,
);
const Response = registry.getMessage('inference.ModelInferResponse') as DescMessage;
const StreamResponse = registry.getMessage('inference.ModelStreamInferResponse') as DescMessage;

/** A request as the server decodes it, from the object a client would send. */
const decoded = (request: Record<string, unknown>) =>
  infer.requestDeserialize(infer.requestSerialize(request)) as ModelInferRequest;

describe('decodeRequest', () => {
  it('takes typed contents from the field of each datatype, 64-bit integers exactly', () => {
    const call = decodeRequest(
      decoded({
        model_name: 'm',
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [0.5, 2] } },
          { name: 'b', datatype: 'INT64', shape: [1], contents: { int64_contents: ['9007199254740993'] } },
          { name: 'c', datatype: 'UINT8', shape: [2], contents: { uint_contents: [1, 255] } },
          { name: 'd', datatype: 'BOOL', shape: [1], contents: { bool_contents: [true] } },
          { name: 'e', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('hé')] } },
          { name: 'f', datatype: 'INT16', shape: [1], contents: { int_contents: [-3] } },
          {
            name: 'g',
            datatype: 'UINT64',
            shape: [1],
            contents: { uint64_contents: ['18446744073709551615'] },
          },
          { name: 'h', datatype: 'FP64', shape: [1], contents: { fp64_contents: [0.1] } },
        ],
      }),
    );
    const values = Object.fromEntries(
      call.inputs.map((t) => [t.name, (t.data as { values: unknown }).values]),
    );
    assert.deepEqual(values, {
      a: [0.5, 2],
      b: [9007199254740993n],
      c: [1, 255],
      d: [true],
      e: [Buffer.from('hé')],
      f: [-3],
      g: [18446744073709551615n],
      h: [0.1],
    });
    assert.deepEqual(call.inputs[0]?.shape, [1, 2]);
    assert.equal(call.outputs, undefined);
    assert.equal(call.variant, '*');
  });

  it('takes raw contents, one entry per input in order, as bytes', () => {
    const call = decodeRequest(
      decoded({
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1] },
          { name: 'b', datatype: 'BYTES', shape: [1] },
        ],
        raw_input_contents: [Buffer.alloc(4), Buffer.from([1, 0, 0, 0, 120])],
      }),
    );
    assert.deepEqual(
      call.inputs.map((t) => [t.name, Buffer.from((t.data as { bytes: Uint8Array }).bytes)]),
      [
        ['a', Buffer.alloc(4)],
        ['b', Buffer.from([1, 0, 0, 0, 120])],
      ],
    );
  });

  it('reads requested outputs and classification, and keys the cache by them', () => {
    const call = decodeRequest(
      decoded({
        inputs: [],
        outputs: [
          {
            name: 'p',
            parameters: { classification: { int64_param: 2 }, binary_data: { bool_param: true } },
          },
          { name: 'l' },
        ],
      }),
    );
    assert.deepEqual(call.outputs, [{ name: 'p', classification: 2 }, { name: 'l' }]);
    assert.equal(call.variant, 'p:2\0l:');
  });

  it('refuses contents that contradict the request', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }], raw_input_contents: [] },
        /^$/, // no contents at all: left to the core's element count check
      ],
      [
        {
          inputs: [{ name: 'a', datatype: 'INT32', shape: [1], contents: { fp32_contents: [1] } }],
        },
        /inputs\[0\] \("a"\) is INT32, whose elements go in contents.int_contents, but contents.fp32_contents holds some/,
      ],
      [
        {
          inputs: [{ name: 'a', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }],
          raw_input_contents: [Buffer.alloc(4)],
        },
        /has contents, but the request has raw_input_contents/,
      ],
      [
        {
          inputs: [
            { name: 'a', datatype: 'FP32', shape: [1] },
            { name: 'b', datatype: 'FP32', shape: [1] },
          ],
          raw_input_contents: [Buffer.alloc(4)],
        },
        /raw_input_contents has 1 entries for 2 inputs/,
      ],
      [
        { inputs: [], outputs: [{ name: 'p', parameters: { classification: { double_param: 1.5 } } }] },
        /outputs\[0\] \("p"\) parameters.classification must be a non-negative int64_param, got double_param 1.5/,
      ],
    ];
    for (const [request, message] of cases) {
      if (message.source === '^$') {
        assert.deepEqual((decodeRequest(decoded(request)).inputs[0]?.data as { values: unknown }).values, []);
        continue;
      }
      assert.throws(() => decodeRequest(decoded(request)), message);
    }
  });
});

describe('answers as protobuf bytes', () => {
  const answer = encodeInferResponse(
    { name: 'iris', version: '1' },
    [
      { name: 'label', datatype: 'INT64', shape: [2] },
      { name: 'probabilities', datatype: 'FP32', shape: [2, 300] },
      { name: 'empty', datatype: 'BYTES', shape: [0] },
    ],
    [Buffer.alloc(16, 1), Buffer.alloc(2400, 2), Buffer.alloc(0)],
  );

  it('decode with the .proto as a ModelInferResponse, one raw entry per output, even empty ones', () => {
    const response = infer.responseDeserialize(answer) as Record<string, unknown>;
    assert.equal(response.model_name, 'iris');
    assert.equal(response.model_version, '1');
    assert.equal(response.id, '');
    assert.deepEqual(response.outputs, [
      { name: 'label', datatype: 'INT64', shape: ['2'], parameters: {}, contents: null },
      { name: 'probabilities', datatype: 'FP32', shape: ['2', '300'], parameters: {}, contents: null },
      { name: 'empty', datatype: 'BYTES', shape: ['0'], parameters: {}, contents: null },
    ]);
    assert.deepEqual(response.raw_output_contents, [
      Buffer.alloc(16, 1),
      Buffer.alloc(2400, 2),
      Buffer.alloc(0),
    ]);
  });

  it('take an id appended, and wrap into stream responses and stream errors', () => {
    const named = infer.responseDeserialize(withId(answer, 'req-7')) as Record<string, unknown>;
    assert.equal(named.id, 'req-7');
    assert.equal(withId(answer, ''), answer);
    const wrapped = stream.responseDeserialize(streamResponse(withId(answer, 'x'))) as Record<
      string,
      Record<string, unknown> | string
    >;
    assert.equal(wrapped.error_message, '');
    assert.equal((wrapped.infer_response as Record<string, unknown>).id, 'x');
    const failed = stream.responseDeserialize(streamError('bad input é')) as Record<string, unknown>;
    assert.deepEqual([failed.error_message, failed.infer_response], ['bad input é', null]);
  });

  it('write names beyond ASCII as UTF-8', () => {
    const named = encodeInferResponse(
      { name: 'modèle', version: '12' },
      [{ name: 'sortie-é', datatype: 'FP32', shape: [1] }],
      [Buffer.alloc(4)],
    );
    const response = infer.responseDeserialize(named) as { model_name: string; outputs: { name: string }[] };
    assert.deepEqual([response.model_name, response.outputs[0]?.name], ['modèle', 'sortie-é']);
  });

  it('are the bytes an independent encoder (@bufbuild/protobuf) writes for the same response', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const { model, outputs, raw } = randomAnswer(seed);
      const reference = toBinary(
        Response,
        create(Response, {
          modelName: model.name,
          modelVersion: model.version,
          outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape.map(BigInt) })),
          rawOutputContents: raw,
        }),
      );
      const ours = encodeInferResponse(model, outputs, raw);
      assert.deepEqual(ours, Buffer.from(reference), `seed ${seed}`);
      // A stream's wrapper and error, byte for byte too.
      const wrapped = toBinary(
        StreamResponse,
        create(StreamResponse, { inferResponse: fromBinary(Response, reference) }),
      );
      assert.deepEqual(streamResponse(ours), Buffer.from(wrapped), `seed ${seed}`);
      const error = toBinary(StreamResponse, create(StreamResponse, { errorMessage: model.name }));
      assert.deepEqual(streamError(model.name), Buffer.from(error), `seed ${seed}`);
      // The id goes after the outputs (a later field merges in): the same message, read by the reference decoder.
      const id = model.version + model.name;
      const named = fromBinary(Response, withId(ours, id));
      const fields = named as unknown as { id: string };
      assert.equal(fields.id, id, `seed ${seed}`);
      fields.id = '';
      assert.deepEqual(toBinary(Response, named), reference, `seed ${seed}`);
    }
  });
});

/** A response of random names (beyond ASCII too), shapes (empty, zero, past 2^32) and raw lengths (0 to 20 KB). */
function randomAnswer(seed: number) {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const text = () => Array.from({ length: int(10) }, () => ['a', 'Z', '-', 'é', '雪', '🦊'][int(6)]).join('');
  const dim = () => [0, 1, 127, 128, 16_384, 2 ** 40 + 3][int(6)] as number;
  const outputs = Array.from({ length: int(4) }, () => ({
    name: text(),
    datatype: ['FP32', 'INT64', 'BYTES', ''][int(4)] as string,
    shape: Array.from({ length: int(4) }, dim),
  }));
  const raw = outputs.map(() => new Uint8Array(int(3) === 0 ? int(20_000) : int(200)).fill(seed & 255));
  return { model: { name: text(), version: String(int(200)) }, outputs, raw };
}

describe('the message shapes of messages.ts', () => {
  it('name only fields the .proto has', () => {
    const request = decoded({
      model_name: 'm',
      inputs: [{ name: 'a', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }],
      outputs: [{ name: 'o' }],
    });
    assert.deepEqual(Object.keys(request).sort(), [
      'id',
      'inputs',
      'model_name',
      'model_version',
      'outputs',
      'parameters',
      'raw_input_contents',
    ]);
    assert.deepEqual(Object.keys(request.inputs[0]!).sort(), [
      'contents',
      'datatype',
      'name',
      'parameters',
      'shape',
    ]);
    assert.deepEqual(Object.keys(request.inputs[0]!.contents!).sort(), [
      'bool_contents',
      'bytes_contents',
      'fp32_contents',
      'fp64_contents',
      'int64_contents',
      'int_contents',
      'uint64_contents',
      'uint_contents',
    ]);
    assert.deepEqual(Object.keys(request.outputs[0]!).sort(), ['name', 'parameters']);
  });
});

describe('peerAddress', () => {
  it('gives the bare address, as HTTP keys its rate limits', () => {
    assert.equal(peerAddress('127.0.0.1:51234'), '127.0.0.1');
    assert.equal(peerAddress('ipv4:10.1.2.3:80'), '10.1.2.3');
    assert.equal(peerAddress('::1:51234'), '::1');
    assert.equal(peerAddress('[::1]:51234'), '::1');
    assert.equal(peerAddress('::ffff:127.0.0.1:9'), '::ffff:127.0.0.1');
    assert.equal(peerAddress('unknown'), 'unknown');
  });
});
