"""PyTorch CPU side of benchmarks/bench_core.c: same cases, same sizes, median of repeats.
Prints "name ms" lines. Usage: python3 torch_core.py THREADS"""
import sys

import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 and int(sys.argv[1]) > 0 else torch.get_num_threads())
torch.manual_seed(1)


from peer_common import bench  # noqa: E402


N = 1 << 22
for dt, dn in ((torch.float32, "f32"), (torch.float64, "f64")):
    a, b = torch.randn(N, dtype=dt), torch.randn(N, dtype=dt)
    bench(f"add_{dn}_4M", lambda: torch.add(a, b))
    bench(f"exp_{dn}_4M", lambda: torch.exp(a))
    bench(f"softplus_{dn}_4M", lambda: torch.nn.functional.softplus(a))
    bench(f"sum_all_{dn}_4M", lambda: torch.sum(a))
    m, r = torch.randn(2048, 2048, dtype=dt), torch.randn(2048, dtype=dt)
    bench(f"mul_bcast_row_{dn}_2048x2048", lambda: torch.mul(m, r))
    bench(f"sum_dim1_{dn}_2048x2048", lambda: torch.sum(m, 1))
    bench(f"sum_dim0_{dn}_2048x2048", lambda: torch.sum(m, 0))
    x, y = torch.randn(1024, 1024, dtype=dt), torch.randn(1024, 1024, dtype=dt)
    bench(f"matmul_{dn}_1024", lambda: torch.matmul(x, y), 2, 11)
z = torch.randn(N, dtype=torch.complex128)
bench("abs_c128_4M", lambda: torch.abs(z))
