"""One-off cross-check (not a test): tests/imaginggen/crossval.py's dartboard against MPoL 0.2's
Dartboard (q in kλ there: our edges are compared scaled by 1e-3).

    /work/venv-mpol/bin/python tests/imaginggen/mpol_check/crossval_vs_mpol.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import crossval as C  # noqa: E402
from mpol.coordinates import GridCoords  # noqa: E402
from mpol.datasets import Dartboard  # noqa: E402
from mpol.utils import loglinspace  # noqa: E402


def main():
    gc = GridCoords(cell_size=C.CELL, npix=C.NPIX)
    db = Dartboard(coords=gc)
    qe, pe = C.edges(C.CELL, C.NPIX)
    print("q_edges rel diff", np.max(np.abs(qe * 1e-3 - db.q_edges) / np.maximum(db.q_edges, 1e-300)))
    print("phi_edges equal", np.array_equal(pe, db.phi_edges))
    print("loglinspace(1,10,4,3) diff", np.max(np.abs(C.loglinspace(1.0, 10.0, 4, 3) - loglinspace(1.0, 10.0, 4, 3))))
    co = C.cell_of(C.CELL, C.NPIX)
    nphi = len(pe) - 1
    bad = 0
    for iq in range(len(qe) - 1):
        for ip in range(nphi):
            m = db.build_grid_mask_from_cells([(iq, ip)])
            bad += np.sum(m != (co == iq * nphi + ip))
    print("grid cells assigned differently from MPoL's build_grid_mask_from_cells:", bad)
    print("grid cells in no dartboard cell:", np.sum(co < 0))
    mask, _, _ = C.dataset()
    stacked = mask.any(axis=0)
    sym = stacked | np.roll(np.flip(stacked, (0, 1)), 1, (0, 1))  # with the Hermitian partners
    mine = {tuple(r) for r in np.stack([np.unique(co[sym]) // 8, np.unique(co[sym]) % 8], 1)}
    theirs = {tuple(r) for r in db.get_nonzero_cell_indices(gc.packed_q_centers_2D[sym], gc.packed_phi_centers_2D[sym])}
    print("occupied cells (Hermitian-symmetric mask): ours", len(mine), "MPoL's", len(theirs),
          "only ours", sorted(mine - theirs), "only MPoL's", sorted(theirs - mine))


if __name__ == "__main__":
    main()
