"""Closure phases, log closure amplitudes and the EHT χ² losses (imaging/closure.c), written out
from their definitions in numpy/torch on a small synthetic VLBI array:

6 stations, 2 channels (bands: no closures across them), 3 time stamps; time 1 lacks baseline
(1, 4), time 2 lacks station 5; baseline (2, 3) is short (< 1e8 λ in both bands) and excluded;
some baselines are stored reversed (ant1 > ant2) and so enter conjugated.

The selection rule pinned here and in imaging/closure.c, per channel and per time stamp
(ascending): the baselines are those with ant1 != ant2 and √(u² + v²) > min_baseline (the
first row of each station pair); the reference station has the largest Σ |V|/σ over its
baselines (the lowest index on ties). Closure phases: candidates (ref, b, c), b < c, then the
triangles without ref in lexicographic order, each kept when its three baselines exist and its
±1 baseline vector is linearly independent of those kept. Log closure amplitudes
ln(|V_pq| |V_rs| / (|V_pr| |V_qs|)): for each 4-subset a < b < c < d the candidates
(a, b, c, d), (a, b, d, c), (a, c, d, b), all of them ordered by σ_lca ascending (stable), each
kept when its four baselines exist and its vector is independent (matrix rank here; Gaussian
elimination in C)."""
import itertools
import math

import numpy as np
import torch

FAMILY = "closure"
MIN_BL = 1e8


def make_array():
    rng = np.random.default_rng(2026)
    nst, nchan = 6, 2
    pos = rng.normal(size=(nst, 2)) * 4e9  # station "positions" in λ at band 0
    pos[3] = pos[2] + np.array([2e7, -1.5e7])  # (2, 3) a short baseline
    scale = np.array([1.0, 1.02])  # band 1: 2 % higher frequency
    rows = []
    for ti, t in enumerate([5.0e9, 5.0e9 + 120.0, 5.0e9 + 600.0]):
        st = range(5) if ti == 2 else range(nst)
        for a, b in itertools.combinations(st, 2):
            if ti == 1 and (a, b) == (1, 4):
                continue
            rows.append((t, b, a) if (a + b + ti) % 3 == 0 else (t, a, b))  # some stored reversed
    nvis = len(rows)
    time = np.array([r[0] for r in rows])
    ant1 = np.array([r[1] for r in rows], dtype=np.int64)
    ant2 = np.array([r[2] for r in rows], dtype=np.int64)
    rot = np.array([0.3 * k for k in range(nvis)])
    d = pos[ant1] - pos[ant2]
    u0 = d[:, 0] * np.cos(rot) - d[:, 1] * np.sin(rot)
    v0 = d[:, 0] * np.sin(rot) + d[:, 1] * np.cos(rot)
    u = scale[:, None] * u0[None, :]
    v = scale[:, None] * v0[None, :]
    true = (rng.uniform(0.3, 2.0, size=(nchan, nvis)) * np.exp(1j * rng.uniform(-np.pi, np.pi, size=(nchan, nvis))))
    sst = rng.uniform(0.5, 3.0, size=nst)  # station noise: the reference station varies
    sigma = 0.02 * sst[ant1] * sst[ant2] * np.ones((nchan, 1))
    g = rng.uniform(0.7, 1.4, size=(nchan, nst)) * np.exp(1j * rng.uniform(-np.pi, np.pi, size=(nchan, nst)))
    noise = sigma * (rng.normal(size=(nchan, nvis)) + 1j * rng.normal(size=(nchan, nvis))) / math.sqrt(2)
    data = g[:, ant1] * np.conj(g[:, ant2]) * true + noise
    model = true * (1 + 0.05 * (rng.normal(size=(nchan, nvis)) + 1j * rng.normal(size=(nchan, nvis))))
    return dict(time=time, ant1=ant1, ant2=ant2, u=u, v=v, data=data, sigma=sigma, model=model, nst=nst)


def independent(vecs, new):
    return np.linalg.matrix_rank(np.array(vecs + [new])) == len(vecs) + 1


def build(A):
    time, ant1, ant2, u, v, data, sigma = (A[k] for k in ("time", "ant1", "ant2", "u", "v", "data", "sigma"))
    nchan, nvis = data.shape
    cp, lca = [], []  # (positions, signs, stations)
    for c in range(nchan):
        for t in sorted(set(time.tolist())):
            bl = {}
            for k in range(nvis):
                if time[k] != t or ant1[k] == ant2[k] or math.hypot(u[c, k], v[c, k]) <= MIN_BL:
                    continue
                key = (min(ant1[k], ant2[k]), max(ant1[k], ant2[k]))
                bl.setdefault(key, k)
            keys = sorted(bl)
            stations = sorted({s for key in keys for s in key})
            snr = {s: sum(abs(data[c, bl[key]]) / sigma[c, bl[key]] for key in keys if s in key) for s in stations}
            ref = max(stations, key=lambda s: (snr[s], -s))

            def edge(x, y):
                k = bl[(min(x, y), max(x, y))]
                return c * nvis + k, (1 if ant1[k] == x else -1)

            def vec(edges, coef):
                out = [0.0] * len(keys)
                for (x, y), w in zip(edges, coef):
                    out[keys.index((min(x, y), max(x, y)))] += w * (1 if x < y else -1)
                return out

            others = [s for s in stations if s != ref]
            cands = [(ref, b, cc) for b, cc in itertools.combinations(others, 2)]
            cands += list(itertools.combinations(others, 3))
            kept = []
            for tri in cands:
                x, y, z = tri
                edges = [(x, y), (y, z), (z, x)]
                if any((min(p), max(p)) not in bl for p in edges):
                    continue
                w = vec(edges, [1, 1, 1])
                if independent(kept, w):
                    kept.append(w)
                    e = [edge(*p) for p in edges]
                    cp.append(([q[0] for q in e], [q[1] for q in e], list(tri)))
            qc = []
            for a, b, cc, d in itertools.combinations(stations, 4):
                for p, q, r, s in [(a, b, cc, d), (a, b, d, cc), (a, cc, d, b)]:
                    edges = [(p, q), (r, s), (p, r), (q, s)]
                    if any((min(e), max(e)) not in bl for e in edges):
                        continue
                    pos = [edge(*e)[0] for e in edges]
                    sg = math.sqrt(sum((sigma.flat[i] / abs(data.flat[i])) ** 2 for i in pos))
                    qc.append((sg, edges, pos, [p, q, r, s]))
            qc.sort(key=lambda x: x[0])
            kept = []
            for sg, edges, pos, st in qc:
                w = vec(edges, [1, 1, -1, -1])
                if independent(kept, w):
                    kept.append(w)
                    lca.append((pos, [1, 1, -1, -1], st))
    return cp, lca


def make():
    A = make_array()
    cp, lca = build(A)
    data = torch.tensor(A["data"])
    sigma = torch.tensor(A["sigma"])
    cp_idx = torch.tensor([x[0] for x in cp])
    cp_sgn = torch.tensor([x[1] for x in cp], dtype=torch.float64)
    lca_idx = torch.tensor([x[0] for x in lca])
    lca_sgn = torch.tensor([x[1] for x in lca], dtype=torch.float64)

    def phases(V):
        f = V.reshape(-1)[cp_idx]
        f = torch.where(cp_sgn > 0, f, f.conj())
        return torch.angle(f[:, 0] * f[:, 1] * f[:, 2])

    def lcas(V):
        return (torch.log(V.reshape(-1)[lca_idx].abs()) * lca_sgn).sum(1)

    sf = sigma.reshape(-1)
    af = data.reshape(-1).abs()
    cp_sigma = torch.sqrt(((sf[cp_idx] / af[cp_idx]) ** 2).sum(1))
    lca_sigma = torch.sqrt(((sf[lca_idx] / af[lca_idx]) ** 2).sum(1))
    cp_obs, lca_obs = phases(data), lcas(data)

    out = [("time", torch.tensor(A["time"])), ("ant1", torch.tensor(A["ant1"])), ("ant2", torch.tensor(A["ant2"])),
           ("u", torch.tensor(A["u"])), ("v", torch.tensor(A["v"])), ("data", data), ("sigma", sigma),
           ("model", torch.tensor(A["model"])),
           ("cp_index", cp_idx), ("cp_sign", cp_sgn), ("cp_stations", torch.tensor([x[2] for x in cp])),
           ("cp_obs", cp_obs), ("cp_sigma", cp_sigma),
           ("lca_index", lca_idx), ("lca_stations", torch.tensor([x[2] for x in lca])),
           ("lca_obs", lca_obs), ("lca_sigma", lca_sigma)]
    losses = {
        "chi2_cp": lambda m: 2.0 / len(cp) * ((1 - torch.cos(cp_obs - phases(m))) / cp_sigma ** 2).sum(),
        "chi2_lca": lambda m: (((lca_obs - lcas(m)) / lca_sigma) ** 2).mean(),
        "chi2_amp": lambda m: (((data.abs() - m.abs()) / sigma) ** 2).mean(),
    }
    m = torch.tensor(A["model"]).requires_grad_(True)
    out += [("model_cp", phases(m).detach()), ("model_lca", lcas(m).detach())]
    for name, fn in losses.items():
        m.grad = None
        loss = fn(m)
        loss.backward()
        out += [(name, loss.detach()), (name + "_grad", m.grad.clone())]
    return out + scan_average_case()


def scan_average_case():
    """ag_vis_scan_average in numpy: times in 3 scans (gaps > 60 s), rows repeated per pair."""
    rng = np.random.default_rng(7)
    times = np.array([0.0, 10.0, 20.0, 200.0, 230.0, 1000.0])
    pairs = [(0, 1), (0, 2), (1, 2), (2, 0)]
    rows = [(t, a, b) for t in times for a, b in pairs if not (t == 230.0 and (a, b) == (0, 2))]
    time = np.array([r[0] for r in rows])
    a1 = np.array([r[1] for r in rows], dtype=np.int64)
    a2 = np.array([r[2] for r in rows], dtype=np.int64)
    nchan, nv = 2, len(rows)
    u = rng.normal(size=(nchan, nv)) * 1e9
    v = rng.normal(size=(nchan, nv)) * 1e9
    d = rng.normal(size=(nchan, nv)) + 1j * rng.normal(size=(nchan, nv))
    w = rng.uniform(0.5, 4.0, size=(nchan, nv))
    ut = np.unique(time)
    scan_of_t = np.concatenate([[0], np.cumsum(np.diff(ut) > 60.0)])
    scan = scan_of_t[np.searchsorted(ut, time)]
    groups = sorted({(s, x, y) for s, x, y in zip(scan, a1, a2)})
    out = {k: [] for k in ("time", "ant1", "ant2", "u", "v", "data", "weight")}
    for s, x, y in groups:
        sel = (scan == s) & (a1 == x) & (a2 == y)
        ws = w[:, sel]
        out["time"].append(time[scan == s].mean())
        out["ant1"].append(x)
        out["ant2"].append(y)
        for k, arr in (("u", u), ("v", v), ("data", d)):
            out[k].append((ws * arr[:, sel]).sum(1) / ws.sum(1))
        out["weight"].append(ws.sum(1))
    res = [("sa.in_time", torch.tensor(time)), ("sa.in_ant1", torch.tensor(a1)), ("sa.in_ant2", torch.tensor(a2)),
           ("sa.in_u", torch.tensor(u)), ("sa.in_v", torch.tensor(v)), ("sa.in_data", torch.tensor(d)),
           ("sa.in_weight", torch.tensor(w))]
    for k in ("time", "ant1", "ant2"):
        res.append(("sa." + k, torch.tensor(np.array(out[k]))))
    for k in ("u", "v", "data", "weight"):
        res.append(("sa." + k, torch.tensor(np.stack(out[k], axis=1))))
    res.append(("sa.sigma", 1 / torch.sqrt(res[-1][1])))
    return res
