// What Serval makes of a Triton configuration: refusals naming the field, the fields named as not applied, the
// checks against the graph that Triton's ONNX Runtime backend makes, and reshapes both ways.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigRefused,
  planConfig,
  unclassifiedFields,
  type TritonPlan,
} from '../../src/core/models/triton/config.js';
import { bindGraph } from '../../src/core/models/triton/graph.js';
import { fill, TritonRuntime } from '../../src/core/models/triton/runtime.js';
import { modelConfigType } from '../../src/core/models/triton/schema.js';
import { parseTextFormat } from '../../src/core/models/triton/text-format.js';
import type { ModelRuntime } from '../../src/core/runtime/runtime.js';
import type { TensorMap } from '../../src/core/tensor/tensor.js';
import { spec } from '../fakes.js';
import { DOCUMENTED } from '../fixtures/triton/documented.js';

const plan = (text: string, model = 'm'): TritonPlan =>
  planConfig(parseTextFormat(text, modelConfigType(), 'config.pbtxt'), model, 'config.pbtxt');

function refusal(
  text: string,
  graph?: { inputs: ReturnType<typeof spec>[]; outputs: ReturnType<typeof spec>[] },
) {
  try {
    const p = plan(text);
    if (graph) bindGraph(p, graph.inputs, graph.outputs);
  } catch (err) {
    assert.ok(err instanceof ConfigRefused, String(err));
    return err.message;
  }
  return assert.fail(`accepted: ${text}`);
}

const IRIS = {
  inputs: [spec('input', 'FP32', ['batch', 4])],
  outputs: [spec('label', 'INT64', ['batch']), spec('probabilities', 'FP32', ['batch', 3])],
};
const IRIS_CONFIG = `max_batch_size: 8
input [ { name: "input" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [
  { name: "label" data_type: TYPE_INT64 dims: [ 1 ] reshape { shape: [] } },
  { name: "probabilities" data_type: TYPE_FP32 dims: [ 3 ] }
]`;

describe('a Triton configuration before the graph', () => {
  it('decides about every field of ModelConfig', () => {
    assert.deepEqual(unclassifiedFields(), []);
  });

  it('takes the version policy, the graph’s file name, instances and intra-op threads', () => {
    const p = plan(`${IRIS_CONFIG}
      version_policy: { specific: { versions: [1, 3] } }
      default_model_filename: "iris.onnx"
      instance_group [ { count: 3 kind: KIND_CPU }, { kind: KIND_AUTO } ]
      parameters { key: "intra_op_thread_count" value: { string_value: "2" } }`);
    assert.deepEqual(p.versionPolicy, { specific: [1, 3] });
    assert.equal(p.graphFile, 'iris.onnx');
    assert.equal(p.instances, 5); // a group without a count has Triton's 2
    assert.equal(p.intraOpThreads, 2);
    assert.deepEqual(p.notApplied, []);
    assert.deepEqual(plan('version_policy: { all {} }').versionPolicy, 'all');
    assert.deepEqual(plan('version_policy: { latest { num_versions: 2 } }').versionPolicy, { latest: 2 });
    assert.deepEqual(plan('').versionPolicy, { latest: 1 });
  });

  it('names each field it does not apply, with why, and nothing for a field left at its default', () => {
    const p = plan(`${IRIS_CONFIG}
      dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
      optimization { graph { level: 1 } input_pinned_memory { enable: false } }
      model_warmup [ { name: "w" batch_size: 1 } ]
      parameters { key: "note" value: { string_value: "x" } }
      instance_group [ { count: 1 kind: KIND_CPU rate_limiter { priority: 2 } } ]
      response_cache { enable: false }`);
    assert.deepEqual(
      p.notApplied.map((n) => n.replace(/ \(.*$/, '')),
      [
        'optimization.graph.level',
        'model_warmup',
        'dynamic_batching.preferred_batch_size',
        'dynamic_batching.max_queue_delay_microseconds',
        'instance_group[0].rate_limiter.priority',
        'parameters["note"]',
      ],
    );
    assert.match(p.notApplied[3]!, /a call never waits for others to join it/);
  });

  it('refuses what would change answers or needs a GPU, naming the field', () => {
    assert.equal(
      refusal('instance_group [ { count: 2 kind: KIND_GPU } ]'),
      'instance_group[0].kind: KIND_GPU: Serval runs models on CPUs only (use KIND_CPU)',
    );
    assert.equal(
      refusal('instance_group [ { gpus: [0] } ]'),
      'instance_group[0].gpus: Serval runs models on CPUs only',
    );
    assert.equal(
      refusal('platform: "tensorrt_plan"'),
      'platform: "tensorrt_plan" is not served: Serval serves ONNX models (onnxruntime_onnx)',
    );
    assert.equal(
      refusal('backend: "python"'),
      'backend: "python" is not served: Serval serves ONNX models (backend onnxruntime)',
    );
    assert.equal(refusal('name: "other"'), 'name: "other" is not the model\'s folder name "m"');
    assert.equal(
      refusal('sequence_batching { }'),
      'sequence_batching: sequence batching (stateful models) is not served',
    );
    assert.equal(
      refusal('model_transaction_policy { decoupled: true }'),
      'model_transaction_policy.decoupled: decoupled models (many answers to a request) are not served',
    );
    assert.match(
      refusal('input [ { name: "x" data_type: TYPE_FP32 dims: [ 2 ] optional: true } ]'),
      /^input\[0\] "x" optional: /,
    );
    assert.equal(
      refusal(
        `${IRIS_CONFIG.replace('max_batch_size: 8', 'max_batch_size: 4')} dynamic_batching { preferred_batch_size: [ 8 ] }`,
      ),
      'dynamic_batching.preferred_batch_size: 8 is past max_batch_size 4',
    );
  });

  it('refuses tensors Triton refuses: no dims, a zero dim, a reshape of other elements', () => {
    assert.equal(refusal('input [ { name: "x" data_type: TYPE_FP32 } ]'), 'input[0] "x": must have dims');
    assert.equal(
      refusal('input [ { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } ]'),
      'input[0] "x" dims: dimensions are integers from 1, or -1 for any size',
    );
    assert.equal(
      refusal('input [ { name: "x" data_type: TYPE_FP32 dims: [ 2, 3 ] reshape { shape: [ 5 ] } } ]'),
      'input[0] "x" reshape: [5] does not hold the elements of dims [2, 3]',
    );
    assert.equal(refusal('output [ { name: "y" dims: [ 1 ] } ]'), 'output[0] "y": must have a data_type');
    // Triton's own example of a valid reshape with dims of any size.
    plan(
      'input [ { name: "x" data_type: TYPE_FP32 dims: [ 2, 4, -1, 6 ] reshape { shape: [ 8, -1, 1, 6 ] } } ]',
    );
  });

  it('serves or refuses, with a reason, each configuration of Triton’s documentation', () => {
    const outcome = (text: string) => {
      try {
        plan(text, 'any');
        return 'served';
      } catch (err) {
        assert.ok(err instanceof ConfigRefused, String(err));
        return err.message.split(':')[0];
      }
    };
    const outcomes = new Map(DOCUMENTED.map((d) => [d.source, outcome(d.text.replace(/^name: .*$/m, ''))]));
    assert.equal(outcomes.get('docs/examples/model_repository/densenet_onnx/config.pbtxt'), 'served');
    assert.equal(outcomes.get('docs/examples/model_repository/simple/config.pbtxt'), 'served');
    assert.equal(
      outcomes.get('docs/examples/model_repository/simple_sequence/config.pbtxt'),
      'sequence_batching',
    );
    assert.equal(outcomes.get('docs/examples/model_repository/simple_identity/config.pbtxt'), 'backend');
    assert.equal(outcomes.get('docs/user_guide/ensemble_models.md line 60'), 'served');
    assert.equal(outcomes.get('docs/user_guide/model_configuration.md line 46'), 'platform');
    assert.equal(outcomes.get('docs/user_guide/model_configuration.md line 562'), 'instance_group[0].kind');
    assert.equal(outcomes.get('docs/user_guide/model_configuration.md line 614'), 'served'); // host_policy: a warning
  });

  it('plans an ensemble, refusing what no ensemble can be', () => {
    const steps = `ensemble_scheduling { max_inflight_requests: 4 step [ { model_name: "a" model_version: -1 input_map { key: "x" value: "IN" } output_map { key: "y" value: "OUT" } } ] }`;
    const ensemble = plan(`platform: "ensemble" ${steps}`);
    assert.equal(ensemble.ensemble, true);
    assert.equal(ensemble.dynamicBatching, false);
    assert.match(ensemble.notApplied.join(), /ensemble_scheduling\.max_inflight_requests/);
    assert.equal(plan('platform: "onnxruntime_onnx"').ensemble, false);
    assert.equal(refusal(steps), 'ensemble_scheduling: needs platform "ensemble"');
    assert.equal(
      refusal(`platform: "ensemble" backend: "onnxruntime" ${steps}`),
      'backend: an ensemble runs its steps’ models: it has no backend',
    );
    assert.equal(
      refusal('platform: "ensemble" ensemble_scheduling { step [ { model_version: -1 } ] }'),
      'ensemble_scheduling.step[0].model_name: is missing',
    );
  });
});

describe('a Triton configuration against the graph', () => {
  it('presents the configuration’s tensors, batch first', () => {
    const binding = bindGraph(plan(IRIS_CONFIG), IRIS.inputs, IRIS.outputs);
    assert.equal(binding.maxBatchSize, 8);
    assert.equal(binding.dynamicBatching, false);
    assert.deepEqual(binding.inputs[0]!.shape, ['batch', 4]);
    assert.deepEqual(
      binding.outputs.map((o) => [o.name, o.shape, o.reshape]),
      [
        ['label', ['batch', 1], []],
        ['probabilities', ['batch', 3], undefined],
      ],
    );
  });

  it('names the field when names, types or dims disagree with the graph', () => {
    const with_ = (input: string) =>
      IRIS_CONFIG.replace('{ name: "input" data_type: TYPE_FP32 dims: [ 4 ] }', input);
    assert.equal(
      refusal(with_('{ name: "inputs" data_type: TYPE_FP32 dims: [ 4 ] }'), IRIS),
      'input "inputs": the graph has no such input (its inputs are "input")',
    );
    assert.equal(
      refusal(with_('{ name: "input" data_type: TYPE_FP64 dims: [ 4 ] }'), IRIS),
      'input "input" data_type: TYPE_FP64 but the graph\'s input is TYPE_FP32',
    );
    assert.equal(
      refusal(with_('{ name: "input" data_type: TYPE_FP32 dims: [ 5 ] }'), IRIS),
      'input "input" dims: the graph\'s shape is [-1, 4] but the configuration makes it [-1 (the batch), 5]',
    );
    assert.equal(
      refusal(
        IRIS_CONFIG.replace('max_batch_size: 8', 'max_batch_size: 0').replace('reshape { shape: [] }', ''),
        IRIS,
      ),
      'input "input" dims: the graph\'s shape is [-1, 4] but the configuration makes it [4]',
    );
    assert.equal(
      refusal(IRIS_CONFIG.replace('dims: [ 3 ]', 'dims: [ -1 ]'), IRIS),
      'output "probabilities" dims: the graph\'s shape is [-1, 3] but the configuration makes it [-1 (the batch), -1]',
    );
    const fixed = { inputs: [spec('input', 'FP32', [1, 4])], outputs: [spec('value', 'FP32', [1, 1])] };
    assert.match(
      refusal(
        'max_batch_size: 2 input [ { name: "input" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: "value" data_type: TYPE_FP32 dims: [ 1 ] } ]',
        fixed,
      ),
      /^input "input" dims: max_batch_size > 0 needs a first dimension of any size/,
    );
    assert.equal(
      refusal(IRIS_CONFIG, { ...IRIS, inputs: [...IRIS.inputs, spec('extra', 'FP32', ['batch', 1])] }),
      'input: the configuration lists 1 inputs, the graph has 2 ("input", "extra")',
    );
  });

  it('fills in what the configuration leaves out as Triton’s auto-complete does', () => {
    const binding = bindGraph(plan('platform: "onnxruntime_onnx"'), IRIS.inputs, IRIS.outputs);
    assert.equal(binding.maxBatchSize, 4);
    assert.equal(binding.dynamicBatching, true);
    assert.deepEqual(
      binding.outputs.map((o) => [o.name, o.dims, o.reshape]),
      [
        ['label', [1], []],
        ['probabilities', [3], undefined],
      ],
    );
    const fixed = { inputs: [spec('input', 'FP32', [1, 4])], outputs: [spec('value', 'FP32', [1, 1])] };
    assert.equal(bindGraph(plan(''), fixed.inputs, fixed.outputs).maxBatchSize, 0);
    assert.match(refusal('max_batch_size: 2', fixed), /^max_batch_size: 2, but the graph cannot batch/);
  });
});

describe('reshapes', () => {
  it('fill dims of any size in order, between the configuration’s and the graph’s shapes', () => {
    assert.deepEqual(fill([8, -1, 1, 6], [2, 4, -1, 6], [2, 4, 5, 6]), [8, 5, 1, 6]);
    assert.deepEqual(fill([1, 8, 8], [64], [64]), [1, 8, 8]);
  });

  it('reach the graph in its shape and the client in the configuration’s', async () => {
    const seen: TensorMap[] = [];
    const inner: ModelRuntime = {
      inputs: [spec('image', 'FP32', ['batch', 1, 8, 8])],
      outputs: [spec('label', 'INT64', ['batch']), spec('other', 'FP32', ['batch', 2])],
      execution: 'inline',
      warmupMs: 0,
      batchRows: 1,
      pending: 0,
      predict: async (feeds) => {
        seen.push(feeds);
        return {
          label: { datatype: 'INT64', data: BigInt64Array.from([3n, 4n]), dims: [2] },
          other: { datatype: 'FP32', data: new Float32Array(4), dims: [2, 2] },
        };
      },
      unload: async () => undefined,
    };
    const p = plan(`max_batch_size: 4
      input [ { name: "image" data_type: TYPE_FP32 dims: [ 64 ] reshape { shape: [ 1, 8, 8 ] } } ]
      output [ { name: "label" data_type: TYPE_INT64 dims: [ 1 ] reshape { shape: [ ] } } ]`);
    const runtime = new TritonRuntime(inner, bindGraph(p, inner.inputs, inner.outputs));
    assert.deepEqual(runtime.inputs[0]!.shape, ['batch', 64]);
    const answer = await runtime.predict({
      image: { datatype: 'FP32', data: new Float32Array(128), dims: [2, 64] },
    });
    assert.deepEqual(seen[0]!.image!.dims, [2, 1, 8, 8]);
    assert.deepEqual(Object.keys(answer), ['label']); // only the outputs the configuration lists
    assert.deepEqual(answer.label!.dims, [2, 1]);
  });
});
