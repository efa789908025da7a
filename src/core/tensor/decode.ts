// Input tensors as a front end received them (JSON values or raw bytes), checked against the model's inputs (names,
// datatypes, shapes, rows) and turned into onnxruntime's form: the one set of tensor checks every protocol goes
// through. Each element's own check is in elements.ts.
import { errors, excerpt, excerptList } from '../errors.js';
import { isDataType, type DataType } from './dtypes.js';
import { defaultLocate, formatShape, fromBytes, fromValues, invalid, MAX_RANK, quoted } from './elements.js';
import type { TensorMap, TensorSpec } from './tensor.js';

export { bytesElements, formatShape, indexIn, MAX_RANK } from './elements.js';

/** JSON data (flat or nested row-major) or typed gRPC contents; or raw little-endian bytes. */
export type WireData = { values: unknown } | { bytes: Uint8Array };

export interface WireTensor {
  name: string;
  /** As the client wrote it; checked against the model. */
  datatype: string;
  shape: readonly number[];
  data: WireData;
}

export interface DecodeOptions {
  /** Most rows (the batch dimension of a batch-major model) one call may carry. */
  maxRows: number;
  /** Names an element in messages and details; V1 says "instances[3].petal_length". Default: input "x" element [3, 1]. */
  locate?: (input: string, index: number, shape: readonly number[]) => Location;
  /**
   * Memory for raw elements that must be copied to start on their element size's boundary (gRPC's raw contents sit
   * anywhere in their message), at offset 0 of its own; fresh memory by default.
   */
  alignedMemory?: (bytes: number) => Uint8Array;
}

/** Where an element is, for people (`where`) and for programs (`details`). */
export interface Location {
  where: string;
  details: Record<string, unknown>;
}

/** Tensors larger than this many elements are refused before anything is allocated. */
const MAX_ELEMENTS = 2 ** 31 - 1;

const names = (specs: readonly TensorSpec[]) => excerptList(specs.map((s) => quoted(s.name)));

/** Checks the given tensors against the model's inputs; returns them in the model's input order. */
export function decodeInputs(
  specs: readonly TensorSpec[],
  tensors: readonly WireTensor[],
  options: DecodeOptions,
): TensorMap {
  const given = new Map<string, WireTensor>();
  for (const t of tensors) {
    if (!specs.some((s) => s.name === t.name)) {
      throw invalid(`unknown input ${quoted(t.name)}; the model's inputs are ${names(specs)}`, {
        input: excerpt(t.name, 64),
      });
    }
    if (given.has(t.name))
      throw invalid(`input ${quoted(t.name)} is given twice`, { input: excerpt(t.name, 64) });
    given.set(t.name, t);
  }
  const symbols = new Map<string, { size: number; input: string }>();
  const batchMajor = specs.length > 0 && specs.every((s) => typeof s.shape[0] === 'string');
  let batch: { size: number; input: string } | undefined;
  const feeds: TensorMap = {};
  for (const spec of specs) {
    const tensor = given.get(spec.name);
    if (tensor === undefined) {
      throw invalid(
        `missing input ${quoted(spec.name)} (${spec.datatype ?? spec.type} ${formatShape(spec.shape)})`,
        { input: spec.name },
      );
    }
    const datatype = checkDataType(spec, tensor);
    checkShape(spec, tensor.shape, symbols);
    if (batchMajor) {
      const rows = tensor.shape[0] as number;
      if (rows > options.maxRows) {
        throw invalid(`input ${quoted(spec.name)} has ${rows} rows; at most ${options.maxRows} are allowed`, {
          input: spec.name,
        });
      }
      // Every input of a batch-major model is one row per example: the batch sizes must agree.
      if (batch !== undefined && batch.size !== rows) {
        throw invalid(
          `input ${quoted(spec.name)} has ${rows} rows, but input ${quoted(batch.input)} has ${batch.size}`,
          {
            input: spec.name,
          },
        );
      }
      batch ??= { size: rows, input: spec.name };
    }
    const locate = (index: number) => (options.locate ?? defaultLocate)(spec.name, index, tensor.shape);
    const data =
      'bytes' in tensor.data
        ? fromBytes(datatype, tensor, tensor.data.bytes, locate, options.alignedMemory)
        : fromValues(datatype, tensor, tensor.data.values, locate);
    feeds[spec.name] = { datatype, data, dims: tensor.shape };
  }
  return feeds;
}

function checkDataType(spec: TensorSpec, tensor: WireTensor): DataType {
  const expected = spec.datatype;
  if (expected === undefined) {
    throw new errors.UNSUPPORTED_MODEL(
      `input ${quoted(spec.name)} has type ${spec.type}, which Serval cannot feed`,
    );
  }
  if (tensor.datatype !== expected) {
    const what = isDataType(tensor.datatype) ? 'datatype' : 'unknown datatype';
    throw invalid(
      `input ${quoted(spec.name)} has ${what} ${excerpt(tensor.datatype, 16)}; the model expects ${expected}`,
      { input: spec.name, expected },
    );
  }
  return expected;
}

function checkShape(
  spec: TensorSpec,
  shape: readonly number[],
  symbols: Map<string, { size: number; input: string }>,
): void {
  const expected = () => formatShape(spec.shape);
  if (shape.length > MAX_RANK) {
    throw invalid(
      `input ${quoted(spec.name)} has ${shape.length} dimensions; at most ${MAX_RANK} are allowed`,
      {
        input: spec.name,
      },
    );
  }
  if (shape.length !== spec.shape.length) {
    throw invalid(
      `input ${quoted(spec.name)} has shape ${formatShape(shape)} (rank ${shape.length}); the model expects ${expected()}`,
      { input: spec.name, expected: spec.shape.map((d) => (typeof d === 'number' ? d : -1)) },
    );
  }
  let count = 1;
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d] as number;
    const want = spec.shape[d] as number | string;
    if (!Number.isSafeInteger(size) || size < 1) {
      throw invalid(
        `input ${quoted(spec.name)} dimension ${d} is ${excerpt(size)}: dimensions are integers from 1`,
        {
          input: spec.name,
          dim: d,
        },
      );
    }
    if (typeof want === 'number' && size !== want) {
      throw invalid(
        `input ${quoted(spec.name)} dimension ${d} is ${size}; the model expects ${want} (shape ${expected()})`,
        { input: spec.name, dim: d, expected: want, received: size },
      );
    }
    if (typeof want === 'string' && want !== '') {
      // A named dynamic dim ("batch") must have one size across all inputs, as the graph requires.
      const bound = symbols.get(want);
      if (bound === undefined) symbols.set(want, { size, input: spec.name });
      else if (bound.size !== size) {
        throw invalid(
          `input ${quoted(spec.name)} dimension ${d} (${quoted(want)}) is ${size}, but input ${quoted(bound.input)} has ${bound.size}`,
          { input: spec.name, dim: d },
        );
      }
    }
    count *= size;
  }
  if (count > MAX_ELEMENTS) {
    throw invalid(`input ${quoted(spec.name)} has ${count} elements; at most ${MAX_ELEMENTS} are allowed`, {
      input: spec.name,
    });
  }
}
