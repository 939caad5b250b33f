#!/usr/bin/python3
"""The benchmarks' networks: torchvision's resnet18 and mobilenet_v2.

    /usr/bin/python3 torchvision_models.py OUTDIR

builds each with random weights (weights=None: nothing is downloaded; seed
fixed, so every run of the same torch build makes the same weights) and
exports it to ONNX, opset 13, batch 1, input "input" [1,3,224,224] f32,
output "output" [1,1000]: OUTDIR/resnet18.onnx, OUTDIR/mobilenet_v2.onnx.
Beside each, an ONNX-suite test directory (OUTDIR/NAME/model.onnx, a link,
and test_data_set_0/input_0.pb, output_0.pb: example_input() and PyTorch's
CPU output for it), for `npu-onnx test` and npu-bench's check of the
result. npu-bench's scripts import build() to make the same network.
"""
import os
import sys

import torch
import torchvision

NAMES = ("resnet18", "mobilenet_v2")
SEED = 14
INPUT_SHAPE = (1, 3, 224, 224)


def build(name):
    if name not in NAMES:
        raise ValueError(f"unknown model {name!r} (one of {', '.join(NAMES)})")
    torch.manual_seed(SEED)
    return getattr(torchvision.models, name)(weights=None).eval()


def example_input():
    gen = torch.Generator().manual_seed(SEED)
    return torch.rand(INPUT_SHAPE, generator=gen)


def main(outdir):
    from onnx import numpy_helper

    torch.set_num_threads(1)
    os.makedirs(outdir, exist_ok=True)
    for name in NAMES:
        model, x = build(name), example_input()
        torch.onnx.export(model, x, os.path.join(outdir, name + ".onnx"),
                          opset_version=13, input_names=["input"], output_names=["output"])
        with torch.no_grad():
            y = model(x)
        data = os.path.join(outdir, name, "test_data_set_0")
        os.makedirs(data, exist_ok=True)
        link = os.path.join(outdir, name, "model.onnx")
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.join("..", name + ".onnx"), link)
        for kind, t, tname in (("input", x, "input"), ("output", y, "output")):
            with open(os.path.join(data, kind + "_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(t.numpy(), tname).SerializeToString())
        print(f"{name}: {os.path.getsize(os.path.join(outdir, name + '.onnx')) >> 20} MiB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: torchvision_models.py OUTDIR")
    main(sys.argv[1])
