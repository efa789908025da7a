// One table of cases, valid and invalid, asked through every front end over one core: V1 (columnar "inputs"),
// V2 with JSON tensors, V2 with binary tensors and gRPC with raw contents. Each must answer the same question the
// same way: the same outputs, or the same error code with the status its protocol maps that kind of error to.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { frontEnds, rawRequest, type FrontEnds, type GrpcClient, type InferAnswer } from '../grpc.js';
import { binaryRequest, rawBytes, readResponse, strings, type ResponseOutput } from '../oip.js';

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: number[] | string[];
}

interface Case {
  name: string;
  model: string;
  version?: string;
  inputs: Tensor[];
  /** Requested outputs, with the classification extension's k. */
  outputs?: { name: string; classification?: number }[];
  /** The stable error code every front end answers; none: a success. */
  code?: string;
  /** The kind of that error, as every protocol maps it. */
  kind?: 'invalid_argument' | 'not_found';
  /** V1's columnar format names inputs by position and datatype by the model's: it cannot carry every case. */
  v1?: false;
}

/** Flat values and shape of every output, per protocol, or the error. */
type Answer =
  { outputs: Record<string, { shape: number[]; values: unknown[] }> } | { kind: string; code: string };

const IRIS = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
const iris = (data: number[] = IRIS, rest: Partial<Tensor> = {}): Tensor => ({
  name: 'input',
  datatype: 'FP32',
  shape: [data.length / 4, 4],
  data,
  ...rest,
});
const digit = Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 16 : i % 3));

const cases: Case[] = [
  { name: 'iris, two rows', model: 'iris', inputs: [iris()] },
  { name: 'iris, version 1 named', model: 'iris', version: '1', inputs: [iris()] },
  {
    name: 'iris, the top 2 classes (classification extension)',
    model: 'iris',
    inputs: [iris()],
    outputs: [{ name: 'probabilities', classification: 2 }],
    v1: false,
  },
  {
    name: 'iris, one output requested',
    model: 'iris',
    inputs: [iris()],
    outputs: [{ name: 'label' }],
    v1: false,
  },
  {
    name: 'diabetes',
    model: 'diabetes',
    inputs: [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [1, 10],
        data: Array.from({ length: 10 }, (_, i) => (i - 5) / 100),
      },
    ],
  },
  {
    name: 'digits',
    model: 'digits',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: digit }],
  },
  {
    name: 'digits-cnn',
    model: 'digits-cnn',
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: digit.map((v) => v / 16) }],
  },
  { name: 'an unknown model', model: 'nope', inputs: [iris()], code: 'MODEL_NOT_FOUND', kind: 'not_found' },
  {
    name: 'an unknown version',
    model: 'iris',
    version: '9',
    inputs: [iris()],
    code: 'VERSION_NOT_FOUND',
    kind: 'not_found',
  },
  {
    name: 'an unknown input',
    model: 'iris',
    inputs: [iris(IRIS, { name: 'nope' })],
    code: 'INVALID_INPUT',
    kind: 'invalid_argument',
  },
  {
    name: 'a row of three features',
    model: 'iris',
    inputs: [iris(IRIS, { shape: [2, 3], data: IRIS.slice(0, 6) })],
    code: 'INVALID_INPUT',
    kind: 'invalid_argument',
  },
  {
    name: 'a datatype the model does not take',
    model: 'iris',
    inputs: [iris(IRIS, { datatype: 'FP64' })],
    code: 'INVALID_INPUT',
    kind: 'invalid_argument',
    v1: false,
  },
  {
    name: 'an unknown output',
    model: 'iris',
    inputs: [iris()],
    outputs: [{ name: 'nope' }],
    code: 'INVALID_INPUT',
    kind: 'invalid_argument',
    v1: false,
  },
  {
    name: 'more rows than a request may carry',
    model: 'iris',
    inputs: [iris(Array.from({ length: 4 * 9 }, () => 1))],
    code: 'INVALID_INPUT',
    kind: 'invalid_argument',
  },
];

const HTTP_KINDS: Record<number, string> = { 400: 'invalid_argument', 404: 'not_found' };
const GRPC_KINDS: Partial<Record<status, string>> = {
  [status.INVALID_ARGUMENT]: 'invalid_argument',
  [status.NOT_FOUND]: 'not_found',
};

function typed(t: Tensor): Uint8Array {
  if (t.datatype === 'BYTES') return rawBytes(t.data as string[]);
  const data = t.data as number[];
  return rawBytes(t.datatype === 'FP64' ? Float64Array.from(data) : Float32Array.from(data));
}

/** Nested rows of a flat row-major tensor, as V1 and V2 JSON would write them. */
function nested(values: unknown[], shape: number[]): unknown {
  if (shape.length <= 1) return values;
  const [, ...inner] = shape;
  const size = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: values.length / size }, (_, i) =>
    nested(values.slice(i * size, (i + 1) * size), inner),
  );
}

function httpAnswer(statusCode: number, body: Buffer, header: string | string[] | undefined): Answer {
  if (statusCode !== 200) {
    const error = JSON.parse(body.toString()) as { code: string };
    return { kind: HTTP_KINDS[statusCode] ?? `http ${statusCode}`, code: error.code };
  }
  const outputs = readResponse(body, header).json.outputs;
  return {
    outputs: Object.fromEntries(outputs.map((o) => [o.name, { shape: o.shape, values: valuesOf(o) }])),
  };
}

function valuesOf(output: ResponseOutput): unknown[] {
  if (output.bytes === undefined)
    return (output.data ?? []).flat(Infinity).map((v) => (typeof v === 'number' ? v : String(v)));
  const bytes = new Uint8Array(output.bytes).buffer;
  if (output.datatype === 'BYTES') return strings(output.bytes);
  if (output.datatype === 'INT64') return [...new BigInt64Array(bytes)].map(Number);
  return [...new Float32Array(bytes)];
}

const path = (c: Case) => `/v2/models/${c.model}${c.version ? `/versions/${c.version}` : ''}/infer`;

const through: Record<string, (c: Case, app: FastifyInstance, grpc: GrpcClient) => Promise<Answer>> = {
  async 'V2 JSON'(c, app) {
    const res = await app.inject({
      method: 'POST',
      url: path(c),
      payload: {
        inputs: c.inputs,
        ...(c.outputs
          ? {
              outputs: c.outputs.map((o) => ({
                name: o.name,
                ...(o.classification ? { parameters: { classification: o.classification } } : {}),
              })),
            }
          : {}),
      },
    });
    return httpAnswer(res.statusCode, res.rawPayload, undefined);
  },
  async 'V2 binary'(c, app) {
    const { payload, headers } = binaryRequest(
      c.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, bytes: typed(t) })),
      c.outputs
        ? {
            outputs: c.outputs.map((o) => ({
              name: o.name,
              parameters: {
                binary_data: true,
                ...(o.classification ? { classification: o.classification } : {}),
              },
            })),
          }
        : { parameters: { binary_data_output: true } },
    );
    const res = await app.inject({ method: 'POST', url: path(c), headers, payload });
    return httpAnswer(
      res.statusCode,
      res.rawPayload,
      res.headers['inference-header-content-length'] as string | undefined,
    );
  },
  async gRPC(c, _app, grpc) {
    const request = rawRequest(
      c.model,
      c.inputs.map((t) => ({ ...t, data: typed(t) })),
      {
        ...(c.version ? { model_version: c.version } : {}),
        ...(c.outputs
          ? {
              outputs: c.outputs.map((o) => ({
                name: o.name,
                parameters: o.classification ? { classification: { int64_param: o.classification } } : {},
              })),
            }
          : {}),
      },
    );
    try {
      const answer = await grpc.call<InferAnswer>('ModelInfer', request);
      return {
        outputs: Object.fromEntries(
          answer.outputs.map((o, i) => {
            const raw = answer.raw_output_contents[i] as Buffer;
            const values = valuesOf({ name: o.name, datatype: o.datatype, shape: [], bytes: raw });
            return [o.name, { shape: o.shape.map(Number), values }];
          }),
        ),
      };
    } catch (err) {
      const e = err as ServiceError;
      return {
        kind: GRPC_KINDS[e.code] ?? `grpc ${e.code}`,
        code: String(e.metadata.get('serval-error-code')[0]),
      };
    }
  },
  async V1(c, app) {
    const url = `/v1/models/${c.model}${c.version ? `/versions/${c.version}` : ''}:predict`;
    const inputs = Object.fromEntries(c.inputs.map((t) => [t.name, nested(t.data, t.shape)]));
    const res = await app.inject({ method: 'POST', url, payload: { inputs } });
    if (res.statusCode !== 200) return httpAnswer(res.statusCode, res.rawPayload, undefined);
    // The columnar answer: the one output tensor itself, or an object of them; V2 names every one.
    const body = res.json<{ outputs: unknown }>().outputs;
    const named = (Array.isArray(body) ? { only: body } : body) as Record<string, unknown[]>;
    return {
      outputs: Object.fromEntries(
        Object.entries(named).map(([name, rows]) => [name, { shape: [], values: rows.flat(Infinity) }]),
      ),
    };
  },
};

function assertSame(expected: Answer, actual: Answer, how: string): void {
  if ('code' in expected || 'code' in actual) return assert.deepEqual(actual, expected, how);
  const names = Object.keys(actual.outputs);
  // V1's single output comes unnamed: compare it with the first of V2's outputs it matches by size.
  for (const name of names) {
    const mine: { shape: number[]; values: unknown[] } = actual.outputs[name]!;
    const theirs: { shape: number[]; values: unknown[] } | undefined =
      expected.outputs[name] ??
      Object.values(expected.outputs).find((o) => o.values.length === mine.values.length);
    assert.ok(theirs, `${how}: output ${name}`);
    if (mine.shape.length > 0) assert.deepEqual(mine.shape, theirs.shape, `${how}: ${name} shape`);
    assert.equal(mine.values.length, theirs.values.length, `${how}: ${name} size`);
    mine.values.forEach((v, i) => {
      const w = theirs.values[i];
      if (typeof v === 'number' && typeof w === 'number')
        assert.ok(Math.abs(v - w) <= 1e-6 * Math.max(1, Math.abs(w)), `${how}: ${name}[${i}] ${v} vs ${w}`);
      else assert.equal(String(v), String(w), `${how}: ${name}[${i}]`);
    });
  }
}

describe('every front end answers the same question the same way', () => {
  let both: FrontEnds;
  let app: FastifyInstance;
  let grpc: GrpcClient;
  before(async () => {
    both = await frontEnds({ maxInstances: 8, cacheEnabled: false });
    ({ app, client: grpc } = both);
  });
  after(() => both.close());

  for (const c of cases) {
    it(c.name, async () => {
      const reference = await through['V2 JSON']!(c, app, grpc);
      if (c.code === undefined) assert.ok('outputs' in reference, `V2 JSON: ${JSON.stringify(reference)}`);
      else assert.deepEqual(reference, { kind: c.kind, code: c.code }, 'V2 JSON');
      for (const [how, ask] of Object.entries(through)) {
        if (how === 'V1' && c.v1 === false) continue;
        assertSame(reference, await ask(c, app, grpc), how);
      }
    });
  }
});
