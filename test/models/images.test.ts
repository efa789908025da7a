// Image files through every way each protocol carries them, to digits-cnn (its image input declared in model.json):
// the digit images Pillow wrote (training/digit_images.py) answer as the tensors they stand for, the same through
// V1 (file body, multipart, b64 in rows and columns), V2 (base64 JSON, binary) and gRPC (raw and typed contents);
// and every bad payload is a 4xx (INVALID_ARGUMENT) naming the input and row, after which the server still serves.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { frontEnds, outputOf, type FrontEnds, type GrpcClient, type InferAnswer } from '../grpc.js';
import { ROOT } from '../helpers.js';
import { binaryRequest, readResponse } from '../oip.js';

const IMAGES = join(ROOT, 'test/fixtures/images');
const manifest = JSON.parse(readFileSync(join(IMAGES, 'images.json'), 'utf8')) as {
  file: string;
  label: number;
  tensor?: number[];
}[];
const file = (name: string) => readFileSync(join(IMAGES, name));
const typeOf = (name: string) => (name.endsWith('.png') ? 'image/png' : 'image/jpeg');

/** What a way answers for one image: the label and the ten probabilities. */
interface Answer {
  label: number;
  probabilities: number[];
}

/** A multipart/form-data body as fetch's FormData writes it. */
async function multipart(parts: [string, Buffer, string][]): Promise<{ body: Buffer; type: string }> {
  const form = new FormData();
  for (const [name, bytes, filename] of parts) form.append(name, new Blob([bytes]), filename);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), type: request.headers.get('content-type') ?? '' };
}

function fromV1(body: string): Answer {
  const [p] = (
    JSON.parse(body) as { predictions: { label: string; probabilities: Record<string, number> }[] }
  ).predictions;
  assert.ok(p, body.slice(0, 300));
  return { label: Number(p.label), probabilities: Object.values(p.probabilities) };
}

function fromV1Columns(body: string): Answer {
  const { outputs } = JSON.parse(body) as { outputs: { label: number[]; probabilities: number[][] } };
  return { label: outputs.label[0]!, probabilities: outputs.probabilities[0]! };
}

function fromV2(payload: Buffer, header: string | undefined): Answer {
  const { outputs } = readResponse(payload, header).json;
  const values = (name: string) => {
    const o = outputs.find((t) => t.name === name)!;
    return o.bytes === undefined
      ? (o.data as number[])
      : name === 'label'
        ? [...new BigInt64Array(new Uint8Array(o.bytes).buffer)].map(Number)
        : [...new Float32Array(new Uint8Array(o.bytes).buffer)];
  };
  return { label: values('label')[0]!, probabilities: values('probabilities') };
}

function fromGrpc(answer: InferAnswer): Answer {
  return {
    label: Number(outputOf(answer, 'label').values[0]),
    probabilities: outputOf(answer, 'probabilities').values as number[],
  };
}

const b64 = (bytes: Buffer) => bytes.toString('base64');
/** BYTES elements as raw data: each a 4-byte little-endian length, then its bytes. */
const elements = (files: Buffer[]) =>
  Buffer.concat(files.flatMap((f) => [Buffer.from(Uint32Array.of(f.length).buffer), f]));
const v2Base64 = (bytes: Buffer[]) => ({
  inputs: [
    {
      name: 'image',
      datatype: 'BYTES',
      shape: [bytes.length],
      parameters: { content_type: 'base64' },
      data: bytes.map(b64),
    },
  ],
});

type Way = (
  bytes: Buffer,
  name: string,
) => Promise<{ status: number | string; body: string; answer?: Answer }>;

describe('image files through every protocol', () => {
  let both: FrontEnds;
  let app: FastifyInstance;
  let grpc: GrpcClient;
  before(async () => {
    both = await frontEnds({
      cacheEnabled: false,
      imageMaxBytes: 8192,
      imageMaxPixels: 1_000_000,
    });
    ({ app, client: grpc } = both);
  });
  after(() => both.close());

  const v1 = (payload: string | Buffer, type: string, url = '/v1/models/digits-cnn:predict') =>
    app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });
  const grpcWay = async (request: unknown) => {
    try {
      const answer = await grpc.call<InferAnswer>('ModelInfer', request);
      return { status: 'OK', body: '', answer: fromGrpc(answer) };
    } catch (err) {
      const e = err as ServiceError;
      return {
        status: status[e.code],
        body: JSON.stringify({ code: e.metadata.get('serval-error-code')[0], error: e.details }),
      };
    }
  };
  const http = (res: { statusCode: number; body: string }, read: (body: string) => Answer) => ({
    status: res.statusCode,
    body: res.body,
    ...(res.statusCode === 200 ? { answer: read(res.body) } : {}),
  });

  const ways: Record<string, Way> = {
    'V1 file body': async (bytes, name) => http(await v1(bytes, typeOf(name)), fromV1),
    'V1 multipart': async (bytes, name) => {
      const { body, type } = await multipart([['image', bytes, name]]);
      return http(await v1(body, type), fromV1);
    },
    'V1 {"b64"} row': async (bytes) =>
      http(await v1(JSON.stringify({ instances: [{ b64: b64(bytes) }] }), 'application/json'), fromV1),
    'V1 named {"b64"} row': async (bytes) =>
      http(
        await v1(JSON.stringify({ instances: [{ image: { b64: b64(bytes) } }] }), 'application/json'),
        fromV1,
      ),
    'V1 columnar {"b64"}': async (bytes) =>
      http(
        await v1(JSON.stringify({ inputs: { image: [{ b64: b64(bytes) }] } }), 'application/json'),
        fromV1Columns,
      ),
    'V2 JSON base64': async (bytes) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v2/models/digits-cnn/infer',
        payload: v2Base64([bytes]),
      });
      return http(res, (body) => fromV2(Buffer.from(body), undefined));
    },
    'V2 binary BYTES': async (bytes) => {
      const { payload, headers } = binaryRequest([
        { name: 'image', datatype: 'BYTES', shape: [1], bytes: elements([bytes]) },
      ]);
      const res = await app.inject({ method: 'POST', url: '/v2/models/digits-cnn/infer', headers, payload });
      const header = res.headers['inference-header-content-length'] as string | undefined;
      return {
        status: res.statusCode,
        body: res.body,
        ...(res.statusCode === 200 ? { answer: fromV2(res.rawPayload, header) } : {}),
      };
    },
    'gRPC raw contents': async (bytes) =>
      grpcWay({
        model_name: 'digits-cnn',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
        raw_input_contents: [elements([bytes])],
      }),
    'gRPC bytes_contents': async (bytes) =>
      grpcWay({
        model_name: 'digits-cnn',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [bytes] } }],
      }),
  };

  for (const image of manifest) {
    it(`${image.file}: the same answer every way, the digit ${image.label}`, async () => {
      let reference: Answer | undefined;
      if (image.tensor) {
        // The tensor the file stands for, as a client would have sent it.
        const res = await app.inject({
          method: 'POST',
          url: '/v2/models/digits-cnn/infer',
          payload: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: image.tensor }] },
        });
        reference = fromV2(res.rawPayload, undefined);
        assert.equal(reference.label, image.label);
      }
      const bytes = file(image.file);
      for (const [how, way] of Object.entries(ways)) {
        const { status: code, body, answer } = await way(bytes, image.file);
        assert.ok(answer, `${how}: ${code} ${body.slice(0, 300)}`);
        assert.equal(answer.label, image.label, how);
        reference ??= answer;
        answer.probabilities.forEach((p, i) =>
          assert.ok(
            Math.abs(p - reference!.probabilities[i]!) < 1e-6,
            `${how}: p${i} ${p} vs ${reference!.probabilities[i]}`,
          ),
        );
      }
    });
  }

  it('answers several files in one request in row order (V2 binary, gRPC, multipart)', async () => {
    const chosen = manifest.filter((m) => m.file.endsWith('-8.png')).slice(0, 4);
    const files = chosen.map((m) => file(m.file));
    const expected = chosen.map((m) => m.label);
    const answer = await grpc.call<InferAnswer>('ModelInfer', {
      model_name: 'digits-cnn',
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [files.length] }],
      raw_input_contents: [elements(files)],
    });
    assert.deepEqual(outputOf(answer, 'label').values.map(Number), expected);
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/digits-cnn/infer',
      payload: v2Base64(files),
    });
    assert.deepEqual(
      (res.json().outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data,
      expected,
    );
    const { body, type } = await multipart(files.map((f, i) => ['image', f, `${i}.png`]));
    const predictions = (await v1(body, type)).json().predictions as { label: string }[];
    assert.deepEqual(
      predictions.map((p) => Number(p.label)),
      expected,
    );
  });

  /** Payloads refused by every protocol, each with what the message must say. */
  const bad: [string, Buffer, RegExp][] = [
    [
      'text that is no image',
      Buffer.from('hello, I am not a picture'),
      /row 0 is not a JPEG, PNG, WebP or GIF image/,
    ],
    ['a truncated PNG', file('digit-0-40.png').subarray(0, 100), /row 0 is not a whole PNG image/],
    ['a truncated JPEG', file('digit-0-96x64.jpg').subarray(0, 300), /row 0 is not a whole JPEG image/],
    [
      'a BMP (unsupported)',
      Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]),
      /not a JPEG, PNG, WebP or GIF/,
    ],
    ['an SVG (unsupported)', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), /not a JPEG, PNG/],
    [
      'more bytes than imageMaxBytes',
      Buffer.concat([file('digit-0-8.png'), Buffer.alloc(9000)]),
      /row 0 has 9\d{3} bytes; at most 8192 are taken \(imageMaxBytes\)/,
    ],
    [
      'a PNG declaring 20,000 × 20,000 pixels',
      hugePng(20_000, 20_000),
      /larger than 1000000 pixels \(imageMaxPixels\)/,
    ],
  ];
  const refusingWays = [
    'V1 file body',
    'V1 multipart',
    'V1 {"b64"} row',
    'V2 JSON base64',
    'V2 binary BYTES',
    'gRPC raw contents',
  ];

  for (const [what, bytes, message] of bad) {
    it(`refuses ${what} with 400 / INVALID_ARGUMENT naming the input and row, every way`, async () => {
      for (const how of refusingWays) {
        const { status: code, body } = await ways[how]!(bytes, 'x.png');
        const error = JSON.parse(body) as { code: string; error: string };
        if (bytes.length > 8192 && how.startsWith('V1 ') && !how.includes('b64')) {
          // A file body (or part) over imageMaxBytes is refused as the body it is, before it is read whole.
          assert.equal(code, 413, `${how}: ${body}`);
          assert.equal(error.code, 'PAYLOAD_TOO_LARGE');
          continue;
        }
        assert.ok(code === 400 || code === 'INVALID_ARGUMENT', `${how}: ${code} ${body.slice(0, 200)}`);
        assert.equal(error.code, 'INVALID_INPUT', `${how}: ${body}`);
        assert.match(error.error, /input "image" row 0/, how);
        assert.match(error.error, message, how);
      }
    });
  }

  it('refuses payloads that are not what their protocol says, and payloads for inputs that take none', async () => {
    const refused = async (
      res: Promise<{ statusCode: number; body: string }>,
      code: string,
      message: RegExp,
    ) => {
      const { statusCode, body } = await res;
      assert.equal(statusCode, 400, body);
      const error = JSON.parse(body) as { code: string; error: string };
      assert.equal(error.code, code, body);
      assert.match(error.error, message);
    };
    const json = (url: string, payload: unknown) =>
      app.inject({ method: 'POST', url, payload: payload as object });
    await refused(
      json('/v1/models/digits-cnn:predict', { instances: [{ b64: 'not base64!' }] }),
      'INVALID_INPUT',
      /instances\[0\]\.b64 is not base64/,
    );
    await refused(
      json('/v2/models/digits-cnn/infer', {
        inputs: [{ ...v2Base64([]).inputs[0]!, shape: [1], data: ['%%%'] }],
      }),
      'INVALID_INPUT',
      /element 0 is not base64/,
    );
    await refused(
      json('/v2/models/digits-cnn/infer', {
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64(file('digit-0-8.png'))] }],
      }),
      'INVALID_INPUT',
      /row 0 is text, not an encoded image/,
    );
    await refused(
      json('/v2/models/iris/infer', {
        inputs: [
          {
            name: 'input',
            datatype: 'FP32',
            shape: [1, 4],
            parameters: { content_type: 'base64' },
            data: [1, 2, 3, 4],
          },
        ],
      }),
      'INVALID_REQUEST',
      /only BYTES inputs take/,
    );
    await refused(
      json('/v1/models/iris:predict', { instances: [{ b64: b64(file('digit-0-8.png')) }] }),
      'INVALID_INPUT',
      /not binary values/,
    );
    await refused(
      v1(file('digit-0-8.png'), 'image/png', '/v1/models/iris:predict'),
      'INVALID_INPUT',
      /not binary values/,
    );
    await refused(
      json('/v1/models/digits-cnn:predict', { instances: [{ b64: b64(file('digit-0-8.png')) }, [[0]]] }),
      'INVALID_INPUT',
      /instances\[1\] must be \{"b64"/,
    );
    const empty = await multipart([]);
    await refused(v1(Buffer.concat([empty.body]), empty.type), 'INVALID_REQUEST', /no part/);
    const stray = await multipart([['photo', file('digit-0-8.png'), 'a.png']]);
    await refused(v1(stray.body, stray.type), 'INVALID_INPUT', /names "photo", which is not an input/);
    const uneven = await multipart([
      ['image', file('digit-0-8.png'), 'a.png'],
      ['image', file('digit-1-8.png'), 'b.png'],
    ]);
    assert.equal((await v1(uneven.body, uneven.type)).statusCode, 200, 'two parts of one input: two rows');
    const large = await v1(Buffer.alloc(9000, 1), 'image/png');
    assert.equal(large.statusCode, 413, large.body);
    assert.equal(JSON.parse(large.body).code, 'PAYLOAD_TOO_LARGE');
  });

  it('still answers after every refusal', async () => {
    const { answer } = await ways['gRPC raw contents']!(file('digit-3-8.png'), 'digit-3-8.png');
    assert.equal(answer?.label, 9);
  });

  it('names the input as taking images in the metadata of every protocol and the config extension', async () => {
    const v2 = (await app.inject('/v2/models/digits-cnn')).json();
    assert.deepEqual(v2.inputs[0].parameters, { content_type: 'image' });
    const v1Metadata = (await app.inject('/v1/models/digits-cnn')).json();
    assert.deepEqual(v1Metadata.inputs[0].parameters, { content_type: 'image' });
    assert.equal((await app.inject('/v2/models/iris')).json().inputs[0].parameters, undefined);
    const config = (await app.inject('/v2/models/digits-cnn/config')).json();
    assert.equal(config.input[0].format, 'FORMAT_NCHW');
    assert.deepEqual(config.parameters['image.content_type'], { string_value: 'image' });
    const metadata = await grpc.call<{ inputs: { parameters: Record<string, { string_param: string }> }[] }>(
      'ModelMetadata',
      { name: 'digits-cnn' },
    );
    assert.equal(metadata.inputs[0]!.parameters.content_type!.string_param, 'image');
  });
});

/** A PNG whose header declares width × height, with almost no pixel data: refused before it is decoded. */
function hugePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, Buffer.from(type), data, Buffer.alloc(4)]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(100))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export { hugePng };
