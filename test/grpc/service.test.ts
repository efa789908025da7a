// inference.GRPCInferenceService through a @grpc/grpc-js client: every RPC, raw and typed contents, requested
// outputs, classification, ids, streaming, and every status code the core's errors map to.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { FIXTURE_MODELS, MODELS, tempRepository } from '../helpers.js';
import {
  irisRequest,
  loadedGrpc,
  outputOf,
  rawRequest,
  type InferAnswer,
  type RunningGrpc,
} from '../grpc.js';

/** Rejects unless the call fails with `code`; resolves with the error. */
async function fails(promise: Promise<unknown>, code: status): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(e.code, code, `${e.code} ${e.details}`);
    return e;
  }
  assert.fail(`expected status ${code}, the call succeeded`);
}

/** A fraud request of `rows` rows in typed contents. */
function fraudRequest(rows: number) {
  return {
    model_name: 'fraud',
    inputs: [
      {
        name: 'amount',
        datatype: 'FP32',
        shape: [rows, 1],
        contents: { fp32_contents: Array(rows).fill(20) },
      },
      {
        name: 'items',
        datatype: 'INT64',
        shape: [rows, 1],
        contents: { int64_contents: Array(rows).fill('1') },
      },
      {
        name: 'country',
        datatype: 'BYTES',
        shape: [rows, 1],
        contents: { bytes_contents: Array(rows).fill(Buffer.from('FR')) },
      },
    ],
  };
}

/** A value as gRPC answers it: uint64 fields as decimal strings (proto-loader's longs: String). */
function longs(value: unknown): unknown {
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(longs);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === 'name' || k === 'version' ? v : longs(v)]),
    );
  }
  return value;
}

describe('the gRPC service over the core', () => {
  let grpc: RunningGrpc;
  let repo: { root: string; cleanup: () => Promise<void> };
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    repo = await tempRepository({
      'iris/1': { from: join(MODELS, 'iris/1') },
      'fraud/1': { from: join(MODELS, 'fraud/1') },
      'heavy/1': { from: join(FIXTURE_MODELS, 'heavy/1') },
      'fp16/1': { from: join(FIXTURE_MODELS, 'fp16/1') },
      'large/1': { from: join(FIXTURE_MODELS, 'large/1') },
      'broken/1': { files: { 'model.onnx': 'not an onnx file' } },
    });
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    grpc = await loadedGrpc({ modelRepository: repo.root, logLevel: 'info', inferenceQueueSize: 1 }, log);
  });
  after(async () => {
    await grpc.close();
    await repo.cleanup();
  });

  it('answers ServerLive, ServerReady and ServerMetadata', async () => {
    assert.deepEqual(await grpc.client.call('ServerLive', {}), { live: true });
    // Strict readiness, as Triton's: a startup model that failed to load (broken) serves nothing.
    assert.deepEqual(await grpc.client.call('ServerReady', {}), { ready: false });
    const metadata = await grpc.client.call('ServerMetadata', {});
    assert.equal(metadata.name, 'serval');
    assert.deepEqual(metadata.extensions, [
      'classification',
      'logging',
      'model_configuration',
      'model_repository',
      'schedule_policy',
      'statistics',
      'trace',
    ]);
  });

  it('answers ModelReady: true, false for a model that failed to load, NOT_FOUND for unknown ones', async () => {
    assert.deepEqual(await grpc.client.call('ModelReady', { name: 'iris' }), { ready: true });
    assert.deepEqual(await grpc.client.call('ModelReady', { name: 'iris', version: '1' }), { ready: true });
    assert.deepEqual(await grpc.client.call('ModelReady', { name: 'broken' }), { ready: false });
    await fails(grpc.client.call('ModelReady', { name: 'nope' }), status.NOT_FOUND);
    await fails(grpc.client.call('ModelReady', { name: 'iris', version: '7' }), status.NOT_FOUND);
  });

  it('answers ModelMetadata with -1 for the batch dimension', async () => {
    const metadata = await grpc.client.call('ModelMetadata', { name: 'iris' });
    assert.equal(metadata.platform, 'onnx_onnxv1');
    assert.deepEqual(metadata.versions, ['1']);
    assert.deepEqual(metadata.inputs, [
      { name: 'input', datatype: 'FP32', shape: ['-1', '4'], parameters: {} },
    ]);
    await fails(grpc.client.call('ModelMetadata', { name: 'nope' }), status.NOT_FOUND);
  });

  it("answers ModelConfig in Triton's ModelConfig message", async () => {
    const { config } = await grpc.client.call<{ config: Record<string, unknown> }>('ModelConfig', {
      name: 'iris',
    });
    assert.equal(config.name, 'iris');
    assert.equal(config.max_batch_size, 1024);
    assert.equal(config.backend, 'onnxruntime');
    const [input] = config.input as Record<string, unknown>[];
    assert.deepEqual(
      { name: input?.name, data_type: input?.data_type, dims: input?.dims },
      { name: 'input', data_type: 'TYPE_FP32', dims: ['4'] },
    );
    const [group] = config.instance_group as Record<string, unknown>[];
    assert.equal(group?.kind, 'KIND_CPU');
    await fails(grpc.client.call('ModelConfig', { name: 'broken' }), status.UNAVAILABLE);
  });

  it('infers from raw contents: one raw output per output, in order, with the id echoed', async () => {
    const answer = await grpc.client.call<InferAnswer>('ModelInfer', irisRequest({ id: 'g-1' }));
    assert.equal(answer.id, 'g-1');
    assert.equal(answer.model_name, 'iris');
    assert.equal(answer.model_version, '1');
    assert.deepEqual(
      answer.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ['label', 'INT64', ['2']],
        ['probabilities', 'FP32', ['2', '3']],
      ],
    );
    assert.equal(answer.raw_output_contents.length, 2);
    assert.deepEqual(outputOf(answer, 'label').values, [0n, 2n]);
  });

  it('infers from typed contents of every kind (FP32, INT64, BYTES)', async () => {
    const iris = await grpc.client.call<InferAnswer>('ModelInfer', {
      model_name: 'iris',
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [6.7, 3.0, 5.2, 2.3] } },
      ],
    });
    assert.deepEqual(outputOf(iris, 'label').values, [2n]);
    const fraud = await grpc.client.call<InferAnswer>('ModelInfer', {
      model_name: 'fraud',
      inputs: [
        { name: 'amount', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [950] } },
        { name: 'items', datatype: 'INT64', shape: [1, 1], contents: { int64_contents: ['9'] } },
        {
          name: 'country',
          datatype: 'BYTES',
          shape: [1, 1],
          contents: { bytes_contents: [Buffer.from('BR')] },
        },
      ],
    });
    assert.deepEqual(
      fraud.outputs.map((o) => o.name),
      ['probabilities', 'label', 'flagged'],
    );
    assert.equal(outputOf(fraud, 'flagged').values.length, 1);
  });

  it('copies unaligned raw contents into reused memory: each large tensor answered from its own values', async () => {
    // tritonclient's layout: the image's bytes start 34 bytes into the message (after model_name and the input's
    // header), not on a 4-byte boundary, so they are copied to be read as FP32; the copy's memory goes back after.
    const pixels = 3 * 224 * 224;
    const held = grpc.core.tensorMemory.heldBytes;
    for (const level of [0.25, 0.5, 0.75]) {
      const image = new Float32Array(pixels).fill(level);
      image.fill(level * 2, 0, 224 * 224); // channel 0 brighter
      const answer = await grpc.client.call<InferAnswer>(
        'ModelInfer',
        rawRequest('large', [{ name: 'image', datatype: 'FP32', shape: [1, 3, 224, 224], data: image }]),
      );
      assert.deepEqual(outputOf(answer, 'mean'), { shape: [1, 3], values: [level * 2, level, level] });
      assert.ok(
        grpc.core.tensorMemory.heldBytes >= held + pixels * 4,
        'the copy is given back once answered',
      );
    }
  });

  it('sends only the requested outputs, and the classification extension as BYTES', async () => {
    const answer = await grpc.client.call<InferAnswer>(
      'ModelInfer',
      irisRequest({
        outputs: [
          { name: 'probabilities', parameters: { classification: { int64_param: 1 } } },
          { name: 'label' },
        ],
      }),
    );
    assert.deepEqual(
      answer.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ['probabilities', 'BYTES', ['2', '1']],
        ['label', 'INT64', ['2']],
      ],
    );
    const [first, second] = outputOf(answer, 'probabilities').values as string[];
    assert.match(first!, /^0\.9\d+:0:setosa$/);
    assert.match(second!, /:2:virginica$/);
  });

  it('serves FP16 from raw contents and refuses it as typed contents', async () => {
    const halves = Uint16Array.from([0x3c00, 0x4000]); // 1.0, 2.0
    const metadata = await grpc.client.call<{ inputs: { name: string; shape: string[] }[] }>(
      'ModelMetadata',
      {
        name: 'fp16',
      },
    );
    const input = metadata.inputs[0]!;
    const shape = input.shape.map((d) => (d === '-1' ? 1 : Number(d)));
    const count = shape.reduce((a, b) => a * b, 1);
    const data = Uint16Array.from({ length: count }, (_, i) => halves[i % 2]!);
    const answer = await grpc.client.call<InferAnswer>(
      'ModelInfer',
      rawRequest('fp16', [{ name: input.name, datatype: 'FP16', shape, data }]),
    );
    assert.equal(answer.outputs[0]?.datatype, 'FP16');
    const refused = await fails(
      grpc.client.call('ModelInfer', {
        model_name: 'fp16',
        inputs: [{ name: input.name, datatype: 'FP16', shape, contents: { fp32_contents: [1] } }],
      }),
      status.INVALID_ARGUMENT,
    );
    assert.equal(refused.metadata.get('serval-error-code')[0], 'INVALID_INPUT');
    assert.match(refused.details, /FP16/);
  });

  it('answers INVALID_ARGUMENT for bad tensors, naming the input and the element', async () => {
    const cases: [unknown, RegExp][] = [
      [
        rawRequest('iris', [{ name: 'nope', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }]),
        /unknown input "nope"/,
      ],
      [
        rawRequest('iris', [{ name: 'input', datatype: 'INT32', shape: [1, 4], data: new Int32Array(4) }]),
        /input "input" has datatype INT32; the model expects FP32/,
      ],
      [
        rawRequest('iris', [{ name: 'input', datatype: 'FP32', shape: [1, 5], data: new Float32Array(4) }]),
        /dimension 1 is 5; the model expects 4/,
      ],
      [
        rawRequest('iris', [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: new Float32Array(3) }]),
        /12 bytes of binary data; FP32 \[1, 4\] takes 16/,
      ],
      [
        rawRequest('iris', [
          { name: 'input', datatype: 'FP32', shape: [1, 4], data: Float32Array.from([1, NaN, 1, 1]) },
        ]),
        /input "input" element \[0, 1\] must be finite/,
      ],
      [{ model_name: 'iris', inputs: [] }, /missing input "input"/],
      [
        {
          model_name: 'iris',
          inputs: [
            { name: 'input', datatype: 'FP32', shape: [1, 4], contents: { int_contents: [1, 2, 3, 4] } },
          ],
        },
        /FP32, whose elements go in contents.fp32_contents, but contents.int_contents holds some/,
      ],
      [
        { ...irisRequest(), raw_input_contents: [Buffer.alloc(32), Buffer.alloc(4)] },
        /raw_input_contents has 2 entries for 1 inputs/,
      ],
      [
        irisRequest({ outputs: [{ name: 'label', parameters: { classification: { string_param: 'x' } } }] }),
        /parameters.classification must be a non-negative int64_param, got string_param/,
      ],
      [irisRequest({ outputs: [{ name: 'nope' }] }), /unknown output "nope"/],
    ];
    for (const [request, message] of cases) {
      const err = await fails(grpc.client.call('ModelInfer', request), status.INVALID_ARGUMENT);
      assert.match(err.details, message);
      assert.equal(err.metadata.get('serval-error-code').length, 1);
    }
  });

  it('answers NOT_FOUND for an unknown model or version, never UNAVAILABLE (Triton #3399)', async () => {
    const model = await fails(
      grpc.client.call('ModelInfer', { ...irisRequest(), model_name: 'nope' }),
      status.NOT_FOUND,
    );
    assert.equal(model.metadata.get('serval-error-code')[0], 'MODEL_NOT_FOUND');
    const version = await fails(
      grpc.client.call('ModelInfer', irisRequest({ model_version: '3' })),
      status.NOT_FOUND,
    );
    assert.equal(version.metadata.get('serval-error-code')[0], 'VERSION_NOT_FOUND');
  });

  it('answers UNAVAILABLE for a model that is not ready, or when the queue is full', async () => {
    await fails(
      grpc.client.call('ModelInfer', { ...irisRequest(), model_name: 'broken' }),
      status.UNAVAILABLE,
    );
    const heavy = () =>
      grpc.client.call('ModelInfer', rawRequest('heavy', [heavyInput()])).then(
        () => 'ok',
        (err: unknown) => err as ServiceError,
      );
    const outcomes = await Promise.all(Array.from({ length: 5 }, heavy));
    const refused = outcomes.filter((o): o is ServiceError => typeof o !== 'string');
    assert.ok(refused.length > 0, 'some calls were refused');
    for (const err of refused) {
      assert.equal(err.code, status.UNAVAILABLE, err.details);
      assert.equal(err.metadata.get('retry-after')[0], '1');
    }
  });

  it("answers DEADLINE_EXCEEDED past the client's own deadline", async () => {
    const err = await fails(
      grpc.client.call('ModelInfer', rawRequest('heavy', [heavyInput()]), {}, { deadline: Date.now() + 30 }),
      status.DEADLINE_EXCEEDED,
    );
    assert.ok(err.details.length > 0);
  });

  it('answers INTERNAL for a real fault: a generic message, the details in the log under the request id', async () => {
    const infer = grpc.core.inference.infer.bind(grpc.core.inference);
    grpc.core.inference.infer = () => Promise.reject(new Error('secret internals at /srv/x.ts:42'));
    try {
      const err = await fails(
        grpc.client.call('ModelInfer', irisRequest(), { 'x-request-id': 'fault-1' }),
        status.INTERNAL,
      );
      assert.equal(err.details, 'Internal server error (request id fault-1)');
    } finally {
      grpc.core.inference.infer = infer;
    }
    const line = lines.find((l) => l.reqId === 'fault-1');
    assert.equal(line?.level, 50);
    assert.match(JSON.stringify(line.err), /secret internals/);
  });

  // Triton's statistics extension: no name is every model, a name its versions, a version that one.
  it('answers ModelStatistics with the counts of the calls made, as REST’s statistics do', async () => {
    const before = await grpc.client.call('ModelStatistics', { name: 'fraud', version: '1' });
    const [start] = before.model_stats as { inference_stats: { success: { count: string } } }[];
    for (let i = 0; i < 3; i++) await grpc.client.call('ModelInfer', fraudRequest(5));
    await fails(grpc.client.call('ModelInfer', { model_name: 'fraud', inputs: [] }), status.INVALID_ARGUMENT);
    type Stats = {
      name: string;
      version: string;
      inference_count: string;
      last_inference: string;
      inference_stats: Record<'success' | 'fail', { count: string; ns: string }>;
    };
    const { model_stats } = await grpc.client.call<{ model_stats: Stats[] }>('ModelStatistics', {
      name: 'fraud',
    });
    assert.equal(model_stats.length, 1);
    const [stats] = model_stats;
    assert.equal(stats?.name, 'fraud');
    assert.equal(stats.version, '1');
    assert.equal(
      Number(stats.inference_stats.success.count) - Number(start?.inference_stats.success.count),
      3,
    );
    assert.ok(Number(stats.inference_stats.fail.count) >= 1);
    assert.ok(Number(stats.inference_count) >= 15, 'five rows a call');
    assert.ok(Number(stats.last_inference) > Date.now() - 60_000);
    assert.deepEqual(model_stats, await grpc.core.statistics('fraud').then(longs));
    const all = await grpc.client.call('ModelStatistics', {});
    const names = (all.model_stats as { name: string }[]).map((m) => m.name);
    assert.ok(names.includes('iris') && names.includes('fraud'), names.join());
    await fails(grpc.client.call('ModelStatistics', { name: 'nope' }), status.NOT_FOUND);
    await fails(grpc.client.call('ModelStatistics', { name: 'fraud', version: '9' }), status.NOT_FOUND);
    await fails(grpc.client.call('ModelStatistics', { version: '1' }), status.INVALID_ARGUMENT);
  });

  it('answers RepositoryIndex with every model, its state and reason; ready: true lists the ready ones', async () => {
    type Entry = { name: string; version: string; state: string; reason: string };
    const { models } = await grpc.client.call<{ models: Entry[] }>('RepositoryIndex', {});
    assert.deepEqual(
      models.find((m) => m.name === 'iris'),
      { name: 'iris', version: '1', state: 'READY', reason: '' },
    );
    const broken = models.find((m) => m.name === 'broken');
    assert.ok(broken);
    assert.equal(broken.state, 'FAILED');
    assert.match(broken.reason, /model\.onnx/);
    const ready = await grpc.client.call<{ models: Entry[] }>('RepositoryIndex', { ready: true });
    assert.ok(ready.models.every((m) => m.state === 'READY'));
    assert.ok(!ready.models.some((m) => m.name === 'broken'));
    await fails(grpc.client.call('RepositoryIndex', { repository_name: 'other' }), status.INVALID_ARGUMENT);
  });

  it('unloads and loads a model: NOT_FOUND while unloaded, served again once loaded, with a config override', async () => {
    const fraud = () => grpc.client.call('ModelInfer', fraudRequest(1));
    assert.deepEqual(await grpc.client.call('RepositoryModelUnload', { model_name: 'fraud' }), {});
    const gone = await fails(fraud(), status.NOT_FOUND);
    assert.match(gone.details, /not loaded/);
    assert.deepEqual(await grpc.client.call('ModelReady', { name: 'fraud' }), { ready: false });
    assert.equal(gone.metadata.get('serval-error-code')[0], 'MODEL_NOT_LOADED');
    const { models } = await grpc.client.call<{ models: { name: string; state: string; reason: string }[] }>(
      'RepositoryIndex',
      {},
    );
    assert.deepEqual(
      models.filter((m) => m.name === 'fraud').map((m) => [m.state, m.reason]),
      [['UNAVAILABLE', 'unloaded']],
    );
    assert.deepEqual(await grpc.client.call('RepositoryModelLoad', { model_name: 'fraud' }), {});
    await fraud();
    // Triton's config override, as tritonclient's load_model(config=...) sends it: here a model.json.
    await grpc.client.call('RepositoryModelLoad', {
      model_name: 'iris',
      parameters: { config: { string_param: JSON.stringify({ task: 'raw' }) } },
    });
    const raw = await grpc.client.call<{ outputs: { name: string }[] }>('ModelMetadata', { name: 'iris' });
    assert.ok(
      raw.outputs.some((o) => o.name === 'label'),
      JSON.stringify(raw.outputs),
    );
    await grpc.client.call('RepositoryModelLoad', { model_name: 'iris' });
  });

  it('refuses bad repository requests with INVALID_ARGUMENT or NOT_FOUND and the reason', async () => {
    const load = (request: Record<string, unknown>) => grpc.client.call('RepositoryModelLoad', request);
    await fails(load({ model_name: 'nope' }), status.NOT_FOUND);
    await fails(grpc.client.call('RepositoryModelUnload', { model_name: 'nope' }), status.NOT_FOUND);
    for (const [parameters, pattern] of [
      [{ config: { int64_param: '42' } }, /parameters\.config must be a JSON string/],
      [{ config: { string_param: '{"task": ' } }, /not valid JSON/],
      [{ config: { string_param: '{"task": "guess"}' } }, /parameters\.config\.task/],
      [{ 'file:1/model.onnx': { bytes_param: Buffer.from('onnx') } }, /model files in the request/],
    ] as const) {
      const err = await fails(load({ model_name: 'iris', parameters }), status.INVALID_ARGUMENT);
      assert.equal(err.metadata.get('serval-error-code')[0], 'INVALID_REQUEST');
      assert.match(err.details, pattern);
    }
    await fails(load({ model_name: 'iris', repository_name: 'other' }), status.INVALID_ARGUMENT);
    // Still served as it was.
    await grpc.client.call('ModelInfer', irisRequest());
  });

  it('writes one access line per RPC with the method, status, model, version and request id', async () => {
    await grpc.client.call('ModelInfer', irisRequest(), { 'x-request-id': 'line-1' });
    await fails(
      grpc.client.call('ModelMetadata', { name: 'nope' }, { 'x-request-id': 'line-2' }),
      status.NOT_FOUND,
    );
    const [ok] = lines.filter((l) => l.reqId === 'line-1');
    assert.deepEqual(
      {
        method: ok?.method,
        status: ok?.status,
        model: ok?.model,
        version: ok?.version,
        instances: ok?.instances,
      },
      { method: 'ModelInfer', status: 'OK', model: 'iris', version: '1', instances: 2 },
    );
    assert.equal(ok?.route, '/inference.GRPCInferenceService/ModelInfer');
    assert.equal(typeof ok.ms, 'number');
    const missing = lines.filter((l) => l.reqId === 'line-2');
    assert.equal(missing.length, 1);
    assert.equal(missing[0]?.status, 'NOT_FOUND');
    assert.doesNotMatch(JSON.stringify(lines), /raw_input_contents/);
  });

  it('streams: one answer per request, in order, errors in-band, and ends OK after the client half-closes', async () => {
    const stream = grpc.client.stream();
    const answers: { id: string; error: string }[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { error_message: string; infer_response: InferAnswer | null }) =>
        answers.push({ id: m.infer_response?.id ?? '', error: m.error_message }),
      );
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    for (let i = 0; i < 10; i++) {
      const request =
        i === 4 ? { ...irisRequest({ id: 's4' }), model_name: 'nope' } : irisRequest({ id: `s${i}` });
      stream.write(request);
    }
    stream.end();
    await ended;
    assert.equal(answers.length, 10);
    answers.forEach((a, i) => {
      if (i === 4) assert.match(a.error, /Model "nope" not found/);
      else assert.deepEqual(a, { id: `s${i}`, error: '' });
    });
  });
});

/** The heavy fixture's one input, zeros. */
function heavyInput() {
  return { name: 'input', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) };
}

describe('gRPC readiness', () => {
  it('says ready once the models are loaded, and not ready from the start of a drain', async (t) => {
    const grpc = await loadedGrpc({});
    t.after(() => grpc.close());
    assert.deepEqual(await grpc.client.call('ServerReady', {}), { ready: true });
    grpc.core.health.draining = true;
    assert.deepEqual(await grpc.client.call('ServerReady', {}), { ready: false });
  });
});
