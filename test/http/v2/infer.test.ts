// POST /v2/models/{m}[/versions/{v}]/infer: JSON tensors, Triton's binary tensor and classification extensions,
// compression, limits and errors, as the OIP specification and Triton's extension documents describe them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { toHalf } from '../../../src/core/tensor/dtypes.js';
import { FIXTURE_MODELS, loadedApp, MODELS, tempRepository } from '../../helpers.js';
import { binaryRequest, rawBytes, readResponse, strings } from '../../oip.js';

const setosa = [5.1, 3.5, 1.4, 0.2];
const virginica = [6.7, 3.0, 5.2, 2.3];
const irisInput = (data: unknown, shape = [2, 4]) => ({ name: 'input', datatype: 'FP32', shape, data });

describe('V2 inference', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository({
      'iris/1': { from: join(MODELS, 'iris/1') },
      'fraud/1': { from: join(MODELS, 'fraud/1') },
      'fp16/1': { from: join(FIXTURE_MODELS, 'fp16/1') },
      'fixed-batch/1': { from: join(FIXTURE_MODELS, 'fixed-batch/1') },
      'embedding/1': { from: join(FIXTURE_MODELS, 'embedding/1') },
    });
    cleanup = repo.cleanup;
    app = await loadedApp({ modelRepository: repo.root, bodyLimitBytes: 4096, binaryBodyLimitBytes: 65536 });
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  const infer = (payload: unknown, headers: Record<string, string> = {}, url = '/v2/models/iris/infer') =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
    });

  describe('JSON tensors', () => {
    it('answers every output by default, with the model, its version and the echoed id', async () => {
      const res = await infer({ id: '42', inputs: [irisInput([...setosa, ...virginica])] });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/json/);
      const body = res.json();
      assert.equal(body.model_name, 'iris');
      assert.equal(body.model_version, '1');
      assert.equal(body.id, '42');
      assert.deepEqual(
        body.outputs.map((o: { name: string }) => o.name),
        ['label', 'probabilities'],
      );
      assert.deepEqual(body.outputs[0], { name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] });
      assert.deepEqual(body.outputs[1].shape, [2, 3]);
      assert.equal(body.outputs[1].data.length, 6, 'data is flat, row-major');
    });

    it('takes nested data like flat data, and leaves "id" out when the request has none', async () => {
      const flat = (await infer({ inputs: [irisInput([...setosa, ...virginica])] })).json();
      const nested = (await infer({ inputs: [irisInput([setosa, virginica])] })).json();
      assert.deepEqual(nested, flat);
      assert.equal('id' in flat, false);
    });

    it('answers the requested outputs only, in the requested order, for a pinned version', async () => {
      const res = await infer(
        { inputs: [irisInput(setosa, [1, 4])], outputs: [{ name: 'probabilities' }] },
        {},
        '/v2/models/iris/versions/1/infer',
      );
      assert.deepEqual(
        res.json().outputs.map((o: { name: string }) => o.name),
        ['probabilities'],
      );
    });

    it('refuses an output the model does not have, naming it (Triton #140: never a silent 200)', async () => {
      const res = await infer({ inputs: [irisInput(setosa, [1, 4])], outputs: [{ name: 'colour' }] });
      assert.equal(res.statusCode, 400);
      assert.match(
        res.json().error,
        /unknown output "colour"; the model's outputs are "label", "probabilities"/,
      );
    });

    it('serves a model with FP32, INT64 and BYTES inputs and a BOOL output', async () => {
      const res = await infer(
        {
          inputs: [
            { name: 'amount', datatype: 'FP32', shape: [2, 1], data: [12.5, 950] },
            { name: 'items', datatype: 'INT64', shape: [2, 1], data: [1, 9] },
            { name: 'country', datatype: 'BYTES', shape: [2, 1], data: ['FR', 'BR'] },
          ],
        },
        {},
        '/v2/models/fraud/infer',
      );
      assert.equal(res.statusCode, 200, res.body);
      const flagged = res.json().outputs.find((o: { name: string }) => o.name === 'flagged');
      assert.deepEqual(flagged.datatype, 'BOOL');
      assert.ok(flagged.data.every((v: unknown) => typeof v === 'boolean'));
    });

    it('names the input and element of a bad value with 400, as for every protocol', async () => {
      const res = await infer({ inputs: [irisInput([1, 2, 3, 'x'], [1, 4])] });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_INPUT');
      assert.match(res.json().error, /input "input" element \[0, 3\] must be a finite number/);
      assert.deepEqual(res.json().details, { input: 'input', index: [0, 3] });
    });

    it('refuses a request body that is not an inference request', async () => {
      for (const body of [
        {},
        { inputs: [] },
        { inputs: [{ name: 'input', shape: [1, 4] }] },
        { inputs: [irisInput(setosa, [1, 4])], id: 7 },
      ]) {
        const res = await infer(body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(res.json().code, 'INVALID_REQUEST');
      }
      const noData = await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }] });
      assert.match(noData.json().error, /has neither data nor binary_data_size/);
    });

    it('refuses FP16 as JSON, in and out: it travels only as binary data', async () => {
      const input = await infer(
        { inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 3], data: [1, 2, 3] }] },
        {},
        '/v2/models/fp16/infer',
      );
      assert.equal(input.statusCode, 400);
      assert.equal(input.json().code, 'INVALID_INPUT');
      assert.match(input.json().error, /FP16, which travels only as binary data/);
      const { payload, headers } = binaryRequest([
        {
          name: 'x',
          datatype: 'FP16',
          shape: [1, 3],
          bytes: rawBytes(Uint16Array.of(toHalf(1), toHalf(2), toHalf(3))),
        },
      ]);
      const output = await infer(payload, headers, '/v2/models/fp16/infer');
      assert.equal(output.statusCode, 400);
      assert.equal(output.json().code, 'INVALID_INPUT');
      assert.match(output.json().error, /output "y" is FP16.*binary_data: true/);
    });

    it('refuses JSON nested deeper than the protocol can use, at the cost of reading it', async () => {
      const res = await infer('{"inputs":' + '['.repeat(100) + ']'.repeat(100) + '}');
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_REQUEST');
      assert.match(res.json().error, /nests arrays and objects more than 32 deep/);
    });
  });

  describe('classification extension', () => {
    it('returns the top k classes as BYTES "score:index:label", best first', async () => {
      const res = await infer({
        inputs: [irisInput([setosa, virginica])],
        outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
      });
      const [output] = res.json().outputs;
      assert.equal(output.datatype, 'BYTES');
      assert.deepEqual(output.shape, [2, 2]);
      assert.match(output.data[0], /^0\.98\d*:0:setosa$/);
      assert.match(output.data[2], /^0\.9\d*:2:virginica$/);
    });

    it('refuses a classification count that is not a positive integer', async () => {
      const res = await infer({
        inputs: [irisInput(setosa, [1, 4])],
        outputs: [{ name: 'probabilities', parameters: { classification: 0 } }],
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_INPUT');
      assert.match(res.json().error, /classification must be an integer >= 1/);
    });
  });

  describe('binary tensor extension', () => {
    it('takes binary inputs with no Content-Type (as tritonclient sends them) and answers in binary', async () => {
      const { payload, headers } = binaryRequest(
        [
          {
            name: 'input',
            datatype: 'FP32',
            shape: [2, 4],
            bytes: rawBytes(Float32Array.from([...setosa, ...virginica])),
          },
        ],
        { parameters: { binary_data_output: true } },
      );
      const res = await app.inject({ method: 'POST', url: '/v2/models/iris/infer', headers, payload });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      const { json, binary } = readResponse(res.rawPayload, res.headers['inference-header-content-length']);
      assert.equal(binary, 8 * 2 + 4 * 6);
      const [label, probabilities] = json.outputs;
      assert.deepEqual([...new BigInt64Array(new Uint8Array(label!.bytes!).buffer)], [0n, 2n]);
      assert.equal(probabilities!.parameters!.binary_data_size, 24);
      assert.equal(new Float32Array(new Uint8Array(probabilities!.bytes!).buffer).length, 6);
    });

    it('lets each output choose: binary_data overrides binary_data_output', async () => {
      const { payload, headers } = binaryRequest(
        [{ name: 'input', datatype: 'FP32', shape: [1, 4], bytes: rawBytes(Float32Array.from(setosa)) }],
        {
          parameters: { binary_data_output: true },
          outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'probabilities' }],
        },
      );
      const res = await infer(payload, { ...headers, 'content-type': 'application/octet-stream' });
      const { json } = readResponse(res.rawPayload, res.headers['inference-header-content-length']);
      assert.deepEqual(json.outputs[0]!.data, [0]);
      assert.equal(json.outputs[1]!.bytes!.length, 12);
    });

    it('answers plain JSON without the header when no output is binary, even for binary inputs', async () => {
      const { payload, headers } = binaryRequest([
        { name: 'input', datatype: 'FP32', shape: [1, 4], bytes: rawBytes(Float32Array.from(setosa)) },
      ]);
      const res = await infer(payload, headers);
      assert.equal(res.headers['inference-header-content-length'], undefined);
      assert.equal(res.json().outputs[0].data[0], 0);
    });

    it('takes BYTES as length-prefixed strings and returns BOOL as bytes', async () => {
      const { payload, headers } = binaryRequest(
        [
          { name: 'amount', datatype: 'FP32', shape: [2, 1], bytes: rawBytes(Float32Array.of(12.5, 950)) },
          { name: 'items', datatype: 'INT64', shape: [2, 1], bytes: rawBytes(BigInt64Array.of(1n, 9n)) },
          { name: 'country', datatype: 'BYTES', shape: [2, 1], bytes: rawBytes(['FR', 'BR']) },
        ],
        {
          outputs: [
            { name: 'flagged', parameters: { binary_data: true } },
            { name: 'probabilities', parameters: { classification: 1, binary_data: true } },
          ],
        },
      );
      const res = await infer(payload, headers, '/v2/models/fraud/infer');
      assert.equal(res.statusCode, 200, res.body);
      const { json } = readResponse(res.rawPayload, res.headers['inference-header-content-length']);
      assert.equal(json.outputs[0]!.bytes!.length, 2);
      assert.ok([...json.outputs[0]!.bytes!].every((b) => b === 0 || b === 1));
      assert.match(strings(json.outputs[1]!.bytes!)[0]!, /^0\.\d+:[01]:(legit|fraud)$/);
    });

    it('round-trips FP16 as its bits', async () => {
      const { payload, headers } = binaryRequest(
        [
          {
            name: 'x',
            datatype: 'FP16',
            shape: [1, 3],
            bytes: rawBytes(Uint16Array.of(toHalf(1), toHalf(-2.5), toHalf(100))),
          },
        ],
        { parameters: { binary_data_output: true } },
      );
      const res = await infer(payload, headers, '/v2/models/fp16/infer');
      const { json } = readResponse(res.rawPayload, res.headers['inference-header-content-length']);
      const y = json.outputs[0]!;
      assert.equal(y.datatype, 'FP16');
      assert.deepEqual(
        [...new Uint16Array(new Uint8Array(y.bytes!).buffer)],
        [toHalf(2), toHalf(-5), toHalf(200)],
      );
    });

    it('says so when the sizes in the header disagree with the binary data (400, never a 5xx or a hang)', async () => {
      const bytes = rawBytes(Float32Array.from(setosa));
      const input = { name: 'input', datatype: 'FP32', shape: [1, 4], bytes };
      const good = binaryRequest([input]);
      const cases: [Buffer, Record<string, string>, RegExp, string][] = [
        [
          good.payload.subarray(0, good.payload.length - 4),
          good.headers,
          /binary_data_size 16, but only 12 bytes/,
          'INVALID_REQUEST',
        ],
        [
          Buffer.concat([good.payload, Buffer.alloc(3)]),
          good.headers,
          /binary data has 19 bytes but .* add up to 16/,
          'INVALID_REQUEST',
        ],
        [
          good.payload,
          { 'inference-header-content-length': String(good.payload.length + 1) },
          /Inference-Header-Content-Length is "\d+" but the body has/,
          'INVALID_REQUEST',
        ],
        [
          good.payload,
          { 'inference-header-content-length': 'ten' },
          /Inference-Header-Content-Length is "ten"/,
          'INVALID_REQUEST',
        ],
        [
          good.payload.subarray(0, good.payload.length - 16),
          {},
          /binary_data_size, but the request has no Inference-Header-Content-Length/,
          'INVALID_REQUEST',
        ],
        [
          binaryRequest([{ ...input, bytes: bytes.subarray(0, 12) }]).payload,
          binaryRequest([{ ...input, bytes: bytes.subarray(0, 12) }]).headers,
          /12 bytes of binary data; FP32 \[1, 4\] takes 16/,
          'INVALID_INPUT',
        ],
      ];
      for (const [payload, headers, message, code] of cases) {
        const res = await infer(payload, headers);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, code, res.body);
        assert.match(res.json().error, message);
      }
    });

    it('refuses an input with both data and binary_data_size', async () => {
      const header = JSON.stringify({
        inputs: [{ ...irisInput(setosa, [1, 4]), parameters: { binary_data_size: 16 } }],
      });
      const payload = Buffer.concat([Buffer.from(header), rawBytes(Float32Array.from(setosa))]);
      const res = await infer(payload, { 'inference-header-content-length': String(header.length) });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_REQUEST');
      assert.match(res.json().error, /has both data and binary_data_size/);
    });
  });

  describe('bodies: media types, encodings and limits', () => {
    const json = JSON.stringify({ inputs: [irisInput(setosa, [1, 4])] });

    it('refuses other media types with 415', async () => {
      const res = await infer(json, { 'content-type': 'text/plain' });
      assert.equal(res.statusCode, 415);
      assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('decodes gzip and deflate request bodies, and refuses other encodings with 415', async () => {
      for (const [encoding, payload] of [
        ['gzip', gzipSync(json)],
        ['deflate', deflateSync(json)],
      ] as const) {
        const res = await infer(payload, { 'content-encoding': encoding });
        assert.equal(res.statusCode, 200, `${encoding}: ${res.body}`);
      }
      const br = await infer(json, { 'content-encoding': 'br' });
      assert.equal(br.statusCode, 415);
      assert.equal(br.json().code, 'UNSUPPORTED_ENCODING');
      const corrupt = await infer(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
      assert.equal(corrupt.statusCode, 400);
      assert.match(corrupt.json().error, /cannot be decoded/);
    });

    it('applies the body limit to the decoded size: a small gzip bomb is a 413', async () => {
      const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
      assert.ok(bomb.length < 20_000);
      const res = await infer(bomb, { 'content-encoding': 'gzip', 'inference-header-content-length': '0' });
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'PAYLOAD_TOO_LARGE');
    });

    it('has a larger limit for binary bodies than for JSON ones', async () => {
      const big = JSON.stringify({
        inputs: [
          irisInput(
            Array.from({ length: 1000 }, () => setosa),
            [1000, 4],
          ),
        ],
      });
      assert.ok(big.length > 4096 && big.length < 65536);
      assert.equal((await infer(big)).statusCode, 413, 'JSON over the JSON limit');
      const { payload, headers } = binaryRequest([
        { name: 'input', datatype: 'FP32', shape: [1000, 4], bytes: rawBytes(new Float32Array(4000)) },
      ]);
      assert.equal(
        (await infer(payload, headers)).statusCode,
        200,
        'the same tensor in binary is within its limit',
      );
      const { payload: huge, headers: hugeHeaders } = binaryRequest([
        { name: 'input', datatype: 'FP32', shape: [4096, 4], bytes: rawBytes(new Float32Array(16384)) },
      ]);
      assert.equal((await infer(huge, hugeHeaders)).statusCode, 413);
    });

    it('compresses a large answer when the client accepts gzip', async () => {
      const rows = Array.from({ length: 100 }, () => setosa);
      const res = await infer({ inputs: [irisInput(rows, [100, 4])] }, { 'accept-encoding': 'gzip' });
      assert.equal(res.headers['content-encoding'], 'gzip');
      const body = JSON.parse(gunzipSync(res.rawPayload).toString());
      assert.equal(body.outputs[0].data.length, 100);
      const small = await infer(json, { 'accept-encoding': 'gzip' });
      assert.equal(small.headers['content-encoding'], undefined, 'small answers go as they are');
    });
  });

  describe('inputs the graph would refuse', () => {
    it('checks a fixed batch dim before running: 400 naming the input and dim, not a 500', async () => {
      const res = await infer(
        { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: [...setosa, ...virginica] }] },
        {},
        '/v2/models/fixed-batch/infer',
      );
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_INPUT');
      assert.match(res.json().error, /input "input" dimension 0 is 2; the model expects 1/);
    });

    it('answers a value onnxruntime refuses (an index out of range) with 400 INFERENCE_REJECTED', async () => {
      const res = await infer(
        { inputs: [{ name: 'tokens', datatype: 'INT64', shape: [1, 5], data: [1, 2, 3, 4, 1000] }] },
        {},
        '/v2/models/embedding/infer',
      );
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INFERENCE_REJECTED');
      assert.match(res.json().error, /indices element out of data bounds, idx=1000/);
    });
  });
});

describe('V2 inference through the prediction cache', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ cacheEnabled: true });
  });
  after(() => app.close());
  const send = (payload: unknown, headers: Record<string, string> = {}, url = '/v2/models/iris/infer') =>
    app.inject({
      method: 'POST',
      url,
      headers,
      payload: Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
    });

  it('files V1, V2 JSON and V2 binary answers apart, and echoes each request’s own id on a hit', async () => {
    const row = [4.4, 2.9, 1.4, 0.2];
    const v1 = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      payload: { instances: [row] },
    });
    assert.equal(v1.headers['cache-status'], 'serval; fwd=miss; stored');
    const first = await send({ id: 'a', inputs: [irisInput(row, [1, 4])] });
    assert.equal(first.headers['cache-status'], 'serval; fwd=miss; stored', 'not answered from V1 bytes');
    const second = await send({ id: 'b', inputs: [irisInput([row], [1, 4])] });
    assert.equal(second.headers['cache-status'], 'serval; hit');
    assert.equal(second.json().id, 'b');
    assert.deepEqual(second.json().outputs, first.json().outputs);
    const { payload, headers } = binaryRequest(
      [{ name: 'input', datatype: 'FP32', shape: [1, 4], bytes: rawBytes(Float32Array.from(row)) }],
      {
        parameters: { binary_data_output: true },
      },
    );
    const binary = await send(payload, headers);
    assert.equal(
      binary.headers['cache-status'],
      'serval; fwd=miss; stored',
      'binary answers have their own entries',
    );
    const again = await send(payload, headers);
    assert.equal(again.headers['cache-status'], 'serval; hit');
    assert.equal(
      again.headers['inference-header-content-length'],
      binary.headers['inference-header-content-length'],
    );
    assert.deepEqual(again.rawPayload, binary.rawPayload);
  });

  it('keeps answers with other requested outputs or classification apart', async () => {
    const row = [4.6, 3.1, 1.5, 0.2];
    const all = await send({ inputs: [irisInput(row, [1, 4])] });
    const one = await send({ inputs: [irisInput(row, [1, 4])], outputs: [{ name: 'label' }] });
    const top = await send({
      inputs: [irisInput(row, [1, 4])],
      outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
    });
    assert.deepEqual(
      [all, one, top].map((r) => r.headers['cache-status']),
      ['serval; fwd=miss; stored', 'serval; fwd=miss; stored', 'serval; fwd=miss; stored'],
    );
    assert.equal(top.json().outputs[0].datatype, 'BYTES');
  });
});

// Large bodies reuse memory once their answer is sent: every answer must still come from its own request's bytes.
describe('large binary bodies in reused memory', () => {
  let app: FastifyInstance;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await tempRepository({ 'large/1': { from: join(FIXTURE_MODELS, 'large/1') } });
    // On a thread, calls wait in the queue holding views into their bodies while later bodies arrive.
    app = await loadedApp({ modelRepository: repo.root, inferenceMode: 'thread', batchMaxRows: 1 });
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });

  /** A [1, 3, 224, 224] image of one value; the model answers its mean per channel. */
  const image = (value: number) => {
    const data = new Float32Array(3 * 224 * 224).fill(value);
    return binaryRequest([
      { name: 'image', datatype: 'FP32', shape: [1, 3, 224, 224], bytes: new Uint8Array(data.buffer) },
    ]);
  };
  const send = async (value: number) => {
    const { payload, headers } = image(value);
    const res = await app.inject({ method: 'POST', url: '/v2/models/large/infer', headers, payload });
    assert.equal(res.statusCode, 200, res.body.slice(0, 200));
    return res.json<{ outputs: { name: string; data: number[] }[] }>().outputs[0]?.data;
  };

  it('answers each of many concurrent and sequential requests from its own tensor', async () => {
    for (let wave = 0; wave < 3; wave++) {
      const values = Array.from({ length: 10 }, (_, i) => wave * 10 + i + 0.5);
      const answers = await Promise.all(values.map(send));
      answers.forEach((data, i) =>
        assert.deepEqual(data, [values[i], values[i], values[i]], `value ${values[i]}`),
      );
    }
    // Staggered: each body arrives while the calls before it still wait for the thread with views into theirs.
    const staggered: Promise<number[] | undefined>[] = [];
    for (let i = 1; i <= 10; i++) {
      staggered.push(send(-i));
      await new Promise((resolve) => setImmediate(resolve));
    }
    (await Promise.all(staggered)).forEach((data, i) =>
      assert.deepEqual(data, [-(i + 1), -(i + 1), -(i + 1)]),
    );
    for (let i = 1; i <= 5; i++) assert.deepEqual(await send(i * 100), [i * 100, i * 100, i * 100]);
    // A JSON body of another shape between them, and a refused one, do not disturb the next binary body.
    const refused = await app.inject({
      method: 'POST',
      url: '/v2/models/large/infer',
      headers: image(1).headers,
      payload: image(1).payload.subarray(0, 1000),
    });
    assert.equal(refused.statusCode, 400);
    assert.deepEqual(await send(7.25), [7.25, 7.25, 7.25]);
  });
});
