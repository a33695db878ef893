"""PyTorch CPU side of benchmarks/bench_train.c: one training step (forward + MSE loss + backward
+ Adam step + zero_grad(set_to_none=True)), same architectures, shapes and thread count; median
over STEPS steps after 5 warm-up steps (cnn_step_f64: max(5, STEPS // 5) after 2). Prints
"name ms" lines.
Usage: python3 torch_train.py THREADS [STEPS]"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
torch.set_num_threads(threads if threads > 0 else torch.get_num_threads())
torch.manual_seed(1)


class GlobalMean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


def mlp():
    net = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    return net, torch.randn(256, 4), torch.randn(256, 8)


def cnn():
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), GlobalMean(), nn.Linear(32, 8))
    return net, torch.randn(32, 1, 64, 64), torch.randn(32, 8)


def bench(name, make, dt, warm=5, steps=steps):
    net, x, target = make()
    net = net.to(dt)
    x, target = x.to(dt), target.to(dt)
    opt = torch.optim.Adam(net.parameters())  # lr 1e-3, PyTorch's defaults

    def step():
        loss = nn.functional.mse_loss(net(x), target)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    peer_common.bench(name, step, warm, steps)


for dt, dn in ((torch.float32, "f32"), (torch.float64, "f64")):
    bench(f"mlp_step_{dn}", mlp, dt)
    if dt == torch.float32:
        bench(f"cnn_step_{dn}", cnn, dt)
    else:  # as bench_train.c: f64 convolutions are slow in PyTorch, fewer steps
        bench(f"cnn_step_{dn}", cnn, dt, 2, max(5, steps // 5) if steps >= 5 else steps)
