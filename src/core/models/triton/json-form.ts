// Protocol buffers' JSON form of a message (what Triton's clients send as a load's `config`, and what model.json
// may hold), read against the same reflection as the text format and into the same shape. As protobuf's own JSON
// parser: field names as in the .proto or in lowerCamelCase, integers as numbers or decimal strings, enums by name
// (any case, as Triton parses them) or number, null for a field left out. Errors name the field's path.
import protobuf from 'protobufjs';
import { checkInteger, isMap, scalarKind, type ConfigMessage, type ConfigValue } from './schema.js';
import { store } from './text-format.js';

export class JsonFormError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(path === '' ? reason : `${path}: ${reason}`);
    this.name = 'JsonFormError';
  }
}

const fail = (path: string, reason: string): never => {
  throw new JsonFormError(path, reason);
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldNamed(type: protobuf.Type, key: string): protobuf.Field | undefined {
  if (Object.hasOwn(type.fields, key)) return type.fields[key];
  // protobuf's JSON names: lowerCamelCase of the field's name.
  return type.fieldsArray.find(
    (f) => f.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) === key,
  );
}

function message(type: protobuf.Type, value: unknown, path: string): ConfigMessage {
  if (!isObject(value)) return fail(path, `must be an object (${type.name})`);
  const out: ConfigMessage = {};
  const set = new Map<string, string>();
  for (const [key, raw] of Object.entries(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    const field = fieldNamed(type, key);
    if (field === undefined) return fail(at, `unknown field in ${type.name}`);
    if (set.has(field.name))
      fail(at, `"${field.name}" is given twice (as "${set.get(field.name) ?? ''}" too)`);
    if (raw === null) continue;
    const other = field.partOf?.oneof.find((member) => member !== field.name && set.has(member));
    if (other !== undefined)
      fail(at, `"${field.name}" and "${other}" are both set, but ${type.name} takes one of them`);
    set.set(field.name, key);
    const values: ConfigValue[] = [];
    if (isMap(field)) {
      if (!isObject(raw)) return fail(at, 'must be an object (a map)');
      for (const [k, v] of Object.entries(raw)) {
        const key = mapKey(field.keyType, k, `${at}.${k}`);
        values.push({ key, value: single(field, v, `${at}.${k}`) });
      }
    } else if (field.repeated) {
      if (!Array.isArray(raw)) return fail(at, 'must be a list');
      raw.forEach((v, i) => values.push(single(field, v, `${at}[${i}]`)));
    } else {
      values.push(single(field, raw, at));
    }
    store(field, values, out);
  }
  return out;
}

function mapKey(type: string, key: string, path: string): ConfigValue {
  switch (scalarKind(type)) {
    case 'string':
      return key;
    case 'bool':
      if (key !== 'true' && key !== 'false') fail(path, 'a map key here is true or false');
      return key === 'true';
    default:
      return integer(key, type, path);
  }
}

function integer(value: unknown, type: string, path: string): number {
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : '') : value;
  if (typeof text !== 'string' || !/^-?[0-9]+$/.test(text)) return fail(path, `must be an integer (${type})`);
  const checked = checkInteger(BigInt(text), type);
  return typeof checked === 'string' ? fail(path, checked) : checked;
}

function single(field: protobuf.Field, value: unknown, path: string): ConfigValue {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return message(resolved, value, path);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'number') {
      const name = resolved.valuesById[value];
      return name ?? fail(path, `${value} is not a value of ${resolved.name}`);
    }
    const name =
      typeof value === 'string'
        ? Object.keys(resolved.values).find((n) => n.toUpperCase() === value.toUpperCase())
        : undefined;
    return (
      name ??
      fail(path, `must be one of ${resolved.name}'s values (${Object.keys(resolved.values).join(', ')})`)
    );
  }
  switch (scalarKind(field.type)) {
    case 'integer':
      return integer(value, field.type, path);
    case 'float':
      if (typeof value === 'number') return value;
      if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return Number(value);
      return fail(path, 'must be a number');
    case 'bool':
      return typeof value === 'boolean' ? value : fail(path, 'must be true or false');
    case 'string':
      return typeof value === 'string' ? value : fail(path, 'must be a string');
    default:
      return fail(path, `has type ${field.type}, which the JSON reader does not know`);
  }
}

/** Reads a message of `type` from its JSON form (already parsed); errors are JsonFormErrors naming the field. */
export function readJsonForm(value: unknown, type: protobuf.Type): ConfigMessage {
  return message(type, value, '');
}
