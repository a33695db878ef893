"""GridCoords, written out from MPoL's definitions (u, v in λ, not MPoL 0.2's kλ)."""
import numpy as np
import torch

FAMILY = "coords"
ARCSEC = np.pi / (180.0 * 3600.0)


def grid(cell_size, npix):
    h = npix // 2
    dl = cell_size * ARCSEC
    du = 1.0 / (npix * dl)
    l_c = dl * (np.arange(npix) - h)
    u_c = du * (np.arange(npix) - h)
    u_e = du * (np.arange(npix + 1) - h - 0.5)
    x2, y2 = np.meshgrid(l_c / ARCSEC, l_c / ARCSEC, indexing="xy")
    su, sv = np.meshgrid(u_c, u_c, indexing="xy")
    sq, sphi = np.sqrt(su ** 2 + sv ** 2), np.arctan2(sv, su)
    sh = np.fft.fftshift
    scal = [cell_size, npix, dl, dl, du, du, u_e[0], u_e[-1], u_e[0], u_e[-1], du * (h - 0.5),
            cell_size * (h - 0.5), -cell_size * (h + 0.5), -cell_size * (h + 0.5), cell_size * (h - 0.5)]
    return {
        "scalars": np.array(scal),  # cell, npix, dl, dm, du, dv, u/v bin min/max, max_uv, img_ext
        "l_centers": l_c, "u_centers": u_c, "u_edges": u_e,
        "packed_x": sh(x2), "packed_y": sh(y2), "sky_x": np.fliplr(x2), "sky_y": y2,
        "packed_u": sh(su), "packed_v": sh(sv), "packed_q": sh(sq), "packed_phi": sh(sphi),
        "sky_u": su, "sky_v": sv, "sky_q": sq, "sky_phi": sphi,
    }


def make():
    out = []
    for cell, npix in [(0.005, 8), (0.0123, 10), (1.5e-6, 64)]:
        for k, v in grid(cell, npix).items():
            if npix > 16 and np.ndim(v) == 2:
                continue  # the 2-d arrays are checked on the small grids; keep the file small
            out.append((f"g{npix}.{k}", torch.tensor(np.ascontiguousarray(v), dtype=torch.float64)))
    return out
