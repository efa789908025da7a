"""Helpers shared by train_torch.py and train_graphs.py: ONNX assembly and the OIP-style golden.json.

Not a script: the two training scripts import it (Python puts the script's own
directory on sys.path, so ``/usr/bin/python3 training/train_torch.py`` finds it).

golden.json layout (the Open Inference Protocol's JSON tensors)::

    {
      "source": "what computed the outputs",
      "tolerance": 1e-05,
      "inputs":  [{"name": ..., "datatype": "FP32", "shape": [2, 3], "data": [... flat, row-major ...]}],
      "outputs": [{"name": ..., "datatype": "INT64", "shape": [2], "data": [...]}]
    }

"tolerance" is an absolute tolerance for the floating-point outputs
(|served - golden| <= tolerance); every other datatype must match exactly.
Floating-point data are written as the exact value of the float32 / float16 /
float64 number (a float32 0.1 is written 0.10000000149011612), so a JSON
number read back as a double and stored into a Float32Array gives back the very
same bits. Integers are written exactly, even beyond 2**53 (JSON.parse rounds
those: read them with a bigint-aware parser). BOOL data are true/false, BYTES
data are JSON strings (UTF-8 text).
"""

import json

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 13  # as train.py
IR_VERSION = 8  # as train.py
PRODUCER = "serval-training"
PRODUCER_VERSION = "1"

# numpy dtype -> Open Inference Protocol datatype name.
DATATYPES = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "UINT8",
    np.dtype(np.uint16): "UINT16",
    np.dtype(np.uint32): "UINT32",
    np.dtype(np.uint64): "UINT64",
    np.dtype(np.int8): "INT8",
    np.dtype(np.int16): "INT16",
    np.dtype(np.int32): "INT32",
    np.dtype(np.int64): "INT64",
    np.dtype(np.float16): "FP16",
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(np.object_): "BYTES",  # numpy arrays of Python str
}


# --------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------


def initializer(name, array, dtype):
    """An initializer holding ``array`` as ``dtype``."""
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def make_model(name, doc, nodes, inputs, outputs, initializers, ml_opset=None):
    """Assemble, check and return a ModelProto (deterministic: no timestamps).

    ml_opset: the ai.onnx.ml opset version to import, for graphs that use it.
    Unnamed nodes are named after their first output, so that onnxruntime's run-time
    errors say which node failed ("... running Gather node. Name:'vectors' ...").
    """
    for node in nodes:
        if not node.name:
            node.name = node.output[0]
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers, doc_string=doc)
    opsets = [helper.make_opsetid("", OPSET)]
    if ml_opset is not None:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    model = helper.make_model(
        graph,
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        doc_string=doc,
        opset_imports=opsets,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------
# golden.json tensors
# --------------------------------------------------------------------------


def _value(x, datatype):
    if datatype == "BOOL":
        return bool(x)
    if datatype == "BYTES":
        assert isinstance(x, str), x
        return x
    if datatype in ("FP16", "FP32", "FP64"):
        v = float(x)  # exact: every float16 / float32 is a float64
        assert np.isfinite(v), "JSON has no NaN or infinity"
        return v
    return int(x)  # exact, any size


def tensor(name, array):
    """One OIP tensor: name, datatype, shape and the flat row-major data."""
    array = np.asarray(array)
    datatype = DATATYPES[array.dtype]
    return {
        "name": name,
        "datatype": datatype,
        "shape": [int(d) for d in array.shape],
        "data": [_value(x, datatype) for x in array.reshape(-1)],
    }


def golden(source, tolerance, inputs, outputs, note=None):
    """A golden.json document. inputs / outputs: lists of tensor(...) (or hand-written dicts)."""
    doc = {"source": source, "tolerance": tolerance}
    if note is not None:
        doc["note"] = note
    doc["inputs"] = inputs
    doc["outputs"] = outputs
    return doc


# --------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------


def _compact(value, indent=0):
    """JSON, 2-space indented, except that lists of scalars (shapes, data) stay on one line."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_compact(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + _compact(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def write_json(path, data):
    """model.json: as train.py writes them (2-space indent, trailing newline)."""
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_golden(path, data):
    """golden.json: indented, data arrays on one line, UTF-8 strings as they are, trailing newline."""
    path.write_text(_compact(data) + "\n", encoding="utf-8")


def write_model_dir(root, directory, model_bytes, descriptor, golden_doc):
    """Write model.onnx, model.json and golden.json into ``directory`` (``root``: for the printed path)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.onnx").write_bytes(model_bytes)
    write_json(directory / "model.json", descriptor)
    write_golden(directory / "golden.json", golden_doc)
    sizes = ", ".join(f"{f}: {(directory / f).stat().st_size} bytes" for f in ("model.onnx", "golden.json"))
    print(f"wrote {directory.relative_to(root)}/  ({sizes})")
