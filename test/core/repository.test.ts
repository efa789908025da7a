// The model repository alone, over temporary folders of the committed tiny models: loading at start, lookups and
// their error codes, version policies, explicit loads and unloads, polling, calls that keep a version alive, the index.
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ModelRepository, type ModelVersion } from '../../src/core/models/repository.js';
import { MODELS, repositoryOver, type VersionLayout } from '../helpers.js';
import { fakeModel, spec } from '../fakes.js';
import { waitFor } from '../wait.js';

const IRIS = join(MODELS, 'iris/1');
const DIABETES = join(MODELS, 'diabetes/1');
const BROKEN: VersionLayout = { files: { 'model.onnx': 'not an onnx file' } };

const versionsOf = (repository: ModelRepository, name: string) =>
  repository.versions(name).map((v) => `${v.version}:${v.state}`);

describe('ModelRepository at start', () => {
  it('loads every model once: good versions READY, a broken one FAILED with the file and the reason', async (t) => {
    const { repository } = await repositoryOver(t, { 'iris/1': { from: IRIS }, 'broken/1': BROKEN });
    assert.equal(repository.loaded, false);
    assert.throws(
      () => repository.find('iris'),
      { code: 'MODEL_NOT_FOUND' },
      'nothing is known before the load',
    );
    const loading = repository.load();
    assert.equal(repository.load(), loading, 'a second call waits for the same load');
    await loading;
    assert.equal(repository.loaded, true);
    const index = await repository.index();
    assert.deepEqual(
      index.map(({ name, version, state }) => ({ name, version, state })),
      [
        { name: 'broken', version: '1', state: 'FAILED' },
        { name: 'iris', version: '1', state: 'READY' },
      ],
    );
    assert.match(index[0]!.reason, /model\.onnx cannot be loaded/);
    assert.equal(index[1]!.reason, '');
    assert.equal(repository.readyCount, 1);
    assert.deepEqual(repository.served(), [{ name: 'iris', version: '1' }]);
    assert.deepEqual(repository.startupFailures, ['broken/1']);
    const iris = repository.ready('iris');
    assert.equal(iris.runtime.execution, 'inline');
    assert.deepEqual(
      iris.runtime.inputs.map((i) => i.name),
      ['input'],
    );
  });

  it('finds no model in a repository folder that does not exist, and is loaded all the same', async (t) => {
    const { repository } = await repositoryOver(t, {}, { root: '/nonexistent/serval-models' });
    await repository.load();
    assert.equal(repository.loaded, true);
    assert.deepEqual(await repository.index(), []);
    assert.equal(repository.readyCount, 0);
  });
});

describe('ModelRepository lookups', () => {
  it('answers each miss with its code: MODEL_NOT_FOUND, VERSION_NOT_FOUND, MODEL_NOT_READY, MODEL_NOT_LOADED', async (t) => {
    const { repository } = await repositoryOver(
      t,
      { 'iris/1': { from: IRIS }, 'broken/1': BROKEN },
      { control: 'explicit', startupModels: ['iris', 'broken'] },
    );
    await repository.load();
    assert.throws(() => repository.find('nope'), { code: 'MODEL_NOT_FOUND' });
    assert.throws(() => repository.versions('nope'), { code: 'MODEL_NOT_FOUND' });
    assert.throws(() => repository.ready('nope'), { code: 'MODEL_NOT_FOUND' });
    assert.throws(() => repository.find('iris', '3'), { code: 'VERSION_NOT_FOUND' });
    assert.throws(() => repository.ready('iris', '3'), { code: 'VERSION_NOT_FOUND' });
    // A failed version is found (its reason is the news) but is not ready; no Retry-After: it will not heal by itself.
    assert.equal(repository.find('broken').state, 'FAILED');
    assert.throws(
      () => repository.ready('broken'),
      (err: { code: string; retryAfter?: number; message: string }) => {
        assert.equal(err.code, 'MODEL_NOT_READY');
        assert.equal(err.retryAfter, undefined);
        assert.match(err.message, /failed to load \(model\.onnx cannot be loaded/);
        return true;
      },
    );
    await repository.unloadModel('iris');
    assert.throws(() => repository.find('iris'), { code: 'MODEL_NOT_LOADED' });
    assert.throws(() => repository.versions('iris'), { code: 'MODEL_NOT_LOADED' });
    // peek never throws: it simply finds nothing that can serve.
    assert.equal(repository.peek('nope'), undefined);
    assert.equal(repository.peek('broken'), undefined);
    assert.equal(repository.peek('iris'), undefined);
  });

  it('serves the highest ready version by default and any loaded version by its number', async (t) => {
    const { repository } = await repositoryOver(t, {
      'iris/1': { from: IRIS },
      'iris/2': { from: IRIS },
    });
    await repository.load();
    assert.equal(repository.find('iris').version, '2');
    assert.equal(repository.peek('iris')?.version, '2');
    assert.throws(() => repository.find('iris', '1'), { code: 'VERSION_NOT_FOUND' }, 'outside the policy');
  });
});

describe('ModelRepository version policies', () => {
  const threeVersions = (policy?: unknown): Record<string, VersionLayout> => ({
    'iris/1': { from: IRIS },
    'iris/2': { from: IRIS },
    'iris/3': { from: IRIS },
    ...(policy === undefined
      ? {}
      : { iris: { files: { 'model.json': JSON.stringify({ versionPolicy: policy }) } } }),
  });

  for (const [policy, served, idle] of [
    [undefined, ['3:READY'], ['2', '1']],
    [{ latest: 2 }, ['3:READY', '2:READY'], ['1']],
    ['all', ['3:READY', '2:READY', '1:READY'], []],
    [{ specific: [1, 3] }, ['3:READY', '1:READY'], ['2']],
  ] as const) {
    it(`serves ${served.join(', ')} under ${policy === undefined ? 'no policy (the latest)' : JSON.stringify(policy)}`, async (t) => {
      const { repository } = await repositoryOver(t, threeVersions(policy));
      await repository.load();
      assert.deepEqual(versionsOf(repository, 'iris'), served);
      const unavailable = (await repository.index()).filter((r) => r.state === 'UNAVAILABLE');
      assert.deepEqual(
        unavailable.map((r) => r.version),
        idle,
      );
      for (const row of unavailable) assert.equal(row.reason, 'not in the version policy');
    });
  }

  it('fails every version, naming versionPolicy, when the policy is not valid', async (t) => {
    const { repository } = await repositoryOver(t, threeVersions({ latest: 0 }));
    await repository.load();
    const versions = repository.versions('iris');
    assert.ok(versions.length > 0);
    for (const v of versions) {
      assert.equal(v.state, 'FAILED');
      assert.match(v.reason ?? '', /^model\.json\b.*versionPolicy/);
    }
    assert.throws(() => repository.ready('iris'), { code: 'MODEL_NOT_READY' });
  });

  it('stands the next version in for a newest one that fails, saying so', async (t) => {
    const { repository } = await repositoryOver(t, {
      'iris/1': { from: IRIS },
      'iris/2': BROKEN,
    });
    await repository.load();
    assert.deepEqual(versionsOf(repository, 'iris'), ['2:FAILED', '1:READY']);
    assert.equal(repository.ready('iris').version, '1');
    assert.equal(repository.find('iris', '1').reason, 'serving in place of version 2, which failed to load');
    assert.deepEqual(repository.startupFailures, [], 'the model serves');
  });
});

describe('ModelRepository explicit control', () => {
  it('loads only the startup models; the others load and unload on request', async (t) => {
    const { repository } = await repositoryOver(
      t,
      { 'iris/1': { from: IRIS }, 'diabetes/1': { from: DIABETES }, 'broken/1': BROKEN },
      { control: 'explicit', startupModels: ['iris'] },
    );
    await repository.load();
    assert.deepEqual(await repository.index(), [
      { name: 'broken', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'diabetes', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'iris', version: '1', state: 'READY', reason: '' },
    ]);
    assert.throws(() => repository.find('diabetes'), { code: 'MODEL_NOT_FOUND' });

    await repository.loadModel('diabetes');
    assert.equal(repository.ready('diabetes').version, '1');
    await assert.rejects(repository.loadModel('nope'), { code: 'MODEL_NOT_FOUND' });
    await assert.rejects(repository.loadModel('broken'), (err: { code: string; details?: unknown }) => {
      assert.equal(err.code, 'MODEL_LOAD_FAILED');
      assert.deepEqual(err.details, { versions: ['1'] });
      return true;
    });

    await repository.unloadModel('diabetes');
    assert.throws(() => repository.find('diabetes'), { code: 'MODEL_NOT_LOADED' });
    await assert.rejects(repository.unloadModel('nope'), { code: 'MODEL_NOT_FOUND' });
    assert.deepEqual(await repository.index({ ready: true }), [
      { name: 'iris', version: '1', state: 'READY', reason: '' },
    ]);
    assert.deepEqual(
      (await repository.index()).find((r) => r.name === 'diabetes'),
      { name: 'diabetes', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
    );
    await repository.loadModel('diabetes');
    assert.equal(repository.ready('diabetes').state, 'READY', 'loaded again');
  });

  it('loads a model with a descriptor given in the request instead of its model.json', async (t) => {
    const { repository } = await repositoryOver(t, { 'iris/1': { from: IRIS } }, { control: 'explicit' });
    await repository.load();
    await repository.loadModel('iris', { descriptor: { labels: ['a', 'b', 'c'] } });
    assert.deepEqual(repository.ready('iris').descriptor.labels, ['a', 'b', 'c']);
  });
});

describe('ModelRepository use()', () => {
  it('keeps a version in use alive across an unload until every call using it is released', async (t) => {
    const { repository } = await repositoryOver(t, { 'iris/1': { from: IRIS } });
    await repository.load();
    const model = repository.ready('iris');
    let unloads = 0;
    const unload = model.runtime.unload.bind(model.runtime);
    model.runtime.unload = () => (unloads++, unload());
    const entry: ModelVersion = model; // its state changes under it
    const first = repository.use(model);
    const second = repository.use(model);
    let done = false;
    const unloading = repository.unloadModel('iris').then(() => (done = true));
    try {
      await waitFor(() => entry.state === 'UNLOADING', { what: 'the unload has begun' });
      assert.throws(
        () => repository.ready('iris'),
        { code: 'MODEL_NOT_LOADED' },
        'new calls no longer find it',
      );
      first();
      first(); // a release counts once, however often it is called
      await sleep(50); // a while: the unload must still be waiting for the second call
      assert.equal(done, false);
      assert.equal(unloads, 0);
      assert.equal(model.state, 'UNLOADING');
    } finally {
      second(); // also when an assertion failed: the repository's close waits for the unload
    }
    await unloading;
    assert.equal(model.state, 'UNAVAILABLE');
    assert.equal(unloads, 1);
    assert.throws(
      () => repository.use(model),
      (err: { code: string; retryAfter?: number }) => err.code === 'MODEL_NOT_READY' && err.retryAfter === 1,
      'a released version refuses new calls: the caller retries and finds its successor',
    );
  });

  it('lets a call use a version that is not its own (a stand-in) without counting it', async (t) => {
    const { repository } = await repositoryOver(t, {});
    const release = repository.use(
      fakeModel({ inputs: [spec('x', 'FP32', [1])], outputs: [spec('y', 'FP32', [1])] }),
    );
    assert.equal(typeof release, 'function');
    release();
  });
});

describe('ModelRepository polling', () => {
  it('loads a new version only once its files stopped changing between two polls, and drops a removed model', async (t) => {
    const { repository, root } = await repositoryOver(t, {
      'iris/1': { from: IRIS },
      'diabetes/1': { from: DIABETES },
    });
    await repository.load();
    await cp(IRIS, join(root, 'iris/2'), { recursive: true });
    await repository.poll();
    assert.equal(repository.find('iris').version, '1', 'a version first seen may still be being copied');
    await repository.poll();
    assert.equal(repository.ready('iris').version, '2');
    assert.deepEqual(
      (await repository.index()).filter((r) => r.name === 'iris').map((r) => `${r.version}:${r.state}`),
      ['2:READY', '1:UNAVAILABLE'],
    );
    await rm(join(root, 'diabetes'), { recursive: true });
    await repository.poll();
    assert.throws(() => repository.find('diabetes'), { code: 'MODEL_NOT_FOUND' });
  });

  it('leaves a model unloaded through the API unloaded, whatever the polls find', async (t) => {
    const { repository } = await repositoryOver(t, {
      'iris/1': { from: IRIS },
      'diabetes/1': { from: DIABETES },
    });
    await repository.load();
    await repository.unloadModel('diabetes');
    await repository.poll();
    await repository.poll();
    assert.throws(() => repository.find('diabetes'), { code: 'MODEL_NOT_LOADED' });
  });
});

describe('ModelRepository.index', () => {
  it('lists every model by name, each version highest first, with its state and reason', async (t) => {
    const { repository } = await repositoryOver(t, {
      'diabetes/1': { from: DIABETES },
      'iris/1': { from: IRIS },
      'iris/2': { from: IRIS },
      'broken/1': BROKEN,
    });
    await repository.load();
    const rows = await repository.index();
    assert.deepEqual(
      rows.map((r) => `${r.name}/${r.version}:${r.state}`),
      ['broken/1:FAILED', 'diabetes/1:READY', 'iris/2:READY', 'iris/1:UNAVAILABLE'],
    );
    assert.deepEqual(
      (await repository.index({ ready: true })).map((r) => `${r.name}/${r.version}`),
      ['diabetes/1', 'iris/2'],
    );
  });
});
