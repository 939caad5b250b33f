#!/usr/bin/python3
"""PyTorch on the host CPU: the baseline of npu-bench's framework benchmarks.

    /usr/bin/python3 torch_cpu_bench.py MODEL THREADS RUNS

The emulator runs it for its control socket's "bench torch MODEL THREADS
[RUNS]" (emulator/npu_reference_bench.h): npu-bench runs in the guest, whose
CPU QEMU emulates, so the CPU figure it compares the NPU with is measured on
the host. MODEL is resnet18 or mobilenet_v2 as torchvision_models.py builds
them (random weights, fixed seed), batch 1, 3x224x224, inference
(torch.no_grad) on THREADS intra-op threads; one warm-up run, then RUNS
timed runs. Prints one reply line:

    bench torch model=M threads=T runs=R median_ns=A min_ns=B impl=NAME
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # imports torchvision_models from the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: torch_cpu_bench.py MODEL THREADS RUNS")
    name, threads, runs = argv[1], int(argv[2]), int(argv[3])
    import torch
    import torchvision_models

    torch.set_num_threads(threads)
    model = torchvision_models.build(name)
    x = torchvision_models.example_input()
    times = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(runs):
            start = time.perf_counter_ns()
            model(x)
            times.append(time.perf_counter_ns() - start)
    times.sort()
    print(f"bench torch model={name} threads={torch.get_num_threads()} runs={runs} "
          f"median_ns={times[len(times) // 2]} min_ns={times[0]} impl=pytorch-{torch.__version__}-cpu")


if __name__ == "__main__":
    main(sys.argv)
