// The model repository extension (Triton's extension_model_repository.md, MLServer's /v2/repository routes):
// the index, load and unload; the layouts KServe mounts; version policies; reloads that never serve a broken
// version; polling; and thread-mode sessions freed on unload.
import assert from 'node:assert/strict';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../../src/config/schema.js';
import { FIXTURE_MODELS, loadedApp, MODELS, tempRepository } from '../../helpers.js';
import { waitFor } from '../../wait.js';

const IRIS = join(MODELS, 'iris/1');
const DIABETES = join(MODELS, 'diabetes/1');
const irisRow = [5.1, 3.5, 1.4, 0.2];

async function appOver(root: string, overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  return loadedApp({ modelRepository: root, ...overrides });
}

const post = (app: FastifyInstance, url: string, body?: unknown) =>
  app.inject({
    method: 'POST',
    url,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, payload: body as object }),
  });

const index = async (app: FastifyInstance, body: unknown = {}) =>
  (await post(app, '/v2/repository/index', body)).json<
    { name: string; version: string; state: string; reason: string }[]
  >();

const inferIris = (app: FastifyInstance, model = 'iris', version?: string) =>
  post(app, `/v2/models/${model}${version ? `/versions/${version}` : ''}/infer`, {
    inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: irisRow }],
  });

const predict = (app: FastifyInstance, model: string, row: number[]) =>
  post(app, `/v1/models/${model}:predict`, { instances: [row] });

describe('model repository layouts', () => {
  it('serves a bare .onnx file (KServe storage with a file URI) as version 1, named after the file', async (t) => {
    const repo = await tempRepository({ 'mnt/models': { from: IRIS } });
    t.after(() => repo.cleanup());
    await rm(join(repo.root, 'mnt/models/model.json'));
    await cp(join(repo.root, 'mnt/models/model.onnx'), join(repo.root, 'mnt/models/flower.onnx'));
    await rm(join(repo.root, 'mnt/models/model.onnx'));
    const app = await appOver(join(repo.root, 'mnt/models/flower.onnx'));
    t.after(() => app.close());
    assert.deepEqual(await index(app), [{ name: 'flower', version: '1', state: 'READY', reason: '' }]);
    const res = await inferIris(app, 'flower');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().model_version, '1');
  });

  it('serves a folder with model.onnx at its root as one model, named by modelName (KServe /mnt/models)', async (t) => {
    const repo = await tempRepository({ models: { from: IRIS } });
    t.after(() => repo.cleanup());
    const app = await appOver(join(repo.root, 'models'), { modelName: 'iris-kserve' });
    t.after(() => app.close());
    assert.deepEqual(await index(app), [{ name: 'iris-kserve', version: '1', state: 'READY', reason: '' }]);
    // The descriptor beside the graph still applies: V1 answers labels.
    const res = await predict(app, 'iris-kserve', irisRow);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().predictions[0].label, 'setosa');
  });

  it('serves a folder of version folders as one model with those versions', async (t) => {
    const repo = await tempRepository({ 'm/1': { from: IRIS }, 'm/2': { from: IRIS } });
    t.after(() => repo.cleanup());
    const app = await appOver(join(repo.root, 'm'));
    t.after(() => app.close());
    const rows = await index(app);
    assert.deepEqual(
      rows.map((r) => [r.name, r.version, r.state]),
      [
        ['m', '2', 'READY'],
        ['m', '1', 'UNAVAILABLE'],
      ],
    );
  });
});

describe('version policies (model.json versionPolicy, as Triton and TF Serving)', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await tempRepository({
      'latest/1': { from: IRIS },
      'latest/2': { from: IRIS },
      'latest/3': { from: IRIS },
      'every/1': { from: IRIS },
      'every/2': { from: IRIS },
      'pinned/1': { from: IRIS },
      'pinned/2': { from: IRIS },
      'pinned/3': { from: IRIS },
      'plain/1': { from: IRIS },
      'plain/2': { from: IRIS },
    });
    for (const [name, policy] of [
      ['latest', { latest: 2 }],
      ['every', 'all'],
      ['pinned', { specific: [1, 3] }],
    ] as const) {
      await writeFile(join(repo.root, name, 'model.json'), JSON.stringify({ versionPolicy: policy }));
    }
  });
  after(() => repo.cleanup());

  it('loads the versions each policy names; the default version is the highest loaded', async (t) => {
    const app = await appOver(repo.root);
    t.after(() => app.close());
    const states = Object.fromEntries((await index(app)).map((r) => [`${r.name}/${r.version}`, r.state]));
    assert.deepEqual(states, {
      'every/2': 'READY',
      'every/1': 'READY',
      'latest/3': 'READY',
      'latest/2': 'READY',
      'latest/1': 'UNAVAILABLE',
      'pinned/3': 'READY',
      'pinned/1': 'READY',
      'pinned/2': 'UNAVAILABLE',
      'plain/2': 'READY',
      'plain/1': 'UNAVAILABLE',
    });
    assert.deepEqual((await app.inject('/v2/models/latest')).json().versions, ['3', '2']);
    assert.equal((await inferIris(app, 'latest')).json().model_version, '3');
    assert.equal((await inferIris(app, 'pinned', '1')).statusCode, 200);
    const outside = await inferIris(app, 'pinned', '2');
    assert.equal(outside.statusCode, 404);
    assert.equal(outside.json().code, 'VERSION_NOT_FOUND');
    // V1 follows the same default.
    assert.equal((await predict(app, 'latest', irisRow)).json().model_version, '3');
    // The ready filter.
    const ready = await index(app, { ready: true });
    assert.ok(ready.every((r) => r.state === 'READY'));
    assert.equal(ready.length, 7);
  });

  it('a policy that is not valid fails the model with the reason instead of guessing', async (t) => {
    const bad = await tempRepository({ 'iris/1': { from: IRIS } });
    t.after(() => bad.cleanup());
    await writeFile(join(bad.root, 'iris/model.json'), JSON.stringify({ versionPolicy: { latest: 0 } }));
    const app = await appOver(bad.root);
    t.after(() => app.close());
    const res = await post(app, '/v2/repository/models/iris/load');
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'MODEL_LOAD_FAILED');
    assert.match(res.json().error, /versionPolicy/);
  });
});

describe('load and unload through the repository API', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  let app: FastifyInstance;
  before(async () => {
    repo = await tempRepository({ 'iris/1': { from: IRIS }, 'diabetes/1': { from: DIABETES } });
    app = await appOver(repo.root);
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });

  it('answers as tritonclient expects: no body, or {} with any content type, gives {}', async () => {
    for (const request of [
      { method: 'POST' as const, url: '/v2/repository/models/iris/load' },
      {
        method: 'POST' as const,
        url: '/v2/repository/models/iris/load',
        headers: { 'content-type': 'application/octet-stream' },
        payload: '{}',
      },
    ]) {
      const res = await app.inject(request);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), {});
    }
  });

  it('unloads: inference answers 404 MODEL_NOT_LOADED, the index says UNAVAILABLE; a load serves it again', async () => {
    assert.equal((await post(app, '/v2/repository/models/iris/unload')).statusCode, 200);
    const gone = await inferIris(app);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().code, 'MODEL_NOT_LOADED');
    assert.equal((await predict(app, 'iris', irisRow)).json().code, 'MODEL_NOT_LOADED');
    assert.deepEqual(
      (await index(app)).find((r) => r.name === 'iris'),
      { name: 'iris', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
    );
    // Still ready: another model serves and the unloaded one is no longer a startup model.
    assert.equal((await app.inject('/v2/health/ready')).statusCode, 200);
    assert.equal((await post(app, '/v2/repository/models/iris/load')).statusCode, 200);
    assert.equal((await inferIris(app)).statusCode, 200);
  });

  it('refuses unknown models and malformed requests with a 4xx and a stable code', async () => {
    const unknown = await post(app, '/v2/repository/models/nope/load');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'MODEL_NOT_FOUND');
    assert.equal((await post(app, '/v2/repository/models/nope/unload')).json().code, 'MODEL_NOT_FOUND');
    for (const [body, pattern] of [
      [{ parameters: { config: 42 } }, /parameters\.config must be a JSON string/],
      [{ parameters: { config: '{"task": ' } }, /not valid JSON/],
      [{ parameters: { config: '{"task": "guess"}' } }, /parameters\.config\.task/],
      [{ parameters: 'x' }, /parameters/],
    ] as const) {
      const res = await post(app, '/v2/repository/models/iris/load', body);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'INVALID_REQUEST');
      assert.match(res.json().error, pattern);
    }
    const notJson = await app.inject({
      method: 'POST',
      url: '/v2/repository/index',
      headers: { 'content-type': 'application/json' },
      payload: '{',
    });
    assert.equal(notJson.statusCode, 400);
    assert.equal((await post(app, '/v2/repository/index', { ready: 'yes' })).statusCode, 400);
  });

  it('loads with parameters.config in place of model.json (Triton’s config override)', async () => {
    const res = await post(app, '/v2/repository/models/iris/load', {
      parameters: { config: JSON.stringify({ task: 'raw' }) },
    });
    assert.equal(res.statusCode, 200, res.body);
    // A raw model answers its tensors by name: the graph's "label" output is the class index, not its name.
    const raw = await predict(app, 'iris', irisRow);
    assert.equal(raw.statusCode, 200, raw.body);
    assert.equal(raw.json().predictions[0].label, 0);
    // Loading again without it goes back to the folder's model.json.
    assert.equal((await post(app, '/v2/repository/models/iris/load')).statusCode, 200);
    assert.equal((await predict(app, 'iris', irisRow)).json().predictions[0].label, 'setosa');
  });

  it('reloads a new version copied in: it serves once loaded, the old one is released', async () => {
    await cp(IRIS, join(repo.root, 'iris/2'), { recursive: true });
    assert.equal((await post(app, '/v2/repository/models/iris/load')).statusCode, 200);
    assert.equal((await inferIris(app)).json().model_version, '2');
    const rows = (await index(app)).filter((r) => r.name === 'iris');
    assert.deepEqual(
      rows.map((r) => [r.version, r.state]),
      [
        ['2', 'READY'],
        ['1', 'UNAVAILABLE'],
      ],
    );
  });

  it('a broken new version fails its load with the file named; the running version keeps serving', async () => {
    await mkdir(join(repo.root, 'iris/3'));
    await writeFile(join(repo.root, 'iris/3/model.onnx'), 'not a graph');
    const res = await post(app, '/v2/repository/models/iris/load');
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'MODEL_LOAD_FAILED');
    assert.match(res.json().error, /version 3: model\.onnx cannot be loaded/);
    // Version 3 is not served (latest: 1 wants it), so version 2 goes on serving.
    const answer = await inferIris(app);
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.json().model_version, '2');
    const three = (await index(app)).find((r) => r.name === 'iris' && r.version === '3');
    assert.equal(three?.state, 'FAILED');
    assert.match(three.reason, /model\.onnx cannot be loaded/);
    // Fixed, it loads and serves.
    await cp(join(IRIS, 'model.onnx'), join(repo.root, 'iris/3/model.onnx'));
    assert.equal((await post(app, '/v2/repository/models/iris/load')).statusCode, 200);
    assert.equal((await inferIris(app)).json().model_version, '3');
  });

  it('a broken replacement of the same version keeps the old graph serving, with the reason in the index', async () => {
    await writeFile(join(repo.root, 'diabetes/1/model.json'), '{"task": "regression", ');
    const res = await post(app, '/v2/repository/models/diabetes/load');
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /model\.json/);
    const row = (await index(app)).find((r) => r.name === 'diabetes');
    assert.equal(row?.state, 'READY');
    assert.match(row.reason, /keeps serving/);
    assert.equal((await predict(app, 'diabetes', Array(10).fill(0.01) as number[])).statusCode, 200);
  });
});

describe('explicit model control', () => {
  it('loads only startupModels; the index lists the others as UNAVAILABLE until loaded', async (t) => {
    const repo = await tempRepository({ 'iris/1': { from: IRIS }, 'diabetes/1': { from: DIABETES } });
    t.after(() => repo.cleanup());
    const app = await appOver(repo.root, { modelControl: 'explicit', startupModels: ['iris'] });
    t.after(() => app.close());
    assert.deepEqual(await index(app), [
      { name: 'diabetes', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'iris', version: '1', state: 'READY', reason: '' },
    ]);
    assert.equal((await predict(app, 'diabetes', Array(10).fill(0) as number[])).statusCode, 404);
    assert.equal((await post(app, '/v2/repository/models/diabetes/load')).statusCode, 200);
    assert.equal((await predict(app, 'diabetes', Array(10).fill(0) as number[])).statusCode, 200);
  });
});

describe('poll model control', () => {
  it('picks up a copied-in version once its files are complete, and unloads a removed model', async (t) => {
    const repo = await tempRepository({ 'iris/1': { from: IRIS }, 'diabetes/1': { from: DIABETES } });
    t.after(() => repo.cleanup());
    const app = await appOver(repo.root, { modelControl: 'poll', pollIntervalMs: 100 });
    t.after(() => app.close());
    // Written the way a copy goes: a half-written graph first, the rest a moment later.
    await mkdir(join(repo.root, 'iris/2'));
    await writeFile(join(repo.root, 'iris/2/model.onnx'), 'half');
    await sleep(50); // the copy takes a while: a poll may find the graph half-written
    await cp(join(IRIS, 'model.json'), join(repo.root, 'iris/2/model.json'));
    await cp(join(IRIS, 'model.onnx'), join(repo.root, 'iris/2/model.onnx'));
    await waitFor(
      async () => {
        const res = await inferIris(app);
        // Never a failure while the new version comes in.
        assert.equal(res.statusCode, 200, res.body);
        return res.json().model_version === '2';
      },
      { what: 'version 2 answers' },
    );
    assert.ok(
      !(await index(app)).some((r) => r.state === 'FAILED'),
      'the half-written graph was never loaded',
    );
    await rm(join(repo.root, 'diabetes'), { recursive: true });
    const status = await waitFor(
      async () => {
        const { statusCode } = await predict(app, 'diabetes', Array(10).fill(0) as number[]);
        return statusCode !== 200 && statusCode;
      },
      { what: 'the removed model stops answering' },
    );
    assert.equal(status, 404);
  });
});

describe('thread-mode models', () => {
  it('a reloaded graph answers, and unloaded versions free their sessions in the threads', async (t) => {
    const repo = await tempRepository({ 'm/1': { from: IRIS } });
    t.after(() => repo.cleanup());
    const app = await appOver(repo.root, {
      inferenceMode: 'thread',
      inferenceThreads: 1,
      ortIntraOpThreads: 1,
      ortLoneIntraOpThreads: 2,
    });
    t.after(() => app.close());
    const sessions = async () => {
      const text = (await app.inject('/metrics')).body;
      return Number(/^serval_thread_sessions (\d+)$/m.exec(text)?.[1]);
    };
    assert.equal((await predict(app, 'm', irisRow)).json().predictions[0].label, 'setosa');
    assert.equal(await sessions(), 2, 'one session for lone runs (two intra-op threads), one for the others');
    // The same version, another graph: diabetes's regression replaces iris's classifier.
    await rm(join(repo.root, 'm/1'), { recursive: true });
    await cp(DIABETES, join(repo.root, 'm/1'), { recursive: true });
    for (let cycle = 0; cycle < 10; cycle++) {
      assert.equal((await post(app, '/v2/repository/models/m/load')).statusCode, 200);
      const res = await predict(app, 'm', Array(10).fill(0.02) as number[]);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(typeof res.json().predictions[0], 'number');
      assert.equal((await post(app, '/v2/repository/models/m/unload')).statusCode, 200);
    }
    // The unloads release asynchronously: once done, no session is left.
    await waitFor(async () => (await sessions()) === 0, { what: 'no session is left in the threads' });
  });

  /** The thread-mode runs counted after two concurrent calls of the heavy model (tens of ms each) on a fresh app. */
  async function runsOfTwoCalls(t: TestContext, config: Partial<Config>) {
    const repo = await tempRepository({ heavy: { from: join(FIXTURE_MODELS, 'heavy') } });
    t.after(() => repo.cleanup());
    const app = await appOver(repo.root, { inferenceMode: 'thread', ...config });
    t.after(() => app.close());
    const runs = async () => {
      const text = (await app.inject('/metrics')).body;
      const count = (run: string) =>
        Number(new RegExp(`^serval_thread_runs_total\\{run="${run}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return { lone: count('lone'), shared: count('shared') };
    };
    assert.deepEqual(await runs(), { lone: 0, shared: 0 }, 'the warm-up is not counted');
    const infer = () =>
      app.inject({
        method: 'POST',
        url: '/v2/models/heavy/infer',
        payload: { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] },
      });
    const answers = await Promise.all([infer(), infer()]);
    for (const res of answers) assert.equal(res.statusCode, 200, res.body);
    return runs();
  }

  it('counts its runs in the metrics: a lone one on every core, and one that shared the process with it', async (t) => {
    // The second arrives while the first runs: it shares the process's cores.
    assert.deepEqual(await runsOfTwoCalls(t, { inferenceThreads: 2 }), { lone: 1, shared: 1 });
  });

  it('runs two calls at once in a process alone, with one inference thread per process', async (t) => {
    // One thread per process while other processes run inference; alone, a run per core of a lone run.
    const runs = await runsOfTwoCalls(t, { inferenceThreads: 1, ortLoneIntraOpThreads: 2 });
    assert.deepEqual(runs, { lone: 1, shared: 1 }, 'the second started beside the first, not after it');
  });
});

// A model that does not load says which file is wrong and why, in words a user can act on.
describe('unloading a model in use', () => {
  it('answers the calls in flight, and finishes the unload once they are done', async (t) => {
    const repo = await tempRepository({ 'heavy/1': { from: join(FIXTURE_MODELS, 'heavy/1') } });
    t.after(() => repo.cleanup());
    const app = await appOver(repo.root, { inferenceMode: 'thread', inferenceThreads: 1, batchMaxRows: 1 });
    t.after(() => app.close());
    // Three calls of about 80 ms each, as many at once as the cores allow: the last ends well after the unload asks.
    const order: string[] = [];
    const calls = Array.from({ length: 3 }, () =>
      predict(app, 'heavy', [1, 2, 3, 4]).then((res) => {
        order.push('call');
        return res;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    const unload = post(app, '/v2/repository/models/heavy/unload', {}).then((res) => {
      order.push('unload');
      return res;
    });
    const answers = await Promise.all(calls);
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [200, 200, 200],
    );
    assert.equal((await unload).statusCode, 200);
    assert.deepEqual(order, ['call', 'call', 'call', 'unload'], 'the unload waited for the calls');
    assert.equal((await predict(app, 'heavy', [1, 2, 3, 4])).statusCode, 404, 'unloaded afterwards');
  });
});

describe('load errors name the file', () => {
  let app: FastifyInstance;
  let repo: { root: string; cleanup: () => Promise<void> };
  const PETS = join(FIXTURE_MODELS, 'pets/1');
  before(async () => {
    repo = await tempRepository({
      'iris/1': { from: IRIS },
      'badjson/1': { from: IRIS, files: { 'model.json': '{ task: "classification" }' } },
      'empty/1': { files: { 'model.onnx': '' } },
      'garbage/1': { files: { 'model.onnx': 'this is not a protobuf at all' } },
      // The graph's own labels are cat, dog, fish: a model.json with others (or another order) is refused.
      'relabelled/1': {
        from: PETS,
        files: { 'model.json': JSON.stringify({ labels: ['dog', 'cat', 'fish'] }) },
      },
      'pets/1': { from: PETS },
      'badlabels/1': {
        from: IRIS,
        files: {
          'model.json': JSON.stringify({
            task: 'classification',
            labels: ['a', 'b'],
            outputs: { probabilities: 'probabilities' },
          }),
        },
      },
    });
    app = await appOver(repo.root);
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });
  const reason = async (name: string) => (await index(app)).find((r) => r.name === name)?.reason ?? '';

  it('a model.json that is not JSON: the file and the parser’s message', async () => {
    assert.match(await reason('badjson'), /^model\.json is not valid JSON: .+/);
  });

  it('an empty or unreadable model.onnx: the file, and no message cut mid-word', async () => {
    assert.equal(await reason('empty'), 'model.onnx is empty');
    const garbage = await reason('garbage');
    assert.match(garbage, /^model\.onnx cannot be loaded: /);
    assert.match(garbage, /[\w).]$/, `ends on a whole word: ${garbage}`);
    assert.ok(garbage.length < 400, garbage);
  });

  it('labels that disagree with the graph’s own class labels, or its class count, fail the load', async () => {
    assert.match(
      await reason('relabelled'),
      /model\.json lists labels \["dog","cat","fish"\] but model\.onnx's classifier has \["cat","dog","fish"\]/,
    );
    assert.match(await reason('badlabels'), /model\.json lists 2 labels but "probabilities" has 3 classes/);
    const load = await post(app, '/v2/repository/models/relabelled/load');
    assert.equal(load.statusCode, 400);
    assert.equal(load.json().code, 'MODEL_LOAD_FAILED');
  });

  it('a graph with string class labels and no labels in model.json is labelled by the graph', async () => {
    const res = await post(app, '/v1/models/pets:predict', { instances: [[0, 2]] });
    assert.equal(res.statusCode, 200, res.body);
    const [prediction] = res.json().predictions;
    assert.equal(prediction.label, 'dog');
    assert.deepEqual(Object.keys(prediction.probabilities), ['cat', 'dog', 'fish']);
    assert.ok(prediction.probabilities.dog > 0.8);
  });
});
