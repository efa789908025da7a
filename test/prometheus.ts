// A scrape read with the Prometheus project's own text-format parser (prometheus_client's, Debian's
// python3-prometheus-client), and lookups of its samples by name and labels.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { test } from 'node:test';

/**
 * The reason to skip a suite that reads scrapes (no python3-prometheus-client), or false. With CI set it is a
 * failure instead (.ci/run installs the package).
 */
export function parserSkip(): string | false {
  if (spawnSync('/usr/bin/python3', ['-c', 'import prometheus_client']).status === 0) return false;
  if (!['', '0', 'false', undefined].includes(process.env.CI)) {
    test('the Prometheus text-format parser is installed (required when CI is set)', () => {
      assert.fail(
        "no prometheus_client for /usr/bin/python3: .ci/run installs Debian's python3-prometheus-client",
      );
    });
  }
  return 'no Prometheus parser (apt-get install python3-prometheus-client); with CI set this fails';
}

export type Labels = Record<string, string>;

interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

export interface Family {
  name: string;
  /** counter, gauge, histogram, summary, unknown. */
  type: string;
  samples: Sample[];
}

export interface Histogram {
  /** Cumulative counts by upper bound, "+Inf" included. */
  buckets: Record<string, number>;
  count: number;
  sum: number;
}

const PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": None if math.isnan(s.value) else s.value}
        for s in f.samples]})
print(json.dumps(out))
`;

export class Scrape {
  readonly families: Family[];

  /** Parses the text; throws (the parser's message) when it is not valid exposition format. */
  constructor(text: string) {
    const json = execFileSync('/usr/bin/python3', ['-c', PARSE], { input: text, encoding: 'utf8' });
    this.families = JSON.parse(json) as Family[];
  }

  /** A family by its name (a counter's without _total, as the parser names it). */
  family(name: string): Family {
    const found = this.families.find((f) => f.name === name.replace(/_total$/, ''));
    if (!found) throw new Error(`no metric ${name} in the scrape`);
    return found;
  }

  /** Samples named `name` whose labels include `labels`. */
  samples(name: string, labels: Labels = {}): Sample[] {
    return this.family(name).samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  }

  /** The sum of the matching samples' values (a counter or gauge). */
  value(name: string, labels: Labels = {}): number {
    return this.samples(name, labels).reduce((sum, s) => sum + s.value, 0);
  }

  /** One histogram: every sample of `name` with exactly these labels (besides le). */
  histogram(name: string, labels: Labels): Histogram {
    const key = (l: Labels) =>
      JSON.stringify(
        Object.entries(l)
          .filter(([k]) => k !== 'le')
          .sort(),
      );
    const mine = (s: Sample) => key(s.labels) === key(labels);
    const samples = this.family(name).samples.filter(mine);
    const buckets: Record<string, number> = {};
    for (const s of samples.filter((x) => x.name === `${name}_bucket`)) buckets[s.labels.le ?? ''] = s.value;
    const count = samples.find((s) => s.name === `${name}_count`)?.value;
    const sum = samples.find((s) => s.name === `${name}_sum`)?.value;
    if (count === undefined || sum === undefined) {
      throw new Error(`no ${name} histogram for ${JSON.stringify(labels)}`);
    }
    return { buckets, count, sum };
  }
}
