#!/usr/bin/python3
"""The demo's network: a small CNN trained on scikit-learn's bundled digits.

Imported by the demo (DigitsCNN, load_split) and run by build-models:

    /usr/bin/python3 digits_cnn.py OUTDIR

trains on the CPU (fixed seeds, one thread: the same weights on every run
of the same torch build) and writes into OUTDIR:

    digits_cnn.onnx            the network, opset 13, input "input"
                               [450,1,8,8] f32, output "logits" [450,10]
    digits_cnn.pt              its state_dict, for the PyTorch device
    digits_input.pb            the 450 held-out images (TensorProto "input")
    digits_images.npy          the same images (f32 [450,1,8,8])
    digits_labels.npy          their labels (int64)
    digits_cpu_logits.npy      PyTorch's CPU logits (f32 [450,10])
    digits_cpu_pred.npy        PyTorch's CPU predictions (int64)
    digits_cnn/                the same as an ONNX-suite test directory:
                               model.onnx, test_data_set_0/{input,output}_0.pb
"""
import os
import sys

import numpy as np
import torch
from torch import nn

HELD_OUT = 450
SEED = 14


class DigitsCNN(nn.Module):
    """2 conv, max-pool, 2 fc: 8x8 grey images -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


def load_split():
    """(train_x, train_y, test_x, test_y): f32 images in [0,1] as N,1,8,8."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=HELD_OUT, random_state=SEED, stratify=y)
    return train_x, train_y, test_x, test_y


def train(train_x, train_y, epochs=30, batch=64):
    torch.manual_seed(SEED)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xs = torch.from_numpy(train_x)
    ys = torch.from_numpy(train_y)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        order = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
    return model.eval()


def main(outdir):
    import onnx
    from onnx import numpy_helper

    torch.set_num_threads(1)
    os.makedirs(outdir, exist_ok=True)
    train_x, train_y, test_x, test_y = load_split()
    model = train(train_x, train_y)
    with torch.no_grad():
        logits = model(torch.from_numpy(test_x)).numpy()
    pred = logits.argmax(1).astype(np.int64)
    accuracy = float((pred == test_y).mean())

    path = lambda name: os.path.join(outdir, name)
    torch.save(model.state_dict(), path("digits_cnn.pt"))
    torch.onnx.export(model, torch.from_numpy(test_x), path("digits_cnn.onnx"),
                      opset_version=13, input_names=["input"], output_names=["logits"])
    onnx.checker.check_model(onnx.load(path("digits_cnn.onnx")))
    inp = numpy_helper.from_array(test_x, "input")
    out = numpy_helper.from_array(logits, "logits")
    with open(path("digits_input.pb"), "wb") as f:
        f.write(inp.SerializeToString())
    np.save(path("digits_images.npy"), test_x)
    np.save(path("digits_labels.npy"), test_y)
    np.save(path("digits_cpu_logits.npy"), logits)
    np.save(path("digits_cpu_pred.npy"), pred)

    suite = path("digits_cnn")
    os.makedirs(os.path.join(suite, "test_data_set_0"), exist_ok=True)
    with open(os.path.join(suite, "model.onnx"), "wb") as f, \
            open(path("digits_cnn.onnx"), "rb") as src:
        f.write(src.read())
    with open(os.path.join(suite, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(inp.SerializeToString())
    with open(os.path.join(suite, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(out.SerializeToString())
    print(f"digits_cnn: {len(train_x)} training images, {HELD_OUT} held out, "
          f"CPU accuracy {100 * accuracy:.1f} %")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: digits_cnn.py OUTDIR")
    main(sys.argv[1])
