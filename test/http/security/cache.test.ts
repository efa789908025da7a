// The prediction cache as the routes use it, over inject: Cache-Status on hits, misses, bypass, single flight,
// opt-out, exact repeats, authentication, Redis sharing between two apps and Redis failure. PredictionCache itself
// (bounds, TTL, single flight, exact index, keys, Redis tier) is tested in test/core/prediction-cache.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { TensorMap } from '../../../src/core/tensor/tensor.js';
import { EXACT_MAX_BODY } from '../../../src/core/cache/prediction-cache.js';
import { pino } from 'pino';
import {
  loadedApp,
  MODELS,
  postBody,
  redisConnected,
  redisSkip,
  signedToken,
  startRedis,
  tempRepository,
} from '../../helpers.js';
import { waitFor } from '../../wait.js';

type Features = readonly number[] | Readonly<Record<string, number>>;

const predict = (app: FastifyInstance, instance: Features, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/v1/models/iris:predict',
    headers,
    payload: { instances: [instance] },
  });

/** Runs `fn`, counting the JSON.parse calls made meanwhile (secure-json-parse makes one per body). */
async function countingParses<T>(fn: () => Promise<T>): Promise<{ result: T; parses: number }> {
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = (text: string, reviver?: Parameters<typeof JSON.parse>[1]): unknown => (
    parses++,
    parse(text, reviver)
  );
  try {
    return { result: await fn(), parses };
  } finally {
    JSON.parse = parse;
  }
}

/** Counts the model's inference calls; each one waits `delayMs`, and fails while `failing` is set. */
function countCalls(app: FastifyInstance, delayMs = 0) {
  const model = app.models.ready('iris');
  const original = model.runtime.predict.bind(model.runtime);
  const counter = { calls: 0, failing: false };
  model.runtime.predict = async (feeds: TensorMap) => {
    counter.calls++;
    // A slower model: identical requests sent together are all in flight at once.
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (counter.failing) throw new Error('inference exploded');
    return original(feeds);
  };
  return counter;
}

describe('the prediction cache', () => {
  let app: FastifyInstance;
  let counter: { calls: number; failing: boolean };
  before(async () => {
    app = await loadedApp({ cacheEnabled: true });
    counter = countCalls(app, 30);
  });
  after(() => app.close());

  it('stores a first prediction and serves the same body again as a hit', async () => {
    const first = await predict(app, [5.1, 3.5, 1.4, 0.2]);
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['cache-status'], 'serval; fwd=miss; stored');
    const calls = counter.calls;
    const second = await predict(app, [5.1, 3.5, 1.4, 0.2]);
    assert.equal(second.statusCode, 200);
    assert.equal(second.headers['cache-status'], 'serval; hit');
    assert.deepEqual(second.json(), first.json());
    assert.equal(counter.calls, calls, 'a hit runs no inference');
  });

  it('answers an exact repeat from the raw body, before parsing or validating it', async () => {
    const body = '{"instances": [[4.9, 3.1, 1.5, 0.1]]}';
    assert.equal((await postBody(app, body)).headers['cache-status'], 'serval; fwd=miss; stored');
    const models = app.models;
    const ready = models.ready.bind(models);
    let handlerLookups = 0;
    models.ready = (name, version) => (handlerLookups++, ready(name, version));
    try {
      const { result: repeat, parses } = await countingParses(() => postBody(app, body));
      assert.equal(parses, 0, 'the body was not parsed');
      assert.equal(repeat.headers['cache-status'], 'serval; hit');
      assert.equal(repeat.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(repeat.json().predictions[0].label, 'setosa');
      assert.equal(handlerLookups, 0, 'the route handler did not run');
      // The same instance spelled differently is not an exact repeat: the handler finds it by its tensor.
      const respaced = await postBody(app, '{"instances":[[4.9,3.1,1.5,0.1]]}');
      assert.equal(respaced.headers['cache-status'], 'serval; hit');
      assert.equal(handlerLookups, 1);
    } finally {
      models.ready = ready;
    }
  });

  it('files a body over 16 KiB by its tensors only: a repeat is parsed, then answered from the cache', async () => {
    const body = `{"instances": [[4.8, 3.0, 1.4, 0.1]]${' '.repeat(EXACT_MAX_BODY)}}`;
    assert.equal((await postBody(app, body)).headers['cache-status'], 'serval; fwd=miss; stored');
    const calls = counter.calls;
    const { result: repeat, parses } = await countingParses(() => postBody(app, body));
    assert.equal(repeat.headers['cache-status'], 'serval; hit');
    assert.equal(parses, 1, 'the long body was parsed');
    assert.equal(counter.calls, calls, 'a hit runs no inference');
  });

  it('logs an exact repeat with its model, version and number of instances', async (t) => {
    const lines: Record<string, unknown>[] = [];
    const stream = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
    const logged = await loadedApp({ cacheEnabled: true, logLevel: 'info' }, pino({ level: 'info' }, stream));
    t.after(() => logged.close());
    const sendLogged = () =>
      logged.inject({
        method: 'POST',
        url: '/v1/models/iris:predict',
        headers: { 'content-type': 'application/json', 'x-request-id': 'repeat' },
        body: '{"instances": [[4.9, 3.1, 1.5, 0.1], [6.7, 3.0, 5.2, 2.3]]}',
      });
    await sendLogged();
    assert.equal((await sendLogged()).headers['cache-status'], 'serval; hit');
    const access = lines.filter((l) => l.reqId === 'repeat' && l.msg === 'request');
    assert.equal(access.length, 2);
    assert.deepEqual(
      access.map(({ model, version, instances, status }) => ({ model, version, instances, status })),
      Array(2).fill({ model: 'iris', version: '1', instances: 2, status: 200 }),
    );
  });

  it('serves named features as a hit after the same instance sent as an array', async () => {
    const array = await predict(app, [5.0, 3.6, 1.4, 0.2]);
    assert.equal(array.headers['cache-status'], 'serval; fwd=miss; stored');
    const named = await predict(app, {
      sepal_length: 5.0,
      sepal_width: 3.6,
      petal_length: 1.4,
      petal_width: 0.2,
    });
    assert.equal(named.statusCode, 200);
    assert.equal(named.headers['cache-status'], 'serval; hit');
    assert.deepEqual(named.json().predictions, array.json().predictions);
  });

  it('keeps different instances apart', async () => {
    const setosa = await predict(app, [4.9, 3.0, 1.4, 0.2]);
    const virginica = await predict(app, [6.7, 3.0, 5.2, 2.3]);
    assert.equal(virginica.headers['cache-status'], 'serval; fwd=miss; stored');
    assert.equal(setosa.json().predictions[0].label, 'setosa');
    assert.equal(virginica.json().predictions[0].label, 'virginica');
  });

  it('runs the model for a request that says cache-control: no-cache', async () => {
    await predict(app, [5.1, 3.5, 1.4, 0.2]);
    const calls = counter.calls;
    const res = await predict(app, [5.1, 3.5, 1.4, 0.2], { 'cache-control': 'no-cache' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-status'], 'serval; fwd=request');
    assert.equal(res.json().predictions[0].label, 'setosa');
    assert.equal(counter.calls, calls + 1);
  });

  it('runs one inference for identical concurrent requests', async () => {
    const calls = counter.calls;
    const instance = [5.4, 3.9, 1.7, 0.4];
    const responses = await Promise.all(Array.from({ length: 5 }, () => predict(app, instance)));
    assert.equal(counter.calls, calls + 1);
    for (const res of responses) assert.equal(res.statusCode, 200);
    const statuses = responses.map((res) => res.headers['cache-status']).sort();
    assert.deepEqual(statuses, [
      'serval; fwd=miss; collapsed',
      'serval; fwd=miss; collapsed',
      'serval; fwd=miss; collapsed',
      'serval; fwd=miss; collapsed',
      'serval; fwd=miss; stored',
    ]);
    const bodies = new Set(responses.map((res) => res.body));
    assert.equal(bodies.size, 1);
  });

  it('caches no 400 INVALID_INPUT answer', async () => {
    const size = app.core.cache!.size;
    for (let i = 0; i < 2; i++) {
      const res = await predict(app, [1, 2, 3]);
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_INPUT');
      assert.equal(res.headers['cache-status'], undefined);
    }
    assert.equal(app.core.cache!.size, size);
  });

  it('caches no failed inference: concurrent callers share the failure, the next call runs again', async () => {
    const size = app.core.cache!.size;
    const calls = counter.calls;
    const instance = [5.7, 4.4, 1.5, 0.4];
    counter.failing = true;
    try {
      const failed = await Promise.all(Array.from({ length: 3 }, () => predict(app, instance)));
      for (const res of failed) {
        assert.equal(res.statusCode, 500);
        assert.equal(res.json().code, 'INFERENCE_FAILED');
      }
      assert.equal(counter.calls, calls + 1);
    } finally {
      counter.failing = false;
    }
    assert.equal(app.core.cache!.size, size);
    const retry = await predict(app, instance);
    assert.equal(retry.statusCode, 200);
    assert.equal(retry.headers['cache-status'], 'serval; fwd=miss; stored');
    assert.equal(counter.calls, calls + 2);
  });
});

describe('a model marked "cache": false', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  before(async () => {
    const descriptor = JSON.parse(await readFile(join(MODELS, 'iris/1/model.json'), 'utf8')) as object;
    const repo = await tempRepository({
      'iris/1': {
        from: join(MODELS, 'iris/1'),
        files: { 'model.json': JSON.stringify({ ...descriptor, cache: false }) },
      },
    });
    cleanup = repo.cleanup;
    app = await loadedApp({ cacheEnabled: true, modelRepository: repo.root });
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  it('bypasses the cache as uncacheable and runs the model every time', async () => {
    const counter = countCalls(app);
    for (let i = 1; i <= 3; i++) {
      const res = await predict(app, [5.1, 3.5, 1.4, 0.2]);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['cache-status'], 'serval; fwd=bypass; detail=uncacheable');
      assert.equal(res.json().predictions[0].label, 'setosa');
      assert.equal(counter.calls, i);
    }
    assert.equal(app.core.cache!.size, 0);
  });
});

describe('the prediction cache behind authentication', () => {
  it('answers a cached body only to a caller with a valid token', async (t) => {
    const secret = 'a-test-secret-of-at-least-32-characters!';
    const app = await loadedApp({ cacheEnabled: true, authEnabled: true, jwtSecret: secret });
    t.after(() => app.close());
    const token = await signedToken(secret, 'serval:predict', 'a');
    const authorized = { authorization: `Bearer ${token}` };
    assert.equal(
      (await predict(app, [5.1, 3.5, 1.4, 0.2], authorized)).headers['cache-status'],
      'serval; fwd=miss; stored',
    );
    assert.equal(
      (await predict(app, [5.1, 3.5, 1.4, 0.2], authorized)).headers['cache-status'],
      'serval; hit',
    );
    const anonymous = await predict(app, [5.1, 3.5, 1.4, 0.2]);
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['cache-status'], undefined);
  });
});

describe('without cacheEnabled', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await loadedApp();
  });
  after(() => app.close());

  it('sends no cache-status header and runs the model every time', async () => {
    const counter = countCalls(app);
    for (let i = 1; i <= 2; i++) {
      const res = await predict(app, [5.1, 3.5, 1.4, 0.2]);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['cache-status'], undefined);
      assert.equal(counter.calls, i);
    }
    assert.equal(app.core.cache, null);
  });
});

describe('the prediction cache shared through Redis', { skip: redisSkip() }, () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let a: FastifyInstance;
  let b: FastifyInstance;
  // startRedis's stop() never resolves when called sendLogged (a killed child has signalCode, not exitCode).
  let redisStopped = false;
  const stopRedis = async () => {
    if (redisStopped) return;
    redisStopped = true;
    await redis.stop();
  };
  before(async () => {
    redis = await startRedis();
    a = await loadedApp({ cacheEnabled: true, redisUrl: redis.url });
    b = await loadedApp({ cacheEnabled: true, redisUrl: redis.url });
    await redisConnected(a, b);
  });
  after(async () => {
    await a.close();
    await b.close();
    await stopRedis();
  });

  it("serves app A's stored prediction to app B as a hit", async () => {
    const stored = await predict(a, [5.1, 3.5, 1.4, 0.2]);
    assert.equal(stored.headers['cache-status'], 'serval; fwd=miss; stored');
    // A writes to Redis after answering: wait for the entry before asking B.
    await waitFor(async () => (await a.core.redis!.client.keys('serval-cache:*')).length === 1, {
      what: 'A has stored the entry',
    });
    const counter = countCalls(b);
    const shared = await predict(b, [5.1, 3.5, 1.4, 0.2]);
    assert.equal(shared.statusCode, 200);
    assert.equal(shared.headers['cache-status'], 'serval; hit');
    assert.deepEqual(shared.json(), stored.json());
    assert.equal(counter.calls, 0);
    assert.equal(b.core.cache!.size, 1, 'B keeps the shared entry locally');
  });

  it('keeps serving from the local cache, never a 5xx, once Redis has stopped', async () => {
    await stopRedis();
    const first = await predict(a, [6.3, 3.3, 6.0, 2.5]);
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['cache-status'], 'serval; fwd=miss; stored');
    assert.equal(first.json().predictions[0].label, 'virginica');
    const again = await predict(a, [6.3, 3.3, 6.0, 2.5]);
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers['cache-status'], 'serval; hit');
    const other = await predict(b, [5.9, 3.0, 4.2, 1.5]);
    assert.equal(other.statusCode, 200);
    assert.equal(other.headers['cache-status'], 'serval; fwd=miss; stored');
  });
});
