// The V8 flag that counts Buffers' memory in the heap limit: known to the V8 it is set on, and doing what it is for.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXTERNAL_MEMORY_FLAG, hasExternalMemoryFlag } from '../../src/process/heap.js';

const churn = fileURLToPath(new URL('../fixtures/buffer-churn.ts', import.meta.url));
const majorCollections = (mode: 'on' | 'off') =>
  Number(execFileSync(process.execPath, ['--import', 'tsx', churn, mode], { encoding: 'utf8' }).trim());
const skip = hasExternalMemoryFlag() ? false : `V8 ${process.versions.v8} has no ${EXTERNAL_MEMORY_FLAG}`;

describe('countExternalMemoryInHeapLimit', () => {
  it('sets the flag from V8 13 (Node 24) on, not on Node 22 (V8 12, where it is unknown)', () => {
    assert.equal(hasExternalMemoryFlag('12.4.254.21-node.33'), false);
    assert.equal(hasExternalMemoryFlag('13.6.233.17-node.28'), true);
  });

  it('names a flag that this V8 knows (a Node whose V8 drops it fails here)', { skip }, () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    assert.ok(
      options.includes(EXTERNAL_MEMORY_FLAG.slice(2)),
      `${EXTERNAL_MEMORY_FLAG} is not in --v8-options`,
    );
  });

  it('makes fewer full collections while 240 MB of request-sized Buffers come and go', { skip }, () => {
    const [off, on] = [majorCollections('off'), majorCollections('on')];
    assert.ok(off > 0, `without the flag V8 made no full collection at all (${off})`);
    assert.ok(on < off, `full collections: ${on} with the flag, ${off} without`);
  });
});
