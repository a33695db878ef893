"""torchkbnufft side of benchmarks/bench_nufft.c: KbNufft (type 2) and KbNufftAdjoint (type 1)
at 10^5 points uniform in [-pi, pi)^2, 256^2 and 512^2 complex128 images, the package's defaults
(table interpolation, as MPoL's NuFFT layer uses it); the plan row is the modules' construction.
Prints "name ms" lines. Usage: python3 torchkbnufft_nufft.py THREADS [NPIX ...] (default 256 512)"""
import sys
import time

import torch
import torchkbnufft as tkbn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
torch.manual_seed(1)

from peer_common import bench  # noqa: E402

M = 100000
for n in [int(a) for a in sys.argv[2:]] or (256, 512):
    t0 = time.perf_counter()
    fwd = tkbn.KbNufft(im_size=(n, n), dtype=torch.complex128)
    adj = tkbn.KbNufftAdjoint(im_size=(n, n), dtype=torch.complex128)
    plan_ms = (time.perf_counter() - t0) * 1e3  # one construction: no spread
    print(f"nufft_plan_{n}_m1e5 {plan_ms:.6f} {plan_ms:.6f} {plan_ms:.6f}", flush=True)
    omega = (torch.rand(2, M, dtype=torch.float64) - 0.5) * 2 * torch.pi
    img = torch.rand(1, 1, n, n, dtype=torch.float64).to(torch.complex128)
    vis = torch.randn(1, 1, M, dtype=torch.complex128)
    bench(f"nufft_type2_{n}_m1e5", lambda: fwd(img, omega), warm=2, reps=7)
    bench(f"nufft_type1_{n}_m1e5", lambda: adj(vis, omega), warm=2, reps=7)
