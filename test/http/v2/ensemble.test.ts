// Triton ensembles served over V1 and V2 (test/fixtures/triton/ensemble: token ids embedded then classified by Iris,
// and one input fanned out to two steps): one model to every route, its answers those of its composing models run by
// hand, a step's failure named, statistics counting both, readiness following the composing models, and
// unload_dependents.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FIXTURE_MODELS, loadedApp, ROOT } from '../../helpers.js';
import { binaryRequest, rawBytes, readResponse } from '../../oip.js';

const ENSEMBLES = join(ROOT, 'test/fixtures/triton/ensemble');

interface Output {
  name: string;
  shape: number[];
  data: number[];
}

const post = (app: FastifyInstance, url: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: body as object,
  });

const TOKENS = [0, 1, 2, 3, 4, 99, 98, 97, 96, 95, 7, 42, 7, 42, 7];

async function infer(
  app: FastifyInstance,
  model: string,
  name: string,
  datatype: string,
  shape: number[],
  data: number[],
) {
  const response = await post(app, `/v2/models/${model}/infer`, {
    inputs: [{ name, datatype, shape, data }],
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ outputs: Output[] }>().outputs;
}

const byName = (outputs: Output[]) => Object.fromEntries(outputs.map((o) => [o.name, o]));

describe('an ensemble over V1 and V2', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({
      modelRepository: ENSEMBLES,
      modelControl: 'explicit',
      startupModels: ['embed_classify', 'fan_out', 'iris', 'embedding'],
    });
  });
  after(() => app.close());

  it('loads after its composing models and is one ready model', async () => {
    const index = (await post(app, '/v2/repository/index', {})).json<{ name: string; state: string }[]>();
    assert.deepEqual(
      index.map((m) => [m.name, m.state]),
      [
        ['classify_mm', 'UNAVAILABLE'],
        ['digits', 'UNAVAILABLE'],
        ['embed_classify', 'READY'],
        ['embedding', 'READY'],
        ['fan_out', 'READY'],
        ['iris', 'READY'],
        ['iris_mm', 'UNAVAILABLE'],
        ['millimetres', 'UNAVAILABLE'],
        ['read_digit', 'UNAVAILABLE'],
      ],
    );
    assert.equal((await app.inject({ url: '/v2/models/embed_classify/ready' })).statusCode, 200);
    const meta = (await app.inject({ url: '/v2/models/embed_classify' })).json();
    assert.equal(meta.platform, 'ensemble');
    assert.deepEqual(meta.inputs, [{ name: 'TOKENS', datatype: 'INT64', shape: [-1, 5] }]);
    assert.deepEqual(
      meta.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape]),
      [
        ['EMBEDDING', [-1, 4]],
        ['LABEL', [-1, 1]],
        ['PROBABILITIES', [-1, 3]],
      ],
    );
  });

  it('answers the config with its steps, model_version a number, as perf_analyzer walks them', async () => {
    const config = (await app.inject({ url: '/v2/models/embed_classify/config' })).json();
    assert.equal(config.platform, 'ensemble');
    assert.equal(config.max_batch_size, 8);
    assert.deepEqual(config.ensemble_scheduling.step, [
      {
        model_name: 'embedding',
        model_version: -1,
        input_map: { tokens: 'TOKENS' },
        output_map: { embedding: 'EMBEDDING' },
      },
      {
        model_name: 'iris',
        model_version: 1,
        input_map: { input: 'EMBEDDING' },
        output_map: { label: 'LABEL', probabilities: 'PROBABILITIES' },
      },
    ]);
  });

  it('answers as its composing models run one after the other (V2 JSON), the embedding as its golden', async () => {
    const golden = JSON.parse(await readFile(join(FIXTURE_MODELS, 'embedding/1/golden.json'), 'utf8')) as {
      inputs: { data: number[] }[];
      outputs: { data: number[] }[];
    };
    const tokens = golden.inputs[0]!.data.slice(0, 15);
    const out = byName(await infer(app, 'embed_classify', 'TOKENS', 'INT64', [3, 5], tokens));
    const embedding = golden.outputs[0]!.data.slice(0, 12);
    assert.ok(out.EMBEDDING!.data.every((v, i) => Math.abs(v - embedding[i]!) < 1e-6));
    const iris = byName(await infer(app, 'iris', 'input', 'FP32', [3, 4], out.EMBEDDING!.data));
    assert.deepEqual(out.PROBABILITIES, { ...iris.probabilities!, name: 'PROBABILITIES' });
    assert.deepEqual(out.LABEL, { ...iris.label!, name: 'LABEL' });
    assert.deepEqual(out.LABEL.shape, [3, 1]);
  });

  it('answers alike over V2 binary and V1', async () => {
    const json = byName(await infer(app, 'embed_classify', 'TOKENS', 'INT64', [3, 5], TOKENS));
    const { payload, headers } = binaryRequest(
      [
        {
          name: 'TOKENS',
          datatype: 'INT64',
          shape: [3, 5],
          bytes: rawBytes(BigInt64Array.from(TOKENS.map(BigInt))),
        },
      ],
      { parameters: { binary_data_output: true } },
    );
    const binary = await app.inject({
      method: 'POST',
      url: '/v2/models/embed_classify/infer',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      payload,
    });
    assert.equal(binary.statusCode, 200, binary.body);
    const read = readResponse(binary.rawPayload, binary.headers['inference-header-content-length']);
    const probabilities = read.json.outputs.find((o) => o.name === 'PROBABILITIES')!.bytes!;
    assert.deepEqual(
      Array.from(new Float32Array(new Uint8Array(probabilities).buffer)),
      json.PROBABILITIES!.data,
    );
    const v1 = await post(app, '/v1/models/embed_classify:predict', {
      instances: [TOKENS.slice(0, 5), TOKENS.slice(5, 10)],
    });
    assert.equal(v1.statusCode, 200, v1.body);
    const predictions = v1.json<{ predictions: Record<string, unknown>[] }>().predictions;
    assert.deepEqual(predictions[1]!.PROBABILITIES, json.PROBABILITIES!.data.slice(3, 6));
    assert.deepEqual(predictions[0]!.LABEL, json.LABEL!.data[0]);
  });

  it('runs independent steps on the same input (a fan-out)', async () => {
    const rows = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
    const out = byName(await infer(app, 'fan_out', 'MEASUREMENTS', 'FP32', [2, 4], rows));
    const iris = byName(await infer(app, 'iris', 'input', 'FP32', [2, 4], rows));
    assert.deepEqual(out.LEFT!.data, iris.probabilities!.data);
    assert.deepEqual(out.RIGHT!.data, iris.label!.data);
  });

  it('fails with the step named when a composing model refuses the client’s input (400)', async () => {
    const response = await post(app, '/v2/models/embed_classify/infer', {
      inputs: [{ name: 'TOKENS', datatype: 'INT64', shape: [1, 5], data: [0, 1, 2, 3, 400] }],
    });
    assert.equal(response.statusCode, 400);
    const body = response.json();
    assert.equal(body.code, 'INFERENCE_REJECTED');
    assert.match(body.error, /^ensemble step 0 \("embedding"\): /);
    assert.deepEqual(body.details, { step: 0, model: 'embedding' });
  });

  it('counts the ensemble and each composing model in the statistics', async () => {
    const before = (await app.inject({ url: '/v2/models/stats' })).json<{
      model_stats: { name: string; inference_stats: { success: { count: number } } }[];
    }>();
    await infer(app, 'embed_classify', 'TOKENS', 'INT64', [1, 5], TOKENS.slice(0, 5));
    const now = (await app.inject({ url: '/v2/models/stats' })).json<typeof before>();
    const success = (stats: typeof before, name: string) =>
      stats.model_stats.find((s) => s.name === name)?.inference_stats.success.count ?? 0;
    for (const name of ['embed_classify', 'embedding', 'iris'])
      assert.equal(success(now, name) - success(before, name), 1, name);
    assert.equal(success(now, 'fan_out') - success(before, 'fan_out'), 0);
  });

  it('is not ready while a composing model is unloaded, and ready again once it is loaded', async () => {
    assert.equal((await post(app, '/v2/repository/models/embedding/unload', {})).statusCode, 200);
    const ready = await app.inject({ url: '/v2/models/embed_classify/ready' });
    assert.notEqual(ready.statusCode, 200);
    const refused = await post(app, '/v2/models/embed_classify/infer', {
      inputs: [{ name: 'TOKENS', datatype: 'INT64', shape: [1, 5], data: TOKENS.slice(0, 5) }],
    });
    assert.equal(refused.statusCode, 503);
    assert.match(refused.json().error, /step 0 \("embedding"\) model is not ready/);
    const v1 = (await app.inject({ url: '/v1/models/embed_classify' })).json();
    assert.equal(v1.ready, false);
    assert.match(v1.reason, /step 0 \("embedding"\) model is not ready/);
    const index = (await post(app, '/v2/repository/index', {})).json<{ name: string; reason: string }[]>();
    assert.match(index.find((m) => m.name === 'embed_classify')!.reason, /step 0 \("embedding"\)/);
    // The fan-out does not use it.
    assert.equal((await app.inject({ url: '/v2/models/fan_out/ready' })).statusCode, 200);
    assert.equal((await post(app, '/v2/repository/models/embedding/load', {})).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/embed_classify/ready' })).statusCode, 200);
    await infer(app, 'embed_classify', 'TOKENS', 'INT64', [1, 5], TOKENS.slice(0, 5));
  });

  it('unloads the ensembles that run a model with unload_dependents, until they are loaded again', async () => {
    const unload = await post(app, '/v2/repository/models/iris/unload', {
      parameters: { unload_dependents: true },
    });
    assert.equal(unload.statusCode, 200);
    const index = (await post(app, '/v2/repository/index', {})).json<{ name: string; state: string }[]>();
    assert.deepEqual(
      index.map((m) => [m.name, m.state]),
      [
        ['classify_mm', 'UNAVAILABLE'],
        ['digits', 'UNAVAILABLE'],
        ['embed_classify', 'UNAVAILABLE'],
        ['embedding', 'READY'],
        ['fan_out', 'UNAVAILABLE'],
        ['iris', 'UNAVAILABLE'],
        ['iris_mm', 'UNAVAILABLE'],
        ['millimetres', 'UNAVAILABLE'],
        ['read_digit', 'UNAVAILABLE'],
      ],
    );
    assert.equal((await post(app, '/v2/repository/models/iris/load', {})).statusCode, 200);
    assert.notEqual((await app.inject({ url: '/v2/models/fan_out/ready' })).statusCode, 200);
    assert.equal((await post(app, '/v2/repository/models/fan_out/load', {})).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/fan_out/ready' })).statusCode, 200);
    assert.equal((await post(app, '/v2/repository/models/embed_classify/load', {})).statusCode, 200);
  });

  it('loads the composing models that do not serve when an ensemble is loaded', async () => {
    assert.equal((await post(app, '/v2/repository/models/embedding/unload', {})).statusCode, 200);
    assert.equal((await post(app, '/v2/repository/models/embed_classify/load', {})).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/embedding/ready' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/embed_classify/ready' })).statusCode, 200);
  });

  it('fails to load an ensemble whose tensors disagree with its composing models’, naming the step', async () => {
    const config = {
      platform: 'ensemble',
      max_batch_size: 8,
      input: [{ name: 'TOKENS', data_type: 'TYPE_INT64', dims: [4] }],
      output: [{ name: 'LABEL', data_type: 'TYPE_INT64', dims: [1] }],
      ensemble_scheduling: {
        step: [
          {
            model_name: 'iris',
            model_version: -1,
            input_map: { input: 'TOKENS' },
            output_map: { label: 'LABEL' },
          },
        ],
      },
    };
    const response = await post(app, '/v2/repository/models/fan_out/load', {
      parameters: { config: JSON.stringify(config) },
    });
    assert.equal(response.statusCode, 400);
    assert.match(
      response.json().error,
      /parameters\.config: ensemble_scheduling\.step\[0\] \("iris"\)\.input_map: "TOKENS" is INT64 \(input "TOKENS"\) but "input" takes FP32/,
    );
    const tooMany = await post(app, '/v2/repository/models/fan_out/load', {
      parameters: {
        config: JSON.stringify({
          ...config,
          max_batch_size: 32,
          input: [{ name: 'TOKENS', data_type: 'TYPE_FP32', dims: [4] }],
        }),
      },
    });
    assert.equal(tooMany.statusCode, 400);
    assert.match(
      tooMany.json().error,
      /max_batch_size: 32, more than ensemble_scheduling\.step\[0\] \("iris"\)'s model "iris" takes \(16\)/,
    );
    const cycle = {
      ...config,
      ensemble_scheduling: {
        step: [
          {
            model_name: 'iris',
            input_map: { input: 'A' },
            output_map: { label: 'LABEL', probabilities: 'B' },
          },
          { model_name: 'iris', input_map: { input: 'B' }, output_map: { probabilities: 'A' } },
          { model_name: 'embedding', input_map: { tokens: 'TOKENS' }, output_map: { embedding: 'C' } },
        ],
      },
    };
    const refused = await post(app, '/v2/repository/models/fan_out/load', {
      parameters: { config: JSON.stringify(cycle) },
    });
    assert.equal(refused.statusCode, 400);
    assert.match(
      refused.json().error,
      /steps 0 \("iris"\), 1 \("iris"\) wait on each other's tensors \(a cycle\)/,
    );
  });
});

describe('an ensemble with the prediction cache and metrics', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp({ modelRepository: ENSEMBLES, cacheEnabled: true, metricsEnabled: true });
  });
  after(() => app.close());

  it('answers a repeat from the cache (response_cache enabled), its composing models not run again', async () => {
    const body = { inputs: [{ name: 'TOKENS', datatype: 'INT64', shape: [1, 5], data: TOKENS.slice(0, 5) }] };
    const first = await post(app, '/v2/models/embed_classify/infer', body);
    const second = await post(app, '/v2/models/embed_classify/infer', body);
    assert.equal(first.headers['cache-status'], 'serval; fwd=miss; stored');
    assert.equal(second.headers['cache-status'], 'serval; hit');
    assert.equal(second.body, first.body);
    const stats = (await app.inject({ url: '/v2/models/embedding/stats' })).json();
    assert.equal(stats.model_stats[0].inference_stats.success.count, 1);
  });

  it('counts each composing model’s steps in the metrics, under the protocol "ensemble"', async () => {
    await infer(app, 'fan_out', 'MEASUREMENTS', 'FP32', [1, 4], [5.1, 3.5, 1.4, 0.2]);
    const text = (await app.inject({ url: '/metrics' })).body;
    const count = (labels: string) =>
      Number(
        new RegExp(`^serval_inference_requests_total\\{${labels}[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0,
      );
    assert.equal(count('model="fan_out",version="1",protocol="v2",outcome="success"'), 1);
    // Once for embed_classify's run above (its repeat was a cache hit), twice for the fan-out.
    assert.equal(count('model="iris",version="1",protocol="ensemble",outcome="success"'), 3);
  });

  it('takes an image file where a composing model declares its input an image (V2 binary BYTES)', async () => {
    const meta = (await app.inject({ url: '/v2/models/read_digit' })).json();
    assert.deepEqual(meta.inputs[0].parameters, { content_type: 'image' });
    const file = await readFile(join(ROOT, 'test/fixtures/images/digit-2-8.png'));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(file.length);
    const ask = async (model: string, input: string, output: string) => {
      const { payload, headers } = binaryRequest([
        { name: input, datatype: 'BYTES', shape: [1], bytes: Buffer.concat([length, file]) },
      ]);
      const response = await app.inject({
        method: 'POST',
        url: `/v2/models/${model}/infer`,
        headers,
        payload,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json<{ outputs: Output[] }>().outputs.find((o) => o.name === output)!.data;
    };
    const ensemble = await ask('read_digit', 'IMAGE', 'PROBABILITIES');
    assert.deepEqual(ensemble, await ask('digits', 'image', 'probabilities'));
  });

  it('answers the golden outputs of iris_mm (a preprocessing graph, then Iris) over V2 JSON, V2 binary and V1', async () => {
    const golden = await ensembleGolden();
    const [input] = golden.inputs;
    const expected = byName(golden.outputs);
    const check = (probabilities: number[], labels: number[]) => {
      const want = expected.PROBABILITIES!.data;
      assert.ok(
        probabilities.every((p, i) => Math.abs(p - want[i]!) <= golden.tolerance),
        `${probabilities.join()} against ${want.join()}`,
      );
      assert.deepEqual(labels, expected.LABEL!.data);
    };
    const json = byName(await infer(app, 'iris_mm', input!.name, 'FP32', input!.shape, input!.data));
    check(json.PROBABILITIES!.data, json.LABEL!.data);
    const { payload, headers } = binaryRequest(
      [
        {
          name: 'MILLIMETRES',
          datatype: 'FP32',
          shape: input!.shape,
          bytes: rawBytes(Float32Array.from(input!.data)),
        },
      ],
      { parameters: { binary_data_output: true } },
    );
    const binary = await app.inject({ method: 'POST', url: '/v2/models/iris_mm/infer', headers, payload });
    assert.equal(binary.statusCode, 200, binary.body);
    const read = readResponse(binary.rawPayload, binary.headers['inference-header-content-length']);
    const bytes = (name: string) =>
      new Uint8Array(read.json.outputs.find((o) => o.name === name)!.bytes!).buffer;
    check(
      Array.from(new Float32Array(bytes('PROBABILITIES'))),
      Array.from(new BigInt64Array(bytes('LABEL')), Number),
    );
    const rows = Array.from({ length: input!.shape[0]! }, (_, r) => input!.data.slice(r * 4, r * 4 + 4));
    const v1 = await post(app, '/v1/models/iris_mm:predict', { instances: rows });
    assert.equal(v1.statusCode, 200, v1.body);
    const predictions = v1.json<{ predictions: { PROBABILITIES: number[]; LABEL: number }[] }>().predictions;
    check(
      predictions.flatMap((p) => p.PROBABILITIES),
      predictions.map((p) => p.LABEL),
    );
  });

  it('runs an ensemble whose step is an ensemble, loaded after it, and not ready while its steps are not', async () => {
    const golden = await ensembleGolden();
    const [input] = golden.inputs;
    const inner = byName(await infer(app, 'iris_mm', 'MILLIMETRES', 'FP32', input!.shape, input!.data));
    const outer = byName(await infer(app, 'classify_mm', 'MM', 'FP32', input!.shape, input!.data));
    assert.deepEqual(outer.SPECIES!.data, inner.PROBABILITIES!.data);
    assert.equal((await post(app, '/v2/repository/models/millimetres/unload', {})).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/classify_mm/ready' })).statusCode, 503);
    assert.equal((await post(app, '/v2/repository/models/millimetres/load', {})).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/classify_mm/ready' })).statusCode, 200);
    // unload_dependents follows ensembles through the ensembles that run them; loading the outer one loads them back.
    const unload = { parameters: { unload_dependents: true } };
    assert.equal((await post(app, '/v2/repository/models/millimetres/unload', unload)).statusCode, 200);
    const index = (await post(app, '/v2/repository/index', {})).json<{ name: string; state: string }[]>();
    const state = (name: string) => index.find((m) => m.name === name)?.state;
    assert.deepEqual(['millimetres', 'iris_mm', 'classify_mm', 'iris'].map(state), [
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'READY',
    ]);
    assert.equal((await post(app, '/v2/repository/models/classify_mm/load', {})).statusCode, 200);
    assert.equal((await app.inject({ url: '/v2/models/classify_mm/ready' })).statusCode, 200);
  });
});

/** iris_mm's golden outputs (training/ensemble_graphs.py: scikit-learn's, for the measurements in millimetres). */
async function ensembleGolden() {
  const text = await readFile(join(ENSEMBLES, 'iris_mm/1/golden.json'), 'utf8');
  return JSON.parse(text) as { tolerance: number; inputs: Output[]; outputs: Output[] };
}
