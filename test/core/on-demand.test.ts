// The repository in on-demand mode, over temporary folders of the committed tiny models and a loader the tests can
// hold: models listed but not loaded at start, one load shared by concurrent first requests, the wait bound, eviction
// of the least recently used idle model past maxLoadedModels or the byte budget, and failed loads.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Health } from '../../src/core/health.js';
import { loadVersion } from '../../src/core/models/loader.js';
import type { ModelRepository } from '../../src/core/models/repository.js';
import type { DemandBounds } from '../../src/core/models/state.js';
import { MODELS, repositoryOver, type VersionLayout } from '../helpers.js';

const IRIS = { from: join(MODELS, 'iris/1') };
const DIABETES = { from: join(MODELS, 'diabetes/1') };
const FRAUD = { from: join(MODELS, 'fraud/1') };
/** The graphs' sizes in bytes: with the memory reading held still, a model takes its files' size. */
const SIZE = { iris: 980, diabetes: 722, fraud: 2792 };

interface Harness {
  repository: ModelRepository;
  /** Versions loaded so far, in order, as "name/version". */
  loads: string[];
  evictions: string[];
  /** Holds every load until `open()` is called. */
  hold: () => { open: () => void };
}

async function onDemand(
  t: TestContext,
  layout: Record<string, VersionLayout>,
  bounds: Partial<DemandBounds> = {},
): Promise<Harness> {
  const loads: string[] = [];
  const evictions: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  const loader: typeof loadVersion = async (files, ...rest) => {
    loads.push(`${files.dir.split('/').at(-2)}/${files.version}`);
    await gate;
    return loadVersion(files, ...rest);
  };
  const { repository } = await repositoryOver(t, layout, {
    control: 'on-demand',
    demand: { maxModels: 0, maxBytes: 0, waitMs: 5_000, memory: () => 0, ...bounds },
    loader,
    observer: {
      request: () => undefined,
      runs: () => ({ queued: () => undefined, executed: () => undefined }),
      loaded: () => undefined,
      evicted: (model, bound) => evictions.push(`${model}:${bound}`),
    },
  });
  await repository.load();
  const hold = () => {
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    return { open };
  };
  return { repository, loads, evictions, hold };
}

/** Asks for a model and lets it go at once, as a request that is done. */
async function ask(repository: ModelRepository, name: string): Promise<void> {
  const { release } = await repository.acquire(name);
  release();
}

const states = async (repository: ModelRepository) =>
  Object.fromEntries((await repository.index()).map((r) => [r.name, `${r.state} ${r.reason}`]));

describe('on-demand models at start', () => {
  it('lists every model as not loaded, loads none, and is ready once the folder is read', async (t) => {
    const { repository, loads } = await onDemand(t, { 'iris/1': IRIS, 'diabetes/1': DIABETES });
    assert.deepEqual(await states(repository), {
      diabetes: 'UNAVAILABLE not loaded',
      iris: 'UNAVAILABLE not loaded',
    });
    assert.deepEqual(loads, []);
    assert.equal(new Health(repository).readiness().ready, true);
    assert.throws(() => repository.ready('iris'), { code: 'MODEL_NOT_LOADED' }, 'a probe does not load');
    assert.deepEqual(loads, []);
  });

  it('is not ready over an empty folder', async (t) => {
    const { repository } = await onDemand(t, {});
    assert.equal(new Health(repository).readiness().ready, false);
  });

  it('answers MODEL_NOT_FOUND for a model that is not in the folder', async (t) => {
    const { repository, loads } = await onDemand(t, { 'iris/1': IRIS });
    await assert.rejects(repository.acquire('nope'), { code: 'MODEL_NOT_FOUND' });
    assert.deepEqual(loads, []);
  });
});

describe('on-demand loads', () => {
  it('loads a model once for concurrent first requests, which all get the same version', async (t) => {
    const { repository, loads, hold } = await onDemand(t, { 'iris/1': IRIS });
    const gate = hold();
    const asked = Array.from({ length: 5 }, () => repository.acquire('iris'));
    gate.open();
    const got = await Promise.all(asked);
    assert.deepEqual(loads, ['iris/1']);
    assert.ok(got.every((g) => g.model === got[0]!.model));
    assert.equal(got[0]!.model.state, 'READY');
    for (const g of got) g.release();
    await ask(repository, 'iris');
    assert.deepEqual(loads, ['iris/1'], 'a loaded model is not loaded again');
  });

  it('answers MODEL_NOT_READY with Retry-After past loadWaitMs, and the load goes on for the next request', async (t) => {
    const { repository, loads, hold } = await onDemand(t, { 'iris/1': IRIS }, { waitMs: 30 });
    const gate = hold();
    await assert.rejects(
      repository.acquire('iris'),
      (err: Error & { code?: string; retryAfter?: number }) => {
        assert.equal(err.code, 'MODEL_NOT_READY');
        assert.equal(err.retryAfter, 1);
        return true;
      },
    );
    gate.open();
    await ask(repository, 'iris').catch(() => ask(repository, 'iris'));
    assert.deepEqual(loads, ['iris/1']);
  });

  it('records a failed load as FAILED with its reason, and the next request does not load it again', async (t) => {
    const broken = { files: { 'model.onnx': 'not an onnx file' } };
    const { repository, loads } = await onDemand(t, { 'broken/1': broken });
    await assert.rejects(repository.acquire('broken'), { code: 'MODEL_NOT_READY' });
    const [row] = await repository.index();
    assert.equal(row?.state, 'FAILED');
    assert.match(row.reason, /model\.onnx cannot be loaded/);
    await assert.rejects(repository.acquire('broken'), { code: 'MODEL_NOT_READY' });
    assert.deepEqual(loads, ['broken/1']);
  });

  it('loads again on the next request a model unloaded through the repository API', async (t) => {
    const { repository, loads } = await onDemand(t, { 'iris/1': IRIS });
    await ask(repository, 'iris');
    await repository.unloadModel('iris');
    assert.equal((await states(repository)).iris, 'UNAVAILABLE unloaded');
    await ask(repository, 'iris');
    assert.deepEqual(loads, ['iris/1', 'iris/1']);
  });
});

describe('on-demand eviction', () => {
  const three = { 'iris/1': IRIS, 'diabetes/1': DIABETES, 'fraud/1': FRAUD };

  it('unloads the least recently used model past maxLoadedModels, and says so in the index', async (t) => {
    const { repository, evictions } = await onDemand(t, three, { maxModels: 2 });
    await ask(repository, 'iris');
    await ask(repository, 'diabetes');
    await ask(repository, 'iris'); // diabetes is now the least recently used
    await ask(repository, 'fraud');
    assert.deepEqual(await states(repository), {
      diabetes: 'UNAVAILABLE evicted: least recently used, past maxLoadedModels (2)',
      fraud: 'READY ',
      iris: 'READY ',
    });
    assert.deepEqual(evictions, ['diabetes:models']);
    await ask(repository, 'diabetes');
    assert.deepEqual(evictions, ['diabetes:models', 'iris:models']);
  });

  it('loads a model waiting for room once the request in flight on the least recent one finishes', async (t) => {
    const { repository } = await onDemand(t, three, { maxModels: 1 });
    const iris = await repository.acquire('iris');
    const diabetes = repository.acquire('diabetes');
    iris.release();
    (await diabetes).release();
    assert.deepEqual(await states(repository), {
      diabetes: 'READY ',
      fraud: 'UNAVAILABLE not loaded',
      iris: 'UNAVAILABLE evicted: least recently used, past maxLoadedModels (1)',
    });
  });

  it('never evicts a model with a request in flight: MODEL_NOT_READY with Retry-After past loadWaitMs', async (t) => {
    const { repository, loads } = await onDemand(t, three, { maxModels: 1, waitMs: 40 });
    const iris = await repository.acquire('iris');
    t.after(iris.release);
    await assert.rejects(
      repository.acquire('diabetes'),
      (err: Error & { code?: string; retryAfter?: number }) => {
        assert.equal(err.code, 'MODEL_NOT_READY');
        assert.match(err.message, /no room: the 1 loaded models all have requests in flight/);
        assert.equal(err.retryAfter, 1);
        return true;
      },
    );
    assert.equal((await states(repository)).iris, 'READY ', 'the model in flight still serves');
    assert.deepEqual(loads, ['iris/1']);
  });

  it('unloads the least recently used models past the byte budget, measured at load', async (t) => {
    const budget = SIZE.iris + SIZE.diabetes + SIZE.fraud - 1;
    const { repository, evictions } = await onDemand(t, three, { maxBytes: budget });
    await ask(repository, 'iris');
    await ask(repository, 'diabetes');
    assert.equal(repository.loadedBytes, SIZE.iris + SIZE.diabetes, 'each model takes at least its files');
    await ask(repository, 'fraud');
    assert.deepEqual(evictions, ['iris:bytes']);
    assert.equal(repository.loadedBytes, SIZE.diabetes + SIZE.fraud);
    assert.match((await states(repository)).iris ?? '', /evicted: least recently used, past maxLoadedBytes/);
  });

  it('counts the memory a load adds beyond its files', async (t) => {
    let rss = 0;
    const { repository } = await onDemand(t, { 'iris/1': IRIS }, { memory: () => (rss += 1_000_000) });
    await ask(repository, 'iris');
    assert.equal(repository.loadedBytes, 1_000_000);
  });
});
