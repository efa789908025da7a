// The per-model descriptor (model.json beside model.onnx): what the graph cannot say about the model.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { parseBoundedJson, type JsonBounds } from '../../lib/bounded-json.js';
import { errors } from '../errors.js';
import { InputDeclarationSchema } from '../processing/declaration.js';
import { readJsonForm } from './triton/json-form.js';
import { modelConfigType, type ConfigMessage } from './triton/schema.js';
import { isTritonJson } from './triton/config.js';

const Name = Type.String({
  minLength: 1,
  maxLength: 128,
  not: { enum: ['__proto__', 'constructor', 'prototype'] },
});

export const Tasks = ['classification', 'regression', 'raw'] as const;

/** Most features and labels a model.json may list: a classifier of every ImageNet-21k class has 21,843 labels. */
export const MAX_FEATURES = 10_000;
export const MAX_LABELS = 100_000;

/**
 * What a model.json may hold, on disk or as a load override: it nests 3 deep, and 100,000 labels of 100 characters
 * take 10 MB.
 */
export const DESCRIPTOR_JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxBytes: 16 * 1024 * 1024 };

export const DescriptorSchema = Type.Object(
  {
    task: Type.Optional(Type.Enum(Tasks, { description: 'raw returns the output tensors as they are.' })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    features: Type.Optional(
      Type.Array(Name, {
        minItems: 1,
        maxItems: MAX_FEATURES,
        uniqueItems: true,
        description: 'In input order.',
      }),
    ),
    labels: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: MAX_LABELS })),
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
    inputs: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 128 }), InputDeclarationSchema, {
        maxProperties: 64,
        description: 'Per input, how an encoded payload (an image file) becomes the tensor the graph takes.',
      }),
    ),
    execution: Type.Optional(Type.Enum(['auto', 'inline', 'thread'])),
    cache: Type.Optional(
      Type.Boolean({
        description: 'false for non-deterministic models: their predictions are never cached.',
      }),
    ),
  },
  { additionalProperties: false },
);

export type Descriptor = Static<typeof DescriptorSchema>;

/** Which of a model's version folders are served, as Triton's and TF Serving's version policies. */
export const VersionPolicySchema = Type.Union([
  Type.Object({ latest: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  Type.Literal('all'),
  Type.Object(
    {
      specific: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true }),
    },
    { additionalProperties: false },
  ),
]);

export type VersionPolicy = Static<typeof VersionPolicySchema>;

/** The model-wide model.json beside a model's version folders (models/iris/model.json). */
export const ModelSettingsSchema = Type.Object(
  { versionPolicy: Type.Optional(VersionPolicySchema) },
  { additionalProperties: false },
);

export type ModelSettings = Static<typeof ModelSettingsSchema>;

/** Reads and validates a JSON file against a schema; a missing file is `missing`. Errors name the file. */
async function readJson<T>(
  path: string,
  schema: typeof DescriptorSchema | typeof ModelSettingsSchema,
  missing: T,
  name: string,
): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(text, DESCRIPTOR_JSON_BOUNDS);
  } catch (err) {
    if (err instanceof SyntaxError) throw new Error(`${name} is not valid JSON: ${err.message}`);
    throw new Error(`${name} ${(err as Error).message}`);
  }
  const error = Value.Errors(schema, parsed)[0];
  if (error) throw new Error(`${name}${error.instancePath.replaceAll('/', '.')} ${error.message}`);
  return parsed as T;
}

/** Reads and validates a version's model.json; a missing file means a raw model described by its graph alone. */
export function readDescriptor(path: string, name = basename(path)): Promise<Descriptor> {
  return readJson<Descriptor>(path, DescriptorSchema, {}, name);
}

/** Reads the model-wide settings; a missing file means the defaults (the latest version only). */
export function readSettings(path: string): Promise<ModelSettings> {
  return readJson<ModelSettings>(path, ModelSettingsSchema, {}, "model.json (the model's own)");
}

/** The versions a policy serves among those found (highest first); the default policy is the latest one. */
export function selectVersions(found: readonly string[], policy: VersionPolicy = { latest: 1 }): string[] {
  if (policy === 'all') return [...found];
  if ('latest' in policy) return found.slice(0, policy.latest);
  const wanted = new Set(policy.specific.map(String));
  return found.filter((v) => wanted.has(v));
}

/** What a load through the repository API replaces: the versions' model.json, or the model's Triton configuration. */
export type LoadOverride =
  { descriptor: Descriptor; triton?: undefined } | { triton: ConfigMessage; descriptor?: undefined };

/**
 * The repository API's load parameters (REST's JSON object, gRPC's ModelRepositoryParameter values): `config` is
 * Triton's model configuration in its JSON form (as tritonclient sends it), which replaces the model's config.pbtxt,
 * or else a model.json (as JSON text) its versions load with instead of their own. Model files sent with the request
 * (Triton's `file:` parameters) are refused rather than ignored: the model would load from the repository's files,
 * not the ones sent.
 */
export function loadOverride(
  parameters: Readonly<Record<string, unknown>> | undefined,
): LoadOverride | undefined {
  const sent = Object.keys(parameters ?? {}).find((key) => key.startsWith('file:'));
  if (sent !== undefined) {
    throw new errors.INVALID_REQUEST(
      `model files in the request (parameters["${sent.slice(0, 64)}"]) are not supported: put them in the repository`,
    );
  }
  const config = parameters?.config;
  if (config === undefined) return undefined;
  if (typeof config !== 'string') throw new errors.INVALID_REQUEST('parameters.config must be a JSON string');
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(config, DESCRIPTOR_JSON_BOUNDS);
  } catch (err) {
    if (err instanceof SyntaxError) throw new errors.INVALID_REQUEST('parameters.config is not valid JSON');
    throw new errors.INVALID_REQUEST(`parameters.config ${(err as Error).message}`);
  }
  if (isTritonJson(parsed)) {
    try {
      return { triton: readJsonForm(parsed, modelConfigType()) };
    } catch (err) {
      throw new errors.INVALID_REQUEST(`parameters.config.${(err as Error).message}`);
    }
  }
  const error = Value.Errors(DescriptorSchema, parsed)[0];
  if (error) {
    throw new errors.INVALID_REQUEST(
      `parameters.config${error.instancePath.replaceAll('/', '.')} ${error.message}`,
    );
  }
  return { descriptor: parsed as Descriptor };
}
