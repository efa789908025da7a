// The per-model descriptor (model.json beside model.onnx): what the graph cannot say about the model.
import { readFile } from 'node:fs/promises';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

const Name = Type.String({ minLength: 1, maxLength: 128, not: { enum: ['__proto__', 'constructor', 'prototype'] } });

export const Tasks = ['classification', 'regression', 'raw'] as const;

export const DescriptorSchema = Type.Object(
  {
    task: Type.Optional(Type.Enum(Tasks, { description: 'raw returns the output tensors as they are.' })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    features: Type.Optional(Type.Array(Name, { minItems: 1, uniqueItems: true, description: 'In input order.' })),
    labels: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { minItems: 1 })),
    outputs: Type.Optional(
      Type.Object(
        {
          label: Type.Optional(Type.String()),
          probabilities: Type.Optional(Type.String()),
          value: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    execution: Type.Optional(Type.Enum(['auto', 'inline', 'thread'])),
    cache: Type.Optional(
      Type.Boolean({ description: 'false for non-deterministic models: their predictions are never cached.' }),
    ),
  },
  { additionalProperties: false },
);

export type Descriptor = Static<typeof DescriptorSchema>;

/** Reads and validates model.json; a missing file means a raw model described by its graph alone. */
export async function readDescriptor(path: string): Promise<Descriptor> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  const error = Value.Errors(DescriptorSchema, parsed)[0];
  if (error) throw new Error(`model.json${error.instancePath.replaceAll('/', '.')} ${error.message}`);
  return parsed as Descriptor;
}
