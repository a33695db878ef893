"""PyTorch CPU side of benchmarks/bench_fft.c: torch.fft.fft2 on the same sizes and dtypes,
median of repeats. Prints "name ms" lines. Usage: python3 torch_fft.py THREADS [MAX_N]
(a MAX_N below 1024 runs that size alone, as bench_fft does)"""
import sys

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
max_n = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
torch.manual_seed(1)


from peer_common import bench  # noqa: E402


for n in ((max_n,) if 0 < max_n < 1024 else (1024, 4096)):
    if n > max_n:
        continue
    for dt, dn in ((torch.complex64, "c64"), (torch.complex128, "c128")):
        x = torch.randn(n, n, dtype=dt)
        warm, reps = (2, 11) if n <= 1024 else (1, 5)
        bench(f"fft2_{dn}_{n}", lambda: torch.fft.fft2(x), warm, reps)
        del x
