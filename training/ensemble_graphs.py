#!/usr/bin/env python3
"""Write the preprocessing graph of the test ensemble iris_mm, and the ensemble's golden outputs.

Run from the repository root:

    /usr/bin/python3 training/ensemble_graphs.py

Needs only Debian's python3-onnx. The ensemble (test/fixtures/triton/ensemble/iris_mm/config.pbtxt) chains two
steps: ``millimetres`` (written here by hand with onnx.helper: float32 [batch, 4] measurements in mm divided by
10) and the bundled Iris classifier (models/iris). Its golden outputs are scikit-learn's, from
models/iris/1/golden.json: the instances in mm are whole numbers (exact in float32), and an IEEE division is
correctly rounded, so float32(x * 10) / 10 is float32(x), the very input Iris's golden outputs were computed for.

The output is reproducible: no timestamps, no randomness; two runs give byte-identical files.
"""

import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from oip import initializer, make_model, tensor, write_golden, write_model_dir

ROOT = Path(__file__).resolve().parent.parent
ENSEMBLES = ROOT / "test" / "fixtures" / "triton" / "ensemble"


def build_millimetres(instances_mm):
    nodes = [helper.make_node("Div", ["millimetres", "ten"], ["centimetres"])]
    doc = "Iris measurements in millimetres to centimetres: float32 [batch, 4] divided by 10."
    model = make_model(
        "millimetres_to_centimetres",
        doc,
        nodes,
        [helper.make_tensor_value_info("millimetres", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("centimetres", TensorProto.FLOAT, ["batch", 4])],
        [initializer("ten", 10.0, np.float32)],
    )
    descriptor = {"task": "raw", "description": "Test fixture: " + doc}
    centimetres = instances_mm / np.float32(10)
    assert centimetres.dtype == np.float32
    golden = {
        "source": "numpy: float32 division by 10",
        "tolerance": 0,
        "inputs": [tensor("millimetres", instances_mm)],
        "outputs": [tensor("centimetres", centimetres)],
    }
    write_model_dir(ROOT, ENSEMBLES / "millimetres" / "1", model.SerializeToString(), descriptor, golden)
    return centimetres


def main():
    iris = json.loads((ROOT / "models" / "iris" / "1" / "golden.json").read_text(encoding="utf-8"))
    instances = np.asarray(iris["instances"], dtype=np.float32)
    instances_mm = np.round(np.asarray(iris["instances"], dtype=np.float64) * 10).astype(np.float32)
    centimetres = build_millimetres(instances_mm)
    assert (centimetres == instances).all(), "float32(x * 10) / 10 must give back float32(x)"
    classes = ["setosa", "versicolor", "virginica"]
    golden = {
        "source": "scikit-learn (models/iris/1/golden.json) for the same measurements in centimetres",
        "tolerance": 1e-5,
        "inputs": [tensor("MILLIMETRES", instances_mm)],
        "outputs": [
            tensor("LABEL", np.asarray([[classes.index(c)] for c in iris["labels"]], dtype=np.int64)),
            tensor("PROBABILITIES", np.asarray(iris["probabilities"], dtype=np.float64)),
        ],
    }
    write_golden(ENSEMBLES / "iris_mm" / "1" / "golden.json", golden)
    print("wrote test/fixtures/triton/ensemble/iris_mm/1/golden.json")


if __name__ == "__main__":
    main()
