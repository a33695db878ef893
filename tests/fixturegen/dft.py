"""Direct DFT (ag_dft, ag_dft_adjoint; include/astrograd/imaging.h), written from the formula:
V[c, k] = cell² Σ_{j,i} P[c, j, i] exp(sign 2πi (u[c, k] l_i + v[c, k] m_j)) with the packed
cell coordinates l_i = n_i dl, m_j = n_j dl, n = (0, 1, .., npix/2 - 1, -npix/2, .., -1) (FFT
order), dl = cell [arcsec] in rad; the adjoint A[c, j, i] = cell² Σ_k V[c, k] exp(-sign 2πi(..)).
u, v come in as standard normals and are scaled by 2^21 λ (exact in f32 too) so that the phases
span a few radians on the 0.01" cells. Real cubes are promoted to complex (torch takes the real
part of their gradient). Every row is a full phase tensor and an einsum."""
import math

import torch

from .common import Row

FAMILY = "dft"
CELL = 0.01
S = 2.0 ** 21


def coords(npix, dt):
    dl = CELL * math.pi / (180.0 * 3600.0)
    n = torch.fft.fftfreq(npix, dtype=torch.float64) * npix  # exact integers in FFT order
    return (n * dl).to(dt)


def phase(u, v, npix, sign):
    """(nchan or 1, nvis, npix) exponentials along l and along m (u, v: (nvis) or (nchan, nvis))"""
    u2, v2 = (u * S).reshape(-1, u.shape[-1]), (v * S).reshape(-1, v.shape[-1])
    lm = coords(npix, u.dtype)
    ex = torch.exp(1j * sign * 2 * math.pi * u2[..., None] * lm)
    ey = torch.exp(1j * sign * 2 * math.pi * v2[..., None] * lm)
    return ex, ey


def dft(P, u, v, sign):
    npix = P.shape[-1]
    P3 = P.reshape(-1, npix, npix)
    ex, ey = phase(u, v, npix, sign)
    Pc = P3.to(ex.dtype)
    return CELL ** 2 * torch.einsum("cji,cki,ckj->ck", Pc.expand(max(P3.shape[0], ex.shape[0]), npix, npix), ex, ey)


def dft_adjoint(V, u, v, npix, sign):
    V2 = V.reshape(-1, V.shape[-1])
    ex, ey = phase(u, v, npix, -sign)
    return CELL ** 2 * torch.einsum("ck,cki,ckj->cji", V2, ex.expand(V2.shape[0], -1, -1), ey.expand(V2.shape[0], -1, -1))


REAL, CPLX, ALL = ("f32", "f64"), ("c64", "c128"), ("f32", "f64", "c64", "c128")
ROWS = [
    Row("dft_shared", lambda P, u, v: dft(P, u, v, -1), [((2, 8, 8), "n"), ((5,), "r"), ((5,), "r")], ALL, grad=[0]),
    Row("dft_shared_vlbi", lambda P, u, v: dft(P, u, v, +1), [((3, 6, 6), "n"), ((4,), "r"), ((4,), "r")], ALL,
        grad=[0]),
    Row("dft_per_channel", lambda P, u, v: dft(P, u, v, -1), [((2, 6, 6), "n"), ((2, 5), "r"), ((2, 5), "r")], ALL,
        grad=[0]),
    Row("dft_per_channel_vlbi", lambda P, u, v: dft(P, u, v, +1), [((2, 8, 8), "n"), ((2, 3), "r"), ((2, 3), "r")],
        ALL, grad=[0]),
    Row("dft_2d", lambda P, u, v: dft(P, u, v, +1), [((4, 4), "n"), ((6,), "r"), ((6,), "r")], ALL, grad=[0]),
    Row("dft_adjoint", lambda V, u, v: dft_adjoint(V, u, v, 6, -1), [((2, 5), "n"), ((2, 5), "r"), ((2, 5), "r")],
        CPLX, grad=[0]),
    Row("dft_adjoint_shared_vlbi", lambda V, u, v: dft_adjoint(V, u, v, 4, +1),
        [((3, 4), "n"), ((4,), "r"), ((4,), "r")], CPLX, grad=[0]),
    Row("dft_adjoint_1d", lambda V, u, v: dft_adjoint(V, u, v, 4, -1), [((5,), "n"), ((5,), "r"), ((5,), "r")],
        CPLX, grad=[0]),
]
