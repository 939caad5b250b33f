#!/usr/bin/python3
"""npu-bench's torch_<model> benchmarks: networks on the PyTorch device.

    torch_device_bench.py --torch-path DIR --models-dir DIR --device N
                          --runs R MODEL...

npu-bench runs it (framework_bench.hpp), one process for every model since
`import torch` takes half a minute under TCG. For each MODEL (resnet18,
mobilenet_v2, built as frameworks/models/torchvision_models.py builds them:
same seed, same weights), on "privateuseone" device N, inference under
torch.no_grad() on MODELS_DIR/MODEL/test_data_set_0/input_0.pb:

  - one forward with a TorchDispatchMode counting the aten ops dispatched,
    and npu_torch.fallback_counts() around it: the ops that fell back;
  - the output compared with PyTorch's CPU output (output_0.pb, made at
    build time): the largest difference over the largest magnitude;
  - one warm-up, then R timed forwards (each ends with a device
    synchronize): the median.

Prints one JSON line {"torch_device_bench": 1, "models": {MODEL: {...}}}.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # imports from the source tree (frameworks/models)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--torch-path", required=True, help="where the npu_torch package is")
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    sys.path.insert(0, args.torch_path)
    sys.path.insert(0, os.path.join(TOP, "frameworks/models"))

    import numpy as np
    import torch
    from onnx import load_tensor, numpy_helper
    from torch.utils._python_dispatch import TorchDispatchMode

    import npu_torch
    import torchvision_models

    class CountOps(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops += 1
            return func(*args, **(kwargs or {}))

    device = torch.device("privateuseone", args.device)
    report = {}
    for name in args.models:
        data = os.path.join(args.models_dir, name, "test_data_set_0")
        x = torch.from_numpy(numpy_helper.to_array(load_tensor(os.path.join(data, "input_0.pb"))))
        want = numpy_helper.to_array(load_tensor(os.path.join(data, "output_0.pb")))
        model = torchvision_models.build(name).to(device)
        xd = x.to(device)
        with torch.no_grad():
            npu_torch.fallback_reset()
            counter = CountOps()
            with counter:
                y = model(xd)
            fell_back = {k: v for k, v in npu_torch.fallback_counts().items() if v}
            got = y.cpu().numpy()
            error = float(np.abs(got - want).max() / max(float(np.abs(want).max()), 1e-30))
            if not np.isfinite(got).all():
                error = float("inf")
            model(xd)  # warm-up
            npu_torch.synchronize(args.device)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                model(xd)
                npu_torch.synchronize(args.device)
                times.append(time.perf_counter() - start)
        times.sort()
        report[name] = {"median_ms": 1e3 * times[len(times) // 2],
                        "ops": counter.ops,
                        "fallback_ops": sum(fell_back.values()),
                        "fallback_counts": fell_back,
                        "max_relative_error": error}
        del model, xd, y
    print(json.dumps({"torch_device_bench": 1, "models": report}))


if __name__ == "__main__":
    main()
