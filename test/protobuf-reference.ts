// Protocol buffers' own text-format parser (Google's Python protobuf, Debian's python3-protobuf) as the reference
// for Serval's: it reads the same texts against the same .proto (handed over as a descriptor made by protobufjs)
// and answers each with protobuf's JSON form, or the error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor/index.js';

const SCRIPT = `
import base64, json, sys
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, text_format
try:
    from google.protobuf.message_factory import GetMessageClass
except ImportError:
    from google.protobuf import message_factory
    GetMessageClass = lambda d: message_factory.MessageFactory().GetPrototype(d)
job = json.load(sys.stdin)
files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(job["descriptor"]))
def entry_name(field):
    return "".join(part[:1].upper() + part[1:] for part in field.split("_")) + "Entry"
def fix_maps(message):
    # protobufjs names a map's entry type after its field; protobuf requires <CamelCaseField>Entry.
    for nested in message.nested_type:
        fix_maps(nested)
        if nested.options.map_entry:
            for field in message.field:
                if field.type_name.split(".")[-1] == nested.name:
                    nested.name = entry_name(field.name)
                    field.type_name = nested.name
pool = descriptor_pool.DescriptorPool()
for f in files.file:
    for message in f.message_type:
        fix_maps(message)
    pool.Add(f)
Message = GetMessageClass(pool.FindMessageTypeByName(job["type"]))
answers = []
for text in job["texts"]:
    try:
        message = text_format.Parse(text, Message())
        answers.append({"json": json_format.MessageToDict(message, preserving_proto_field_name=True)})
    except Exception as err:
        answers.append({"error": str(err)})
print(json.dumps(answers))
`;

/** The reason to skip (no python3-protobuf), or false. With CI set it is a failure instead (.ci/run installs it). */
export function referenceSkip(): string | false {
  if (spawnSync('/usr/bin/python3', ['-c', 'import google.protobuf.text_format']).status === 0) return false;
  if (!['', '0', 'false', undefined].includes(process.env.CI)) {
    test('the protobuf reference parser is installed (required when CI is set)', () => {
      assert.fail("no google.protobuf for /usr/bin/python3: .ci/run installs Debian's python3-protobuf");
    });
  }
  return 'no protobuf reference parser (apt-get install python3-protobuf); with CI set this fails';
}

export type ReferenceAnswer = { json: unknown } | { error: string };

/** Each text parsed by protobuf's own parser as a message of `type` (a full name, e.g. inference.ModelConfig). */
export function referenceParse(
  root: protobuf.Root,
  type: string,
  texts: readonly string[],
): ReferenceAnswer[] {
  const set = (root as unknown as { toDescriptor: (syntax: string) => protobuf.Message }).toDescriptor(
    'proto3',
  );
  const descriptor = Buffer.from(
    (set.constructor as unknown as { encode(m: protobuf.Message): protobuf.Writer }).encode(set).finish(),
  ).toString('base64');
  const run = spawnSync('/usr/bin/python3', ['-c', SCRIPT], {
    input: JSON.stringify({ descriptor, type, texts }),
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ReferenceAnswer[];
}
