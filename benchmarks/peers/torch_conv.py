"""PyTorch CPU side of benchmarks/bench_conv.c: F.conv2d forward and forward+backward
(torch.autograd.grad of the same inputs as the C side) on the same cases, median of repeats.
Prints "name ms" lines. Usage: python3 torch_conv.py THREADS"""
import sys

import torch
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
torch.manual_seed(1)


from peer_common import bench  # noqa: E402


def case(name, n, c, o, s, k, stride, bias, x_grad, dt=torch.float32):
    pad = k // 2
    so = (s + 2 * pad - k) // stride + 1
    x = torch.randn(n, c, s, s, dtype=dt, requires_grad=x_grad)
    w = torch.randn(o, c, k, k, dtype=dt, requires_grad=True)
    b = torch.randn(o, dtype=dt, requires_grad=x_grad) if bias else None
    gy = torch.randn(n, o, so, so, dtype=dt)
    tag = "f64" if dt == torch.float64 else "f32"
    inputs = [w, x, b] if x_grad else [w]

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, padding=pad, stride=stride)

    def fwdbwd():
        y = F.conv2d(x, w, b, padding=pad, stride=stride)
        torch.autograd.grad(y, inputs, gy)

    bench(f"conv2d_fwd_{tag}_{name}", fwd, 3, 15)
    bench(f"conv2d_fwdbwd_{tag}_{name}", fwdbwd, 2, 11)


case("b8_c32_64x64_k3", 8, 32, 32, 64, 3, 1, True, True)
case("b1_c32_64x64_k3", 1, 32, 32, 64, 3, 1, True, True)
case("b8_c32to64_64x64_k3_s2", 8, 32, 64, 64, 3, 2, True, True)
case("b32_c64_8x8_k3", 32, 64, 64, 8, 3, 1, True, True)
case("c1_512x512_k15", 1, 1, 1, 512, 15, 1, False, False)
case("b8_c32_64x64_k3", 8, 32, 32, 64, 3, 1, True, True, torch.float64)
