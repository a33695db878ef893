"""PyTorch peer of examples/eht_m87.c: the EHT 2017 M87 imaging recipe (RML with closure phases,
log closure amplitudes and amplitudes, eht-imaging regularizers, L-BFGS, blur-and-reimage), then
the ring measure. The reference the C demo is compared with; never a dependency of the library.

Usage (from the repository root):
    python3 benchmarks/peers/torch_eht_m87.py [FILE.uvfits ...] [--threads N]
        [--save image.npy] [--dump prep.npz] [--bench NAME --reps R]
(needs torch, numpy and astropy: Debian's python3-torch and python3-astropy, as scripts/bench.sh
installs them). With --bench, the fit runs R times and a last line "NAME ms" gives the median
seconds × 1000, the format benchmarks/bench_eht_m87.c reads (benchmarks/bench.h).
Prints one progress line per imaging cycle and a summary line
    diameter_uas=.. pa_deg=.. flux_jy=.. chi2_cp=.. chi2_lca=.. chi2_amp=.. seconds=..
seconds = wall time of the preparation (eht_prep.prepare) and the fitting (all cycles), not the
imports, the file reading or the ring measure.

Choices (the C demo makes the same; the data-side ones are in eht_prep.py):
- Image: 64 × 64 pixels of 2 µas, SKY layout as include/astrograd/imaging.h: row i has
  m = (i − 32)·Δ (Dec, north up with origin='lower'), column j has l = (31 − j)·Δ (RA offset,
  east positive, east left); the phase centre is pixel (32, 31) (eht-imaging centres its grid
  between pixels, half a pixel away). --save writes this (64, 64) float64 array in Jy/pixel.
- Forward model: V = A I, A[k, p] = exp(+2πi (u_k l_p + v_k m_p)), complex128, built once; I the
  row-major flattened sky image.
- Positivity: I = exp(x), x the L-BFGS parameters (eht-imaging's log transform).
- Data terms: χ²_cp = (2/N) Σ (1 − cos(ψ_obs − ψ_model))/σ², χ²_lca = (1/N) Σ ((lnCA_obs −
  lnCA_model)/σ)², χ²_amp = (1/N) Σ ((|V|_obs − |V|_model)/σ_amp)², over all bands together.
- Regularizers as eht-imaging's with norm_reg (F = 0.6 Jy the nominal flux, Δ the pixel, b the
  nominal resolution 1/max|uv| [rad] over all the files' scan-averaged points): entropy Σ I ln(I/P) / F; TV Σ √((I[i−1,j] − I)² +
  (I[i,j+1] − I)² + ε) / (F Δ/b) in the sky layout (i the row, Dec increasing), with I = 0 at
  row −1 (south of the image) and past the last column (west), as eht-imaging's stv on its
  north-first rows, and ε = 1e-30 Jy² (eht-imaging has ε = 0, whose gradient is undefined
  where both differences vanish); TSV Σ ((I[i−1,j] − I)² + (I[i,j+1] − I)²) / (F² Δ⁴/b⁴),
  same padding; flux (ΣI/F − 1)². Checked against eht-imaging 1.3.2's ssimple, stv, stv2 and
  sflux on the flipped (north-first) array.
  L1 (Σ|I|/F) is implemented but has weight 0 in this recipe.
- Objective: 0.2 χ²_amp + χ²_cp + χ²_lca + entropy + TV + TSV + 1e4 flux (W_ENT = 1 as the
  issue says; the EHT's published eht-imaging script has 'simple': 100, which gives a smoother
  ring that fits the amplitudes much worse before its self-calibration rounds).
- Prior P and first image: circular Gaussian of 40 µas FWHM at the phase centre, sampled at the
  pixel centres and scaled to sum to 0.6 Jy.
- Cycles: 4 runs of torch.optim.LBFGS (lr 1, max_iter 200, max_eval 250, history_size 100,
  tolerance_grad 1e-7, tolerance_change 1e-9, strong Wolfe), each one step(closure) call.
  Cycle 1 starts from the prior, cycles 2-4 from the previous result blurred by a circular
  Gaussian of FWHM b (separable, the 1-d kernel exp(−4 ln2 (kΔ/b)²) at integer offsets
  |k| ≤ 63 normalised to sum 1, zero outside the image). The prior stays the Gaussian. The final
  image is cycle 4's result, unblurred. (Every run stops at 200 iterations on this data.)
- Ring measure (on the final image): see ring_measure().
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eht_prep  # noqa: E402
import peer_common  # noqa: E402

NPIX = 64
CELL_UAS = 2.0
PRIOR_FWHM_UAS = 40.0
FLUX = eht_prep.COMPACT_FLUX
W_AMP = 0.2
W_FLUX = 1e4
W_ENT = 1.0
CYCLES = 4
MAX_ITER = 200
TV_EPS = 1e-30
UAS = eht_prep.UAS
DEFAULT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'data', 'eht',
                            'SR1_M87_2017_095_lo_hops_netcal_StokesI.uvfits')


def sky_lm(npix=NPIX, cell=CELL_UAS * UAS):
    """l, m [rad] of the sky-layout pixel centres, each (npix, npix)."""
    idx = np.arange(npix)
    m = (idx - npix // 2) * cell
    l = (npix // 2 - 1 - idx) * cell
    return np.broadcast_to(l[None, :], (npix, npix)), np.broadcast_to(m[:, None], (npix, npix))


def gaussian_image(fwhm_rad, flux, npix=NPIX, cell=CELL_UAS * UAS):
    l, m = sky_lm(npix, cell)
    g = np.exp(-4 * math.log(2) * (l ** 2 + m ** 2) / fwhm_rad ** 2)
    return g * (flux / g.sum())


def dft_matrix(u, v, npix=NPIX, cell=CELL_UAS * UAS):
    l, m = sky_lm(npix, cell)
    ph = 2 * np.pi * (np.outer(u, l.ravel()) + np.outer(v, m.ravel()))
    return torch.from_numpy(np.exp(1j * ph))


def blur(img, fwhm_rad, cell=CELL_UAS * UAS):
    n = img.shape[0]
    k = np.arange(-(n - 1), n)
    g = np.exp(-4 * math.log(2) * (k * cell / fwhm_rad) ** 2)
    g /= g.sum()
    K = g[(np.arange(n)[:, None] - np.arange(n)[None, :]) + (n - 1)]  # K[i, j] = g(i − j)
    return K @ img @ K.T


def _diffs(img):
    # eht-imaging's rows run north to south: its "next row" is our previous one (south), and
    # its zero padding past the last row lies below our row 0
    pad = torch.nn.functional.pad(img, (0, 1, 1, 0))
    return pad[:-1, :-1] - img, pad[1:, 1:] - img


def reg_entropy(img, prior, flux):
    return torch.sum(img * torch.log(img / prior)) / flux


def reg_tv(img, flux, cell, beam):
    d1, d2 = _diffs(img)
    return torch.sum(torch.sqrt(d1 ** 2 + d2 ** 2 + TV_EPS)) / (flux * cell / beam)


def reg_tsv(img, flux, cell, beam):
    d1, d2 = _diffs(img)
    return torch.sum(d1 ** 2 + d2 ** 2) / (flux ** 2 * cell ** 4 / beam ** 4)


def reg_l1(img, flux):
    return torch.sum(torch.abs(img)) / flux


def reg_flux(img, flux):
    return (torch.sum(img) / flux - 1) ** 2


class Problem:
    """The prepared data as torch tensors, and the χ² terms of an image."""

    def __init__(self, p):
        self.A = dft_matrix(p['u'], p['v'])
        t = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))  # noqa: E731
        self.amp, self.sigma_amp = t(p['amp']), t(p['sigma_amp'])
        self.cp, self.sigma_cp = t(p['cp']), t(p['sigma_cp'])
        self.lca, self.sigma_lca = t(p['lca']), t(p['sigma_lca'])
        self.cp_idx = torch.from_numpy(p['cp_idx'])
        self.lca_idx = torch.from_numpy(p['lca_idx'])
        self.beam = 1.0 / np.hypot(p['u'], p['v']).max()

    def chi2(self, img):
        vis = self.A @ img.reshape(-1).to(torch.complex128)
        ph = torch.angle(vis)
        la = torch.log(torch.abs(vis))
        i = self.cp_idx
        cpm = ph[i[:, 0]] + ph[i[:, 1]] - ph[i[:, 2]]
        c_cp = 2.0 / len(self.cp) * torch.sum((1 - torch.cos(self.cp - cpm)) / self.sigma_cp ** 2)
        j = self.lca_idx
        lcam = la[j[:, 0]] + la[j[:, 1]] - la[j[:, 2]] - la[j[:, 3]]
        c_lca = torch.mean(((self.lca - lcam) / self.sigma_lca) ** 2)
        c_amp = torch.mean(((self.amp - torch.abs(vis)) / self.sigma_amp) ** 2)
        return c_cp, c_lca, c_amp


def image(prob, prior, init, cell=CELL_UAS * UAS):
    """One L-BFGS run from init; returns the image (numpy, Jy/pixel) and the objective."""
    x = torch.log(torch.from_numpy(init.copy())).requires_grad_(True)
    P = torch.from_numpy(prior)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=MAX_ITER, max_eval=MAX_ITER * 5 // 4,
                            history_size=100, tolerance_grad=1e-7, tolerance_change=1e-9,
                            line_search_fn='strong_wolfe')

    def objective():
        img = torch.exp(x)
        c_cp, c_lca, c_amp = prob.chi2(img)
        return (W_AMP * c_amp + c_cp + c_lca + W_ENT * reg_entropy(img, P, FLUX)
                + reg_tv(img, FLUX, cell, prob.beam) + reg_tsv(img, FLUX, cell, prob.beam)
                + W_FLUX * reg_flux(img, FLUX))

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss
    opt.step(closure)
    with torch.no_grad():
        loss = objective().item()
    return torch.exp(x).detach().numpy(), loss, opt.state[opt._params[0]]['n_iter']


def bilinear(img, row, col):
    """img sampled at fractional (row, col); 0 outside."""
    n0, n1 = img.shape
    r0 = np.floor(row).astype(np.int64)
    c0 = np.floor(col).astype(np.int64)
    fr, fc = row - r0, col - c0
    out = np.zeros(np.broadcast(row, col).shape)
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            r, c = r0 + dr, c0 + dc
            ok = (r >= 0) & (r < n0) & (c >= 0) & (c < n1)
            out += np.where(ok, wr * wc * img[np.clip(r, 0, n0 - 1), np.clip(c, 0, n1 - 1)], 0)
    return out


def ring_measure(img, cell_uas=CELL_UAS):
    """Ring diameter [µas], PA [deg east of north] and centre (l0, m0) [µas] of a sky-layout
    image. Rays every 10° (θ = 0, 10, ..., 350° east of north: l = l0 + r sin θ,
    m = m0 + r cos θ), each sampled bilinearly at r = 5, 5.1, ..., 50 µas; the radius of a ray
    is the r of its largest sample (the first on a tie). The centre runs over the brightness
    centroid + (dl, dm), dl, dm = −10, −9, ..., 10 µas, and is the one with the smallest standard
    deviation (ddof 0) of the 36 radii (the first in dl-major, dm-minor order on a tie) among
    the centres where no ray peaks at its first or last sample (a centre on a bright blob would
    otherwise win with every radius at 5 µas; if no centre qualifies, all are used).
    Diameter = 2 × mean radius there; PA = atan2(Σ b sin θ, Σ b cos θ) mod 360°, b the rays'
    peak brightness."""
    n = img.shape[0]
    l, m = sky_lm(n, cell_uas)  # µas
    lc, mc = (img * l).sum() / img.sum(), (img * m).sum() / img.sum()
    th = np.deg2rad(np.arange(0, 360, 10.0))
    r = np.round(np.arange(50, 501) * 0.1, 10)
    off = np.arange(-10.0, 11.0)
    dl, dm = [x.ravel() for x in np.meshgrid(off, off, indexing='ij')]
    ll = lc + dl[:, None, None] + r[None, None, :] * np.sin(th)[None, :, None]
    mm = mc + dm[:, None, None] + r[None, None, :] * np.cos(th)[None, :, None]
    s = bilinear(img, mm / cell_uas + n // 2, (n // 2 - 1) - ll / cell_uas)
    k = np.argmax(s, axis=2)                     # (centres, rays)
    rad = r[k]
    spread = rad.std(axis=1)
    ok = ((k > 0) & (k < len(r) - 1)).all(axis=1)
    c = int(np.argmin(np.where(ok, spread, np.inf))) if ok.any() else int(np.argmin(spread))
    b = np.take_along_axis(s[c], k[c][:, None], axis=1)[:, 0]
    pa = math.degrees(math.atan2((b * np.sin(th)).sum(), (b * np.cos(th)).sum())) % 360
    return 2 * rad[c].mean(), pa, (lc + dl[c], mc + dm[c])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('uvfits', nargs='*', default=[DEFAULT_FILE])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--save', help='final image (64, 64) float64 Jy/pixel, sky layout, .npy')
    ap.add_argument('--dump', help='the prepared data products, .npz (eht_prep.dump)')
    ap.add_argument('--bench', help='print "NAME ms" (median over --reps fits) last')
    ap.add_argument('--reps', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    records = [eht_prep.read_uvfits(f) for f in args.uvfits]
    times = []
    for _ in range(max(1, args.reps)):
        p, img, c, seconds = fit(records)
        times.append(seconds)

    if args.dump:
        eht_prep.dump(p, args.dump)
    if args.save:
        np.save(args.save, img)
    d, pa, _ = ring_measure(img)
    print(f"diameter_uas={d:.1f} pa_deg={pa:.0f} flux_jy={img.sum():.3f} chi2_cp={c[0]:.2f} "
          f"chi2_lca={c[1]:.2f} chi2_amp={c[2]:.2f} seconds={seconds:.2f}")
    if args.bench:
        q1, med, q3 = peer_common.stats([1e3 * t for t in times])
        print(f"{args.bench} {med:.3f} {q1:.3f} {q3:.3f}", flush=True)


def fit(records):
    t0 = time.perf_counter()
    p = eht_prep.prepare(records)
    prob = Problem(p)
    prior = gaussian_image(PRIOR_FWHM_UAS * UAS, FLUX)
    img = prior
    for cycle in range(1, CYCLES + 1):
        init = prior if cycle == 1 else blur(img, prob.beam)
        img, loss, nit = image(prob, prior, init)
        with torch.no_grad():
            c = [t.item() for t in prob.chi2(torch.from_numpy(img))]
        print(f"cycle {cycle}: iterations={nit} objective={loss:.4f} flux_jy={img.sum():.3f} "
              f"chi2_cp={c[0]:.2f} chi2_lca={c[1]:.2f} chi2_amp={c[2]:.2f}", flush=True)
    return p, img, c, time.perf_counter() - t0


if __name__ == '__main__':
    main()
