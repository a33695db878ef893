"""Gridding and dirty imaging, written out from MPoL 0.2's formulas (gridding.py, datasets.py,
losses.py) in NumPy/PyTorch, with u, v in λ (MPoL 0.2: kλ). tests/imaginggen/mpol_check/ holds
the one-off comparison of these functions with MPoL itself.

Cells: fast_histogram's rule for the sums (lo <= x < hi, bin = int((x - lo) * (n / (hi - lo))),
clamped to n - 1 as fast_histogram 0.14 does), also for the lookup of a point's cell weight
(MPoL uses np.digitize there, which on an exact interior edge can pick the other cell: NaN).
"""
import numpy as np
import torch

FAMILY = "gridding"
ARCSEC = np.pi / (180.0 * 3600.0)


class Grid:
    def __init__(self, cell_size, npix):
        self.cell_size, self.npix = cell_size, npix
        h = npix // 2
        self.dl = cell_size * ARCSEC
        self.du = 1.0 / (npix * self.dl)
        self.edges = self.du * (np.arange(npix + 1) - h - 0.5)
        self.lo, self.hi = self.edges[0], self.edges[-1]
        self.max_uv = self.du * (h - 0.5)
        self.l_centers = self.dl * (np.arange(npix) - h)


def hist_cell(g, u, v):
    """flat ground cell by fast_histogram's rule, -1 outside"""
    n = g.npix
    ok = (u >= g.lo) & (u < g.hi) & (v >= g.lo) & (v < g.hi)
    norm = n / (g.hi - g.lo)
    iu = np.minimum(((u - g.lo) * norm).astype(np.int64), n - 1)
    iv = np.minimum(((v - g.lo) * norm).astype(np.int64), n - 1)
    return np.where(ok, iv * n + iu, -1)


def cell_sum(g, cells, values):
    out = np.zeros(g.npix * g.npix)
    ok = cells >= 0
    np.add.at(out, cells[ok], values[ok])
    return out.reshape(g.npix, g.npix)


def packed(a):
    return np.fft.fftshift(a, axes=(-2, -1))


def data_average(g, u, v, w, d, add_conjugates):
    """MPoL's DataAverager._grid_visibilities + _grid_weights, per channel (packed)"""
    if add_conjugates:
        u, v = np.concatenate([u, -u], 1), np.concatenate([v, -v], 1)
        w, d = np.concatenate([w, w], 1), np.concatenate([d, np.conj(d)], 1)
    vis, wg = [], []
    for c in range(u.shape[0]):
        hc = hist_cell(g, u[c], v[c])
        W = cell_sum(g, hc, w[c])
        dens = 1.0 / W.ravel()[hc]
        re = cell_sum(g, hc, d[c].real * dens * w[c])
        im = cell_sum(g, hc, d[c].imag * dens * w[c])
        vis.append(packed(re + 1j * im))
        wg.append(packed(W))
    vis, wg = np.array(vis), np.array(wg)
    return vis, wg, wg > 0


def null_beam_area(g, beam, ntheta=24, single=True):
    """MPoL's _null_dirty_beam + get_dirty_beam_area"""
    da = 2 * np.pi / ntheta
    az = np.arange(0, 2 * np.pi, da)
    ll, mm = np.meshgrid(g.l_centers, g.l_centers)
    rr = np.sqrt(ll ** 2 + mm ** 2)
    theta = np.arctan2(mm, ll) + np.pi
    nb = beam.copy()
    for i in range(nb.shape[0]):
        b = nb[i]
        neg = b < 0
        for a in az:
            ind = (theta >= a - 0.3 * da) & (theta <= a + 1.3 * da)
            rmin = np.min(rr[neg & ind])
            b[(rr >= rmin) & ind] = 0
        if single:
            nb[:, b == 0] = 0
            break
    return g.cell_size ** 2 * nb.sum(axis=(1, 2))


def gauss_taper(fwhm):
    th = fwhm * ARCSEC
    return lambda u, v: np.exp(-(np.pi * th) ** 2 * (u ** 2 + v ** 2) / (4 * np.log(2)))


def dirty_image(g, u, v, w, d, weighting="uniform", robust=None, taper=None, unit="Jy/beam", ntheta=24, single=True):
    """MPoL's DirtyImager.get_dirty_image (+ the beam area), sky layout"""
    u, v = np.concatenate([u, -u], 1), np.concatenate([v, -v], 1)
    w, d = np.concatenate([w, w], 1), np.concatenate([d, np.conj(d)], 1)
    n = g.npix
    tw = np.ones_like(w) if taper is None else taper(u, v)
    Pv, Pb = [], []
    for c in range(u.shape[0]):
        hc = hist_cell(g, u[c], v[c])
        W = cell_sum(g, hc, w[c]).ravel()
        if weighting == "natural":
            dens = np.ones_like(w[c])
        elif weighting == "uniform":
            dens = 1.0 / W[hc]
        else:
            fsq = (5 * 10 ** (-robust)) ** 2 / (np.sum(W ** 2) / np.sum(w[c]))
            cr = 1 / (1 + W * fsq)
            cr[W <= 0] = 0
            dens = cr[hc]
        C = 1 / np.sum(tw[c] * dens * w[c])
        re = cell_sum(g, hc, d[c].real * tw[c] * dens * w[c])
        im = cell_sum(g, hc, d[c].imag * tw[c] * dens * w[c])
        b = cell_sum(g, hc, tw[c] * dens * w[c])
        Pv.append(C * packed(re + 1j * im))
        Pb.append(C * packed(b))

    def sky(P):
        x = np.fft.fftshift(n ** 2 * np.fft.ifft2(np.array(P)), axes=(1, 2))[:, :, ::-1]
        assert np.max(x.imag) < 1e-10
        return x.real

    img, beam = sky(Pv), sky(Pb)
    area = null_beam_area(g, beam, ntheta, single)
    if unit == "Jy/arcsec^2":
        img = img / area[:, None, None]
    return img, beam, area


def simulate(seed, nchan, nvis, g, fill=0.85):
    """visibilities of two Gaussian sources at random (u, v) (denser at short spacings), with noise"""
    rng = np.random.default_rng(seed)
    q = g.max_uv * fill * np.sqrt(rng.uniform(0.0, 1.0, (nchan, nvis))) ** 1.5
    phi = rng.uniform(0, 2 * np.pi, (nchan, nvis))
    u, v = q * np.cos(phi), q * np.sin(phi)
    sig = 0.02 * (1 + rng.uniform(0, 1, (nchan, nvis)))
    w = 1 / sig ** 2
    srcs = [(1.0, 0.3, -0.2, 0.4), (0.5, -0.5, 0.4, 0.25)]  # flux Jy, l, m, FWHM [arcsec]
    V = np.zeros((nchan, nvis), complex)
    for f, l0, m0, fw in srcs:
        s = fw * ARCSEC / (2 * np.sqrt(2 * np.log(2)))
        V += f * np.exp(-2 * np.pi ** 2 * s ** 2 * (u ** 2 + v ** 2)) * np.exp(-2j * np.pi * (u * l0 + v * m0) * ARCSEC)
    V += sig * (rng.standard_normal((nchan, nvis)) + 1j * rng.standard_normal((nchan, nvis))) / np.sqrt(2)
    return u, v, w, V


def averaging_set(g):
    """random points, clusters of points sharing a cell, points exactly on interior edges"""
    rng = np.random.default_rng(7)
    u, v, w, d = simulate(3, 2, 30, g)
    cu = g.du * rng.integers(-5, 6, (2, 3))[:, :, None] + 0.3 * g.du * rng.uniform(-1, 1, (2, 3, 4))
    cv = g.du * rng.integers(-5, 6, (2, 3))[:, :, None] + 0.3 * g.du * rng.uniform(-1, 1, (2, 3, 4))
    eu = np.array([[g.edges[3], g.edges[9]], [g.edges[5], 0.4 * g.du]])
    ev = np.array([[0.2 * g.du, g.edges[11]], [g.edges[2], g.edges[6]]])
    u = np.concatenate([u, cu.reshape(2, 12), eu], 1)
    v = np.concatenate([v, cv.reshape(2, 12), ev], 1)
    n = u.shape[1] - w.shape[1]
    w = np.concatenate([w, rng.uniform(50, 400, (2, n))], 1)
    d = np.concatenate([d, rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n))], 1)
    return u, v, w, d


DIRTY_CASES = [  # name, weighting, robust, taper FWHM arcsec, unit, ntheta, single-channel area
    ("uniform", "uniform", None, 0, "Jy/beam", 24, True),
    ("natural", "natural", None, 0, "Jy/beam", 24, True),
    ("briggs0", "briggs", 0.0, 0, "Jy/arcsec^2", 24, True),
    ("briggs_taper", "briggs", -1.3, 0.3, "Jy/arcsec^2", 16, False),
]


def t(a):
    a = np.ascontiguousarray(a)
    return torch.tensor(a, dtype=torch.complex128 if np.iscomplexobj(a) else
                        (torch.bool if a.dtype == bool else torch.float64))


def make():
    out = []
    g = Grid(0.05, 16)
    u, v, w, d = averaging_set(g)
    out += [("avg.u", t(u)), ("avg.v", t(v)), ("avg.weight", t(w)), ("avg.data", t(d))]
    for conj in (False, True):
        vis, wg, m = data_average(g, u, v, w, d, conj)
        k = f"avg.conj{int(conj)}"
        out += [(k + ".vis_gridded", t(vis)), (k + ".weight_gridded", t(wg)), (k + ".mask", t(m))]
        if not conj:
            rng = np.random.default_rng(11)
            model = rng.standard_normal(vis.shape) + 1j * rng.standard_normal(vis.shape)
            mt = torch.tensor(model, requires_grad=True)
            mask = torch.tensor(m)
            sel = mt[mask]
            N = len(sel)
            nll = 1 / (2 * N) * torch.sum(torch.tensor(wg)[mask] * torch.abs(torch.tensor(vis)[mask] - sel) ** 2)
            nll.backward()
            # GriddedDataset.add_mask with a random packed 2-d mask
            m2 = rng.uniform(0, 1, vis.shape[1:]) < 0.6
            mt2 = m & m2[None]
            out += [("avg.sub.mask2d", t(m2)), ("avg.sub.mask", t(mt2)), ("avg.sub.vis_gridded", t(np.where(mt2, vis, 0))),
                    ("avg.sub.weight_gridded", t(np.where(mt2, wg, 0)))]
            out += [("avg.model", t(model)), ("avg.forward", sel.detach()), ("avg.nll", nll.detach().reshape(())),
                    ("avg.nll_grad", mt.grad)]

    g = Grid(0.08, 32)
    u, v, w, d = simulate(5, 2, 120, g)
    out += [("dirty.u", t(u)), ("dirty.v", t(v)), ("dirty.weight", t(w)), ("dirty.data", t(d))]
    for name, wt, rob, fw, unit, nth, single in DIRTY_CASES:
        img, beam, area = dirty_image(g, u, v, w, d, wt, rob, gauss_taper(fw) if fw else None, unit, nth, single)
        out += [(f"dirty.{name}.image", t(img)), (f"dirty.{name}.area", t(area))]
        if name in ("uniform", "briggs_taper"):
            out.append((f"dirty.{name}.beam", t(beam)))
    return out
