// KServe V1 / TF Serving request bodies as the core's wire tensors: instances (row format), laid out by the model's
// signature, and inputs (columnar format). The core checks their values, as it does every protocol's.
import { excerpt } from '../../core/errors.js';
import type { ReadyModel } from '../../core/models/repository.js';
import type { TabularInput } from '../../core/models/signature.js';
import { formatShape, indexIn, type Location, type WireTensor } from '../../core/tensor/decode.js';
import type { TensorSpec } from '../../core/tensor/tensor.js';
import { bytesRows, invalid, isObject, isPayload, payloadTensor } from './payloads.js';

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((n) => `"${excerpt(n, 32)}"`);
  return shown.join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
}

/** Reorders a named instance into input order, naming any unknown or missing features. */
function columnsOf(instance: Record<string, unknown>, input: TabularInput, index: number): unknown[] {
  const { features, columns } = input;
  if (!features || !columns) {
    throw invalid(`instances[${index}] is an object, but this model has no feature names: send an array`, {
      instance: index,
    });
  }
  const unknown = Object.keys(instance).filter((k) => !columns.has(k));
  if (unknown.length > 0) {
    throw invalid(
      `instances[${index}] has unknown feature(s) ${listNames(unknown)}; expected ${listNames(features)}`,
      { instance: index, unknown: unknown.slice(0, 5).map((n) => excerpt(n, 32)) },
    );
  }
  const missing = features.filter((f) => !Object.hasOwn(instance, f));
  if (missing.length > 0) {
    throw invalid(`instances[${index}] is missing feature(s) ${listNames(missing)}`, {
      instance: index,
      missing,
    });
  }
  return features.map((f) => instance[f]);
}

/** A [batch, features] model: each instance is an array in input order or an object of named features. */
function tabularTensor(input: TabularInput, instances: readonly unknown[]): WireTensor {
  const first = instances[0];
  const width = input.width ?? (Array.isArray(first) ? first.length : 0);
  const rows = instances.map((instance, i) => {
    const row = Array.isArray(instance)
      ? (instance as unknown[])
      : isObject(instance)
        ? columnsOf(instance, input, i)
        : undefined;
    if (row === undefined) {
      throw invalid(`instances[${i}] must be an array of feature values or an object of named features`, {
        instance: i,
      });
    }
    if (row.length !== width) {
      const names = input.features ? ` (${listNames(input.features)})` : '';
      throw invalid(`instances[${i}] has ${row.length} values; the model expects ${width}${names}`, {
        instance: i,
        expected: width,
        received: row.length,
      });
    }
    return row;
  });
  return { name: input.name, datatype: input.datatype, shape: [rows.length, width], data: { values: rows } };
}

/** The dims of nested arrays, following first elements: [[1, 2], [3, 4]] → [2, 2]; a scalar → []. */
function shapeOf(value: unknown): number[] {
  const dims: number[] = [];
  while (Array.isArray(value)) {
    dims.push(value.length);
    value = value[0];
  }
  return dims;
}

/**
 * One row of an input (an instance without the batch dim) has the graph's shape past the batch, nested, or is the
 * same values flat (64 pixels for a [1, 8, 8] image).
 */
function rowTensor(spec: TensorSpec, rows: readonly unknown[], where: (i: number) => string): WireTensor {
  const inner = spec.shape.slice(1).map((d, k) => (typeof d === 'number' ? d : (shapeOf(rows[0])[k] ?? 0)));
  const size = inner.reduce((a, b) => a * b, 1);
  let flat = false;
  for (const [i, row] of rows.entries()) {
    const dims = shapeOf(row);
    if (dims.length === inner.length && dims.every((d, k) => d === inner[k])) continue;
    if (inner.length > 1 && dims.length === 1 && dims[0] === size) {
      flat = true;
      continue;
    }
    throw invalid(
      `${where(i)} has shape ${formatShape(dims)}; the model's "${spec.name}" takes ` +
        `${formatShape(spec.shape.slice(1))} per instance (nested, or ${size} values flat)`,
      { instance: i, input: spec.name },
    );
  }
  const values = flat ? rows.flatMap((row) => (row as unknown[]).flat(inner.length)) : rows;
  return {
    name: spec.name,
    datatype: spec.datatype ?? spec.type,
    shape: [rows.length, ...inner],
    data: { values },
  };
}

/** One input's rows: the files of an image input, or values (a BYTES input's binary values as their bytes). */
function inputTensor(
  model: ReadyModel,
  spec: TensorSpec,
  rows: readonly unknown[],
  where: (i: number) => string,
): WireTensor {
  return payloadTensor(model, spec, rows, where) ?? rowTensor(spec, bytesRows(spec, rows, where), where);
}

/** The inputs of one V1 request as the core reads them, and how its messages name an element. */
export interface V1Inputs {
  inputs: WireTensor[];
  locate?: (input: string, index: number, shape: readonly number[]) => Location;
}

/** V1 element locations: instances[3].petal_length, instances[1][0][2], instances[0].country[0]. */
function instanceLocator(model: ReadyModel) {
  const tabular = model.signature.tabular;
  const several = model.runtime.inputs.length > 1;
  return (input: string, index: number, shape: readonly number[]): Location => {
    const [instance, ...at] = indexIn(shape, index) as [number, ...number[]];
    const feature = tabular && at.length === 1 ? tabular.features?.[at[0] as number] : undefined;
    if (feature !== undefined) {
      return {
        where: `instances[${instance}].${excerpt(feature, 32)}`,
        details: { instance, field: feature },
      };
    }
    const named = several ? `.${input}` : '';
    const where = `instances[${instance}]${named}${at.map((k) => `[${k}]`).join('')}`;
    return { where, details: { instance, input, index: at } };
  };
}

/** A single-input model's rows: a row may name the input ({"<input>": row}); a binary value under another name is refused. */
function singleInputRows(spec: TensorSpec, instances: readonly unknown[]): unknown[] {
  return instances.map((instance, i) => {
    if (!isObject(instance) || isPayload(instance)) return instance;
    const keys = Object.keys(instance);
    if (keys.length === 1 && spec.name in instance) return instance[spec.name];
    // A file part (or a named binary value) for another name: the name is wrong, not the value.
    const stray = keys.find((k) => isPayload(instance[k]));
    if (stray !== undefined) {
      throw invalid(
        `instances[${i}] names "${excerpt(stray, 64)}", which is not an input; the model's input is "${spec.name}"`,
        { instance: i, unknown: excerpt(stray, 64) },
      );
    }
    return instance;
  });
}

/** Every row of a several-input model is an object of exactly the model's inputs. */
function checkNamedRows(specs: readonly TensorSpec[], instances: readonly unknown[]): void {
  const names = listNames(specs.map((s) => s.name));
  instances.forEach((instance, i) => {
    if (!isObject(instance))
      throw invalid(`instances[${i}] must be an object of the model's inputs (${names})`, { instance: i });
    const unknown = Object.keys(instance).filter((k) => !specs.some((s) => s.name === k));
    const missing = specs.filter((s) => !Object.hasOwn(instance, s.name)).map((s) => s.name);
    if (unknown.length > 0 || missing.length > 0) {
      const what = unknown.length > 0 ? `unknown input(s) ${listNames(unknown)}` : `no ${listNames(missing)}`;
      throw invalid(`instances[${i}] has ${what}; the model's inputs are ${names}`, { instance: i });
    }
  });
}

/**
 * Row format (TF Serving's "instances"): a tabular model takes arrays or objects of named features; a model with
 * one other input takes that input's rows; a model with several inputs takes objects of named input rows.
 */
export function instanceInputs(model: ReadyModel, instances: readonly unknown[]): V1Inputs {
  const { signature, runtime } = model;
  const specs = runtime.inputs;
  let tensors: WireTensor[];
  if (signature.tabular) {
    if (isPayload(instances[0])) {
      throw invalid(
        `instances[0]: the model takes feature values, not binary values ({"b64": ...} or a file)`,
        {
          instance: 0,
        },
      );
    }
    tensors = [tabularTensor(signature.tabular, instances)];
  } else if (specs.length === 1) {
    const spec = specs[0] as TensorSpec;
    tensors = [inputTensor(model, spec, singleInputRows(spec, instances), (i) => `instances[${i}]`)];
  } else {
    checkNamedRows(specs, instances);
    tensors = specs.map((spec) =>
      inputTensor(
        model,
        spec,
        instances.map((instance) => (instance as Record<string, unknown>)[spec.name]),
        (i) => `instances[${i}].${spec.name}`,
      ),
    );
  }
  return { inputs: tensors, locate: instanceLocator(model) };
}

/** Columnar format (TF Serving's "inputs"): one tensor for a single-input model, or an object of named tensors. */
export function columnInputs(model: ReadyModel, inputs: unknown): V1Inputs {
  const specs = model.runtime.inputs;
  const named = isObject(inputs)
    ? inputs
    : specs.length === 1
      ? { [(specs[0] as TensorSpec).name]: inputs }
      : undefined;
  if (named === undefined) {
    throw invalid(`"inputs" must be an object of named tensors: the model has ${specs.length} inputs`, {});
  }
  const tensors = Object.entries(named).map(([name, value]): WireTensor => {
    const spec = specs.find((s) => s.name === name);
    const where = (i: number) => `inputs.${excerpt(name, 64)}[${i}]`;
    const rows = spec && Array.isArray(value) ? value : undefined;
    const files = rows && payloadTensor(model, spec as TensorSpec, rows, where);
    if (files) return files;
    const values = rows ? bytesRows(spec as TensorSpec, rows, where) : value;
    return { name, datatype: spec?.datatype ?? spec?.type ?? '', shape: shapeOf(value), data: { values } };
  });
  return { inputs: tensors };
}
