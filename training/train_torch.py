#!/usr/bin/env python3
"""Train Serval's image classifier example, a small CNN in PyTorch, and export it to ONNX.

Run from the repository root:

    /usr/bin/python3 training/train_torch.py

Needs Debian's python3-torch, python3-sklearn (for the data set and the split)
and python3-onnx. It writes ``models/digits-cnn/1/``:

* ``model.onnx``  - exported with torch.onnx.export (opset 13): input "image"
  float32 [batch, 1, 8, 8], outputs "probabilities" float32 [batch, 10] (the
  softmax is in the graph) and "label" int64 [batch] (argmax, in the graph);
* ``model.json``  - the descriptor Serval reads;
* ``golden.json`` - 20 test images and torch's own outputs for them, in the
  Open Inference Protocol tensor layout (see oip.py).

The data are scikit-learn's digits (1797 8x8 images, pixel values 0..16),
scaled to [0, 1] by dividing by 16, as NCHW float32. The output is reproducible:
fixed seeds, one thread, deterministic algorithms, no timestamps.
"""

import os
import platform

# One thread everywhere *before* numpy and torch are imported, so sums are
# always done in the same order and the weights are the same bits every run.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"
# Baseline kernels, not the best ones for this CPU: OpenBLAS, ATen and oneDNN each
# pick AVX2 / AVX-512 code when they can, and each choice changes the trained
# weights in the last bits (checked: any one of these three changes model.onnx).
# Pinned, any x86-64 CPU should give the same files (with the same library versions).
os.environ["ATEN_CPU_CAPABILITY"] = "default"
if platform.machine() in ("x86_64", "AMD64"):
    os.environ["OPENBLAS_CORETYPE"] = "Prescott"
    os.environ["DNNL_MAX_CPU_ISA"] = os.environ["ONEDNN_MAX_CPU_ISA"] = "SSE41"

import io  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

sys.dont_write_bytecode = True  # importing oip.py must not leave a training/__pycache__ behind
import oip  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "models" / "digits-cnn" / "1"

SEED = 0
EPOCHS = 30
BATCH = 64
LEARNING_RATE = 0.01
GOLDEN_ROWS = 20  # the first 20 test images


class DigitsCNN(torch.nn.Module):
    """Conv(1->8, 3x3, pad 1) ReLU, Conv(8->16, 3x3, pad 1) ReLU, MaxPool 2, Flatten, Linear(256 -> 10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.flatten = torch.nn.Flatten()
        self.fc = torch.nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(self.flatten(self.pool(x)))  # logits


class Served(torch.nn.Module):
    """What is exported: the CNN plus softmax and argmax, so the graph gives probabilities and label."""

    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, image):
        logits = self.cnn(image)
        return torch.softmax(logits, dim=1), torch.argmax(logits, dim=1)


def load_data():
    data = load_digits()
    X = (data.images / 16.0).astype(np.float32)[:, None, :, :]  # [N, 1, 8, 8], 0 background .. 1 full stroke
    y = data.target.astype(np.int64)
    return train_test_split(X, y, test_size=0.25, random_state=SEED, stratify=y)


def train(X_train, y_train):
    torch.manual_seed(SEED)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, y = torch.from_numpy(X_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
    return model.eval()


def export(served):
    buffer = io.BytesIO()
    batch = {0: "batch"}
    torch.onnx.export(
        served,
        torch.zeros(2, 1, 8, 8),
        buffer,
        opset_version=oip.OPSET,
        input_names=["image"],
        output_names=["probabilities", "label"],
        dynamic_axes={"image": batch, "probabilities": batch, "label": batch},
        do_constant_folding=True,
    )
    model = onnx.load_from_string(buffer.getvalue())
    model.graph.name = "digits_cnn"
    doc = (
        "Handwritten digit classifier: a small CNN trained with PyTorch on 75% of scikit-learn's digits data set. "
        "Input: image, float32 [batch, 1, 8, 8] (NCHW), grey levels 0 = background .. 1 = full stroke "
        "(the data set's 0..16 divided by 16). Conv(1->8, 3x3, pad 1) ReLU, Conv(8->16, 3x3, pad 1) ReLU, "
        "MaxPool 2, Flatten, Linear(256->10). probabilities = Softmax(logits); label = ArgMax(logits), the digit 0-9."
    )
    model.doc_string = doc
    model.graph.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def main():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)

    X_train, X_test, y_train, y_test = load_data()
    cnn = train(X_train, y_train)
    served = Served(cnn).eval()

    with torch.no_grad():
        _, predicted = served(torch.from_numpy(X_test))
    accuracy = float((predicted.numpy() == y_test).mean())
    print(f"digits-cnn: test accuracy {accuracy:.4f} ({len(y_test)} test images, {len(y_train)} training images)")
    assert accuracy > 0.95, accuracy

    Xg = X_test[:GOLDEN_ROWS]
    with torch.no_grad():
        probabilities, label = served(torch.from_numpy(Xg))
    golden = oip.golden(
        f"torch {torch.__version__} forward pass (eval mode) on the first {GOLDEN_ROWS} test images",
        1e-5,
        [oip.tensor("image", Xg)],
        [oip.tensor("probabilities", probabilities.numpy()), oip.tensor("label", label.numpy())],
    )
    descriptor = {
        "task": "classification",
        "description": (
            "Handwritten digit (0-9) from an 8x8 grey image: input image float32 [batch, 1, 8, 8] (NCHW), "
            "0 = background, 1 = full stroke (a small PyTorch CNN)."
        ),
        "labels": [str(d) for d in range(10)],
        "outputs": {"label": "label", "probabilities": "probabilities"},
        # An image file of any size is answered too: made grey, scaled to cover 8x8 (the aspect ratio kept) and
        # its centre cut out, levels 0..255 scaled to 0..1. Ink bright on dark, as the data set's images.
        "inputs": {"image": {"image": {"channels": 1, "resize": "crop", "scale": 1 / 255}}},
    }
    oip.write_model_dir(ROOT, OUT, export(served), descriptor, golden)


if __name__ == "__main__":
    main()
