"""PyTorch CPU side of benchmarks/bench_conv.c: F.conv2d forward and forward+backward
(torch.autograd.grad of input, weight, bias) on the same case, median of repeats.
Prints "name ms" lines. Usage: python3 torch_conv.py THREADS"""
import sys

import torch
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
torch.manual_seed(1)


from peer_common import bench  # noqa: E402


x = torch.randn(8, 32, 64, 64, requires_grad=True)
w = torch.randn(32, 32, 3, 3, requires_grad=True)
b = torch.randn(32, requires_grad=True)
gy = torch.randn(8, 32, 64, 64)


def fwd():
    with torch.no_grad():
        F.conv2d(x, w, b, padding=1)


def fwdbwd():
    y = F.conv2d(x, w, b, padding=1)
    torch.autograd.grad(y, [x, w, b], gy)


bench("conv2d_fwd_f32_b8_c32_64x64_k3", fwd, 3, 15)
bench("conv2d_fwdbwd_f32_b8_c32_64x64_k3", fwdbwd, 2, 11)
