#!/usr/bin/env python3
"""Write Serval's typed, multi-input example model and the new test fixtures, as hand-built ONNX graphs.

Run from the repository root:

    /usr/bin/python3 training/train_graphs.py

Needs only Debian's python3-sklearn and python3-onnx. As in train.py, every
graph is written by hand with ``onnx.helper``; unlike train.py, golden.json is
in the Open Inference Protocol tensor layout (see oip.py), since these models
have several inputs, several outputs and non-float dtypes.

Models:

* ``models/fraud`` - card transaction fraud: a scikit-learn LogisticRegression
  on synthetic transactions (fixed numpy seed) with three inputs of different
  dtypes (amount float32, items int64, country string through ai.onnx.ml
  LabelEncoder) and three outputs (probabilities float32, label int64,
  flagged bool). Golden outputs: scikit-learn's predict_proba / predict.

Test fixtures under ``test/fixtures/models`` (no training framework: golden
outputs are the graph replicated with numpy):

* ``large``       - a large input (float32 [batch, 3, 224, 224]) and cheap compute (a mean);
* ``fixed-batch`` - an input whose batch dimension is fixed at 1;
* ``embedding``   - an int64 token input indexing a [100, 4] table (ids >= 100 make the run fail);
* ``dtypes``      - one Identity per tensor datatype onnxruntime-node can feed and fetch;
* ``fp16``        - float16 in and out;
* ``pets``        - an ai.onnx.ml LinearClassifier whose class labels are strings in the graph itself
                    (classlabels_strings, as scikit-learn classifiers fitted on strings export).

The output is reproducible: fixed seeds, single-threaded BLAS, no timestamps,
so two runs give byte-identical files.
"""

import os
import platform

# Pin BLAS to one thread *before* numpy is imported (as train.py), and to its
# baseline kernels rather than the AVX2 / AVX-512 ones this CPU may have, so that
# the fitted weights should not depend on which x86-64 CPU runs the script.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"
if platform.machine() in ("x86_64", "AMD64"):
    os.environ["OPENBLAS_CORETYPE"] = "Prescott"

import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

sys.dont_write_bytecode = True  # importing oip.py must not leave a training/__pycache__ behind
import oip  # noqa: E402
from oip import initializer, make_model, tensor  # noqa: E402

warnings.simplefilter("error", ConvergenceWarning)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FIXTURES = ROOT / "test" / "fixtures" / "models"

NUMPY_SOURCE = f"numpy {np.__version__}: the graph replicated"


def value_info(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


def write(directory, model, descriptor, golden):
    oip.write_model_dir(ROOT, directory, model.SerializeToString(), descriptor, golden)


# --------------------------------------------------------------------------
# 1. fraud: several inputs of different dtypes (one a string), several outputs
# --------------------------------------------------------------------------

FRAUD_SEED = 0
FRAUD_ROWS = 4000
# Card-issuing countries seen in training, how often, and the (made-up) true
# log-odds offset each adds to the chance a transaction is fraud.
FRAUD_COUNTRIES = {
    "DE": (0.25, -1.2),
    "FR": (0.20, -0.6),
    "GB": (0.15, 0.0),
    "NL": (0.10, -1.0),
    "ES": (0.10, 0.4),
    "IT": (0.10, 0.8),
    "US": (0.06, 2.0),
    "BR": (0.04, 3.2),
}
# Strings the model never saw: LabelEncoder maps them to the "no country" slot.
FRAUD_UNKNOWN = ["JP", "fr", ""]


def fraud_data():
    """Synthetic card transactions: amount (EUR, float32 cents), items (int64), country (str), is_fraud."""
    rng = np.random.default_rng(FRAUD_SEED)
    codes = list(FRAUD_COUNTRIES)
    weights = np.array([FRAUD_COUNTRIES[c][0] for c in codes])
    country = rng.choice(codes, size=FRAUD_ROWS, p=weights / weights.sum())
    # Amounts in cents, then float32, so that scikit-learn sees exactly the numbers the ONNX graph gets.
    amount = np.round(np.clip(rng.lognormal(4.0, 1.0, FRAUD_ROWS), 1.0, 5000.0), 2).astype(np.float32)
    items = (1 + rng.poisson(1.5, FRAUD_ROWS)).astype(np.int64)
    offset = np.array([FRAUD_COUNTRIES[c][1] for c in country])
    true_logit = -5.0 + 0.03 * amount + 0.6 * (items - 1) + offset
    is_fraud = (rng.random(FRAUD_ROWS) < 1.0 / (1.0 + np.exp(-true_logit))).astype(np.int64)
    return amount, items, country.astype(object), is_fraud


def fraud_table(amount, items, country):
    """The scikit-learn design matrix: an object array [amount, items, country] (no pandas needed)."""
    table = np.empty((len(amount), 3), dtype=object)
    table[:, 0] = amount.astype(np.float64)
    table[:, 1] = items.astype(np.float64)
    table[:, 2] = country
    return table


def build_fraud():
    amount, items, country, y = fraud_data()
    idx_train, idx_test = train_test_split(np.arange(FRAUD_ROWS), test_size=0.25, random_state=FRAUD_SEED, stratify=y)
    table = fraud_table(amount, items, country)
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("numeric", StandardScaler(), [0, 1]),
                        ("country", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2]),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(max_iter=1000, random_state=FRAUD_SEED)),
        ]
    )
    pipeline.fit(table[idx_train], y[idx_train])
    test_accuracy = pipeline.score(table[idx_test], y[idx_test])
    baseline = 1.0 - y[idx_test].mean()
    print(
        f"fraud: test accuracy {test_accuracy:.4f} (always 'legit': {baseline:.4f}), "
        f"fraud rate {y.mean():.3f}, {len(idx_train)} training rows"
    )

    scaler = pipeline.named_steps["features"].named_transformers_["numeric"]
    encoder = pipeline.named_steps["features"].named_transformers_["country"]
    clf = pipeline.named_steps["classifier"]
    categories = [str(c) for c in encoder.categories_[0]]  # sorted
    assert list(clf.classes_) == [0, 1]
    coef = clf.coef_[0]
    w_numeric, w_country = coef[:2], coef[2:]
    assert len(w_country) == len(categories)
    # Known country k -> index k; anything else -> index K, whose weight is 0: the all-zero one-hot
    # row that OneHotEncoder(handle_unknown="ignore") gives an unknown category.
    country_weight = np.concatenate([w_country, [0.0]])

    # logit = ((amount, items) - mean) / scale @ w_numeric + country_weight[index(country)] + intercept
    # P(fraud) = Sigmoid(logit); probabilities = [1 - P(fraud), P(fraud)].
    nodes = [
        helper.make_node("Cast", ["items"], ["items_float"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["amount", "items_float"], ["numeric"], axis=1),
        helper.make_node("Sub", ["numeric", "numeric_mean"], ["numeric_centred"]),
        helper.make_node("Div", ["numeric_centred", "numeric_scale"], ["numeric_scaled"]),
        helper.make_node("MatMul", ["numeric_scaled", "numeric_weight"], ["numeric_logit"]),
        helper.make_node(
            "LabelEncoder",
            ["country"],
            ["country_index"],
            domain="ai.onnx.ml",
            keys_strings=categories,
            values_int64s=list(range(len(categories))),
            default_int64=len(categories),
        ),
        helper.make_node("Gather", ["country_weight", "country_index"], ["country_logit"], axis=0),
        helper.make_node("Add", ["numeric_logit", "country_logit"], ["partial_logit"]),
        helper.make_node("Add", ["partial_logit", "intercept"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p_fraud"]),
        helper.make_node("Sub", ["one", "p_fraud"], ["p_legit"]),
        helper.make_node("Concat", ["p_legit", "p_fraud"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
        helper.make_node("Squeeze", ["p_fraud", "squeeze_axes"], ["p_fraud_flat"]),
        helper.make_node("Greater", ["p_fraud_flat", "half"], ["flagged"]),
    ]
    known = ", ".join(categories)
    doc = (
        "Card transaction fraud on synthetic data: scikit-learn LogisticRegression on "
        "[StandardScaler(amount, items), OneHotEncoder(country)]. Inputs: amount float32 [batch, 1] (EUR), "
        "items int64 [batch, 1] (number of items), country string [batch, 1] (card's issuing country, "
        f"upper-case ISO 3166 alpha-2; known: {known}; any other string, including lower case and the empty "
        "string, is unknown and adds nothing to the logit, as OneHotEncoder(handle_unknown='ignore')). "
        "Outputs: probabilities float32 [batch, 2] (P(legit), P(fraud)); label int64 [batch] "
        "(ArgMax: 0 legit, 1 fraud); flagged bool [batch] (P(fraud) > 0.5)."
    )
    model = make_model(
        "fraud_logistic_regression",
        doc,
        nodes,
        [
            value_info("amount", TensorProto.FLOAT, ["batch", 1]),
            value_info("items", TensorProto.INT64, ["batch", 1]),
            value_info("country", TensorProto.STRING, ["batch", 1]),
        ],
        [
            value_info("probabilities", TensorProto.FLOAT, ["batch", 2]),
            value_info("label", TensorProto.INT64, ["batch"]),
            value_info("flagged", TensorProto.BOOL, ["batch"]),
        ],
        [
            initializer("numeric_mean", scaler.mean_, np.float32),
            initializer("numeric_scale", scaler.scale_, np.float32),
            initializer("numeric_weight", w_numeric.reshape(2, 1), np.float32),
            initializer("country_weight", country_weight, np.float32),
            initializer("intercept", clf.intercept_, np.float32),
            initializer("one", 1.0, np.float32),
            initializer("half", 0.5, np.float32),
            initializer("squeeze_axes", [1], np.int64),
        ],
        ml_opset=2,
    )

    descriptor = {
        "task": "classification",
        "description": (
            "Card transaction fraud (synthetic data, scikit-learn LogisticRegression). Inputs: amount float32 "
            "[batch, 1] in EUR, items int64 [batch, 1], country string [batch, 1] (upper-case ISO 3166 "
            f"alpha-2; known: {known}; any other string counts as no country). Outputs: probabilities "
            "[P(legit), P(fraud)], label, flagged (bool, P(fraud) > 0.5)."
        ),
        "labels": ["legit", "fraud"],
        "outputs": {"label": "label", "probabilities": "probabilities"},
    }

    # Golden rows: 13 test transactions, then 3 with the unknown strings.
    rows = list(idx_test[:13])
    g_amount = np.concatenate([amount[rows], np.array([120.0, 35.5, 400.0], dtype=np.float32)])
    g_items = np.concatenate([items[rows], np.array([2, 1, 5], dtype=np.int64)])
    g_country = np.concatenate([country[rows], np.array(FRAUD_UNKNOWN, dtype=object)])
    g_table = fraud_table(g_amount, g_items, g_country)
    probabilities = pipeline.predict_proba(g_table)
    label = pipeline.predict(g_table).astype(np.int64)
    flagged = probabilities[:, 1] > 0.5
    assert (flagged == (label == 1)).all()
    # No golden row is so close to 0.5 that float32 rounding could flip it.
    assert (np.abs(probabilities[:, 1] - 0.5) > 1e-3).all()
    # The unknown strings score as the all-zero one-hot row.
    assert (pipeline.named_steps["features"].transform(g_table)[-3:, 2:] == 0).all()
    n = len(g_amount)
    golden = oip.golden(
        f"scikit-learn {sklearn.__version__} Pipeline predict_proba (probabilities, float64 rounded to float32), "
        "predict (label) and predict_proba[:, 1] > 0.5 (flagged)",
        1e-5,
        [
            tensor("amount", g_amount.reshape(n, 1)),
            tensor("items", g_items.reshape(n, 1)),
            tensor("country", g_country.reshape(n, 1)),
        ],
        [
            tensor("probabilities", probabilities.astype(np.float32)),
            tensor("label", label),
            tensor("flagged", flagged),
        ],
        note=(
            f"The last 3 rows have countries the model never saw ({', '.join(repr(c) for c in FRAUD_UNKNOWN)}): "
            "the graph's LabelEncoder maps them to its default index, whose weight is 0, exactly like "
            "scikit-learn's OneHotEncoder(handle_unknown='ignore') (all-zero one-hot)."
        ),
    )
    write(MODELS / "fraud" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 2. large: a large input, cheap compute
# --------------------------------------------------------------------------

LARGE_GENERATOR = "value(n,c,h,w) = ((n*7 + c*3 + h + w) % 17) / 16"


def large_image(batch):
    n, c, h, w = np.meshgrid(np.arange(batch), np.arange(3), np.arange(224), np.arange(224), indexing="ij")
    return (((n * 7 + c * 3 + h + w) % 17) / 16).astype(np.float32)


def build_large():
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0)]
    doc = (
        "A benchmark fixture with a large input and cheap compute: image float32 [batch, 3, 224, 224] "
        "(600 KiB per row), mean float32 [batch, 3] = ReduceMean over H and W."
    )
    model = make_model(
        "large_input_mean",
        doc,
        nodes,
        [value_info("image", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [value_info("mean", TensorProto.FLOAT, ["batch", 3])],
        [],
    )
    descriptor = {
        "task": "raw",
        "description": (
            "Benchmark fixture: a large input (image float32 [batch, 3, 224, 224]) and cheap compute "
            "(mean float32 [batch, 3], the mean over H and W)."
        ),
    }
    # The values are multiples of 1/16 and a channel's sum is at most 50176, so every float32 sum is
    # exact whatever the order: the mean is one float32 division, the same in numpy and onnxruntime
    # up to how the division is done (x / n or x * (1 / n)): hence the tolerance.
    image = large_image(2)
    total = image.sum(axis=(2, 3), dtype=np.float32)
    assert (total == image.astype(np.float64).sum(axis=(2, 3))).all()
    mean = total / np.float32(224 * 224)
    assert mean.dtype == np.float32
    golden = oip.golden(
        f"{NUMPY_SOURCE} in float32 (sum over H, W divided by 50176)",
        1e-6,
        [{"name": "image", "datatype": "FP32", "shape": [2, 3, 224, 224], "generator": LARGE_GENERATOR}],
        [tensor("mean", mean)],
        note=(
            "The input is not stored: compute it with the generator formula, n, c, h, w being the 0-based "
            "indices and the result stored as float32 (every value is a multiple of 1/16 in [0, 1], exact)."
        ),
    )
    write(FIXTURES / "large" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 3. fixed-batch: the batch dimension is fixed at 1
# --------------------------------------------------------------------------


def build_fixed_batch():
    nodes = [helper.make_node("ReduceSum", ["input", "axes"], ["value"], keepdims=1)]
    doc = "A test fixture whose batch dimension is fixed: input float32 [1, 4], value float32 [1, 1] = sum of the row."
    model = make_model(
        "fixed_batch_sum",
        doc,
        nodes,
        [value_info("input", TensorProto.FLOAT, [1, 4])],
        [value_info("value", TensorProto.FLOAT, [1, 1])],
        [initializer("axes", [1], np.int64)],
    )
    descriptor = {
        "task": "regression",
        "description": "Test fixture: input float32 [1, 4] with the batch fixed at 1; value = a + b + c + d.",
        "features": ["a", "b", "c", "d"],
        "outputs": {"value": "value"},
    }
    x = np.array([[1.5, -2.25, 3.0, 0.125]], dtype=np.float32)  # exact in float32, and so is the sum
    golden = oip.golden(
        f"{NUMPY_SOURCE} (the sum is exact)",
        0.0,
        [tensor("input", x)],
        [tensor("value", x.sum(axis=1, keepdims=True, dtype=np.float32))],
    )
    write(FIXTURES / "fixed-batch" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 4. embedding: int64 ids into a table; out-of-range ids fail at run time
# --------------------------------------------------------------------------

EMBEDDING_VOCAB = 100
EMBEDDING_DIM = 4
EMBEDDING_TOKENS = 5


def embedding_table():
    """table[i, j] = ((5 i + 3 j) % 16 - 8) / 8: multiples of 1/8 in [-1, 0.875], exact in float32."""
    i, j = np.meshgrid(np.arange(EMBEDDING_VOCAB), np.arange(EMBEDDING_DIM), indexing="ij")
    return (((5 * i + 3 * j) % 16 - 8) / 8).astype(np.float32)


def build_embedding():
    table = embedding_table()
    nodes = [
        # Named, so that onnxruntime's out-of-range error says "running Gather node. Name:'embedding_lookup'".
        helper.make_node("Gather", ["table", "tokens"], ["vectors"], name="embedding_lookup", axis=0),
        helper.make_node("ReduceMean", ["vectors"], ["embedding"], axes=[1], keepdims=0),
    ]
    doc = (
        f"A test fixture: tokens int64 [batch, {EMBEDDING_TOKENS}] (ids 0..{EMBEDDING_VOCAB - 1}) index a "
        f"[{EMBEDDING_VOCAB}, {EMBEDDING_DIM}] table, table[i, j] = ((5 i + 3 j) % 16 - 8) / 8; "
        f"embedding float32 [batch, {EMBEDDING_DIM}] = the mean of the {EMBEDDING_TOKENS} rows. "
        "An id outside the table makes the run fail."
    )
    model = make_model(
        "embedding_mean",
        doc,
        nodes,
        [value_info("tokens", TensorProto.INT64, ["batch", EMBEDDING_TOKENS])],
        [value_info("embedding", TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        [initializer("table", table, np.float32)],
    )
    descriptor = {
        "task": "raw",
        "description": (
            f"Test fixture: tokens int64 [batch, {EMBEDDING_TOKENS}], ids 0..{EMBEDDING_VOCAB - 1} into a "
            f"[{EMBEDDING_VOCAB}, {EMBEDDING_DIM}] embedding table; embedding float32 [batch, {EMBEDDING_DIM}] "
            "is the mean of the looked-up rows. Ids outside the table make the run fail."
        ),
    }
    tokens = np.array(
        [
            [0, 1, 2, 3, 4],
            [99, 98, 97, 96, 95],
            [0, 0, 0, 0, 0],
            [99, 99, 99, 99, 99],
            [7, 42, 7, 42, 7],
            [10, 20, 30, 40, 50],
            [13, 31, 64, 88, 5],
            [50, 51, 52, 53, 54],
        ],
        dtype=np.int64,
    )
    # Sums of multiples of 1/8 are exact; the mean is one float32 rounding of sum / 5.
    embedding = table[tokens].sum(axis=1, dtype=np.float32) / np.float32(EMBEDDING_TOKENS)
    assert embedding.dtype == np.float32
    golden = oip.golden(
        f"{NUMPY_SOURCE} in float32 (exact sums of the table rows, divided by {EMBEDDING_TOKENS})",
        1e-6,
        [tensor("tokens", tokens)],
        [tensor("embedding", embedding)],
    )
    write(FIXTURES / "embedding" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 5. dtypes: one Identity per tensor datatype
# --------------------------------------------------------------------------


def _ints(dtype):
    info = np.iinfo(dtype)
    return [[info.min, info.max], [0, 1 if info.min == 0 else -1]]


# (ONNX name, ONNX element type, golden [2, 2] values as a numpy array)
DTYPES = [
    ("bool", TensorProto.BOOL, np.array([[True, False], [False, True]])),
    ("uint8", TensorProto.UINT8, np.array(_ints(np.uint8), dtype=np.uint8)),
    ("uint16", TensorProto.UINT16, np.array(_ints(np.uint16), dtype=np.uint16)),
    ("uint32", TensorProto.UINT32, np.array(_ints(np.uint32), dtype=np.uint32)),
    ("uint64", TensorProto.UINT64, np.array(_ints(np.uint64), dtype=np.uint64)),
    ("int8", TensorProto.INT8, np.array(_ints(np.int8), dtype=np.int8)),
    ("int16", TensorProto.INT16, np.array(_ints(np.int16), dtype=np.int16)),
    ("int32", TensorProto.INT32, np.array(_ints(np.int32), dtype=np.int32)),
    ("int64", TensorProto.INT64, np.array(_ints(np.int64), dtype=np.int64)),
    # -0.0, the smallest subnormal, the largest finite value, and a value that is not a short decimal.
    ("float16", TensorProto.FLOAT16, np.array([[-0.0, 2.0**-24], [65504.0, -1 / 3]], dtype=np.float16)),
    ("float32", TensorProto.FLOAT, np.array([[-0.0, 2.0**-149], [np.finfo(np.float32).max, -0.1]], dtype=np.float32)),
    ("float64", TensorProto.DOUBLE, np.array([[-0.0, 2.0**-1074], [np.finfo(np.float64).max, -0.1]], dtype=np.float64)),
    # The empty string, accents, CJK plus an emoji (a surrogate pair in UTF-16), and JSON escapes.
    ("string", TensorProto.STRING, np.array([["", "Zürich"], ["日本語 🦊", 'tab\t"quote" \\']], dtype=object)),
]


def build_dtypes():
    nodes = [helper.make_node("Identity", [f"{name}_in"], [f"{name}_out"]) for name, _, _ in DTYPES]
    doc = (
        "A test fixture: one Identity per tensor datatype onnxruntime-node can feed and fetch; input "
        "<dtype>_in [batch, 2] is returned as output <dtype>_out [batch, 2], for dtype in "
        + ", ".join(name for name, _, _ in DTYPES)
        + "."
    )
    model = make_model(
        "dtypes_identity",
        doc,
        nodes,
        [value_info(f"{name}_in", elem, ["batch", 2]) for name, elem, _ in DTYPES],
        [value_info(f"{name}_out", elem, ["batch", 2]) for name, elem, _ in DTYPES],
        [],
    )
    descriptor = {
        "task": "raw",
        "description": (
            "Test fixture: one Identity per datatype, <dtype>_in [batch, 2] -> <dtype>_out [batch, 2] for "
            + ", ".join(name for name, _, _ in DTYPES)
            + "."
        ),
    }
    golden = oip.golden(
        "the inputs themselves (Identity)",
        0.0,
        [tensor(f"{name}_in", values) for name, _, values in DTYPES],
        [tensor(f"{name}_out", values) for name, _, values in DTYPES],
        note=(
            "Edge values: min and max of every integer type (UINT64 and INT64 ones are beyond 2**53, so "
            "JSON.parse rounds them: read with a bigint-aware parser), -0.0, the smallest subnormal and the "
            "largest finite value of every float type, and the empty string, non-ASCII text, an astral-plane "
            "emoji and JSON escapes for BYTES."
        ),
    )
    write(FIXTURES / "dtypes" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 6. fp16: float16 in and out
# --------------------------------------------------------------------------


def build_fp16():
    nodes = [
        helper.make_node("Cast", ["x"], ["x_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x_float", "two"], ["y_float"]),
        helper.make_node("Cast", ["y_float"], ["y"], to=TensorProto.FLOAT16),
    ]
    doc = "A test fixture for float16 tensors: x float16 [batch, 3], y float16 [batch, 3] = float16(float32(x) * 2)."
    model = make_model(
        "fp16_double",
        doc,
        nodes,
        [value_info("x", TensorProto.FLOAT16, ["batch", 3])],
        [value_info("y", TensorProto.FLOAT16, ["batch", 3])],
        [initializer("two", 2.0, np.float32)],
    )
    descriptor = {
        "task": "raw",
        "description": "Test fixture for float16: x float16 [batch, 3], y float16 [batch, 3] = 2 x.",
    }
    x = np.array(
        [
            [1.0, -0.0, 0.5],
            [2.0**-24, -(2.0**-14), 0.1],  # smallest subnormal, smallest normal, 0.1 rounded to float16
            [32752.0, -32752.0, 1 / 3],  # 2 x 32752 = 65504, the largest finite float16
            [-1.5, 1000.0, 1.0 + 2.0**-10],
        ],
        dtype=np.float16,
    )
    y = (x.astype(np.float32) * np.float32(2.0)).astype(np.float16)
    assert np.isfinite(y).all()
    golden = oip.golden(
        f"{NUMPY_SOURCE} with numpy.float16 (doubling is exact)",
        0.0,
        [tensor("x", x)],
        [tensor("y", y)],
        note="FP16 data are written as the float16 numbers' exact values.",
    )
    write(FIXTURES / "fp16" / "1", model, descriptor, golden)


# --------------------------------------------------------------------------
# 7. pets: class labels as strings in the graph (classlabels_strings)
# --------------------------------------------------------------------------

PETS_LABELS = ["cat", "dog", "fish"]
PETS_COEFFICIENTS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], dtype=np.float32)


def build_pets():
    nodes = [
        helper.make_node(
            "LinearClassifier",
            ["input"],
            ["label", "probabilities"],
            domain="ai.onnx.ml",
            coefficients=PETS_COEFFICIENTS.flatten().tolist(),
            intercepts=[0.0, 0.0, 0.0],
            classlabels_strings=PETS_LABELS,
            post_transform="SOFTMAX",
        )
    ]
    doc = (
        "A test fixture: input float32 [batch, 2]; scores = input @ W.T with W = [[1, 0], [0, 1], [-1, -1]], "
        "probabilities float32 [batch, 3] = softmax(scores), label string [batch] = the graph's own class "
        "label (cat, dog, fish) of the highest score."
    )
    model = make_model(
        "pets_linear",
        doc,
        nodes,
        [value_info("input", TensorProto.FLOAT, ["batch", 2])],
        [
            value_info("label", TensorProto.STRING, ["batch"]),
            value_info("probabilities", TensorProto.FLOAT, ["batch", len(PETS_LABELS)]),
        ],
        [],
        ml_opset=1,
    )
    # No labels: they come from the graph; a model.json that listed others would fail the load.
    descriptor = {
        "task": "classification",
        "description": "Test fixture: input float32 [batch, 2]; labels cat, dog, fish from the graph itself.",
        "outputs": {"label": "label", "probabilities": "probabilities"},
    }
    x = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]], dtype=np.float32)
    scores = x @ PETS_COEFFICIENTS.T
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = np.array([PETS_LABELS[i] for i in scores.argmax(axis=1)], dtype=object)
    golden = oip.golden(
        f"{NUMPY_SOURCE} (softmax in float32)",
        1e-6,
        [tensor("input", x)],
        [tensor("label", labels), tensor("probabilities", probabilities)],
    )
    write(FIXTURES / "pets" / "1", model, descriptor, golden)


def main():
    build_fraud()
    build_large()
    build_fixed_batch()
    build_embedding()
    build_dtypes()
    build_fp16()
    build_pets()


if __name__ == "__main__":
    main()
