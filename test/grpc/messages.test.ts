// src/grpc/messages.ts describes the gRPC messages as @grpc/proto-loader decodes them: every interface and field it
// names is checked here against the .proto files themselves (as proto-loader reads them), and a real decode.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import ts from 'typescript';
import { LOAD_OPTIONS, SERVICE_NAME, SERVICE_PROTO } from '../../src/grpc/definitions.js';

/** Each interface of messages.ts and the message(s) of grpc_service.proto it stands for. */
const MESSAGES: Record<string, string[]> = {
  InferParameter: ['inference.InferParameter'],
  InferTensorContents: ['inference.InferTensorContents'],
  InferInputTensor: ['inference.ModelInferRequest.InferInputTensor'],
  InferRequestedOutputTensor: ['inference.ModelInferRequest.InferRequestedOutputTensor'],
  ModelInferRequest: ['inference.ModelInferRequest'],
  ModelRequest: [
    'inference.ModelReadyRequest',
    'inference.ModelMetadataRequest',
    'inference.ModelConfigRequest',
    'inference.ModelStatisticsRequest',
  ],
  OutputTensorHeader: ['inference.ModelInferResponse.InferOutputTensor'],
};

/** The interfaces of messages.ts and their property names, read with the TypeScript compiler. */
function interfaces(): Map<string, string[]> {
  const path = new URL('../../src/grpc/messages.ts', import.meta.url);
  const source = ts.createSourceFile('messages.ts', readFileSync(path, 'utf8'), ts.ScriptTarget.Latest);
  const found = new Map<string, string[]>();
  for (const statement of source.statements) {
    if (!ts.isInterfaceDeclaration(statement)) continue;
    const names = statement.members.flatMap((m) => (m.name && ts.isIdentifier(m.name) ? [m.name.text] : []));
    found.set(statement.name.text, names);
  }
  return found;
}

interface Descriptor {
  name: string;
  field: { name: string }[];
  oneofDecl: { name: string }[];
  nestedType: Descriptor[];
}

const definitions = loadSync(SERVICE_PROTO, LOAD_OPTIONS);

/** A message's descriptor, a nested one (Outer.Inner) found in its outer message's. */
function descriptorOf(message: string): Descriptor {
  const [pkg, outer, ...nested] = message.split('.');
  const definition = definitions[`${pkg}.${outer}`] as { type: Descriptor } | undefined;
  assert.ok(definition, `${SERVICE_PROTO} defines ${pkg}.${outer}`);
  let descriptor = definition.type;
  for (const name of nested) {
    const inner = descriptor.nestedType.find((n) => n.name === name);
    assert.ok(inner, `${SERVICE_PROTO} defines ${message}`);
    descriptor = inner;
  }
  return descriptor;
}

describe('the gRPC messages as messages.ts describes them', () => {
  it('describes every message it names, and no other interface', () => {
    assert.deepEqual([...interfaces().keys()].sort(), Object.keys(MESSAGES).sort());
  });

  it('names only fields (or a oneof) that the .proto defines', () => {
    for (const [name, fields] of interfaces()) {
      for (const message of MESSAGES[name] ?? []) {
        const { field, oneofDecl } = descriptorOf(message);
        const known = new Set([...field.map((f) => f.name), ...oneofDecl.map((o) => o.name)]);
        for (const f of fields) assert.ok(known.has(f), `${name}.${f} is a field of ${message}`);
      }
    }
  });

  it('reads 64-bit integers as decimal strings, bytes as Buffers and a oneof by its member’s name', () => {
    const methods = definitions[SERVICE_NAME] as Record<string, MethodDefinition<unknown, unknown>>;
    const infer = methods.ModelInfer as MethodDefinition<unknown, unknown>;
    const bytes = infer.requestSerialize({
      model_name: 'iris',
      inputs: [
        { name: 'input', datatype: 'FP32', shape: ['1', '4'], parameters: { a: { int64_param: '9' } } },
      ],
      raw_input_contents: [Buffer.alloc(16)],
    });
    interface Decoded {
      inputs: { shape: unknown[]; parameters: { a: Record<string, unknown> }; contents: unknown }[];
      raw_input_contents: unknown[];
      model_version: unknown;
    }
    const request = infer.requestDeserialize(bytes) as Decoded;
    const input = request.inputs[0];
    assert.ok(input);
    assert.deepEqual(input.shape, ['1', '4']);
    assert.equal(input.parameters.a.parameter_choice, 'int64_param');
    assert.equal(input.parameters.a.int64_param, '9');
    assert.equal(input.contents, null, 'an absent message is null');
    assert.ok(Buffer.isBuffer(request.raw_input_contents[0]));
    assert.equal(request.model_version, '', 'defaults are filled in');
  });
});
