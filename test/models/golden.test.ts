// Serval's answers against the training framework's own outputs (golden.json), for every bundled model and fixture,
// through every front end: V1 :predict, V2 with JSON tensors, V2 with binary tensors and gRPC with raw contents.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { fromHalf, toHalf } from '../../src/core/tensor/dtypes.js';
import { createGrpcServer, type GrpcServer } from '../../src/grpc/server.js';
import { grpcClient, type GrpcClient, type InferAnswer } from '../grpc.js';
import { FIXTURE_MODELS, loadedApp, MODELS, tempRepository, type Golden } from '../helpers.js';
import { binaryRequest, rawBytes, readResponse, strings, type ResponseOutput } from '../oip.js';

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

interface Case {
  name: string;
  dir: string;
  inputs: Tensor[];
  outputs: Tensor[];
  tolerance: number;
  /** Which front ends can carry this model's inputs (JSON has no FP16 and no integers past 2^53). */
  json: boolean;
  v1: boolean;
}

/** golden.json with integers past 2^53 kept exact (as strings, then BigInts per datatype). */
function readGolden(dir: string): Record<string, unknown> {
  const text = readFileSync(join(dir, 'golden.json'), 'utf8').replace(
    /(?<=[[,\s])(-?\d{16,})(?=[,\]\s])/g,
    '"$1"',
  );
  return JSON.parse(text) as Record<string, unknown>;
}

/** The large fixture's input, made by the formula its golden.json names. */
function generated(shape: number[]): number[] {
  const [n, c, h, w] = shape as [number, number, number, number];
  const data: number[] = [];
  for (let a = 0; a < n; a++)
    for (let b = 0; b < c; b++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.push(((a * 7 + b * 3 + y + x) % 17) / 16);
  return data;
}

function caseOf(name: string, dir: string): Case {
  const golden = readGolden(dir);
  if ('instances' in golden) {
    // The V1-style goldens of train.py: instances with scikit-learn's labels, probabilities or values.
    const g = golden as unknown as Golden;
    const descriptor = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { labels?: string[] };
    const n = g.instances.length;
    const inputs = [
      { name: 'input', datatype: 'FP32', shape: [n, g.instances[0]!.length], data: g.instances.flat() },
    ];
    const outputs = g.labels
      ? [
          {
            name: 'label',
            datatype: 'INT64',
            shape: [n],
            data: g.labels.map((l) => descriptor.labels!.indexOf(l)),
          },
          {
            name: 'probabilities',
            datatype: 'FP32',
            shape: [n, g.probabilities![0]!.length],
            data: g.probabilities!.flat(),
          },
        ]
      : [{ name: 'value', datatype: 'FP32', shape: [n, 1], data: g.values! }];
    return { name, dir, inputs, outputs, tolerance: 1e-5, json: true, v1: true };
  }
  const inputs = (golden.inputs as (Tensor & { generator?: string })[]).map((t) => ({
    ...t,
    data: t.generator ? generated(t.shape) : t.data,
  }));
  const bigints = inputs.some((t) =>
    t.data.some((v) => typeof v === 'string' && /^-?\d+$/.test(v) && t.datatype.includes('INT')),
  );
  const json = !bigints && !inputs.some((t) => t.datatype === 'FP16');
  const small = inputs.every((t) => t.data.length < 10_000);
  return {
    name,
    dir,
    inputs,
    outputs: golden.outputs as Tensor[],
    tolerance: Number(golden.tolerance ?? 1e-5),
    json,
    v1: json && small,
  };
}

const cases: Case[] = [
  ...readdirSync(MODELS).map((name) => caseOf(name, join(MODELS, name, '1'))),
  ...['heavy', 'large', 'embedding', 'dtypes', 'fp16', 'pets'].map((name) =>
    caseOf(name, join(FIXTURE_MODELS, name, '1')),
  ),
];

/** Typed bytes of golden values for the binary extension. */
function bytesOf(t: Tensor): Uint8Array {
  const values = t.data;
  switch (t.datatype) {
    case 'BYTES':
      return rawBytes(values as string[]);
    case 'BOOL':
      return Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
    case 'FP16':
      // golden.json holds float16 values themselves, so converting them back to bits rounds nothing.
      return rawBytes(Uint16Array.from(values as number[], toHalf));
  }
  const ctor = {
    UINT8: Uint8Array,
    UINT16: Uint16Array,
    UINT32: Uint32Array,
    INT8: Int8Array,
    INT16: Int16Array,
    INT32: Int32Array,
    FP32: Float32Array,
    FP64: Float64Array,
  }[t.datatype];
  if (ctor) return rawBytes(ctor.from(values as number[]));
  const big = (values as (number | string)[]).map((v) => BigInt(v));
  return rawBytes(t.datatype === 'INT64' ? BigInt64Array.from(big) : BigUint64Array.from(big));
}

/** An output's values as numbers, strings or booleans, from JSON data or binary bytes. */
function valuesOf(output: ResponseOutput): unknown[] {
  if (output.bytes === undefined) return output.data!;
  const bytes = new Uint8Array(output.bytes);
  const { buffer } = bytes;
  switch (output.datatype) {
    case 'BYTES':
      return strings(output.bytes);
    case 'BOOL':
      return [...bytes].map((b) => b === 1);
    case 'FP16':
      return [...new Uint16Array(buffer)].map(fromHalf);
    case 'INT64':
      return [...new BigInt64Array(buffer)].map((v) => String(v));
    case 'UINT64':
      return [...new BigUint64Array(buffer)].map((v) => String(v));
  }
  const ctor = {
    UINT8: Uint8Array,
    UINT16: Uint16Array,
    UINT32: Uint32Array,
    INT8: Int8Array,
    INT16: Int16Array,
    INT32: Int32Array,
    FP32: Float32Array,
    FP64: Float64Array,
  }[output.datatype]!;
  return [...new ctor(buffer)];
}

function assertClose(actual: unknown, expected: unknown, tolerance: number, where: string): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isNaN(expected)) return assert.ok(Number.isNaN(actual), where);
    const ok =
      actual === expected || Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected));
    assert.ok(ok, `${where}: ${actual} vs ${expected}`);
  } else {
    assert.equal(String(actual), String(expected), where);
  }
}

function assertOutputs(outputs: ResponseOutput[], c: Case, how: string): void {
  for (const expected of c.outputs) {
    const output = outputs.find((o) => o.name === expected.name);
    assert.ok(output, `${how}: output ${expected.name}`);
    assert.equal(output.datatype, expected.datatype, `${how}: ${expected.name} datatype`);
    assert.deepEqual(output.shape, expected.shape, `${how}: ${expected.name} shape`);
    const values = valuesOf(output);
    assert.equal(values.length, expected.data.length);
    values.forEach((v, i) => assertClose(v, expected.data[i], c.tolerance, `${how}: ${expected.name}[${i}]`));
  }
}

describe('answers match the training framework (golden outputs) through every front end', () => {
  let app: FastifyInstance;
  let grpcServer: GrpcServer;
  let grpc: GrpcClient;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository(Object.fromEntries(cases.map((c) => [`${c.name}/1`, { from: c.dir }])));
    cleanup = repo.cleanup;
    app = await loadedApp({
      modelRepository: repo.root,
      bodyLimitBytes: 8 * 1024 * 1024,
      grpcHost: '127.0.0.1',
      grpcPort: 0,
    });
    grpcServer = await createGrpcServer(app.core.config, app.core);
    grpc = grpcClient(`127.0.0.1:${await grpcServer.listen()}`);
  });
  after(async () => {
    grpc.close();
    await grpcServer.close(2000);
    await app.close();
    await cleanup();
  });

  for (const c of cases) {
    it(`${c.name}: V2 with binary tensors`, async () => {
      const { payload, headers } = binaryRequest(
        c.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, bytes: bytesOf(t) })),
        { parameters: { binary_data_output: true } },
      );
      const res = await app.inject({ method: 'POST', url: `/v2/models/${c.name}/infer`, headers, payload });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      assertOutputs(
        readResponse(res.rawPayload, res.headers['inference-header-content-length']).json.outputs,
        c,
        'binary',
      );
    });

    it(`${c.name}: gRPC with raw contents`, async () => {
      const answer = await grpc.call<InferAnswer>('ModelInfer', {
        model_name: c.name,
        inputs: c.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
        raw_input_contents: c.inputs.map((t) => Buffer.from(bytesOf(t))),
      });
      const outputs = answer.outputs.map((o, i): ResponseOutput => ({
        name: o.name,
        datatype: o.datatype,
        shape: o.shape.map(Number),
        bytes: answer.raw_output_contents[i]!,
      }));
      assertOutputs(outputs, c, 'grpc');
    });

    if (c.json) {
      it(`${c.name}: V2 with JSON tensors`, async () => {
        const res = await app.inject({
          method: 'POST',
          url: `/v2/models/${c.name}/infer`,
          payload: { inputs: c.inputs },
        });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        const outputs = res.json<{ outputs: ResponseOutput[] }>().outputs;
        // FP16 outputs cannot be JSON: those are compared through the binary path only.
        assertOutputs(outputs, { ...c, outputs: c.outputs.filter((o) => o.datatype !== 'FP16') }, 'json');
      });
    }

    if (c.v1) {
      it(`${c.name}: V1 :predict`, async () => {
        const rows = c.inputs[0]!.shape[0]!;
        const perRow = (t: Tensor, i: number) => {
          const size = t.data.length / rows;
          const row = t.data.slice(i * size, (i + 1) * size);
          return t.shape.length === 1 ? row[0] : row;
        };
        const instances = Array.from({ length: rows }, (_, i) =>
          c.inputs.length === 1
            ? perRow(c.inputs[0]!, i)
            : Object.fromEntries(c.inputs.map((t) => [t.name, perRow(t, i)])),
        );
        const res = await app.inject({
          method: 'POST',
          url: `/v1/models/${c.name}:predict`,
          payload: { instances },
        });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        const predictions = res.json().predictions as unknown[];
        assert.equal(predictions.length, rows);
        const labels = c.outputs.find((o) => o.name === 'label');
        const probabilities = c.outputs.find((o) => o.name === 'probabilities');
        const value = c.outputs.find((o) => o.name === 'value');
        predictions.forEach((p, i) => {
          if (labels && probabilities) {
            const { label, probabilities: probs } = p as {
              label: string;
              probabilities: Record<string, number>;
            };
            const classes = probabilities.shape[1]!;
            // An INT64 label is the class index; a BYTES one (the graph's own class labels) the label itself.
            const expected =
              labels.datatype === 'BYTES'
                ? Object.keys(probs).indexOf(labels.data[i] as string)
                : labels.data[i];
            assert.equal(Object.keys(probs).indexOf(label), expected, `row ${i} label`);
            Object.values(probs).forEach((v, k) =>
              assertClose(v, probabilities.data[i * classes + k], c.tolerance, `row ${i} p${k}`),
            );
          } else if (value) {
            assertClose(p, value.data[i], c.tolerance, `row ${i}`);
          } else {
            for (const t of c.outputs) {
              const size = t.data.length / rows;
              const own = [(p as Record<string, unknown>)[t.name]].flat(Infinity);
              own.forEach((v, k) => assertClose(v, t.data[i * size + k], c.tolerance, `row ${i} ${t.name}`));
            }
          }
        });
      });
    }
  }

  it('runs the heavy model on a worker thread and the tiny ones inline', async () => {
    assert.equal((await app.inject('/v1/models/heavy')).json().execution, 'thread');
    assert.equal((await app.inject('/v1/models/iris')).json().execution, 'inline');
  });
});

/** The body layouts of the OIP specification's own examples (inference_rest.md and the binary data extension). */
describe('one request per bundled model in the layout of the specification’s examples', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp();
  });
  after(() => app.close());
  const bundled = cases.filter((c) => c.dir.startsWith(MODELS));

  const pretty = (value: unknown): string =>
    JSON.stringify(value, null, 2)
      .replace(/": /g, '" : ')
      .replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_m, inner: string) => `[ ${inner.replace(/\s*\n\s*/g, ' ')} ]`);

  for (const c of bundled) {
    it(`${c.name}: JSON request and response as in "Inference Request Examples"`, async () => {
      const first = c.inputs.map((t) => {
        const size = t.data.length / t.shape[0]!;
        return {
          name: t.name,
          shape: [1, ...t.shape.slice(1)],
          datatype: t.datatype,
          data: t.data.slice(0, size),
        };
      });
      const output = c.outputs[0]!.name;
      const payload = pretty({ id: '42', inputs: first, outputs: [{ name: output }] });
      assert.match(payload, /"shape" : \[ 1, /);
      const res = await app.inject({
        method: 'POST',
        url: `/v2/models/${c.name}/infer`,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
        payload,
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.id, '42');
      assert.deepEqual(Object.keys(body.outputs[0]).sort(), ['data', 'datatype', 'name', 'shape']);
      assert.equal(body.outputs[0].name, output);
    });

    it(`${c.name}: binary request and response as in the binary tensor data extension’s example`, async () => {
      const { payload, headers } = binaryRequest(
        c.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, bytes: bytesOf(t) })),
        { outputs: [{ name: c.outputs[0]!.name, parameters: { binary_data: true } }] },
      );
      const withName = Buffer.concat([Buffer.from(`{ "model_name" : "${c.name}", `), payload.subarray(1)]);
      const headerLength =
        Number(headers['inference-header-content-length']) + withName.length - payload.length;
      const res = await app.inject({
        method: 'POST',
        url: `/v2/models/${c.name}/infer`,
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(headerLength),
        },
        payload: withName,
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      const { json, binary } = readResponse(res.rawPayload, res.headers['inference-header-content-length']);
      assert.equal(json.outputs[0]!.parameters!.binary_data_size, binary);
    });
  }
});
