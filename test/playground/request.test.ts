// The playground's forms and requests against the real API: every model gets the form its metadata calls for,
// prefilled with values both protocols accept, and the API's errors land on the field they name.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { read } from '../../src/playground/answer.js';
import { planFor, type Plan } from '../../src/playground/plan.js';
import { examplePayload, locate, prepare, type Call, type Payload } from '../../src/playground/request.js';
import type { ModelInfo } from '../../src/playground/types.js';
import { FIXTURE_MODELS, loadedApp, MODELS, tempRepository } from '../helpers.js';
import { injected, undeclared } from './calls.js';

const BUNDLED = ['diabetes', 'digits', 'digits-cnn', 'fraud', 'iris'];
const FIXTURES = ['dtypes', 'embedding', 'fixed-batch', 'fp16', 'large'];

describe('the playground forms over the real API', () => {
  let app: FastifyInstance;
  let models: Map<string, ModelInfo>;
  let cleanup: () => Promise<void>;

  before(async () => {
    const layout = Object.fromEntries([
      ...BUNDLED.map((m) => [`${m}/1`, { from: join(MODELS, m, '1') }]),
      ...FIXTURES.map((m) => [`${m}/1`, { from: join(FIXTURE_MODELS, m, '1') }]),
      [
        'digits-tensor/1',
        { from: join(MODELS, 'digits-cnn/1'), files: { 'model.json': await undeclared() } },
      ],
    ]);
    const repo = await tempRepository(layout);
    cleanup = repo.cleanup;
    app = await loadedApp({ modelRepository: repo.root });
    const list = (await app.inject('/v1/models')).json<{ models: ModelInfo[] }>().models;
    models = new Map(list.map((m) => [m.name, m]));
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  const model = (name: string) => {
    const found = models.get(name);
    assert.ok(found, `model ${name}`);
    return found;
  };
  const send = (call: Call) => app.inject(injected(call));

  it('gives each model the form its metadata calls for', () => {
    const kinds = Object.fromEntries([...models.values()].map((m) => [m.name, planFor(m)]));
    const summary = (plan: Plan | undefined) => {
      if (!plan) return undefined;
      if (plan.kind === 'features') return `features ${plan.fields.length}${plan.named ? ' named' : ''}`;
      if (plan.kind === 'fields')
        return `fields ${plan.fields.map((f) => `${f.key}:${f.datatype}`).join(',')}`;
      if (plan.kind === 'image') return `image ${plan.layout} ${plan.channels}x${plan.height}x${plan.width}`;
      if (plan.kind === 'file') return `file ${plan.input.name} ${plan.height}x${plan.width}`;
      return `json ${plan.inputs.length}`;
    };
    assert.deepEqual(Object.fromEntries(Object.entries(kinds).map(([n, p]) => [n, summary(p)])), {
      iris: 'features 4 named',
      digits: 'features 64 named',
      diabetes: 'features 10 named',
      'digits-cnn': 'file image 8x8',
      'digits-tensor': 'image NCHW 1x8x8',
      fraud: 'fields amount:FP32,items:INT64,country:BYTES',
      dtypes: 'json 13',
      embedding: 'features 5',
      'fixed-batch': 'features 4 named',
      fp16: 'features 3',
      large: 'image NCHW 3x224x224',
    });
  });

  it('prefills every form with a request that V1 and V2 both accept (FP16 aside: binary only)', async () => {
    for (const m of models.values()) {
      const prepared = prepare(planFor(m), examplePayload(planFor(m)), m.name);
      const half = m.inputs.some((i) => i.datatype === 'FP16');
      for (const protocol of ['v1', 'v2'] as const) {
        const res = await send(prepared[protocol]);
        assert.equal(res.statusCode, half ? 400 : 200, `${m.name} ${protocol}: ${res.body.slice(0, 300)}`);
        if (half) assert.match(res.json().error, /binary/);
      }
    }
  });

  it("sends the JSON editor's tensors as V1 columnar inputs and as V2 tensors", async () => {
    const fraud = model('fraud');
    const plan: Plan = { kind: 'json', inputs: fraud.inputs };
    const tensors = { amount: [[950]], items: [[9]], country: [['BR']] };
    const prepared = prepare(plan, { kind: 'tensors', tensors }, 'fraud');
    assert.deepEqual(prepared.v1.body, { inputs: tensors });
    const [v1, v2] = await Promise.all([send(prepared.v1), send(prepared.v2)]);
    assert.equal(v1.statusCode, 200, v1.body);
    assert.equal(v2.statusCode, 200, v2.body);
    for (const answer of [v1, v2]) {
      const reading = read(fraud, answer.json());
      assert.deepEqual(reading.kind === 'classes' && reading.rows.map((r) => r.label), ['fraud']);
    }
  });

  it('sends versioned paths when a version is chosen', async () => {
    const prepared = prepare(planFor(model('iris')), examplePayload(planFor(model('iris'))), 'iris', '1');
    assert.equal(prepared.v1.path, '/v1/models/iris/versions/1:predict');
    assert.equal(prepared.v2.path, '/v2/models/iris/versions/1/infer');
    assert.equal((await send(prepared.v1)).statusCode, 200);
    assert.equal((await send(prepared.v2)).statusCode, 200);
  });

  it('reads a classifier, a regression and a raw model the same way from V1 and V2', async () => {
    const rows: Payload = {
      kind: 'rows',
      columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      rows: [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
      ],
    };
    const cases: [string, Payload][] = [
      ['iris', rows],
      ['diabetes', examplePayload(planFor(model('diabetes')))],
      ['fraud', { kind: 'rows', columns: ['amount', 'items', 'country'], rows: [[950, 9, 'BR']] }],
      ['embedding', examplePayload(planFor(model('embedding')))],
    ];
    for (const [name, payload] of cases) {
      const m = model(name);
      const prepared = prepare(planFor(m), payload, name);
      const [v1, v2] = await Promise.all([send(prepared.v1), send(prepared.v2)]);
      const [a, b] = [read(m, v1.json()), read(m, v2.json())];
      assert.equal(a.kind, b.kind, name);
      if (a.kind === 'classes' && b.kind === 'classes') {
        assert.deepEqual(
          a.rows.map((r) => r.label),
          b.rows.map((r) => r.label),
        );
        for (const [i, row] of a.rows.entries()) {
          for (const c of row.classes) {
            const other = b.rows[i]?.classes.find((x) => x.label === c.label);
            assert.ok(Math.abs((other?.p ?? NaN) - c.p) < 1e-6, `${name} ${c.label}`);
          }
        }
      } else if (a.kind === 'values' && b.kind === 'values') {
        assert.deepEqual(a.rows, b.rows);
      }
      if (name === 'iris')
        assert.deepEqual(a.kind === 'classes' && a.rows.map((r) => r.label), ['setosa', 'virginica']);
      if (name === 'fraud') assert.deepEqual(a.kind === 'classes' && a.rows.map((r) => r.label), ['fraud']);
      if (name === 'diabetes') assert.equal(a.kind, 'values');
      if (name === 'embedding') assert.equal(a.kind, 'tensors');
    }
  });

  it("puts the API's error on the field and row it names, in both protocols", async () => {
    const cases: [string, Payload, { row: number; field: string }][] = [
      [
        'iris',
        {
          kind: 'rows',
          columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
          rows: [
            [5.1, 3.5, 1.4, 0.2],
            [6.7, 3.0, 'abc', 2.3],
          ],
        },
        { row: 1, field: 'petal_length' },
      ],
      [
        'iris',
        {
          kind: 'rows',
          columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
          rows: [[1e39, 1, 1, 1]],
        },
        { row: 0, field: 'sepal_length' },
      ],
      [
        'fraud',
        { kind: 'rows', columns: ['amount', 'items', 'country'], rows: [[1, 1.5, 'FR']] },
        { row: 0, field: 'items' },
      ],
    ];
    for (const [name, payload, where] of cases) {
      const plan = planFor(model(name));
      const prepared = prepare(plan, payload, name);
      for (const protocol of ['v1', 'v2'] as const) {
        const res = await send(prepared[protocol]);
        assert.equal(res.statusCode, 400, `${name} ${protocol}`);
        const { code, details } = res.json();
        assert.equal(code, 'INVALID_INPUT');
        assert.deepEqual(locate(plan, details), where, `${name} ${protocol}: ${res.body}`);
      }
    }
  });

  it('names a missing feature of a pasted row (V1)', async () => {
    const plan = planFor(model('iris'));
    const payload: Payload = {
      kind: 'rows',
      columns: ['sepal_length', 'sepal_width', 'petal_length'],
      rows: [[1, 2, 3]],
    };
    const res = await send(prepare(plan, payload, 'iris').v1);
    assert.equal(res.statusCode, 400);
    assert.deepEqual(locate(plan, res.json().details), { row: 0, field: 'petal_width' });
  });
});
