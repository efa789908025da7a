// The core's one inference pipeline, alone: a fake model behind a stand-in repository, a recording observer and a
// real prediction cache. What every front end relies on: the order of the steps, what is counted, what is cached.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { PredictionCache } from '../../src/core/cache/prediction-cache.js';
import { errors } from '../../src/core/errors.js';
import { Inference, type InferenceNote, type RequestContent } from '../../src/core/inference.js';
import type { ModelRepository, ReadyModel } from '../../src/core/models/repository.js';
import type { Observer, RequestEvent } from '../../src/core/observe.js';
import { InputProcessor } from '../../src/core/processing/inputs.js';
import type { TensorMap } from '../../src/core/tensor/tensor.js';
import { fakeModel, spec } from '../fakes.js';

function setup(options: { cache?: boolean } = {}) {
  const runs: TensorMap[] = [];
  const model = fakeModel({
    name: 'double',
    inputs: [spec('x', 'FP32', ['batch', 2])],
    outputs: [spec('y', 'FP32', ['batch', 2]), spec('n', 'INT64', ['batch'])],
    predict: async (feeds) => {
      runs.push(feeds);
      const x = feeds.x!;
      const rows = x.dims[0]!;
      return {
        y: { datatype: 'FP32', dims: x.dims, data: Float32Array.from(x.data as Float32Array, (v) => v * 2) },
        n: { datatype: 'INT64', dims: [rows], data: new BigInt64Array(rows).fill(2n) },
      };
    },
  });
  const lookups = {
    ready(name: string, version?: string): ReadyModel {
      if (name !== model.name) throw new errors.MODEL_NOT_FOUND(name);
      if (version !== undefined && version !== model.version)
        throw new errors.VERSION_NOT_FOUND(name, version);
      return model;
    },
  };
  const repository = {
    acquire: async (name: string, version?: string) => ({
      model: lookups.ready(name, version),
      release: () => undefined,
    }),
  } as unknown as ModelRepository;
  const events: RequestEvent[] = [];
  const observer: Observer = {
    request: (event) => events.push({ ...event }),
    runs: () => ({ queued: () => undefined, executed: () => undefined }),
    loaded: () => undefined,
  };
  const cache = options.cache
    ? new PredictionCache({
        maxEntries: 10,
        maxBytes: 1 << 20,
        ttlMs: 60_000,
        redis: null,
        log: pino({ level: 'silent' }),
      })
    : null;
  const processor = new InputProcessor({ maxBytes: 1024, maxPixels: 1024, concurrency: 1, queue: 1 });
  const inference = new Inference(repository, cache, { maxRows: 4, processor }, observer);
  return { inference, runs, events, cache };
}

/** A request whose content names each output's values as JSON. */
function content(data: number[], rest: Partial<RequestContent> = {}): RequestContent {
  return {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [data.length / 2, 2], data: { values: data } }],
    encoding: {
      format: 'test',
      variant: '*',
      encode: (outputs, rows) =>
        Buffer.from(JSON.stringify({ rows, names: Object.keys(outputs), y: [...outputs.y!.data] })),
    },
    ...rest,
  };
}

const request = (read: () => RequestContent, note?: InferenceNote) => ({
  model: 'double',
  protocol: 'v2' as const,
  received: performance.now(),
  read,
  cache: { bypass: false },
  note,
});

describe('Inference.infer: the one pipeline', () => {
  it('runs a checked request and encodes the requested outputs for its rows', async () => {
    const { inference, runs, events } = setup();
    const note: InferenceNote = {};
    const answer = await inference.infer(request(() => content([1, 2, 3, 4]), note));
    assert.deepEqual(JSON.parse(answer.body.toString()), { rows: 2, names: ['y', 'n'], y: [2, 4, 6, 8] });
    assert.equal(answer.cache, 'off');
    assert.equal(runs.length, 1);
    assert.deepEqual(note, { model: 'double', version: '1', instances: 2 });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.rows, 2);
    assert.equal(events[0]!.failure, undefined);
    assert.ok(events[0]!.inputSeconds! >= 0 && events[0]!.outputSeconds! >= 0);
  });

  it('answers only the outputs asked for, in the order asked', async () => {
    const { inference } = setup();
    const answer = await inference.infer(request(() => content([1, 2], { outputs: [{ name: 'y' }] })));
    assert.deepEqual(JSON.parse(answer.body.toString()).names, ['y']);
  });

  it('finds the model before reading the request: an unknown one is NOT_FOUND and counted for no model', async () => {
    const { inference, events } = setup();
    let read = false;
    await assert.rejects(
      inference.infer({
        ...request(() => {
          read = true;
          return content([1, 2]);
        }),
        model: 'nope',
      }),
      { code: 'MODEL_NOT_FOUND' },
    );
    assert.equal(read, false);
    assert.equal(events.length, 0);
  });

  it('counts a request refused while read, or by the tensor checks, as the model’s failure, and never runs it', async () => {
    const { inference, runs, events } = setup();
    const note: InferenceNote = {};
    await assert.rejects(
      inference.infer(
        request(() => {
          throw new errors.INVALID_REQUEST('not a request');
        }, note),
      ),
      { code: 'INVALID_REQUEST' },
    );
    await assert.rejects(inference.infer(request(() => content([1, 2, 3]))), { code: 'INVALID_INPUT' });
    await assert.rejects(inference.infer(request(() => content(Array(10).fill(1)))), {
      code: 'INVALID_INPUT',
    });
    await assert.rejects(inference.infer(request(() => content([1, 2], { outputs: [{ name: 'z' }] }))), {
      code: 'INVALID_INPUT',
    });
    assert.equal(runs.length, 0);
    assert.deepEqual(note, { model: 'double', version: '1' });
    assert.deepEqual(
      events.map((e) => [e.model, e.failure]),
      Array(4).fill(['double', 'invalid_input']),
    );
  });

  it('answers a repeat from the cache without running the model, and a bypass afresh', async () => {
    const { inference, runs, events } = setup({ cache: true });
    const first = await inference.infer(request(() => content([1, 2])));
    const second = await inference.infer(request(() => content([1, 2])));
    assert.equal(first.cache, 'miss');
    assert.equal(second.cache, 'hit');
    assert.deepEqual(second.body, first.body);
    assert.equal(runs.length, 1);
    const fresh = await inference.infer({ ...request(() => content([1, 2])), cache: { bypass: true } });
    assert.equal(fresh.cache, 'bypass');
    assert.equal(runs.length, 2);
    assert.deepEqual(
      events.map((e) => e.cache),
      ['miss', 'hit', undefined],
    );
  });

  it('files an answer under the exact-repeat key with the request’s rows', async () => {
    const { inference, cache } = setup({ cache: true });
    await inference.infer({
      ...request(() => content([1, 2, 3, 4])),
      cache: { bypass: false, exact: 'body' },
    });
    assert.equal(cache?.exact('body')?.instances, 2);
  });
});
