"""PyTorch peer of examples/dia.c (difference imaging, PyTorchDIA's kernel fit) for
benchmarks/bench_dia.c: the same two fits on the images the C example saved with --save.

Usage (from the repository root):
    python3 benchmarks/peers/torch_dia.py PREFIX --size N --threads T --cg-iters I
        [--lbfgs-iters L] [--reps R]
PREFIX_ref.f64 ((N+18)², the reference), PREFIX_tgt.f64 (N², the target) and PREFIX_w.f64 (N²,
1/σ²): raw float64, row-major. Prints "dia_cg_N ms" and "dia_cauchy_lbfgs_N ms" (median of R
runs, bench.h's format) and "# ..." lines with the fitted scale factors and evaluation counts for
a person comparing them with the C example's.

The fits are the C example's, operation for operation where it matters for the time:
- model M = conv2d(R − mean(R), K) + (c @ basis) (the C side's better-conditioned form of R ⋆ K + B), K (1,1,19,19), c (1,3), basis = s·{1, x, y} (s the
  reference's mean, x and y in [-1, 1] across the target: x along columns), all float64;
- (a) preconditioned CG (the algorithm of ag_cg, tensor/solve.c) on AᵀWA θ = AᵀW T with the
  Jacobi diagonal (conv2d(R̃², w), basis² @ w), Aᵀu = (conv2d(R̃, u), basis @ u), R̃ = R − mean(R), x0 = 0, exactly
  I iterations (the count the C side reported, so both do the same work);
- (b) torch.optim.LBFGS(lr 1, max_iter L, history_size 10, strong Wolfe, default tolerances) on
  mean(c² log1p(r²/c²)), r = (T − M)·√w, c = 2.385, from (a)'s solution.
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

HALF = 9
KS = 2 * HALF + 1
NK = KS * KS
CAUCHY = 2.385


def load(prefix, n):
    m = n + 2 * HALF

    def rd(what, side):
        a = np.fromfile(f"{prefix}_{what}.f64", dtype="<f8")
        if a.size != side * side:
            raise SystemExit(f"torch_dia.py: {prefix}_{what}.f64 has {a.size} values, expected {side * side}")
        return torch.from_numpy(a.reshape(1, 1, side, side).copy())

    ref, tgt, w = rd("ref", m), rd("tgt", n), rd("w", n)
    s = ref.mean()
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    basis = torch.stack([torch.ones(n, n, dtype=torch.float64), x.expand(n, n), x[:, None].expand(n, n)])
    return ref - s, tgt, w, (s * basis).reshape(3, n * n)


def model(ref, basis, K, c, n):
    return F.conv2d(ref, K) + (c @ basis).reshape(1, 1, n, n)


def fit_cg(ref, tgt, w, basis, n, iters):
    def adjoint(u):
        return torch.cat([F.conv2d(ref, u).flatten(), basis @ u.flatten()])

    def apply(x):
        K = x[:NK].reshape(1, 1, KS, KS)
        c = x[NK:].reshape(1, 3)
        return adjoint(w * model(ref, basis, K, c, n))

    with torch.no_grad():
        diag = torch.cat([F.conv2d(ref * ref, w).flatten(), (basis * basis) @ w.flatten()])
        b = adjoint(w * tgt)
        x = torch.zeros_like(b)
        r = b.clone()
        p = r / diag
        rz = torch.dot(r, p).item()
        for _ in range(iters):
            Ap = apply(p)
            alpha = rz / torch.dot(p, Ap).item()
            x = x + alpha * p
            r = r - alpha * Ap
            z = r / diag
            rzn = torch.dot(r, z).item()
            p = z + (rzn / rz) * p
            rz = rzn
            r.norm().item()  # ag_cg checks the residual each iteration
    return x[:NK].reshape(1, 1, KS, KS).clone(), x[NK:].reshape(1, 3).clone()


def fit_cauchy(ref, tgt, w, basis, n, K0, c0, max_iter):
    K = K0.clone().requires_grad_(True)
    c = c0.clone().requires_grad_(True)
    isig = w.sqrt()
    opt = torch.optim.LBFGS([K, c], lr=1, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe")
    evals = [0]

    def closure():
        evals[0] += 1
        opt.zero_grad()
        r = (tgt - model(ref, basis, K, c, n)) * isig
        loss = CAUCHY ** 2 * torch.log1p(r.square() / CAUCHY ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return K.detach(), c.detach(), evals[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cg-iters", type=int, required=True)
    ap.add_argument("--lbfgs-iters", type=int, default=500)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    n = a.size
    ref, tgt, w, basis = load(a.prefix, n)
    t_cg, t_lb = [], []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        K, c = fit_cg(ref, tgt, w, basis, n, a.cg_iters)
        t1 = time.perf_counter()
        Kb, cb, evals = fit_cauchy(ref, tgt, w, basis, n, K, c, a.lbfgs_iters)
        t2 = time.perf_counter()
        t_cg.append((t1 - t0) * 1e3)
        t_lb.append((t2 - t1) * 1e3)
    print(f"# cg: scale={K.sum().item():.5f} iters={a.cg_iters}; cauchy_lbfgs: scale={Kb.sum().item():.5f} evals={evals}")
    print(f"dia_cg_{n} {statistics.median(t_cg):.6f}", flush=True)
    print(f"dia_cauchy_lbfgs_{n} {statistics.median(t_lb):.6f}", flush=True)


if __name__ == "__main__":
    main()
