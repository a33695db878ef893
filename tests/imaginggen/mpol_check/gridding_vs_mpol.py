"""One-off cross-check (not a test): tests/imaginggen/gridding.py's formulas against MPoL 0.2
itself on the fixture's inputs. MPoL works in kλ: u, v and the taper's argument are scaled.

    /work/venv-mpol/bin/python tests/imaginggen/mpol_check/gridding_vs_mpol.py

Prints the largest relative difference of each quantity (scaled by the quantity's max |value|).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gridding as G  # noqa: E402
from mpol.coordinates import GridCoords  # noqa: E402
from mpol.gridding import DataAverager, DirtyImager  # noqa: E402


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b)))


def main():
    worst = 0.0
    g = G.Grid(0.05, 16)
    u, v, w, d = G.averaging_set(g)
    # the last 2 points per channel lie exactly on interior cell edges, where MPoL's np.digitize
    # lookup can disagree with its fast_histogram bin (NaN in MPoL): compare without them
    u, v, w, d = u[:, :-2], v[:, :-2], w[:, :-2], d[:, :-2]
    gc = GridCoords(cell_size=0.05, npix=16)
    avg = DataAverager(coords=gc, uu=u * 1e-3, vv=v * 1e-3, weight=w, data_re=d.real, data_im=d.imag)
    ds = avg.to_pytorch_dataset(check_visibility_scatter=False)
    vis, wg, m = G.data_average(g, u, v, w, d, False)
    print("DataAverager vis_gridded", rel(vis, ds.vis_gridded.numpy()), "weight_gridded", rel(wg, ds.weight_gridded.numpy()),
          "mask equal", bool((m == ds.mask.numpy()).all()))
    worst = max(worst, rel(vis, ds.vis_gridded.numpy()), rel(wg, ds.weight_gridded.numpy()))

    g = G.Grid(0.08, 32)
    u, v, w, d = G.simulate(5, 2, 120, g)
    gc = GridCoords(cell_size=0.08, npix=32)
    for name, wt, rob, fw, unit, nth, single in G.DIRTY_CASES:
        im = DirtyImager(coords=gc, uu=u * 1e-3, vv=v * 1e-3, weight=w, data_re=d.real, data_im=d.imag)
        taper = None
        if fw:
            tk = G.gauss_taper(fw)
            taper = lambda uk, vk: tk(uk * 1e3, vk * 1e3)  # noqa: E731  (MPoL passes kλ)
        img_m, beam_m = im.get_dirty_image(weighting=wt, robust=rob, taper_function=taper, unit=unit,
                                           check_visibility_scatter=False, ntheta=nth, single_channel_estimate=single) \
            if unit == "Jy/arcsec^2" else im.get_dirty_image(weighting=wt, robust=rob, taper_function=taper, unit=unit,
                                                             check_visibility_scatter=False)
        area_m = im.get_dirty_beam_area(ntheta=nth, single_channel_estimate=single)
        img, beam, area = G.dirty_image(g, u, v, w, d, wt, rob, G.gauss_taper(fw) if fw else None, unit, nth, single)
        r = (rel(img, img_m), rel(beam, beam_m), rel(area, area_m))
        worst = max(worst, *r)
        print(f"dirty {name}: image {r[0]:.3g} beam {r[1]:.3g} area {r[2]:.3g}")
    print("worst", worst)
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
