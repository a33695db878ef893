"""PyTorch CPU side of benchmarks/bench_imaging_losses.c: MPoL 0.2's TV_image, TSV, entropy,
sparsity (1024² f64 image, one channel) and nll (10⁶ c128 visibilities) as losses.py composes
them, forward + backward with respect to the image or the model. Each time is printed for the
fused row and the _composed row of the C side. Prints "name ms" lines.
Usage: python3 torch_imaging_losses.py THREADS"""
import contextlib
import io
import os
import sys

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
torch.manual_seed(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import bench  # noqa: E402


def tv_image(s, eps=1e-10):
    dl = s[:, 0:-1, 1:] - s[:, 0:-1, 0:-1]
    dm = s[:, 1:, 0:-1] - s[:, 0:-1, 0:-1]
    return torch.sum(torch.sqrt(dl ** 2 + dm ** 2 + eps))


def tsv(s):
    dl = s[:, 0:-1, 1:] - s[:, 0:-1, 0:-1]
    dm = s[:, 1:, 0:-1] - s[:, 0:-1, 0:-1]
    return torch.sum(dl ** 2 + dm ** 2)


def entropy(c, p=0.01, zeta=10.0):
    return (1 / zeta) * torch.sum(c * torch.log(c / p))


def nll(m, d, w):
    return 1 / (2 * d.numel()) * torch.sum(w * torch.abs(d - m) ** 2)


img = (torch.rand(1, 1024, 1024, dtype=torch.float64) + 0.01).requires_grad_(True)
m = torch.randn(10 ** 6, dtype=torch.complex128).requires_grad_(True)
d = torch.randn(10 ** 6, dtype=torch.complex128)
w = torch.rand(10 ** 6, dtype=torch.float64) + 0.5


def step(x, f):
    f().backward()
    x.grad = None


cases = [("tv_image_1024_f64", img, lambda: tv_image(img)), ("tsv_1024_f64", img, lambda: tsv(img)),
         ("entropy_1024_f64", img, lambda: entropy(img)), ("sparsity_1024_f64", img, lambda: torch.sum(torch.abs(img))),
         ("nll_1e6_c128", m, lambda: nll(m, d, w))]
for name, x, f in cases:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bench(name, lambda: step(x, f), 2, 11)
    line = buf.getvalue().strip()
    print(line, flush=True)
    print(name + "_composed " + line.split()[1], flush=True)
