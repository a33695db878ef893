"""Dartboard of MPoL 0.2 (datasets.py Dartboard, utils.py loglinspace), written out from its
formulas in NumPy with q in λ (MPoL 0.2: kλ), for imaging/crossval.c.

The grid (packed layout): u, v centres du·(i - npix/2) fftshifted, q = √(u² + v²), φ = atan2(v, u).
Dartboard edges: q = loglinspace(0, q_max, 8, 5) with q_max = max q + √2 du (MPoL's
GridCoords.q_max), φ = linspace(0, π, 9). A grid cell's dartboard cell (iq, iφ) is MPoL's
build_grid_mask_from_cells rule: q_edges[iq] <= q < q_edges[iq+1] and
φ in (φ_edges[iφ], φ_edges[iφ+1]] or φ in (φ_edges[iφ] - π, φ_edges[iφ+1] - π] (the Hermitian
half); its flat number is iq·8 + iφ. The occupied dartboard cells are those any masked cell
(any channel) falls in, in lexicographic (iq, iφ) order as np.argwhere gives them.
tests/imaginggen/mpol_check/crossval_vs_mpol.py compares these with MPoL itself.
"""
import numpy as np
import torch

FAMILY = "crossval"
ARCSEC = np.pi / (180.0 * 3600.0)
CELL, NPIX, NCHAN = 0.01, 32, 2


def loglinspace(start, end, N_log, M_linear=3):
    a = end / 10 ** (N_log * np.log10(M_linear / (M_linear - 1)))
    delta = a / (M_linear - 1)
    Delta = np.log10(end / a) / N_log
    walls = [start + delta * i for i in range(M_linear)]
    walls += [10 ** (np.log10(a) + Delta * j) for j in range(1, N_log + 1)]
    return np.array(walls)


def grid_q_phi(cell, npix):
    du = 1.0 / (npix * cell * ARCSEC)
    uc = du * (np.arange(npix) - npix // 2)
    su, sv = np.meshgrid(uc, uc)  # ground: columns u, rows v
    q, phi = np.sqrt(su ** 2 + sv ** 2), np.arctan2(sv, su)
    return np.fft.fftshift(q), np.fft.fftshift(phi), du


def edges(cell, npix):
    q, _, du = grid_q_phi(cell, npix)
    q_max = float(np.max(np.abs(q)) + np.sqrt(2) * du)
    return loglinspace(0, q_max, N_log=8, M_linear=5), np.linspace(0, np.pi, num=8 + 1)


def cell_of(cell, npix):
    """(npix, npix) flat dartboard cell iq·nphi + iφ of each packed grid cell, -1 for none"""
    q, phi, _ = grid_q_phi(cell, npix)
    qe, pe = edges(cell, npix)
    nphi = len(pe) - 1
    out = -np.ones(q.shape, dtype=np.int64)
    for iq in range(len(qe) - 1):
        for ip in range(nphi):
            ind = (q >= qe[iq]) & (q < qe[iq + 1]) & (((phi > pe[ip]) & (phi <= pe[ip + 1])) |
                                                      ((phi > pe[ip] - np.pi) & (phi <= pe[ip + 1] - np.pi)))
            assert np.all(out[ind] == -1)
            out[ind] = iq * nphi + ip
    return out


def dataset(seed=13):
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(NCHAN, NPIX, NPIX)) < 0.12
    mask[:, 0, 0] = True  # u = v = 0
    vis = (rng.normal(size=mask.shape) + 1j * rng.normal(size=mask.shape)) * mask
    w = rng.uniform(0.5, 2.0, size=mask.shape) * mask
    return mask, vis, w


def make():
    qe, pe = edges(CELL, NPIX)
    co = cell_of(CELL, NPIX)
    mask, vis, w = dataset()
    stacked = mask.any(axis=0).reshape(-1)
    pos = np.nonzero(stacked)[0]
    c = co.reshape(-1)[pos]
    cells = np.stack([pos, c // 8, c % 8], axis=1)
    occ = np.unique(c)
    occupied = np.stack([occ // 8, occ % 8], axis=1)
    return [
        ("q_edges", torch.tensor(qe)), ("phi_edges", torch.tensor(pe)),
        ("loglin_1_10_4_3", torch.tensor(loglinspace(1.0, 10.0, 4, 3))),
        ("cell_of", torch.tensor(co)),
        ("mask", torch.tensor(mask)), ("vis", torch.tensor(vis)), ("weight", torch.tensor(w)),
        ("cells", torch.tensor(cells)), ("occupied", torch.tensor(occupied)),
    ]
