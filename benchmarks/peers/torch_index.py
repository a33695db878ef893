"""PyTorch CPU side of benchmarks/bench_index.c: same cases, same sizes, median of repeats.
Prints "name ms" lines. Usage: python3 torch_index.py THREADS [ROWS COLS] (default 1000 10000)"""
import sys

import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 and int(sys.argv[1]) > 0 else torch.get_num_threads())
torch.manual_seed(1)


import peer_common  # noqa: E402


def bench(name, fn, warm=2, reps=9):
    peer_common.bench(name, fn, warm, reps)


R, C = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1000, 10_000)
N = R * C
n1, rc, cr = "10M" if N == 10_000_000 else str(N), f"{R}x{C}", f"{C}x{R}"
f32 = torch.float32

x, idx, src = torch.randn(N, dtype=f32), torch.randint(0, N, (N,)), torch.randn(N, dtype=f32)
bench(f"gather_1d_f32_{n1}", lambda: torch.gather(x, 0, idx))
bench(f"scatter_add_1d_f32_{n1}", lambda: torch.scatter_add(x, 0, idx, src))

x, idx, src = torch.randn(R, C, dtype=f32), torch.randint(0, C, (R, C)), torch.randn(R, C, dtype=f32)
bench(f"gather_dim1_f32_{rc}", lambda: torch.gather(x, 1, idx))
bench(f"scatter_add_dim1_f32_{rc}", lambda: torch.scatter_add(x, 1, idx, src))
x.requires_grad_(True)
out, w = torch.gather(x, 1, idx), torch.randn(R, C, dtype=f32)
bench(f"gather_dim1_backward_f32_{rc}", lambda: torch.autograd.grad(out, x, w, retain_graph=True))

x, idx, src = torch.randn(C, R, dtype=f32), torch.randint(0, C, (C, R)), torch.randn(C, R, dtype=f32)
bench(f"gather_dim0_f32_{cr}", lambda: torch.gather(x, 0, idx))
bench(f"scatter_add_dim0_f32_{cr}", lambda: torch.scatter_add(x, 0, idx, src))
rows = torch.randint(0, C, (C,))
bench(f"index_select_rows_f32_{cr}", lambda: torch.index_select(x, 0, rows))

x, cols = torch.randn(R, C, dtype=f32), torch.randint(0, C, (C,))
bench(f"index_select_cols_f32_{rc}", lambda: torch.index_select(x, 1, cols))
