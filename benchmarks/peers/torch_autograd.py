"""PyTorch CPU side of benchmarks/bench_autograd.c: chains of 10^5 tiny ops on 0-d f64
tensors, x = x * c + d, forward with graph recording and backward. Prints "name ms" lines.
Usage: python3 torch_autograd.py THREADS"""
import sys

import torch

import peer_common

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 and int(sys.argv[1]) > 0 else 1)
N_OPS = 100000
C = torch.tensor(1.0000001, dtype=torch.float64)
D = torch.tensor(1e-9, dtype=torch.float64)


def chain(kind):
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    if kind == "nograd_fwd":
        with torch.no_grad():
            for _ in range(N_OPS // 2):
                y = y * 1.0000001 + 1e-9
        return
    if kind == "tensor_fwd_bwd":
        for _ in range(N_OPS // 2):
            y = y * C + D
    else:
        for _ in range(N_OPS // 2):
            y = y * 1.0000001 + 1e-9
    if kind.endswith("bwd"):
        y.backward()


def bench(name, fn, warm=1, reps=5):
    peer_common.bench(name, fn, warm, reps)


for kind in ("scalar_fwd_bwd", "scalar_fwd", "tensor_fwd_bwd", "nograd_fwd"):
    bench("chain1e5_" + kind, lambda: chain(kind))
