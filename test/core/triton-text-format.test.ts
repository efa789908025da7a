// Triton's config.pbtxt (protobuf text format) and its JSON form, read against model_config.proto: checked against
// protobuf's own parser on the configurations of Triton's documentation, and for strict, located errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelConfigType } from '../../src/core/models/triton/schema.js';
import { parseTextFormat, TextFormatError } from '../../src/core/models/triton/text-format.js';
import { JsonFormError, readJsonForm } from '../../src/core/models/triton/json-form.js';
import { DOCUMENTED } from '../fixtures/triton/documented.js';
import { referenceParse, referenceSkip } from '../protobuf-reference.js';

const type = modelConfigType();
const parse = (text: string) => parseTextFormat(text, type, 'config.pbtxt');
const skip = referenceSkip();

/** The error a text gives, as `line:column: reason`. */
function errorOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof TextFormatError, String(err));
    return `${err.line}:${err.column}: ${err.message.replace(/^config\.pbtxt:\d+:\d+: /, '')}`;
  }
  return assert.fail(`no error for ${text}`);
}

describe('config.pbtxt against protobuf’s own text-format parser', { skip }, () => {
  it('reads every configuration of Triton’s documentation as protobuf does', () => {
    const answers = referenceParse(
      type.root,
      'inference.ModelConfig',
      DOCUMENTED.map((d) => d.text),
    );
    DOCUMENTED.forEach(({ source, text }, i) => {
      const answer = answers[i]!;
      assert.ok('json' in answer, `${source}: protobuf refused it: ${JSON.stringify(answer)}`);
      // protobuf writes 64-bit integers as strings: its JSON form, read back, is the same message.
      assert.deepEqual(parse(text), readJsonForm(answer.json, type), source);
    });
    assert.ok(DOCUMENTED.length >= 40);
  });

  it('reads the text format’s other spellings as protobuf does', () => {
    const texts = [
      // Comments, separators, angle brackets and the colon before a block.
      'name: "a"; # the name\nmax_batch_size: 4, input: < name: "x" dims: 3 dims: 4 >',
      // Quotes, escapes and adjacent strings.
      `name: 'it\\'s' "\\x41\\101\\303\\251\\n"`,
      // Integers in hex and octal, negative dims, enums by number, booleans spelt every way.
      'max_batch_size: 0x10 input { dims: [-1, 010] data_type: 11 optional: t allow_ragged_batch: 1 }',
      'input { is_shape_tensor: True optional: false }',
      // Maps as repeated entries or as a list; a map's value left out; floats in every form.
      'parameters [ { key: "a" value { string_value: "1" } }, { key: "b" } ] metric_tags { key: "k" value: "v" }',
      'model_metrics { metric_control { histogram_options { buckets: [1, 2.5, .5e1, 3f, -inf] } } }',
      'dynamic_batching { priority_queue_policy { key: 2 value { max_queue_size: 8 } } }',
      // A oneof member given, and defaults written out (proto3 leaves them out).
      'version_policy { all {} } max_batch_size: 0 platform: "" instance_group { kind: KIND_AUTO }',
    ];
    const answers = referenceParse(type.root, 'inference.ModelConfig', texts);
    texts.forEach((text, i) => {
      const answer = answers[i]!;
      assert.ok('json' in answer, `${text}: ${JSON.stringify(answer)}`);
      assert.deepEqual(parse(text), readJsonForm(answer.json, type), text);
    });
  });

  it('refuses what protobuf refuses', () => {
    const texts = [
      'nmae: "x"',
      'max_batch_size: "8"',
      'max_batch_size: 8.5',
      'input { data_type: TYPE_FP33 }',
      'name "x"',
      'name: ["a", "b"]',
      'name: "a" name: "b"',
      'dynamic_batching {} sequence_batching {}',
      'input { dims: [ 1, 2 }',
      'max_batch_size: 2147483648',
      'version_policy { latest { num_versions: -1 } }',
      'name: "unterminated',
    ];
    const answers = referenceParse(type.root, 'inference.ModelConfig', texts);
    texts.forEach((text, i) => {
      assert.ok('error' in answers[i]!, `protobuf accepted ${text}`);
      assert.throws(() => parse(text), TextFormatError, text);
    });
  });
});

describe('config.pbtxt errors', () => {
  it('name the line and column of an unknown field, and the message it is not in', () => {
    assert.equal(
      errorOf('name: "m"\ninput [\n  {\n    name: "x"\n    dimz: [ 4 ]\n  }\n]'),
      '5:5: unknown field "dimz" in ModelInput',
    );
  });

  it('name a value of the wrong type', () => {
    assert.equal(errorOf('max_batch_size: "8"'), '1:17: "max_batch_size" takes an integer, not a string');
    assert.equal(errorOf('name: 8'), '1:7: "name" takes a quoted string, not "8"');
    assert.equal(errorOf('input { optional: yes }'), '1:19: "optional" takes true or false, not "yes"');
    assert.match(
      errorOf('input {\n data_type: FP32 }'),
      /^2:13: FP32 is not a DataType \(TYPE_INVALID, TYPE_BOOL/,
    );
  });

  it('name values out of their type’s range', () => {
    assert.equal(
      errorOf('max_batch_size: 4294967296'),
      '1:17: "max_batch_size": 4294967296 is out of range for int32',
    );
    assert.equal(
      errorOf('version_policy { latest { num_versions: -2 } }'),
      '1:41: "num_versions": -2 is out of range for uint32',
    );
  });

  it('refuse a field given twice, two members of a oneof, and a list for a single value', () => {
    assert.equal(errorOf('name: "a"\nname: "b"'), '2:1: field "name" is given twice');
    assert.equal(
      errorOf('dynamic_batching { }\nensemble_scheduling { }'),
      '2:1: "ensemble_scheduling" and "dynamic_batching" are both set, but ModelConfig takes one of them',
    );
    assert.equal(
      errorOf('name: [ "a" ]'),
      '1:7: field "name" is not repeated: it takes one value, not a list',
    );
  });

  it('reads \\u escapes as the UTF-8 of their code point (the text format’s rule)', () => {
    assert.deepEqual(parse('name: "\\u00e9\\U0001F600"'), { name: 'é😀' });
    assert.equal(errorOf('name: "\\ud800"'), '1:8: \\ud800 is not a Unicode character');
  });

  it('name unclosed blocks, strings and missing colons where they are', () => {
    assert.equal(errorOf('input {\n  name: "x"\n'), '3:1: expected "}" to close ModelInput');
    assert.equal(errorOf('name: "x\nplatform: "y"'), '1:7: unterminated string');
    assert.equal(errorOf('max_batch_size 8'), '1:16: expected ":" after "max_batch_size"');
    assert.equal(errorOf('input [ { name: "a" } { name: "b" } ]'), '1:23: expected "," or "]", found "{"');
    assert.equal(errorOf('name: "\\q"'), '1:8: unknown escape \\q');
    assert.equal(errorOf('[ext]: 1'), '1:1: expected a field name, found "["');
  });
});

describe('the JSON form', () => {
  it('reads protobuf’s JSON: field names or lowerCamelCase, integers as strings, enums in any case, null as absent', () => {
    const config = readJsonForm(
      {
        name: 'm',
        maxBatchSize: '8',
        input: [{ name: 'x', data_type: 'type_fp32', dims: ['-1', 4], optional: false, reshape: null }],
        version_policy: { specific: { versions: [1, '3'] } },
        instance_group: [{ kind: 2, count: 1 }],
        parameters: { k: { string_value: 'v' } },
      },
      type,
    );
    assert.deepEqual(config, {
      name: 'm',
      max_batch_size: 8,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 4] }],
      version_policy: { specific: { versions: [1, 3] } },
      instance_group: [{ kind: 'KIND_CPU', count: 1 }],
      parameters: { k: { string_value: 'v' } },
    });
  });

  it('names the path of an unknown field or a wrong value', () => {
    const error = (value: unknown) => {
      try {
        readJsonForm(value, type);
      } catch (err) {
        assert.ok(err instanceof JsonFormError);
        return err.message;
      }
      return assert.fail('no error');
    };
    assert.equal(
      error({ input: [{ name: 'x' }, { dimz: [1] }] }),
      'input[1].dimz: unknown field in ModelInput',
    );
    assert.equal(error({ input: [{ dims: [1, 2.5] }] }), 'input[0].dims[1]: must be an integer (int64)');
    assert.equal(error({ max_batch_size: 1e10 }), 'max_batch_size: 10000000000 is out of range for int32');
    assert.equal(error({ input: { name: 'x' } }), 'input: must be a list');
    assert.match(
      error({ output: [{ data_type: 'FLOAT' }] }),
      /^output\[0\]\.data_type: must be one of DataType's/,
    );
    assert.equal(error([]), 'must be an object (ModelConfig)');
  });
});
