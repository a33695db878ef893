#!/usr/bin/env python3
"""Writes tests/fixtures/optim.agfx: PyTorch reference trajectories for tests/test_optim.c.

    /usr/bin/python3 tests/gen_optim_fixtures.py

Needs torch (Debian: python3-torch). Everything runs in float64/complex128 with the
single-tensor implementations (foreach=False), and the objectives below are computed with the
same operations, in the same order, as their C twins in tests/test_optim.c (keep them in sync):

  real:    W [2,3], b [3]; r0, r1 = W[0], W[1]
           L = sum((1 - r0)^2 + 10 (r1 - r0^2)^2 + 0.5 (b - C)^2 + 0.1 r1 b)
  neg:     -L (used with maximize=True, so the trajectory still descends L)
  complex: z [3] c128, b [3]; L = sum(|z - CZ|^2) + sum(0.1 |z|^4) + sum(0.5 (b - C)^2)
  rosen:   x [2]; L = (1 - x0)^2 + 100 (x1 - x0^2)^2 (L-BFGS)

Entries (f64 unless noted):
  <cfg>.traj [STEPS, P]  the parameters, flattened (complex as (re, im)), after each step
  <cfg>.loss [STEPS]     the loss evaluated before each step
  lbfgs_<cfg>.traj [NSTEPS, P], lbfgs_<cfg>.loss [NSTEPS] (what step(closure) returned),
  lbfgs_<cfg>.evals [NSTEPS] (state func_evals after each step)
  sched_<name>.lr [50]   the lr after each scheduler.step(); sched_plateau.metric [50]
  clip_<p>.total (0-d), clip_<p>.g<i> (clipped grads), clip_in.g<i> (input grads),
  clipv.g<i> (clip_grad_value_(0.3) of the input grads; g2 is complex)
"""
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fixturegen.common import CODES  # noqa: E402

torch.set_default_dtype(torch.float64)
STEPS = 100

W0 = [[-1.2, 0.5, 0.8], [1.0, -0.3, 0.2]]
B0 = [0.1, -0.2, 0.3]
C = [1.0, 2.0, -1.0]
Z0 = [0.5 + 0.2j, -0.3 + 0.8j, 1.1 - 0.4j]
CZ = [1 - 1j, 0.5 + 0.5j, -0.2 + 0.3j]


def obj_real(W, b):
    r0, r1 = W.select(0, 0), W.select(0, 1)
    c = torch.tensor(C)
    t1 = (1 - r0).square()
    t2 = (r1 - r0.square()).square() * 10
    t3 = (b - c).square() * 0.5
    t4 = (r1 * b) * 0.1
    return (((t1 + t2) + t3) + t4).sum()


def obj_complex(z, b):
    cz = torch.tensor(CZ, dtype=torch.complex128)
    c = torch.tensor(C)
    t1 = (z - cz).abs().square().sum()
    t2 = (z.abs().square().square() * 0.1).sum()
    t3 = ((b - c).square() * 0.5).sum()
    return (t1 + t2) + t3


def obj_rosen(x):
    x0, x1 = x.select(0, 0), x.select(0, 1)
    return (1 - x0).square() + (x1 - x0.square()).square() * 100


def make_params(kind):
    if kind in ("real", "neg"):
        return [torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)]
    if kind == "complex":
        return [torch.tensor(Z0, dtype=torch.complex128, requires_grad=True), torch.tensor(B0, requires_grad=True)]
    if kind == "rosen":
        return [torch.tensor([-1.5, 2.0], requires_grad=True)]
    raise ValueError(kind)


def loss_of(kind, ps):
    if kind == "real":
        return obj_real(*ps)
    if kind == "neg":
        return -obj_real(*ps)
    if kind == "complex":
        return obj_complex(*ps)
    return obj_rosen(*ps)


def flat(ps):
    out = []
    for p in ps:
        d = p.detach()
        if d.is_complex():
            d = torch.view_as_real(d)
        out.append(d.reshape(-1))
    return torch.cat(out)


# name, objective, optimizer class, kwargs (mirrored in test_optim.c)
CONFIGS = [
    ("sgd", "real", torch.optim.SGD, dict(lr=1e-3)),
    ("sgd_nesterov", "real", torch.optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    ("sgd_damp_wd", "real", torch.optim.SGD, dict(lr=1e-3, momentum=0.8, dampening=0.1, weight_decay=0.01)),
    ("sgd_maximize", "neg", torch.optim.SGD, dict(lr=1e-3, momentum=0.5, maximize=True)),
    ("sgd_complex", "complex", torch.optim.SGD, dict(lr=1e-2, momentum=0.9, weight_decay=0.01)),
    ("adam", "real", torch.optim.Adam, dict(lr=1e-2)),
    ("adam_wd_amsgrad", "real", torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("adam_maximize", "neg", torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("adam_complex", "complex", torch.optim.Adam, dict(lr=1e-2, weight_decay=0.01)),
    ("adamw", "real", torch.optim.AdamW, dict(lr=1e-2)),
    ("adamw_amsgrad", "real", torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("adamw_complex", "complex", torch.optim.AdamW, dict(lr=1e-2)),
    ("rmsprop", "real", torch.optim.RMSprop, dict(lr=1e-3)),
    ("rmsprop_centered", "real", torch.optim.RMSprop,
     dict(lr=1e-3, alpha=0.9, centered=True, momentum=0.9, weight_decay=0.01)),
    ("rmsprop_maximize", "neg", torch.optim.RMSprop, dict(lr=1e-3, momentum=0.5, maximize=True)),
    ("rmsprop_complex", "complex", torch.optim.RMSprop, dict(lr=1e-3, centered=True)),
]

LBFGS_CONFIGS = [
    ("rosen_wolfe", "rosen", 10, dict(line_search_fn="strong_wolfe")),
    ("rosen_wolfe_h3", "rosen", 10, dict(line_search_fn="strong_wolfe", history_size=3, max_iter=5)),
    ("real_wolfe", "real", 5, dict(line_search_fn="strong_wolfe", history_size=5)),
    ("real_plain", "real", 5, dict(lr=0.05, max_iter=10)),
]


def run_config(name, kind, cls, kw):
    ps = make_params(kind)
    opt = cls(ps, foreach=False, **kw)
    traj, losses = [], []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss = loss_of(kind, ps)
        loss.backward()
        losses.append(loss.item())
        opt.step()
        traj.append(flat(ps))
    return [(f"{name}.traj", torch.stack(traj)), (f"{name}.loss", torch.tensor(losses))]


def run_lbfgs(name, kind, nsteps, kw):
    ps = make_params(kind)
    opt = torch.optim.LBFGS(ps, **kw)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = loss_of(kind, ps)
        loss.backward()
        return loss

    traj, losses, evals = [], [], []
    for _ in range(nsteps):
        losses.append(float(opt.step(closure)))
        traj.append(flat(ps))
        evals.append(float(opt.state[ps[0]]["func_evals"]))
    return [(f"lbfgs_{name}.traj", torch.stack(traj)), (f"lbfgs_{name}.loss", torch.tensor(losses)),
            (f"lbfgs_{name}.evals", torch.tensor(evals))]


def plateau_metric(k):
    return max(1.0 - 0.1 * k, 0.3) + 0.01 * ((k * 7) % 3)


def run_scheds():
    out = []
    S = torch.optim.lr_scheduler

    def seq(make, name, metric=None):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1)
        s = make(opt)
        lrs = []
        for k in range(50):
            opt.step()
            if metric is None:
                s.step()
            else:
                s.step(metric(k))
            lrs.append(opt.param_groups[0]["lr"])
        out.append((f"sched_{name}.lr", torch.tensor(lrs)))

    seq(lambda o: S.StepLR(o, step_size=7, gamma=0.5), "step")
    seq(lambda o: S.ExponentialLR(o, gamma=0.95), "exp")
    seq(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), "cosine")
    seq(lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=3, threshold=1e-2,
                                      threshold_mode="rel", cooldown=2, min_lr=0.01), "plateau", plateau_metric)
    out.append(("sched_plateau.metric", torch.tensor([plateau_metric(k) for k in range(50)])))
    return out


def clip_inputs():
    rng = np.random.default_rng(1234)
    g0 = torch.tensor(rng.standard_normal((3, 4)))
    g1 = torch.tensor(rng.standard_normal(5)) * 3
    g2 = torch.tensor(rng.standard_normal(4) + 1j * rng.standard_normal(4))
    return [g0, g1, g2]


def run_clip():
    out = [(f"clip_in.g{i}", g) for i, g in enumerate(clip_inputs())]
    for tag, p in (("2", 2.0), ("1", 1.0), ("inf", math.inf), ("3", 3.0)):
        ps = [torch.zeros_like(g, requires_grad=True) for g in clip_inputs()]
        for q, g in zip(ps, clip_inputs()):
            q.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.5, norm_type=p)
        out.append((f"clip_{tag}.total", total.detach().reshape(())))
        out += [(f"clip_{tag}.g{i}", q.grad) for i, q in enumerate(ps)]
    ps = [torch.zeros_like(g, requires_grad=True) for g in clip_inputs()]
    for q, g in zip(ps, clip_inputs()):
        q.grad = g.clone()
    for q in ps[:2]:
        torch.nn.utils.clip_grad_value_([q], 0.3)
    # torch's clamp_ does not take complex: clip real and imaginary parts, as ag_clip_grad_value
    g2 = ps[2].grad
    ps[2].grad = torch.complex(g2.real.clamp(-0.3, 0.3), g2.imag.clamp(-0.3, 0.3))
    out += [(f"clipv.g{i}", q.grad) for i, q in enumerate(ps)]
    return out


def write(path, entries):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"AGFX0001")
        f.write(struct.pack("<I", len(entries)))
        for name, t in entries:
            t = t.detach().contiguous()
            nb = name.encode()
            f.write(struct.pack("<H", len(nb)) + nb)
            f.write(struct.pack("<BB", CODES[t.dtype], t.dim()))
            for s in t.shape:
                f.write(struct.pack("<q", s))
            arr = t.resolve_conj().numpy()
            f.write(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())
    os.replace(tmp, path)


def main():
    entries = []
    for cfg in CONFIGS:
        entries += run_config(*cfg)
    for cfg in LBFGS_CONFIGS:
        entries += run_lbfgs(*cfg)
    entries += run_scheds()
    entries += run_clip()
    out = os.path.join(HERE, "fixtures", "optim.agfx")
    write(out, entries)
    print(f"optim: {len(entries)} tensors -> {out}")


if __name__ == "__main__":
    main()
