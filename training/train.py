#!/usr/bin/env python3
"""Train Serval's example models and write them as ONNX files.

Run from the repository root:

    /usr/bin/python3 training/train.py

Needs only Debian's python3-sklearn and python3-onnx (no skl2onnx, no
onnxruntime): each ONNX graph is written by hand with ``onnx.helper`` from the
weights of the fitted scikit-learn estimator.

It writes, for each model, a directory ``<name>/1/`` holding:

* ``model.onnx``  - the graph (one input "input", float32 [batch, F]);
* ``model.json``  - the descriptor Serval reads (task, features, labels, outputs);
* ``golden.json`` - golden inputs and the *training framework's* outputs
  (scikit-learn's own predict / predict_proba), used by the tests to check
  that serving the ONNX file reproduces what was trained.

Models:

* ``models/iris``     - LogisticRegression (multinomial) on the iris data set;
* ``models/digits``   - MLPClassifier (one hidden ReLU layer) on the digits data set;
* ``models/diabetes`` - Ridge regression on the diabetes data set;
* ``test/fixtures/models/heavy`` - a synthetic, deliberately slow model (~80 ms
  per call on one CPU thread) for benchmarks and event-loop tests.

The output is reproducible: fixed random_state everywhere, single-threaded BLAS,
no timestamps in the ONNX files, so two runs give byte-identical files.
"""

import os

# Pin BLAS to one thread *before* numpy is imported: multi-threaded BLAS may sum
# in a different order from run to run, which would make MLP training (and so
# the committed weights) differ in the last bits.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

# Any non-converged fit is a bug in this script: fail instead of warning.
warnings.simplefilter("error", ConvergenceWarning)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FIXTURES = ROOT / "test" / "fixtures" / "models"

OPSET = 13  # well supported by onnx 1.12 and by every recent onnxruntime
IR_VERSION = 8  # the IR version that goes with opsets 13..17
PRODUCER = "serval-training"
PRODUCER_VERSION = "1"


# --------------------------------------------------------------------------
# ONNX helpers
# --------------------------------------------------------------------------


def f32(name, array):
    """A float32 initializer."""
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def i64(name, array):
    """An int64 initializer (shapes, axes)."""
    return numpy_helper.from_array(np.asarray(array, dtype=np.int64), name)


def input_info(n_features):
    """The single model input: "input", float32 [batch, n_features]."""
    return helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n_features])


def classifier_outputs(n_classes):
    """Outputs shared by the classifiers: "label" int64 [batch] and "probabilities" float32 [batch, C]."""
    return [
        helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", n_classes]),
    ]


def value_output():
    """Output of the regressions: "value" float32 [batch, 1]."""
    return helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch", 1])


def softmax_argmax_nodes(logits):
    """probabilities = Softmax(logits, axis=1); label = ArgMax(probabilities, axis=1)."""
    return [
        helper.make_node("Softmax", [logits], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]


def make_model(name, doc, nodes, n_features, outputs, initializers):
    """Assemble, check and return a ModelProto (deterministic: no timestamps)."""
    graph = helper.make_graph(
        nodes,
        name,
        [input_info(n_features)],
        outputs,
        initializer=initializers,
        doc_string=doc,
    )
    model = helper.make_model(
        graph,
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        doc_string=doc,
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------


def write_json(path, data):
    """2-space indented JSON with a trailing newline (floats as Python repr)."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_model_dir(directory, model, descriptor, golden):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.onnx").write_bytes(model.SerializeToString())
    write_json(directory / "model.json", descriptor)
    write_json(directory / "golden.json", golden)
    print(f"wrote {directory.relative_to(ROOT)}/  (model.onnx: {(directory / 'model.onnx').stat().st_size} bytes)")


def floats(array):
    """numpy array -> nested lists of Python floats (float64)."""
    return np.asarray(array, dtype=np.float64).tolist()


# --------------------------------------------------------------------------
# 1. iris: multinomial logistic regression
# --------------------------------------------------------------------------

# Golden rows (indices into load_iris): setosa 0-49, versicolor 50-99,
# virginica 100-149. Rows 70, 72, 77, 106, 119 and 133 are the borderline
# versicolor/virginica flowers (top two probabilities within ~0.2 of each
# other); sklearn gets 70, 77 and 106 wrong, which is fine: golden.json
# records what sklearn predicts, not the true species.
IRIS_GOLDEN_ROWS = [0, 22, 44, 50, 65, 70, 72, 77, 106, 119, 133, 149]


def build_iris():
    data = load_iris()
    X, y = data.data, data.target
    clf = LogisticRegression(multi_class="multinomial", max_iter=1000, random_state=0)
    clf.fit(X, y)
    print(f"iris: training accuracy {clf.score(X, y):.4f}, {clf.n_iter_[0]} iterations")

    # predict_proba for multinomial LR is softmax(X @ coef_.T + intercept_).
    nodes = [
        helper.make_node("MatMul", ["input", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits"]),
        *softmax_argmax_nodes("logits"),
    ]
    doc = (
        "Iris species classifier: scikit-learn LogisticRegression (multinomial) trained on all 150 rows "
        "of the iris data set. Input: sepal length, sepal width, petal length, petal width in cm. "
        "probabilities = Softmax(input @ W + b); label = ArgMax(probabilities) "
        "(0 setosa, 1 versicolor, 2 virginica)."
    )
    model = make_model(
        "iris_logistic_regression",
        doc,
        nodes,
        X.shape[1],
        classifier_outputs(len(clf.classes_)),
        [f32("W", clf.coef_.T), f32("b", clf.intercept_)],
    )

    label_names = list(data.target_names)  # ['setosa', 'versicolor', 'virginica']
    descriptor = {
        "task": "classification",
        "description": "Iris species from sepal and petal measurements in cm (scikit-learn LogisticRegression).",
        "features": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "labels": label_names,
        "outputs": {"label": "label", "probabilities": "probabilities"},
    }
    Xg = X[IRIS_GOLDEN_ROWS]
    golden = {
        "instances": floats(Xg),
        "labels": [label_names[int(c)] for c in clf.predict(Xg)],
        "probabilities": floats(clf.predict_proba(Xg)),
    }
    write_model_dir(MODELS / "iris" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 2. digits: multi-layer perceptron, one hidden ReLU layer
# --------------------------------------------------------------------------

# Golden rows (indices into load_digits): the first ten rows are the digits
# 0..9 in order, so this covers every class once.
DIGITS_GOLDEN_ROWS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def build_digits():
    data = load_digits()
    X, y = data.data, data.target
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=2000, random_state=0)
    clf.fit(X, y)
    print(f"digits: training accuracy {clf.score(X, y):.4f}, {clf.n_iter_} iterations")
    assert clf.out_activation_ == "softmax"

    # predict_proba is softmax(relu(X @ W1 + b1) @ W2 + b2).
    (W1, W2), (b1, b2) = clf.coefs_, clf.intercepts_
    nodes = [
        helper.make_node("MatMul", ["input", "W1"], ["xw1"]),
        helper.make_node("Add", ["xw1", "b1"], ["z1"]),
        helper.make_node("Relu", ["z1"], ["h1"]),
        helper.make_node("MatMul", ["h1", "W2"], ["hw2"]),
        helper.make_node("Add", ["hw2", "b2"], ["logits"]),
        *softmax_argmax_nodes("logits"),
    ]
    doc = (
        "Handwritten digit classifier: scikit-learn MLPClassifier (one hidden layer of 32 ReLU units) "
        "trained on all 1797 rows of the digits data set. Input: the 64 pixel intensities (0-16) of an "
        "8x8 image, row-major. probabilities = Softmax(Relu(input @ W1 + b1) @ W2 + b2); "
        "label = ArgMax(probabilities) (the digit 0-9)."
    )
    model = make_model(
        "digits_mlp",
        doc,
        nodes,
        X.shape[1],
        classifier_outputs(len(clf.classes_)),
        [f32("W1", W1), f32("b1", b1), f32("W2", W2), f32("b2", b2)],
    )

    label_names = [str(int(c)) for c in clf.classes_]  # "0".."9"
    descriptor = {
        "task": "classification",
        "description": (
            "Handwritten digit (0-9) from an 8x8 image given as 64 pixel intensities 0-16, "
            "row-major (scikit-learn MLPClassifier)."
        ),
        "features": list(data.feature_names),  # pixel_0_0 .. pixel_7_7
        "labels": label_names,
        "outputs": {"label": "label", "probabilities": "probabilities"},
    }
    Xg = X[DIGITS_GOLDEN_ROWS]
    golden = {
        "instances": floats(Xg),
        "labels": [label_names[int(c)] for c in clf.predict(Xg)],
        "probabilities": floats(clf.predict_proba(Xg)),
    }
    write_model_dir(MODELS / "digits" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 3. diabetes: ridge regression
# --------------------------------------------------------------------------

# Golden rows (indices into load_diabetes), spread over the 442 rows.
DIABETES_GOLDEN_ROWS = [0, 1, 2, 50, 100, 150, 200, 300, 400, 441]


def build_diabetes():
    data = load_diabetes()  # the standard, already mean-centred and scaled version
    X, y = data.data, data.target
    reg = Ridge(alpha=1.0, random_state=0)
    reg.fit(X, y)
    print(f"diabetes: training R^2 {reg.score(X, y):.4f}")

    # predict is X @ coef_ + intercept_; keep the output 2-D: [batch, 1].
    nodes = [
        helper.make_node("MatMul", ["input", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["value"]),
    ]
    doc = (
        "Diabetes disease progression one year after baseline: scikit-learn Ridge(alpha=1.0) trained on "
        "all 442 rows of the diabetes data set. Input: the 10 standard (mean-centred, scaled) baseline "
        "variables age, sex, bmi, bp, s1..s6. value = input @ w + b."
    )
    model = make_model(
        "diabetes_ridge",
        doc,
        nodes,
        X.shape[1],
        [value_output()],
        [f32("w", reg.coef_.reshape(-1, 1)), f32("b", [reg.intercept_])],
    )

    descriptor = {
        "task": "regression",
        "description": (
            "Diabetes disease progression one year after baseline, from 10 mean-centred and scaled "
            "baseline variables (scikit-learn Ridge)."
        ),
        "features": list(data.feature_names),  # age, sex, bmi, bp, s1..s6
        "outputs": {"value": "value"},
    }
    Xg = X[DIABETES_GOLDEN_ROWS]
    golden = {
        "instances": floats(Xg),
        "values": floats(reg.predict(Xg)),
    }
    write_model_dir(MODELS / "diabetes" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 4. heavy: a deliberately slow synthetic model
# --------------------------------------------------------------------------

# Size of the square matrices and length of the MatMul chain. One 512x512
# MatMul is ~134 M multiply-adds, about 2-3 ms on one AVX-512 CPU thread with
# onnxruntime 1.30; 36 of them measured 75-85 ms per single-row call on the
# development machine (up to ~110 ms when the machine was busy).
HEAVY_N = 512
HEAVY_MATMULS = 36
# The cheap, per-row part: value = input @ HEAVY_W + (mean of the slow part).
# Powers of two, so float32 and float64 give exactly the same answer.
HEAVY_W = [0.5, 0.25, -0.125, 1.0]


def build_heavy():
    """value = input @ w + mean(chain), where chain is HEAVY_MATMULS 512x512 MatMuls.

    The slow chain must depend on the input, otherwise onnxruntime's constant
    folding would compute it once when the session is created. It also must not
    make one row's answer depend on the other rows of the batch (the server may
    batch requests). So the chain starts from

        A = Expand(Clip(ReduceSum(input), 0, 0), [N, N]) + K     (K = 1/N everywhere)

    which is numerically just K for any input that is not NaN (Clip maps even an
    overflowed, infinite sum to 0), but is a run-time value as far as
    onnxruntime is concerned. Then M_{i+1} = M_i @ K. With K = 1/N
    (a power of two) every M_i is exactly 1/N everywhere, in float32 too, so
    the values stay bounded and the result is exact: mean(chain) = 1/N.
    The big matrices are built at run time (ConstantOfShape / Expand), so the
    file stays a few hundred bytes. Cost is per call, not per row.
    """
    n = HEAVY_N
    k = 1.0 / n
    nodes = [
        # A scalar that depends on the input but is always 0 (unless the input holds NaN).
        helper.make_node("ReduceSum", ["input"], ["input_sum"], keepdims=0),
        helper.make_node("Clip", ["input_sum", "zero", "zero"], ["dependency"]),
        # K: an N x N matrix of 1/N, built at run time.
        helper.make_node(
            "ConstantOfShape",
            ["square_shape"],
            ["K"],
            value=helper.make_tensor("k", TensorProto.FLOAT, [1], [k]),
        ),
        # A = dependency broadcast to N x N, plus K.
        helper.make_node("Expand", ["dependency", "square_shape"], ["dependency_nxn"]),
        helper.make_node("Add", ["dependency_nxn", "K"], ["M0"]),
    ]
    for i in range(HEAVY_MATMULS):
        nodes.append(helper.make_node("MatMul", [f"M{i}", "K"], [f"M{i + 1}"]))
    nodes += [
        # mean of the final matrix: a scalar (exactly 1/N).
        helper.make_node("ReduceMean", [f"M{HEAVY_MATMULS}"], ["chain_mean"], keepdims=0),
        # The per-row part: [batch, 4] @ [4, 1] -> [batch, 1], plus the scalar.
        helper.make_node("MatMul", ["input", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "chain_mean"], ["value"]),
    ]
    doc = (
        "A deliberately slow synthetic model for benchmarks and tests (~80 ms per call on one CPU "
        f"thread). value = input @ w + mean(M), where M is a chain of {HEAVY_MATMULS} {n}x{n} MatMuls "
        "built at run time from the input (so it cannot be constant-folded); mean(M) = 1/512 for any "
        "input without NaN, so each row's value depends only on that row. w = [0.5, 0.25, -0.125, 1.0]."
    )
    model = make_model(
        "heavy_synthetic",
        doc,
        nodes,
        4,
        [value_output()],
        [
            f32("zero", 0.0),
            i64("square_shape", [n, n]),
            f32("w", np.reshape(HEAVY_W, (4, 1))),
        ],
    )

    descriptor = {
        "task": "regression",
        "description": "A deliberately slow synthetic model for benchmarks and tests (~80 ms per call).",
        "features": ["a", "b", "c", "d"],
        "outputs": {"value": "value"},
    }

    # Golden values: the graph replicated in numpy, float64.
    X = np.array([[1, 2, 3, 4], [0, 0, 0, 0]], dtype=np.float64)
    K = np.full((n, n), k)
    M = np.full((n, n), np.clip(X.sum(), 0.0, 0.0)) + K
    for _ in range(HEAVY_MATMULS):
        M = M @ K
    values = X @ np.reshape(HEAVY_W, (4, 1)) + M.mean()
    golden = {
        "note": (
            "No training framework for this synthetic model: the values are the graph replicated with "
            "numpy in float64 (value = input @ [0.5, 0.25, -0.125, 1.0] + 1/512)."
        ),
        "instances": floats(X),
        "values": floats(values.ravel()),
    }
    write_model_dir(FIXTURES / "heavy" / "1", model, descriptor, golden)


def main():
    build_iris()
    build_digits()
    build_diabetes()
    build_heavy()


if __name__ == "__main__":
    main()
