// Serval's predictions against the training framework's own outputs, for every bundled model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FIXTURE_MODELS, loadedApp, MODELS, tempRepository, type Golden } from '../helpers.js';

// Golden files hold the training framework's own outputs (scikit-learn), written by training/train.py.
const cases = [
  { name: 'iris', dir: join(MODELS, 'iris/1') },
  { name: 'digits', dir: join(MODELS, 'digits/1') },
  { name: 'diabetes', dir: join(MODELS, 'diabetes/1') },
  { name: 'heavy', dir: join(FIXTURE_MODELS, 'heavy/1') },
];

describe('predictions match the training framework (golden outputs)', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await tempRepository(Object.fromEntries(cases.map((c) => [`${c.name}/1`, { from: c.dir }])));
    cleanup = repo.cleanup;
    app = await loadedApp({ modelRepository: repo.root });
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  for (const { name, dir } of cases) {
    it(`${name}: labels exact, probabilities and values within float32 tolerance`, async () => {
      const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
      const res = await app.inject({ method: 'POST', url: `/v1/models/${name}:predict`, payload: { instances: golden.instances } });
      assert.equal(res.statusCode, 200, res.body);
      const predictions = res.json().predictions as unknown[];
      assert.equal(predictions.length, golden.instances.length);
      predictions.forEach((prediction, i) => {
        if (golden.labels) {
          const p = prediction as { label: string; probabilities: Record<string, number> };
          assert.equal(p.label, golden.labels[i], `instance ${i}`);
          Object.values(p.probabilities).forEach((v, c) => {
            assert.ok(Math.abs(v - golden.probabilities![i]![c]!) < 1e-5, `instance ${i} class ${c}: ${v}`);
          });
        } else {
          const expected = golden.values![i]!;
          // Regression values near 150 carry float32 rounding of about 1e-5: compare relatively.
          assert.ok(Math.abs((prediction as number) - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `instance ${i}`);
        }
      });
    });
  }

  it('runs the heavy model on a worker thread and the tiny ones inline', async () => {
    assert.equal((await app.inject('/v1/models/heavy')).json().execution, 'thread');
    assert.equal((await app.inject('/v1/models/iris')).json().execution, 'inline');
  });
});
