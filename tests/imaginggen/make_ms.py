"""Measurement Sets for tests/test_ms.c (ag_read_ms, imaging/ms.cc), written with python-casacore
(not with the C code):

  eht_lo.ms  the first NROWS groups of data/eht/*_lo_*.uvfits copied as an importuvfits-style MS:
             UVW = (UU, VV, WW) [s] · c [m], DATA = (RR, LL) with CORR_TYPE (5, 8) unchanged
             (complex64, as the file's float32), WEIGHT per correlation, FLAG where the file's
             weight is <= 0 or not finite, SIGMA = 1/√WEIGHT, TIME = (DATE1 + DATE2 − 2400000.5)
             · 86400 [MJD s], ANTENNA1/2 = NOSTA − 1 with NAME = the AN table's ANNAME, CHAN_FREQ
             = CRVAL of FREQ + the FQ table's IF FREQ, FIELD PHASE_DIR = (CRVAL RA, CRVAL DEC).
  xy.ms      synthetic: 4 antennas, 3 times, every baseline plus one auto-correlation per time,
             XX/YY (CORR_TYPE 9, 12), 2 channels, DATA and CORRECTED_DATA, WEIGHT_SPECTRUM (and a
             different WEIGHT, which must not be used), one FLAG_ROW row, one flagged sample.
  nodata.ms  xy.ms's main table without a DATA column (and without subtables: the reader must
             stop at the missing column first).

xy_expected.txt holds the Stokes I visibilities xy.ms must give, computed here from the
definitions (I = (XX + YY)/2, w = 4/(1/w_XX + 1/w_YY), u = UVW_x · ν/c): one block per selection
("data", "corrected", "chan1" = DATA with channel 1 only), a header line "# name n" and then n
lines "u v re im weight time ant1 ant2".

Run: /work/venv-casa/bin/python tests/imaginggen/make_ms.py (venv: python-casacore, astropy, numpy).
"""
import os
import shutil

import numpy as np
from astropy.io import fits
import casacore.tables as ct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "ms")
LO = os.path.join(ROOT, "data", "eht", "SR1_M87_2017_095_lo_hops_netcal_StokesI.uvfits")
C = 299792458.0
NROWS = 200


def new_ms(path, ncorr, nchan, columns):
    shutil.rmtree(path, ignore_errors=True)
    descs = [ct.makearrcoldesc(name, 0j if kind == "complex" else 0.0, ndim=2, shape=[nchan, ncorr], valuetype=kind)
             for name, kind in columns]
    ms = ct.default_ms(path, ct.maketabdesc(descs) if descs else None)
    return ms


def fill_subtables(path, names, chan_freq, corr_type, ra_dec, source):
    ant = ct.table(path + "/ANTENNA", readonly=False, ack=False)
    ant.addrows(len(names))
    ant.putcol("NAME", list(names))
    ant.putcol("STATION", list(names))
    ant.close()
    spw = ct.table(path + "/SPECTRAL_WINDOW", readonly=False, ack=False)
    spw.addrows(1)
    n = len(chan_freq)
    spw.putcell("NUM_CHAN", 0, n)
    spw.putcell("CHAN_FREQ", 0, np.asarray(chan_freq, dtype=np.float64))
    spw.putcell("CHAN_WIDTH", 0, np.full(n, 1e6))
    spw.putcell("EFFECTIVE_BW", 0, np.full(n, 1e6))
    spw.putcell("RESOLUTION", 0, np.full(n, 1e6))
    spw.putcell("REF_FREQUENCY", 0, float(chan_freq[0]))
    spw.close()
    pol = ct.table(path + "/POLARIZATION", readonly=False, ack=False)
    pol.addrows(1)
    pol.putcell("NUM_CORR", 0, len(corr_type))
    pol.putcell("CORR_TYPE", 0, np.asarray(corr_type, dtype=np.int32))
    pol.putcell("CORR_PRODUCT", 0, np.zeros((len(corr_type), 2), dtype=np.int32))
    pol.close()
    dd = ct.table(path + "/DATA_DESCRIPTION", readonly=False, ack=False)
    dd.addrows(1)
    dd.putcell("SPECTRAL_WINDOW_ID", 0, 0)
    dd.putcell("POLARIZATION_ID", 0, 0)
    dd.close()
    fld = ct.table(path + "/FIELD", readonly=False, ack=False)
    fld.addrows(1)
    fld.putcell("NAME", 0, source)
    d = np.radians(np.array([[ra_dec[0], ra_dec[1]]]))
    for col in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
        fld.putcell(col, 0, d)
    fld.close()


def eht_lo():
    h = fits.open(LO)
    g = h[0].data
    hd = h[0].header
    names = [s.strip() for s in h[1].data["ANNAME"]]
    nosta = list(h[1].data["NOSTA"])
    assert nosta == list(range(1, len(names) + 1))
    ifoff = float(h["AIPS FQ"].data["IF FREQ"].ravel()[0])
    freq = hd["CRVAL4"] + ifoff
    # the stored float32 parameters, PSCAL/PZERO applied in f64 as the C reader does
    rec = np.asarray(g.base)
    vals = [rec[name].astype(np.float64) * float(hd.get("PSCAL%d" % (i + 1), 1.0)) + float(hd.get("PZERO%d" % (i + 1), 0.0))
            for i, name in enumerate(rec.dtype.names[:6])]
    raw = rec["DATA"]  # (ngroups, 1, 1, 1, 1, nstokes, 3) float32
    uu, vv, ww, bl, d1, d2 = vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
    path = os.path.join(OUT, "eht_lo.ms")
    ms = new_ms(path, 2, 1, [("DATA", "complex")])
    ms.addrows(NROWS)
    uvw = np.stack([uu[:NROWS] * C, vv[:NROWS] * C, ww[:NROWS] * C], axis=1)
    ms.putcol("UVW", uvw)
    b = np.rint(bl[:NROWS]).astype(np.int64)
    assert (b < 65536).all()
    ms.putcol("ANTENNA1", (b // 256 - 1).astype(np.int32))
    ms.putcol("ANTENNA2", (b % 256 - 1).astype(np.int32))
    t = (d1[:NROWS] + d2[:NROWS] - 2400000.5) * 86400.0
    ms.putcol("TIME", t)
    ms.putcol("TIME_CENTROID", t)
    q = raw[:NROWS].reshape(NROWS, -1, 3)[:, :2, :]  # (rows, RR/LL, re/im/w), float32
    data = (q[:, :, 0] + 1j * q[:, :, 1]).astype(np.complex64)[:, None, :]  # (rows, nchan 1, ncorr 2)
    w = q[:, :, 2].astype(np.float64)
    flag = ~(np.isfinite(w) & (w > 0))
    wgt = np.where(flag, 0.0, w)
    ms.putcol("DATA", data)
    ms.putcol("WEIGHT", wgt.astype(np.float32))
    ms.putcol("SIGMA", np.where(flag, 0.0, 1 / np.sqrt(np.where(flag, 1.0, wgt))).astype(np.float32))
    ms.putcol("FLAG", flag[:, None, :])
    ms.putcol("FLAG_ROW", flag.all(axis=1))
    ms.close()
    fill_subtables(path, names, [freq], [5, 8], (hd["CRVAL6"], hd["CRVAL7"]), hd["OBJECT"].strip())
    print("eht_lo.ms: %d rows, %d flagged samples, freq %.1f Hz" % (NROWS, flag.sum(), freq))


def xy():
    rng = np.random.default_rng(15)
    nant, nchan, ncorr = 4, 2, 2
    freqs = np.array([100.0e9, 100.5e9])
    rows = []
    for ti, tm in enumerate([4.9e9, 4.9e9 + 30.0, 4.9e9 + 60.0]):
        for a in range(nant):
            for b in range(a + 1, nant):
                rows.append((tm, a, b))
        rows.append((tm, ti, ti))  # an auto-correlation: dropped
    n = len(rows)
    t = np.array([r[0] for r in rows])
    a1 = np.array([r[1] for r in rows], dtype=np.int32)
    a2 = np.array([r[2] for r in rows], dtype=np.int32)
    uvw = rng.normal(size=(n, 3)) * 3000.0
    data = (rng.normal(size=(n, nchan, ncorr)) + 1j * rng.normal(size=(n, nchan, ncorr))).astype(np.complex64)
    corr = (rng.normal(size=(n, nchan, ncorr)) + 1j * rng.normal(size=(n, nchan, ncorr))).astype(np.complex64)
    wsp = rng.uniform(0.5, 4.0, size=(n, nchan, ncorr)).astype(np.float32)
    wrow = rng.uniform(10.0, 20.0, size=(n, ncorr)).astype(np.float32)  # must not be used
    flag = np.zeros((n, nchan, ncorr), dtype=bool)
    flag[2, 1, 0] = True  # row 2, channel 1, XX: that sample dropped
    flag_row = np.zeros(n, dtype=bool)
    flag_row[4] = True
    for name, cols in (("xy.ms", [("DATA", "complex"), ("CORRECTED_DATA", "complex"), ("WEIGHT_SPECTRUM", "float")]),
                       ("nodata.ms", [("CORRECTED_DATA", "complex")])):
        path = os.path.join(OUT, name)
        ms = new_ms(path, ncorr, nchan, cols)
        ms.addrows(n)
        ms.putcol("UVW", uvw)
        ms.putcol("ANTENNA1", a1)
        ms.putcol("ANTENNA2", a2)
        ms.putcol("TIME", t)
        ms.putcol("TIME_CENTROID", t)
        for c, _ in cols:
            ms.putcol(c, {"DATA": data, "CORRECTED_DATA": corr, "WEIGHT_SPECTRUM": wsp}[c])
        ms.putcol("WEIGHT", wrow)
        ms.putcol("SIGMA", 1 / np.sqrt(wrow))
        ms.putcol("FLAG", flag)
        ms.putcol("FLAG_ROW", flag_row)
        ms.close()
        if name == "xy.ms":
            fill_subtables(path, ["N%d" % k for k in range(nant)], freqs, [9, 12], (10.0, -30.0), "SYN")
        else:
            for sub in os.listdir(path):
                if os.path.isdir(os.path.join(path, sub)):
                    shutil.rmtree(os.path.join(path, sub))

    def expect(vis, chans):
        out = []
        for r in range(n):
            if a1[r] == a2[r] or flag_row[r]:
                continue
            for k in chans:
                if flag[r, k].any():
                    continue
                wx, wy = float(wsp[r, k, 0]), float(wsp[r, k, 1])
                re = (float(vis[r, k, 0].real) + float(vis[r, k, 1].real)) / 2
                im = (float(vis[r, k, 0].imag) + float(vis[r, k, 1].imag)) / 2
                out.append((uvw[r, 0] * freqs[k] / C, uvw[r, 1] * freqs[k] / C, re, im, 4 / (1 / wx + 1 / wy),
                            t[r], a1[r], a2[r]))
        return out

    with open(os.path.join(OUT, "xy_expected.txt"), "w") as f:
        f.write("# written by tests/imaginggen/make_ms.py: u v re im weight time ant1 ant2 per line\n")
        for name, vis, chans in (("data", data, [0, 1]), ("corrected", corr, [0, 1]), ("chan1", data, [1])):
            e = expect(vis, chans)
            f.write("# %s %d\n" % (name, len(e)))
            for x in e:
                f.write("%.17g %.17g %.17g %.17g %.17g %.17g %d %d\n" % x)
    print("xy.ms: %d rows" % n)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    eht_lo()
    xy()
