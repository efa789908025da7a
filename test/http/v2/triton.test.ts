// A Triton model repository (test/fixtures/triton/repository: config.pbtxt beside version folders, made of the
// bundled graphs) served as it is: the index, metadata and the config extension over V2 and gRPC, inference with
// reshapes both ways checked against the graphs' golden outputs, and configurations that fail the load naming why.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedGrpc, outputOf, rawRequest, type InferAnswer, type RunningGrpc } from '../../grpc.js';
import { loadedApp, MODELS, ROOT, tempRepository } from '../../helpers.js';

const REPOSITORY = join(ROOT, 'test/fixtures/triton/repository');
const IRIS_GRAPH = join(MODELS, 'iris/1/model.onnx');

interface Golden {
  instances: number[][];
  probabilities: number[][];
}
interface TensorGolden {
  tolerance: number;
  inputs: { data: number[]; shape: number[] }[];
  outputs: { name: string; data: number[] }[];
}

const post = (app: FastifyInstance, url: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: body as object,
  });

const near = (actual: number[], expected: number[], tolerance: number) =>
  actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= tolerance);

describe('a Triton repository over V2', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ modelRepository: REPOSITORY });
  });
  after(() => app.close());

  it('serves every model, naming in the index the fields it does not apply', async () => {
    const index = (await post(app, '/v2/repository/index', {})).json<
      { name: string; state: string; reason: string }[]
    >();
    assert.deepEqual(
      index.map((m) => [m.name, m.state]),
      [
        ['auto', 'READY'],
        ['digits_flat', 'READY'],
        ['fraud', 'READY'],
        ['iris', 'READY'],
      ],
    );
    const iris = index.find((m) => m.name === 'iris');
    assert.match(iris!.reason, /^config\.pbtxt: not applied: model_warmup \(.*\); parameters\["origin"\]/);
    assert.equal(index.find((m) => m.name === 'fraud')!.reason, '');
  });

  it('answers metadata in the configuration’s shapes, -1 for the batch', async () => {
    const meta = (await app.inject({ url: '/v2/models/iris' })).json();
    assert.deepEqual(meta.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    assert.deepEqual(meta.outputs, [
      { name: 'label', datatype: 'INT64', shape: [-1, 1] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    ]);
    const fraud = (await app.inject({ url: '/v2/models/fraud' })).json();
    assert.deepEqual(fraud.versions, ['3']);
    assert.deepEqual(
      fraud.outputs.map((o: { name: string }) => o.name),
      ['probabilities', 'flagged'],
    );
  });

  it('answers the config extension with what it applies, in Triton’s field names', async () => {
    const config = (await app.inject({ url: '/v2/models/iris/config' })).json();
    assert.deepEqual(config, {
      name: 'iris',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 8,
      input: [{ name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4] }],
      output: [
        { name: 'label', data_type: 'TYPE_INT64', dims: [1], reshape: { shape: [] } },
        { name: 'probabilities', data_type: 'TYPE_FP32', dims: [3], label_filename: 'labels.txt' },
      ],
      dynamic_batching: { preferred_batch_size: [8], max_queue_delay_microseconds: 0 },
      instance_group: [{ name: 'iris', kind: 'KIND_CPU', count: 1 }],
      default_model_filename: 'model.onnx',
      parameters: {
        origin: { string_value: 'scikit-learn' },
        execution: { string_value: 'inline' },
        task: { string_value: 'raw' },
      },
      response_cache: { enable: false },
    });
    const fraud = (await app.inject({ url: '/v2/models/fraud/config' })).json();
    assert.equal(fraud.max_batch_size, 0);
    assert.equal(fraud.default_model_filename, 'fraud.onnx');
    assert.deepEqual(fraud.version_policy, { specific: { versions: [3] } });
    assert.equal(fraud.dynamic_batching, undefined);
    const auto = (await app.inject({ url: '/v2/models/auto/config' })).json();
    assert.equal(auto.max_batch_size, 4);
    assert.deepEqual(auto.dynamic_batching, { preferred_batch_size: [4], max_queue_delay_microseconds: 0 });
  });

  it('infers with the graph’s own answers, and classifies with the labels of label_filename', async () => {
    const golden = JSON.parse(await readFile(join(MODELS, 'iris/1/golden.json'), 'utf8')) as Golden;
    const rows = golden.instances.slice(0, 8);
    const res = await post(app, '/v2/models/iris/infer', {
      inputs: [{ name: 'input', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }],
      outputs: [{ name: 'label' }, { name: 'probabilities' }],
    });
    assert.equal(res.statusCode, 200, res.body);
    const [label, probabilities] = res.json().outputs;
    assert.deepEqual(label.shape, [8, 1]); // the graph's [batch] output, reshaped to dims [1]
    assert.ok(near(probabilities.data, golden.probabilities.slice(0, 8).flat(), 1e-5));
    const top = await post(app, '/v2/models/iris/infer', {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: rows[0] }],
      outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
    });
    assert.match(top.json().outputs[0].data[0], /^0\.98\d*:0:setosa$/);
  });

  it('reshapes a flat request into the graph’s shape (digits: 64 pixels a row into [1, 8, 8])', async () => {
    const golden = JSON.parse(
      await readFile(join(MODELS, 'digits-cnn/1/golden.json'), 'utf8'),
    ) as TensorGolden;
    const pixels = golden.inputs[0]!.data.slice(0, 4 * 64);
    const res = await post(app, '/v2/models/digits_flat/infer', {
      inputs: [{ name: 'image', shape: [4, 64], datatype: 'FP32', data: pixels }],
    });
    assert.equal(res.statusCode, 200, res.body);
    const out = res.json().outputs as { name: string; shape: number[]; data: number[] }[];
    const probabilities = out.find((o) => o.name === 'probabilities')!;
    assert.deepEqual(probabilities.shape, [4, 10]);
    const expected = golden.outputs.find((o) => o.name === 'probabilities')!.data.slice(0, 40);
    assert.ok(near(probabilities.data, expected, golden.tolerance));
    const wrong = await post(app, '/v2/models/digits_flat/infer', {
      inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: pixels.slice(0, 64) }],
    });
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.json().error, /the model expects \[-1, 64\]/);
  });

  it('bounds a request’s rows by max_batch_size and serves only the outputs the configuration lists', async () => {
    const many = await post(app, '/v2/models/iris/infer', {
      inputs: [{ name: 'input', shape: [9, 4], datatype: 'FP32', data: Array(36).fill(1) }],
    });
    assert.equal(many.statusCode, 400);
    assert.match(many.json().error, /at most 8 are allowed/);
    const fraud = (outputs?: unknown) =>
      post(app, '/v2/models/fraud/infer', {
        inputs: [
          { name: 'amount', shape: [1, 1], datatype: 'FP32', data: [20] },
          { name: 'items', shape: [1, 1], datatype: 'INT64', data: [2] },
          { name: 'country', shape: [1, 1], datatype: 'BYTES', data: ['FR'] },
        ],
        ...(outputs ? { outputs } : {}),
      });
    const answer = await fraud();
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(
      answer.json().outputs.map((o: { name: string }) => o.name),
      ['probabilities', 'flagged'],
    );
    const label = await fraud([{ name: 'label' }]);
    assert.equal(label.statusCode, 400);
    assert.match(label.json().error, /unknown output "label"/);
  });
});

describe('a Triton repository over gRPC', () => {
  let grpc: RunningGrpc;
  before(async () => {
    grpc = await loadedGrpc({ modelRepository: REPOSITORY });
  });
  after(() => grpc.close());

  it('answers ModelConfig and ModelMetadata with the configuration’s tensors', async () => {
    const { config } = await grpc.client.call<{ config: Record<string, unknown> }>('ModelConfig', {
      name: 'digits_flat',
    });
    assert.equal(config.platform, 'onnxruntime_onnx');
    assert.equal(config.max_batch_size, 4);
    const [input] = config.input as Record<string, unknown>[];
    assert.deepEqual(
      { dims: input?.dims, reshape: input?.reshape },
      { dims: ['64'], reshape: { shape: ['1', '8', '8'] } },
    );
    const { config: iris } = await grpc.client.call<{ config: Record<string, unknown> }>('ModelConfig', {
      name: 'iris',
    });
    assert.equal((iris.output as Record<string, unknown>[])[1]?.label_filename, 'labels.txt');
    assert.deepEqual(iris.response_cache, { enable: false });
    const meta = await grpc.client.call<{ inputs: { shape: string[] }[] }>('ModelMetadata', {
      name: 'digits_flat',
    });
    assert.deepEqual(meta.inputs[0]!.shape, ['-1', '64']);
  });

  it('infers from raw contents in the configuration’s shape', async () => {
    const golden = JSON.parse(
      await readFile(join(MODELS, 'digits-cnn/1/golden.json'), 'utf8'),
    ) as TensorGolden;
    const pixels = Float32Array.from(golden.inputs[0]!.data.slice(0, 2 * 64));
    const answer = await grpc.client.call<InferAnswer>(
      'ModelInfer',
      rawRequest('digits_flat', [{ name: 'image', datatype: 'FP32', shape: [2, 64], data: pixels }]),
    );
    const probabilities = outputOf(answer, 'probabilities');
    assert.deepEqual(probabilities.shape, [2, 10]);
    const expected = golden.outputs.find((o) => o.name === 'probabilities')!.data.slice(0, 20);
    assert.ok(near(probabilities.values as number[], expected, golden.tolerance));
  });
});

describe('Triton configurations that cannot be served', () => {
  const IRIS_CONFIG = `max_batch_size: 8
input [ { name: "input" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 3 ] } ]
`;
  const cases: [string, string, RegExp][] = [
    [
      'wrong dims',
      IRIS_CONFIG.replace('dims: [ 4 ]', 'dims: [ 5 ]'),
      /^config\.pbtxt: input "input" dims: the graph's shape is \[-1, 4\] but the configuration makes it \[-1 \(the batch\), 5\]$/,
    ],
    [
      'a wrong type',
      IRIS_CONFIG.replace('TYPE_FP32 dims: [ 4 ]', 'TYPE_INT32 dims: [ 4 ]'),
      /^config\.pbtxt: input "input" data_type: TYPE_INT32 but the graph's input is TYPE_FP32$/,
    ],
    [
      'an unknown field',
      `${IRIS_CONFIG}dynamic_batching {\n  max_delay: 100\n}\n`,
      /^config\.pbtxt:5:3: unknown field "max_delay" in ModelDynamicBatching$/,
    ],
    [
      'a GPU instance group',
      `${IRIS_CONFIG}instance_group [ { count: 1 kind: KIND_GPU } ]\n`,
      /^config\.pbtxt: instance_group\[0\]\.kind: KIND_GPU: Serval runs models on CPUs only/,
    ],
    [
      'an ensemble whose step runs a model not served',
      'platform: "ensemble"\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "y" data_type: TYPE_INT64 dims: [ 1 ] } ]\nensemble_scheduling { step [ { model_name: "iris" input_map { key: "input" value: "x" } output_map { key: "label" value: "y" } } ] }\n',
      /^config\.pbtxt: ensemble_scheduling step 0 \("iris"\): Model "iris" not found$/,
    ],
  ];

  for (const [what, text, reason] of cases) {
    it(`fails the load of a model with ${what}, with the reason in the index and the load API`, async (t) => {
      const repo = await tempRepository({ 'm/1': {}, m: { files: { 'config.pbtxt': text } } });
      t.after(() => repo.cleanup());
      await writeFile(join(repo.root, 'm/1/model.onnx'), await readFile(IRIS_GRAPH));
      const app = await loadedApp({ modelRepository: repo.root });
      t.after(() => app.close());
      const [entry] = (await post(app, '/v2/repository/index', {})).json();
      assert.equal(entry.state, 'FAILED');
      assert.match(entry.reason, reason);
      const load = await post(app, '/v2/repository/models/m/load', {});
      assert.equal(load.statusCode, 400);
      assert.match(load.json().error, /config\.pbtxt/);
      const infer = await post(app, '/v2/models/m/infer', {
        inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
      });
      assert.equal(infer.statusCode, 503); // never a 500 at request time
    });
  }
});

describe('Triton’s JSON form', () => {
  it('is a model.json beside the version folders, and the load API’s config', async (t) => {
    const config = {
      max_batch_size: 2,
      input: [{ name: 'input', data_type: 'TYPE_FP32', dims: [4] }],
      output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: ['3'] }],
      instance_group: [{ kind: 'KIND_CPU', count: 1, gpus: [] }],
    };
    const repo = await tempRepository({ 'm/1': {}, m: { files: { 'model.json': JSON.stringify(config) } } });
    t.after(() => repo.cleanup());
    await writeFile(join(repo.root, 'm/1/model.onnx'), await readFile(IRIS_GRAPH));
    const app = await loadedApp({ modelRepository: repo.root });
    t.after(() => app.close());
    const served = (await app.inject({ url: '/v2/models/m/config' })).json();
    assert.equal(served.max_batch_size, 2);
    assert.deepEqual(
      served.output.map((o: { name: string }) => o.name),
      ['probabilities'],
    );
    // tritonclient's load_model(config=...) sends the configuration as JSON text.
    const load = (value: unknown) =>
      post(app, '/v2/repository/models/m/load', { parameters: { config: JSON.stringify(value) } });
    const reloaded = await load({ ...config, max_batch_size: 4, dynamic_batching: {} });
    assert.equal(reloaded.statusCode, 200, reloaded.body);
    const after = (await app.inject({ url: '/v2/models/m/config' })).json();
    assert.equal(after.max_batch_size, 4);
    assert.deepEqual(after.dynamic_batching, { preferred_batch_size: [4], max_queue_delay_microseconds: 0 });
    const wrong = await load({ ...config, input: [{ name: 'input', data_type: 'TYPE_FP32', dimz: [4] }] });
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.json().error, /parameters\.config\.input\[0\]\.dimz: unknown field in ModelInput$/);
    const refused = await load({ ...config, instance_group: [{ kind: 'KIND_GPU' }] });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.json().error, /parameters\.config: instance_group\[0\]\.kind: KIND_GPU/);
    // The failed load left the version that served before serving.
    assert.equal((await app.inject({ url: '/v2/models/m/config' })).json().max_batch_size, 4);
  });
});
