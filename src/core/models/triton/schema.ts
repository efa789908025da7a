// Triton's ModelConfig message, loaded once from model_config.proto through protobufjs's reflection: the one
// definition that the text-format parser, the JSON reader and the gRPC service's ModelConfig answer all use.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** A configuration as read from either form: field names as in the .proto, enums by name, 64-bit ints as numbers. */
export type ConfigValue = string | number | boolean | ConfigMessage | ConfigValue[];
export interface ConfigMessage {
  [field: string]: ConfigValue;
}

/** The folder of model_config.proto, for the gRPC service's definitions that import it. */
export const MODEL_CONFIG_PROTO_DIR = fileURLToPath(new URL('./', import.meta.url));

let modelConfig: protobuf.Type | undefined;

/** The `inference.ModelConfig` type, its nested types and enums resolved. */
export function modelConfigType(): protobuf.Type {
  if (modelConfig) return modelConfig;
  const source = readFileSync(new URL('./model_config.proto', import.meta.url), 'utf8');
  const { root } = protobuf.parse(source, new protobuf.Root(), { keepCase: true });
  root.resolveAll();
  modelConfig = root.lookupType('inference.ModelConfig');
  return modelConfig;
}

const INTEGER_RANGE: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** The scalar kinds a field's protobuf type falls in; undefined for a message or an enum. */
export function scalarKind(type: string): 'integer' | 'float' | 'bool' | 'string' | 'bytes' | undefined {
  if (type in INTEGER_RANGE) return 'integer';
  if (type === 'float' || type === 'double') return 'float';
  if (type === 'bool' || type === 'string' || type === 'bytes') return type;
  return undefined;
}

/**
 * An integer checked against its protobuf type's range, as a JSON number. A 64-bit value past 2^53 would lose
 * digits: it is refused rather than rounded (no configuration field needs one).
 */
export function checkInteger(value: bigint, type: string): number | string {
  const range = INTEGER_RANGE[type];
  if (!range) return `is not an integer field`;
  if (value < range[0] || value > range[1]) return `${value} is out of range for ${type}`;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
    return `${value} is too large for Serval (at most 2^53 - 1)`;
  return Number(value);
}

/** A map field's entries are keyed by their key's text, as protobuf's JSON form keys them. */
export function isMap(field: protobuf.Field): field is protobuf.Field & protobuf.MapField {
  return field instanceof protobuf.MapField;
}
