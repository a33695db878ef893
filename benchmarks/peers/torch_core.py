"""PyTorch CPU side of benchmarks/bench_core.c: same cases, same sizes, median of repeats.
Prints "name ms" lines. Usage: python3 torch_core.py THREADS [N SIDE MATMUL_N] (as bench_core)"""
import sys

import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 and int(sys.argv[1]) > 0 else torch.get_num_threads())
torch.manual_seed(1)


from peer_common import bench  # noqa: E402


N, S, MM = (int(a) for a in sys.argv[2:5]) if len(sys.argv) > 4 else (1 << 22, 2048, 1024)
n1 = "4M" if N == 1 << 22 else str(N)
for dt, dn in ((torch.float32, "f32"), (torch.float64, "f64")):
    a, b = torch.randn(N, dtype=dt), torch.randn(N, dtype=dt)
    bench(f"add_{dn}_{n1}", lambda: torch.add(a, b))
    bench(f"exp_{dn}_{n1}", lambda: torch.exp(a))
    bench(f"softplus_{dn}_{n1}", lambda: torch.nn.functional.softplus(a))
    bench(f"sum_all_{dn}_{n1}", lambda: torch.sum(a))
    m, r = torch.randn(S, S, dtype=dt), torch.randn(S, dtype=dt)
    bench(f"mul_bcast_row_{dn}_{S}x{S}", lambda: torch.mul(m, r))
    bench(f"sum_dim1_{dn}_{S}x{S}", lambda: torch.sum(m, 1))
    bench(f"sum_dim0_{dn}_{S}x{S}", lambda: torch.sum(m, 0))
    x, y = torch.randn(MM, MM, dtype=dt), torch.randn(MM, MM, dtype=dt)
    bench(f"matmul_{dn}_{MM}", lambda: torch.matmul(x, y), 2, 11)
z = torch.randn(N, dtype=torch.complex128)
bench(f"abs_c128_{n1}", lambda: torch.abs(z))
