"""Data preparation of the EHT 2017 M87 recipe (benchmarks/peers/torch_eht_m87.py), as the EHT's
published M87 imaging pipelines do it: read the random-groups UVFITS, average each baseline
coherently over each scan, rescale the intra-site baselines to the 0.6 Jy compact flux, add the
systematic and station error budgets, set the LMT gain per scan from a Gaussian, and form a
minimal independent set of closure phases and log closure amplitudes per scan.

Pure NumPy + astropy: a benchmark peer and the reference for examples/eht_m87.c, never a
dependency of the library or its tests.

Run alone to dump the prepared products for the C demo to be checked against:
    /work/venv-mpol/bin/python benchmarks/peers/eht_prep.py FILE.uvfits... --dump prep.npz
The npz keys are listed in dump().

Conventions (the C demo makes the same choices):
- u, v in λ (UU, VV [s] × the reference frequency CRVAL4 + the FQ table's IF FREQ), V in Jy,
  V(u, v) = ∫ I e^{+2πi(ul + vm)}, l the RA offset east positive (AIPS/HOPS, eht-imaging).
- Stokes I = (RR + LL)/2 with weight 4/(1/w_RR + 1/w_LL), a record kept only when both weights
  are > 0 (a Stokes axis that starts at I (CRVAL = 1) is used as it is, weight > 0). σ = 1/√w.
- Stations are numbered by their AN-table order (ANNAME); a baseline is stored with a1 < a2.
- Scans: the sorted distinct record times split where consecutive ones are > 60 s apart.
  Averaging per (scan, baseline): V = Σ wV / Σ w, σ = 1/√Σw (w = 1/σ², as the issue says),
  u, v, time = plain means. (eht-imaging 1.3.2's avg_coherent(0, scan_avg=True), which the EHT
  script calls, takes the plain mean of V and σ = √Σσ² / n instead: up to 60 % different V on
  low-SNR scans; its scans, u, v and median |V(AA-AP)| agree with these.)
- Compact flux: V and σ of the baselines with |uv| < 0.1 Gλ times 0.6 / median |V(AA-AP)|
  (median over the scan-averaged AA-AP amplitudes of the band).
- σ_vis = √(σ² + (0.02 |V|)²) (the one closures use); for amplitudes
  σ_amp = √(σ_vis² + |V|² Σ_{s in the baseline} f_s²), f_s = ((1 + e_s)^½ − 1)/4 with the SEFD
  errors e_s below, and f_LM = ((1 + 0.22)^½ − 1)/4 + 0.15 (the +0.15 added to the fraction).
- LMT gain g per scan = A_gauss(|uv|) / |V(LM-AZ)| on that scan's LM-AZ point with |uv| < 2 Gλ,
  A_gauss = 0.6 exp(−π² θ² |uv|² / (4 ln 2)), θ = 60 µas FWHM; a scan without such a point
  takes the gain of the nearest scan (in mean time) that has one (the earlier on a tie), as
  eht-imaging's applycal(interp='nearest', extrapolate=True). V, σ_vis and σ_amp of every LM
  baseline of the scan are multiplied by g (the closures do not change).
- Closures per scan, only from baselines with |uv| > 0.1 Gλ. Station SNR = Σ |V|/σ_vis over its
  baselines in the scan; the reference is the station of highest SNR (lower index on a tie).
  Closure phases: candidate triangles (i < j < k, all three baselines present) sorted with the
  ones through the reference first, each group by σ_cp ascending (stable); a candidate is taken
  when its ±1 baseline row raises the rank of the rows taken so far.
  ψ = φ(ij) + φ(jk) − φ(ik), σ_cp = √Σ (σ_vis/|V|)² [rad].
  Log closure amplitudes: for stations a < b < c < d, the quadrangles (ab cd / ac bd),
  (ab cd / ad bc), (ac bd / ad bc) whose 4 baselines are present, sorted by σ ascending (stable;
  enumeration order a, b, c, d lexicographic, then the three forms in that order), each taken
  when its ±1 row raises the rank. Both sets reach the maximum size (B − N + 1 closure phases,
  B − N log closure amplitudes for a scan's B baselines on N stations, when connected).
  ln CA = ln|V(n1)| + ln|V(n2)| − ln|V(d1)| − ln|V(d2)|, σ = √Σ_4 (σ_vis/|V|)².
  No debiasing of amplitudes.
- Several files (bands): each is prepared on its own (its own scans, rescaling, LMT gains and
  closures), then the products are concatenated (closure indices offset; no closures across
  bands).
"""
import argparse
import math

import numpy as np
from astropy.io import fits

COMPACT_FLUX = 0.6            # Jy
INTRA_SITE_UV = 0.1e9         # λ
SYS_NOISE = 0.02
SEFD_ERR = dict(AA=0.10, AP=0.11, AZ=0.07, LM=0.22, PV=0.10, SM=0.15, JC=0.14, SP=0.07)
LMT_EXTRA = 0.15
LMT_UV_MAX = 2e9              # λ
LMT_GAUSS_FWHM_UAS = 60.0
SCAN_GAP_S = 60.0
UAS = math.pi / 180 / 3600 / 1e6   # rad


def read_uvfits(path):
    """Stokes I records of a random-groups UVFITS: dict of time [s from 0 h UTC of the first
    date], u, v [λ], a1, a2 (0-based AN-table rows, a1 < a2), vis [Jy complex], sigma [Jy],
    names (station names), freq [Hz]."""
    with fits.open(path) as f:
        h = f[0].header
        gd = f[0].data
        freq = float(h['CRVAL4'])
        if 'AIPS FQ' in f:
            freq += float(np.atleast_1d(f['AIPS FQ'].data['IF FREQ']).ravel()[0])
        an = f['AIPS AN'].data
        names = [str(n).strip() for n in an['ANNAME']]
        row_of = {int(n): i for i, n in enumerate(an['NOSTA'])}
        idx = [i for i, p in enumerate(gd.parnames) if p.upper().startswith('DATE')]
        jd = np.zeros(len(gd), np.float64)
        for i in idx:  # .par(i) applies PSCAL/PZERO; the two DATE parameters add up
            jd = jd + gd.par(i).astype(np.float64)
        u = gd.par('UU---SIN').astype(np.float64) * freq
        v = gd.par('VV---SIN').astype(np.float64) * freq
        bl = np.rint(gd.par('BASELINE')).astype(np.int64)
        data = np.asarray(gd.data, np.float64).reshape(len(gd), -1, 3)  # one IF, one channel
        stokes0 = float(h['CRVAL3'])
    if stokes0 == 1.0:
        vis = data[:, 0, 0] + 1j * data[:, 0, 1]
        w = data[:, 0, 2]
        keep = w > 0
    elif stokes0 == -1.0:  # RR, LL, ...
        vis = 0.5 * ((data[:, 0, 0] + data[:, 1, 0]) + 1j * (data[:, 0, 1] + data[:, 1, 1]))
        w1, w2 = data[:, 0, 2], data[:, 1, 2]
        keep = (w1 > 0) & (w2 > 0)
        w = np.where(keep, 4.0 / (1.0 / np.where(keep, w1, 1) + 1.0 / np.where(keep, w2, 1)), 0)
    else:
        raise ValueError(f"read_uvfits: {path}: expected a Stokes axis starting at I (1) or RR (-1), "
                         f"got CRVAL3 = {stokes0}")
    jd0 = math.floor(jd.min() - 0.5) + 0.5
    a1 = np.array([row_of[int(b) // 256] for b in bl])
    a2 = np.array([row_of[int(b) % 256] for b in bl])
    swap = a1 > a2  # keep a1 < a2: conjugate and flip u, v
    vis = np.where(swap, np.conj(vis), vis)
    u = np.where(swap, -u, u)
    v = np.where(swap, -v, v)
    a1, a2 = np.minimum(a1, a2), np.maximum(a1, a2)
    return dict(time=((jd - jd0) * 86400.0)[keep], u=u[keep], v=v[keep], a1=a1[keep], a2=a2[keep],
                vis=vis[keep], sigma=1.0 / np.sqrt(w[keep]), names=names, freq=freq)


def scan_average(r):
    """Coherent average of each baseline over each scan (weights 1/σ²)."""
    t = np.unique(r['time'])
    edges = t[1:][np.diff(t) > SCAN_GAP_S]
    scan = np.searchsorted(edges, r['time'], side='right')
    key = (scan * 1000 + r['a1']) * 1000 + r['a2']
    uk, inv = np.unique(key, return_inverse=True)
    w = 1.0 / r['sigma'] ** 2
    cnt = np.bincount(inv)
    sw = np.bincount(inv, w)

    def mean(x):
        return np.bincount(inv, x) / cnt
    vis = (np.bincount(inv, w * r['vis'].real) + 1j * np.bincount(inv, w * r['vis'].imag)) / sw
    first = np.zeros(len(uk), np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    return dict(time=mean(r['time']), u=mean(r['u']), v=mean(r['v']), scan=scan[first],
                a1=r['a1'][first], a2=r['a2'][first], vis=vis, sigma=1.0 / np.sqrt(sw))


def station_budget(name):
    e = SEFD_ERR.get(name, 0.0)
    f = (math.sqrt(1.0 + e) - 1.0) / 4.0
    return f + LMT_EXTRA if name == 'LM' else f


def calibrate(a, names):
    """Compact-flux rescaling, systematic noise, amplitude budgets, LMT gains (in place)."""
    idx = {n: i for i, n in enumerate(names)}
    uvd = np.hypot(a['u'], a['v'])
    aa_ap = (a['a1'] == min(idx['AA'], idx['AP'])) & (a['a2'] == max(idx['AA'], idx['AP']))
    zbl = np.median(np.abs(a['vis'][aa_ap]))
    short = uvd < INTRA_SITE_UV
    scale = np.where(short, COMPACT_FLUX / zbl, 1.0)
    a['vis'] = a['vis'] * scale
    a['sigma'] = a['sigma'] * scale
    amp = np.abs(a['vis'])
    a['sigma_vis'] = np.sqrt(a['sigma'] ** 2 + (SYS_NOISE * amp) ** 2)
    f = np.array([station_budget(n) for n in names])
    a['sigma_amp'] = np.sqrt(a['sigma_vis'] ** 2 + amp ** 2 * (f[a['a1']] ** 2 + f[a['a2']] ** 2))
    # LMT gain per scan from LM-AZ
    lm, az = idx['LM'], idx['AZ']
    has_lm = (a['a1'] == lm) | (a['a2'] == lm)
    lmaz = (a['a1'] == min(lm, az)) & (a['a2'] == max(lm, az)) & (uvd < LMT_UV_MAX)
    theta = LMT_GAUSS_FWHM_UAS * UAS
    model = COMPACT_FLUX * np.exp(-(math.pi * theta * uvd) ** 2 / (4 * math.log(2)))
    scans = np.unique(a['scan'])
    tmean = np.array([a['time'][a['scan'] == s].mean() for s in scans])
    gain_of = {}
    for s in scans:
        k = np.nonzero(lmaz & (a['scan'] == s))[0]
        if len(k):
            gain_of[s] = model[k[0]] / np.abs(a['vis'][k[0]])
    have = np.array([s in gain_of for s in scans])
    gains = np.ones(len(scans))
    for i, s in enumerate(scans):
        if have[i]:
            gains[i] = gain_of[s]
        elif have.any():
            d = np.where(have, np.abs(tmean - tmean[i]), np.inf)
            gains[i] = gain_of[scans[int(np.argmin(d))]]
    g = np.where(has_lm, gains[np.searchsorted(scans, a['scan'])], 1.0)
    a['vis'] = a['vis'] * g
    a['sigma_vis'] = a['sigma_vis'] * g
    a['sigma_amp'] = a['sigma_amp'] * g
    a['sigma'] = a['sigma'] * g
    return dict(zbl=zbl, lmt_scans=scans, lmt_gains=gains)


def _greedy_independent(rows, order, nb):
    """Indices (in order) of the rows that each raise the rank of those taken before."""
    taken, basis = [], np.zeros((0, nb))
    for k in order:
        trial = np.vstack([basis, rows[k]])
        if np.linalg.matrix_rank(trial) > basis.shape[0]:
            basis = trial
            taken.append(k)
    return taken


def closures(a):
    """Minimal independent closure phases and log closure amplitudes per scan."""
    cp_idx, lca_idx = [], []
    uvd = np.hypot(a['u'], a['v'])
    snr = np.abs(a['vis']) / a['sigma_vis']
    lsig = a['sigma_vis'] / np.abs(a['vis'])
    for s in np.unique(a['scan']):
        ks = np.nonzero((a['scan'] == s) & (uvd > INTRA_SITE_UV))[0]
        bl = {(int(a['a1'][k]), int(a['a2'][k])): int(k) for k in ks}
        if not bl:
            continue
        stations = sorted({i for p in bl for i in p})
        st_snr = {i: sum(snr[k] for p, k in bl.items() if i in p) for i in stations}
        ref = max(stations, key=lambda i: (st_snr[i], -i))
        local = {k: n for n, k in enumerate(sorted(bl.values()))}
        nb = len(local)
        # closure phases
        tri, rows, sig, through = [], [], [], []
        for x in range(len(stations)):
            for y in range(x + 1, len(stations)):
                for z in range(y + 1, len(stations)):
                    i, j, k = stations[x], stations[y], stations[z]
                    if (i, j) in bl and (j, k) in bl and (i, k) in bl:
                        b = (bl[(i, j)], bl[(j, k)], bl[(i, k)])
                        row = np.zeros(nb)
                        row[local[b[0]]] += 1
                        row[local[b[1]]] += 1
                        row[local[b[2]]] -= 1
                        tri.append(b)
                        rows.append(row)
                        sig.append(math.sqrt(sum(lsig[q] ** 2 for q in b)))
                        through.append(ref in (i, j, k))
        if tri:
            order = sorted(range(len(tri)), key=lambda n: (not through[n], sig[n]))
            cp_idx += [tri[n] for n in _greedy_independent(np.array(rows), order, nb)]
        # log closure amplitudes
        quad, rows, sig = [], [], []
        ns = len(stations)
        for w in range(ns):
            for x in range(w + 1, ns):
                for y in range(x + 1, ns):
                    for z in range(y + 1, ns):
                        p, q, r, t = stations[w], stations[x], stations[y], stations[z]
                        for num, den in ((((p, q), (r, t)), ((p, r), (q, t))),
                                         (((p, q), (r, t)), ((p, t), (q, r))),
                                         (((p, r), (q, t)), ((p, t), (q, r)))):
                            if all(e in bl for e in num + den):
                                b = tuple(bl[e] for e in num + den)
                                row = np.zeros(nb)
                                row[local[b[0]]] += 1
                                row[local[b[1]]] += 1
                                row[local[b[2]]] -= 1
                                row[local[b[3]]] -= 1
                                quad.append(b)
                                rows.append(row)
                                sig.append(math.sqrt(sum(lsig[c] ** 2 for c in b)))
        if quad:
            order = sorted(range(len(quad)), key=lambda n: sig[n])
            lca_idx += [quad[n] for n in _greedy_independent(np.array(rows), order, nb)]
    return (np.array(cp_idx, np.int64).reshape(-1, 3), np.array(lca_idx, np.int64).reshape(-1, 4))


def closure_values(vis, cp_idx, lca_idx, sigma_vis):
    ph = np.angle(vis)
    la = np.log(np.abs(vis))
    ls2 = (sigma_vis / np.abs(vis)) ** 2
    cp = ph[cp_idx[:, 0]] + ph[cp_idx[:, 1]] - ph[cp_idx[:, 2]]
    cp = np.angle(np.exp(1j * cp))
    lca = la[lca_idx[:, 0]] + la[lca_idx[:, 1]] - la[lca_idx[:, 2]] - la[lca_idx[:, 3]]
    return cp, np.sqrt(ls2[cp_idx].sum(1)), lca, np.sqrt(ls2[lca_idx].sum(1))


def prepare(records_list):
    """records_list: read_uvfits() results, one per band. Returns the concatenated products:
    dict of u, v [λ], time [s], scan, band, a1, a2, vis [Jy], sigma_vis, amp, sigma_amp [Jy],
    cp [rad], sigma_cp [rad], cp_idx (n, 3), lca, sigma_lca, lca_idx (n, 4), names, zbl (per
    band), lmt_gains (per band and scan), freq (per band)."""
    names = []
    for r in records_list:
        for n in r['names']:
            if n not in names:
                names.append(n)
    parts, cps, lcas, info = [], [], [], []
    off = 0
    for band, r in enumerate(records_list):
        remap = np.array([names.index(n) for n in r['names']])
        r = dict(r, a1=remap[r['a1']], a2=remap[r['a2']])
        a = scan_average(r)
        info.append(calibrate(a, names))
        cp_idx, lca_idx = closures(a)
        a['band'] = np.full(len(a['u']), band)
        parts.append(a)
        cps.append(cp_idx + off)
        lcas.append(lca_idx + off)
        off += len(a['u'])
    out = {k: np.concatenate([p[k] for p in parts]) for k in
           ('u', 'v', 'time', 'scan', 'band', 'a1', 'a2', 'vis', 'sigma_vis', 'sigma_amp')}
    out['amp'] = np.abs(out['vis'])
    out['cp_idx'] = np.concatenate(cps)
    out['lca_idx'] = np.concatenate(lcas)
    out['cp'], out['sigma_cp'], out['lca'], out['sigma_lca'] = closure_values(
        out['vis'], out['cp_idx'], out['lca_idx'], out['sigma_vis'])
    out['names'] = np.array(names)
    out['zbl'] = np.array([i['zbl'] for i in info])
    out['lmt_gains'] = [i['lmt_gains'] for i in info]
    out['freq'] = np.array([r['freq'] for r in records_list])
    return out


def dump(p, path):
    """Write the prepared products to path (.npz): u, v [λ], time [s], scan, band, a1, a2
    (indices into names), vis_re, vis_im, sigma_vis, amp, sigma_amp [Jy], cp, sigma_cp [rad],
    cp_idx (ψ = φ[i0] + φ[i1] − φ[i2]), lca, sigma_lca, lca_idx (ln|V[i0]| + ln|V[i1]| −
    ln|V[i2]| − ln|V[i3]|), names, zbl (median |V(AA-AP)| per band), lmt_gains_band<b>, freq."""
    d = {k: p[k] for k in ('u', 'v', 'time', 'scan', 'band', 'a1', 'a2', 'sigma_vis', 'amp',
                           'sigma_amp', 'cp', 'sigma_cp', 'cp_idx', 'lca', 'sigma_lca',
                           'lca_idx', 'names', 'zbl', 'freq')}
    d['vis_re'], d['vis_im'] = p['vis'].real, p['vis'].imag
    for b, g in enumerate(p['lmt_gains']):
        d[f'lmt_gains_band{b}'] = g
    np.savez(path, **d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('uvfits', nargs='+')
    ap.add_argument('--dump', required=True)
    args = ap.parse_args()
    p = prepare([read_uvfits(f) for f in args.uvfits])
    dump(p, args.dump)
    print(f"vis={len(p['u'])} cp={len(p['cp'])} lca={len(p['lca'])} -> {args.dump}")


if __name__ == '__main__':
    main()
