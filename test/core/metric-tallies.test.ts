// Tallied counters and histograms against prom-client's own Counter and Histogram: the same observations must give
// the same exposition text, alone and summed over workers by AggregatorRegistry, as Prometheus would scrape it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { TalliedCounter, TalliedHistogram } from '../../src/core/metric-tallies.js';

const BUCKETS = [0.00025, 0.001, 0.01, 0.1, 1, 10];
// On bounds (le is inclusive), between them, below the first, above the last, zero and a negative value.
const VALUES = [0.00025, 0.0002, 0.0005, 0.001, 0.05, 0.1, 3, 10, 11, 250, 0, -1];

function registries() {
  const ours = new Registry();
  const theirs = new Registry();
  const help = 'help text';
  return {
    ours,
    theirs,
    histograms: [
      new TalliedHistogram('h_seconds', help, ['model', 'version'], BUCKETS, [ours]),
      new Histogram({
        name: 'h_seconds',
        help,
        labelNames: ['model', 'version'],
        buckets: BUCKETS,
        registers: [theirs],
      }),
    ] as const,
    counters: [
      new TalliedCounter('c_total', help, ['model', 'outcome'], [ours]),
      new Counter({ name: 'c_total', help, labelNames: ['model', 'outcome'], registers: [theirs] }),
    ] as const,
  };
}

/** The same observations through both: two label sets, a counter bumped by 1 and by n. */
function observe(r: ReturnType<typeof registries>, shift = 0) {
  for (const h of r.histograms) {
    const iris = h.labels('iris', '1');
    const heavy = h.labels('heavy', '2');
    for (const v of VALUES) iris.observe(v + shift);
    heavy.observe(0.5 + shift);
  }
  for (const c of r.counters) {
    c.labels('iris', 'success').inc();
    c.labels('iris', 'success').inc(41);
    c.labels('iris', 'failure').inc(2 + shift);
  }
}

describe('tallied metrics', () => {
  it('render as prom-client renders its own for the same observations', async () => {
    const r = registries();
    observe(r);
    assert.equal(await r.ours.metrics(), await r.theirs.metrics());
    // The JSON that workers send for summing: the same samples (prom-client adds exemplar fields, null here).
    const samples = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).map(({ name, type, aggregator, values }) => ({
        name,
        type,
        aggregator,
        values: values.map((v) => ({
          labels: v.labels,
          value: v.value,
          metricName: (v as { metricName?: string }).metricName,
        })),
      }));
    assert.deepEqual(await samples(r.ours), await samples(r.theirs));
  });

  it('sum over workers through AggregatorRegistry as prom-client does', async () => {
    const workers = [registries(), registries()];
    workers.forEach((w, i) => observe(w, i));
    const ours = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.ours.getMetricsAsJSON())),
    );
    const theirs = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.theirs.getMetricsAsJSON())),
    );
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /h_seconds_count\{model="iris",version="1"\} 24/);
    assert.match(text, /c_total\{model="iris",outcome="success"\} 84/);
  });

  it('hand out one child per label set, and refuse a wrong count of label values or a non-finite value', () => {
    const r = registries();
    const [histogram] = r.histograms;
    const [counter] = r.counters;
    assert.equal(histogram.labels('iris', '1'), histogram.labels('iris', '1'));
    assert.notEqual(histogram.labels('iris', '1'), histogram.labels('iris', '2'));
    assert.throws(() => counter.labels('iris'), /expected 2 label values/);
    assert.throws(() => histogram.labels('iris', '1').observe(Number.NaN), /not a valid number/);
    assert.throws(() => histogram.labels('iris', '1').observe(Infinity), /not a valid number/);
  });
});
