// An ensemble's step graph: refused at load when a tensor is unmapped, made twice or waits in a cycle; run with
// each step as soon as its inputs exist, independent steps at the same time, the first failure failing the run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSteps, runSteps, type EnsembleStep } from '../../src/core/ensemble/graph.js';
import type { TritonConfig } from '../../src/core/models/triton/config.js';
import type { TensorData, TensorMap } from '../../src/core/tensor/tensor.js';

type Step = [model: string, inputs: Record<string, string>, outputs: Record<string, string>];

function config(inputs: string[], outputs: string[], steps: Step[]): TritonConfig {
  const tensor = (name: string) => ({ name, data_type: 'TYPE_FP32', dims: [1] });
  return {
    platform: 'ensemble',
    input: inputs.map(tensor),
    output: outputs.map(tensor),
    ensemble_scheduling: {
      step: steps.map(([model_name, input_map, output_map]) => ({
        model_name,
        model_version: -1,
        input_map,
        output_map,
      })),
    },
  };
}

const refusal = (c: TritonConfig) => {
  try {
    planSteps(c);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

const value = (x: number): TensorData => ({ datatype: 'FP32', data: new Float32Array([x]), dims: [1] });
const read = (t: TensorData | undefined) => (t?.data as Float32Array)[0];

/** A step that adds one to its input "x" into its output "y", after `ms`, recording when it started and ended. */
function adder(log: string[], ms = 5) {
  return async (step: EnsembleStep, feeds: TensorMap): Promise<TensorMap> => {
    log.push(`start ${step.model}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${step.model}`);
    return { y: value((read(feeds.x) ?? 0) + 1) };
  };
}

describe('ensemble step graph', () => {
  it('accepts a chain and reads model_version -1 as the default version', () => {
    const graph = planSteps(
      config(
        ['IN'],
        ['OUT'],
        [
          ['b', { x: 'MID' }, { y: 'OUT' }],
          ['a', { x: 'IN' }, { y: 'MID' }],
        ],
      ),
    );
    assert.deepEqual(
      graph.steps.map((s) => [s.model, s.version]),
      [
        ['b', undefined],
        ['a', undefined],
      ],
    );
  });

  it('refuses a step input that nothing makes, naming the step and tensor', () => {
    assert.equal(
      refusal(config(['IN'], ['OUT'], [['a', { x: 'NOPE' }, { y: 'OUT' }]])),
      'ensemble_scheduling.step[0] ("a").input_map: "NOPE" is neither an input of the ensemble nor made by a step',
    );
  });

  it('refuses an ensemble output no step makes, and an ensemble input no step reads', () => {
    assert.match(
      refusal(config(['IN'], ['OUT', 'OTHER'], [['a', { x: 'IN' }, { y: 'OUT' }]])),
      /^output "OTHER"/,
    );
    assert.match(
      refusal(config(['IN', 'SPARE'], ['OUT'], [['a', { x: 'IN' }, { y: 'OUT' }]])),
      /^input "SPARE"/,
    );
  });

  it('refuses a tensor made by two steps', () => {
    assert.match(
      refusal(
        config(
          ['IN'],
          ['OUT'],
          [
            ['a', { x: 'IN' }, { y: 'OUT' }],
            ['b', { x: 'IN' }, { y: 'OUT' }],
          ],
        ),
      ),
      /step\[1\] \("b"\)\.output_map: "OUT" is also made by step 0/,
    );
  });

  it('refuses steps that wait on each other in a cycle', () => {
    assert.equal(
      refusal(
        config(
          ['IN'],
          ['OUT'],
          [
            ['a', { x: 'IN', z: 'B' }, { y: 'A' }],
            ['b', { x: 'A' }, { y: 'B' }],
            ['c', { x: 'IN' }, { y: 'OUT' }],
          ],
        ),
      ),
      'ensemble_scheduling.step: steps 0 ("a"), 1 ("b") wait on each other\'s tensors (a cycle)',
    );
  });

  it('runs a chain in order, passing each tensor on as it is', async () => {
    const log: string[] = [];
    const graph = planSteps(
      config(
        ['IN'],
        ['OUT'],
        [
          ['second', { x: 'MID' }, { y: 'OUT' }],
          ['first', { x: 'IN' }, { y: 'MID' }],
        ],
      ),
    );
    const answer = await runSteps(graph, { IN: value(1) }, adder(log));
    assert.equal(read(answer.OUT), 3);
    assert.deepEqual(log, ['start first', 'end first', 'start second', 'end second']);
  });

  it('runs independent steps at the same time', async () => {
    const log: string[] = [];
    const graph = planSteps(
      config(
        ['IN'],
        ['L', 'R'],
        [
          ['left', { x: 'IN' }, { y: 'L' }],
          ['right', { x: 'IN' }, { y: 'R' }],
        ],
      ),
    );
    const answer = await runSteps(graph, { IN: value(1) }, adder(log, 20));
    assert.deepEqual([read(answer.L), read(answer.R)], [2, 2]);
    assert.deepEqual(log, ['start left', 'start right', 'end left', 'end right']);
  });

  it('fails with the first failing step, and never starts the steps after it', async () => {
    const log: string[] = [];
    const graph = planSteps(
      config(
        ['IN'],
        ['OUT'],
        [
          ['first', { x: 'IN' }, { y: 'MID' }],
          ['second', { x: 'MID' }, { y: 'OUT' }],
        ],
      ),
    );
    const failing = async (step: EnsembleStep, feeds: TensorMap) => {
      if (step.model === 'first') throw new Error('first broke');
      return adder(log)(step, feeds);
    };
    await assert.rejects(runSteps(graph, { IN: value(1) }, failing), /first broke/);
    assert.deepEqual(log, []);
  });
});
