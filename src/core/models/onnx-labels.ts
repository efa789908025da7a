// The class labels an ONNX graph carries itself (classlabels_strings of ai.onnx.ml classifiers and ZipMap), read
// from the protobuf wire format directly: only the few fields on the way there are decoded.

/** Field numbers on the path ModelProto.graph → GraphProto.node → NodeProto.attribute → AttributeProto. */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_STRINGS = 9;

const utf8 = new TextDecoder();

interface Field {
  field: number;
  /** A length-delimited field's bytes; undefined for other wire types. */
  bytes: Uint8Array | undefined;
}

/** The fields of one message, in order; unknown wire types end the walk (the bytes are not what was expected). */
function* fieldsOf(bytes: Uint8Array): Generator<Field> {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw new RangeError('truncated varint');
      const byte = bytes[at++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
      if (shift > 63) throw new RangeError('varint too long');
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = varint();
      if (at + length > bytes.length) throw new RangeError('truncated field');
      yield { field, bytes: bytes.subarray(at, at + length) };
      at += length;
      continue;
    } else return;
    yield { field, bytes: undefined };
  }
}

function* childrenOf(bytes: Uint8Array, field: number): Generator<Uint8Array> {
  for (const f of fieldsOf(bytes)) if (f.field === field && f.bytes) yield f.bytes;
}

/**
 * The string class labels of the graph's first classifier node that has them, in class order; undefined when the
 * graph has none (a neural network's labels live only in model.json) or cannot be read.
 */
export function graphLabels(model: Uint8Array): string[] | undefined {
  try {
    for (const graph of childrenOf(model, MODEL_GRAPH)) {
      for (const node of childrenOf(graph, GRAPH_NODE)) {
        for (const attribute of childrenOf(node, NODE_ATTRIBUTE)) {
          let name = '';
          const strings: string[] = [];
          for (const f of fieldsOf(attribute)) {
            if (f.field === ATTRIBUTE_NAME && f.bytes) name = utf8.decode(f.bytes);
            if (f.field === ATTRIBUTE_STRINGS && f.bytes) strings.push(utf8.decode(f.bytes));
          }
          if (name === 'classlabels_strings' && strings.length > 0) return strings;
        }
      }
    }
  } catch {
    return undefined; // onnxruntime says what is wrong with a broken file; this reader only looks for labels
  }
  return undefined;
}
