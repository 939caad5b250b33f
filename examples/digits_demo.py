#!/usr/bin/python3
"""The frameworks part of `make demo`, run in the VM by examples/run-demo.

The digits CNN (frameworks/models/digits_cnn.py, trained on the CPU at build
time) classifies the 450 held-out digits on the NPU:

 1. through npu-onnx (the CLI: `npu-onnx run digits_cnn.onnx`), printing the
    accuracy, the share of predictions that agree with PyTorch on the CPU
    and each engine's utilisation while it ran (npu-smi's engine busy time
    before and after, and its samples every 0.5 s during the run);
 2. through the PyTorch device (npu_torch, "privateuseone"): the trained
    weights loaded into the same torch model, with its accuracy, agreement
    and the ops that fell back to the CPU.

    digits_demo.py --build BUILD --models MODELS [--out DIR] [--device N]
                   [--onnx-only] [--min-agreement PERCENT] [--junit FILE]

The exit status is 1 when an agreement is below --min-agreement (99.5 %,
issue 14's floor; the goal is 100 %), when a compute node of the ONNX model
did not run on the NPU, or when a part failed.
tests/frameworks/digits-agreement runs the npu-onnx part as a test.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time
import xml.sax.saxutils

import numpy as np

sys.dont_write_bytecode = True  # it imports from the source tree (frameworks/models)
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def smi(build, device, *args):
    out = subprocess.run([os.path.join(build, "tools/npu-smi/npu-smi"), "--json", "-d",
                          str(device), *args], check=True, capture_output=True, text=True).stdout
    return out


def engines_busy_ns(build, device):
    doc = json.loads(smi(build, device))
    engines = doc["devices"][0].get("engines") or []
    return [e.get("busy_ns") for e in engines]


def utilisation_line(before, after, wall_s, run_ms, samples):
    """Per engine: busy time during the process, as a share of the inference
    (the graph's replay, run_ms: the only time engines compute) and of the
    whole process (wall_s), and the peak of npu-smi's samples."""
    cells = []
    for i, (b, a) in enumerate(zip(before, after)):
        if b is None or a is None:
            cells.append(f"e{i} N/A")
            continue
        busy_ms = (a - b) / 1e6
        peak = max((s[i] for s in samples if i < len(s) and s[i] is not None), default=None)
        cells.append(f"e{i} {busy_ms:.0f} ms busy" +
                     (f" = {100 * busy_ms / run_ms:.0f} % of the inference" if run_ms else "") +
                     f", {100 * busy_ms / (wall_s * 1e3):.1f} % of the process" +
                     (f", sampled peak {peak:.0f} %" if peak is not None else ""))
    return "; ".join(cells) if cells else "no engines published"


def read_samples(path):
    samples = []
    if os.path.exists(path):
        for line in open(path):
            try:
                dev = json.loads(line)["devices"][0]
            except (ValueError, KeyError, IndexError):
                continue
            samples.append([e.get("util_percent") for e in dev.get("engines") or []])
    return samples


def report(name, pred, labels, cpu_pred):
    accuracy = 100.0 * float((pred == labels).mean())
    agree = 100.0 * float((pred == cpu_pred).mean())
    print(f"  {name}: accuracy {accuracy:.1f} % ({int((pred == labels).sum())}/{len(labels)}), "
          f"agreement with PyTorch on the CPU {agree:.1f} % "
          f"({int((pred == cpu_pred).sum())}/{len(labels)})")
    return agree


# Nodes that are metadata (shapes, views): they run on the host by design.
METADATA_OPS = {"Constant", "Shape", "Size", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                "Identity", "Dropout", "ConstantOfShape", "Range"}


def run_onnx(args, labels, cpu_pred):
    cli = os.path.join(args.build, "frameworks/onnx/npu-onnx")
    outdir = os.path.join(args.out, "onnx")
    os.makedirs(outdir, exist_ok=True)
    for old in glob.glob(os.path.join(outdir, "*")):
        os.remove(old)
    samples_file = os.path.join(args.out, "npu-smi-samples.json")
    if os.path.exists(samples_file):
        os.remove(samples_file)
    print(f"npu-onnx: digits_cnn.onnx on npu{args.device}, {len(labels)} held-out digits")
    before = engines_busy_ns(args.build, args.device)
    sampler = subprocess.Popen([os.path.join(args.build, "tools/npu-smi/npu-smi"), "--json",
                                "-d", str(args.device), "-l", "0.5", "--file", samples_file],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    try:
        run = subprocess.run([cli, "run", os.path.join(args.models, "digits_cnn.onnx"),
                              "--input", "input=" + os.path.join(args.models, "digits_input.pb"),
                              "--output", outdir, "--npy", "--device", str(args.device), "--json"],
                             capture_output=True, text=True)
    finally:
        wall = time.monotonic() - start
        sampler.terminate()
        sampler.wait()
    after = engines_busy_ns(args.build, args.device)
    if run.returncode != 0:
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        raise RuntimeError(f"npu-onnx run failed (exit {run.returncode})")
    summary = json.loads(run.stdout)
    placement = summary.get("placement") or []
    host = [n for n in placement if n.get("placement") != "npu"]
    fallback = sum(1 for n in host if n.get("op_type") not in METADATA_OPS)
    print(f"  {summary.get('nodes')} nodes, {summary.get('nodes_on_device')} on the NPU"
          + (f" (on the host: {', '.join(sorted({n['op_type'] for n in host}))})" if host else "")
          + f", {summary.get('operations')} device operations; planned in "
          f"{summary.get('plan_ms', 0):.0f} ms, ran in {summary.get('run_ms', 0):.1f} ms")
    logits = np.load(os.path.join(outdir, "output_0.npy"))
    pred = logits.reshape(len(labels), -1).argmax(1)
    agree = report("npu-onnx", pred, labels, cpu_pred)
    cpu_logits = np.load(os.path.join(args.models, "digits_cpu_logits.npy"))
    print(f"  largest logit difference from the CPU: "
          f"{float(np.abs(logits.reshape(cpu_logits.shape) - cpu_logits).max()):.2e}"
          + f"; compute nodes not on the NPU: {fallback}")
    print(f"  engine utilisation (npu-smi; the process took {wall:.1f} s with loading and "
          f"planning):")
    print("    " + utilisation_line(before, after, wall, summary.get("run_ms"),
                                    read_samples(samples_file)).replace("; ", "\n    "))
    return agree, fallback


def run_torch(args, labels, cpu_pred):
    # the npu_torch package beside its library in the build tree
    sys.path.insert(0, os.path.join(args.build, "frameworks/torch"))
    sys.path.insert(0, os.path.join(TOP, "frameworks/models"))
    print("PyTorch device: the same network, trained weights loaded on \"privateuseone\"")
    start = time.monotonic()
    import torch
    import npu_torch
    from digits_cnn import DigitsCNN

    model = DigitsCNN()
    model.load_state_dict(torch.load(os.path.join(args.models, "digits_cnn.pt")))
    model.eval()
    images = torch.from_numpy(np.load(os.path.join(args.models, "digits_images.npy")))
    device = torch.device("privateuseone", args.device)
    model.to(device)
    npu_torch.fallback_reset()
    with torch.no_grad():
        pred = model(images.to(device)).argmax(1).cpu().numpy()
    agree = report("npu_torch", pred, labels, cpu_pred)
    fell = {k: v for k, v in npu_torch.fallback_counts().items() if v}
    print("  ops that fell back to the CPU: " +
          (", ".join(f"{k} x{v}" for k, v in sorted(fell.items())) if fell else "none"))
    print(f"  ({time.monotonic() - start:.0f} s with `import torch`, slow under the VM's TCG)")
    return agree


def write_junit(path, cases):
    with open(path, "w") as f:
        failures = sum(1 for _, msg in cases if msg)
        f.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="digits-demo" '
                f'tests="{len(cases)}" failures="{failures}">\n')
        for name, msg in cases:
            f.write(f'  <testcase classname="digits_demo" name="{name}"')
            if msg:
                f.write(f'>\n    <failure message={xml.sax.saxutils.quoteattr(msg)}/>\n'
                        '  </testcase>\n')
            else:
                f.write('/>\n')
        f.write('</testsuite>\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True, help="the CMake build directory")
    parser.add_argument("--models", required=True, help="make models' output (build/models)")
    parser.add_argument("--out", help="scratch directory (default BUILD/out/digits-demo)")
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--onnx-only", action="store_true")
    parser.add_argument("--min-agreement", type=float, default=99.5,
                        help="least agreement with PyTorch on the CPU, in percent (99.5)")
    parser.add_argument("--junit")
    args = parser.parse_args()
    args.out = args.out or os.path.join(args.build, "out/digits-demo")
    os.makedirs(args.out, exist_ok=True)
    labels = np.load(os.path.join(args.models, "digits_labels.npy"))
    cpu_pred = np.load(os.path.join(args.models, "digits_cpu_pred.npy"))
    print(f"digits CNN: PyTorch on the CPU (at build time): accuracy "
          f"{100.0 * float((cpu_pred == labels).mean()):.1f} %")

    cases = []
    failed = False
    try:
        agree, fallback = run_onnx(args, labels, cpu_pred)
        msg = None
        if agree < args.min_agreement:
            msg = f"agreement {agree:.2f} % < {args.min_agreement} %"
        elif fallback:
            msg = f"{fallback} nodes fell back to the host"
    except Exception as e:  # report, then go on to the torch part
        print(f"  npu-onnx: FAILED: {e}")
        msg = str(e)
    cases.append(("npu_onnx_agreement", msg))
    failed |= msg is not None
    if not args.onnx_only:
        print()
        try:
            agree = run_torch(args, labels, cpu_pred)
            msg = None
            if agree < args.min_agreement:
                msg = f"agreement {agree:.2f} % < {args.min_agreement} %"
        except Exception as e:
            print(f"  npu_torch: FAILED: {type(e).__name__}: {e}")
            msg = str(e)
        cases.append(("npu_torch_agreement", msg))
        failed |= msg is not None
    if args.junit:
        os.makedirs(os.path.dirname(os.path.abspath(args.junit)), exist_ok=True)
        write_junit(args.junit, cases)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
