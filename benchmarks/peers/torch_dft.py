"""PyTorch CPU side of benchmarks/bench_dft.c: the direct DFT of a 64x64 f64 image at M random
(u, v) from separable phase tables and an einsum (V_k = cell² Σ_ji P_ji e^{-2πi u_k l_i}
e^{-2πi v_k m_j}), forward and forward + backward of sum |V|². Prints "name ms" lines.
Usage: python3 torch_dft.py THREADS"""
import math
import sys

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
torch.manual_seed(1)

from peer_common import bench  # noqa: E402

NPIX, CELL = 64, 2e-5
DL = CELL * math.pi / (180 * 3600)
lm = torch.fft.fftfreq(NPIX, dtype=torch.float64) * NPIX * DL  # packed (FFT-order) cell coordinates
umax = 0.8 * (NPIX / 2 - 0.5) / (NPIX * DL)


def dft(P, u, v):
    ex = torch.exp(-2j * math.pi * u[:, None] * lm)
    ey = torch.exp(-2j * math.pi * v[:, None] * lm)
    return CELL ** 2 * torch.einsum("ji,ki,kj->k", P.to(torch.complex128), ex, ey)


for m in (2000, 20000):
    P = torch.rand(NPIX, NPIX, dtype=torch.float64)
    u = (torch.rand(m, dtype=torch.float64) - 0.5) * 2 * umax
    v = (torch.rand(m, dtype=torch.float64) - 0.5) * 2 * umax
    reps = 31 if m == 2000 else 11
    bench(f"dft_fwd_64x64_m{m}", lambda: dft(P, u, v), 3, reps)
    Pg = P.clone().requires_grad_(True)
    bench(f"dft_fwd_bwd_64x64_m{m}", lambda: (dft(Pg, u, v).abs() ** 2).sum().backward(), 3, reps)
