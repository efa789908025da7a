#!/usr/bin/env python3
"""Write torchvision's MobileNetV2 with seeded random weights as ONNX: the benchmark's realistic CNN.

Run from the repository root (the bench runs it when the model is missing):

    /usr/bin/python3 training/mobilenet.py <output folder>

Needs Debian's python3-torch, python3-torchvision and python3-onnx. Nothing is downloaded: the weights are
torchvision's initialisation from a fixed seed (random weights cost the same to run as trained ones, which is
all a throughput benchmark needs). It writes ``<output folder>/mobilenet/1/``:

* ``model.onnx`` - opset 13, input "image" float32 [batch, 3, 224, 224] (NCHW), output "logits" float32
  [batch, 1000], the batch dimension dynamic;
* ``model.json`` - the descriptor Serval reads (task raw: the logits of random weights mean nothing).

The file is about 14 MB, so it is made at bench time and never committed.
"""

import sys
from pathlib import Path

import onnx
import torch
import torchvision

SEED = 0


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: mobilenet.py <output folder>")
    out = Path(sys.argv[1]) / "mobilenet" / "1"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    example = torch.zeros(1, 3, 224, 224)
    path = out / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=13,
            do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(str(path)))
    (out / "model.json").write_text(
        '{\n  "task": "raw",\n  "description": "torchvision MobileNetV2 with seeded random weights '
        '(training/mobilenet.py): image float32 [batch, 3, 224, 224], logits float32 [batch, 1000]."\n}\n'
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
