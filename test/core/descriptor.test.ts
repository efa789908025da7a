// model.json, from disk or as a load override: bounded in depth and size before its schema check, its lists bounded.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadOverride, MAX_FEATURES, MAX_LABELS, readDescriptor } from '../../src/core/models/descriptor.js';
import { ServalError } from '../../src/core/errors.js';

/** features nested 5,000 arrays deep: TypeBox's uniqueItems hashing overflowed the stack on it. */
const DEEP = `{"features": ${'['.repeat(5000)}${']'.repeat(5000)}}`;

function refusal(config: string): string {
  try {
    loadOverride({ config });
  } catch (err) {
    assert.ok(err instanceof ServalError, String(err));
    assert.equal(err.kind, 'invalid_argument');
    return err.message;
  }
  return 'accepted';
}

describe('a load override (parameters.config)', () => {
  it('refuses one nested 5,000 deep with the bound, before the schema check', () => {
    assert.equal(
      refusal(DEEP),
      'Invalid request: parameters.config nests arrays and objects more than 32 deep',
    );
  });

  it('bounds its lists: labels and features, naming the limit', () => {
    const labels = JSON.stringify({ labels: Array.from({ length: MAX_LABELS + 1 }, (_, i) => `l${i}`) });
    assert.match(refusal(labels), /parameters\.config\.labels must not have more than 100000 items/);
    const features = JSON.stringify({
      features: Array.from({ length: MAX_FEATURES + 1 }, (_, i) => `f${i}`),
    });
    assert.match(refusal(features), /parameters\.config\.features must not have more than 10000 items/);
    assert.equal(
      refusal(JSON.stringify({ labels: Array.from({ length: 21_843 }, (_, i) => `l${i}`) })),
      'accepted',
    );
  });

  it('bounds its size', () => {
    const big = JSON.stringify({ description: 'x'.repeat(16 * 1024 * 1024) });
    assert.equal(refusal(big), 'Invalid request: parameters.config is larger than 16777216 bytes');
  });
});

describe('model.json on disk', () => {
  it('is refused, naming the file and the bound, when nested too deep', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-descriptor-'));
    await writeFile(join(dir, 'model.json'), DEEP);
    await assert.rejects(readDescriptor(join(dir, 'model.json')), {
      message: 'model.json nests arrays and objects more than 32 deep',
    });
  });
});
