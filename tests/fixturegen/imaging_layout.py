"""Imaging layouts (include/astrograd/imaging.h), written from MPoL's definitions:
sky = flip(fftshift(packed, last two dims), last dim); ground = fftshift(packed). The way
back is ifftshift (equal to fftshift for the cubes' even npix; odd sizes check the inverse).
ag_hermitian_fill: the full spectrum from a half plane h (..., H, n//2 + 1), written out:
F[..., i, j] = h[..., i, j] for j <= n//2, conj h[..., (H - i) % H, n - j] beyond; the _rfft
row checks rfft2 + fill against torch.fft.fft2 of the real input."""
import torch

from .common import Row

FAMILY = "imaging_layout"
ALL = ("f32", "f64", "c64", "c128")
D = (-2, -1)
sh, ish = torch.fft.fftshift, torch.fft.ifftshift



def fill(h, n, scale, conjugate):
    k = (n - 1) // 2  # mirrored columns n - j, j = n//2 + 1 .. n - 1: k .. 1
    mir = torch.roll(torch.flip(h[..., 1:k + 1], dims=(-2, -1)), 1, dims=-2).conj()
    full = scale * torch.cat([h, mir], dim=-1)
    return full.conj() if conjugate else full


CPLX = ("c64", "c128")
ROWS = [
    Row("hermitian_fill", lambda x: fill(x, 8, 1.0, False), [((2, 5, 5), "n")], CPLX),
    Row("hermitian_fill_odd_conj", lambda x: fill(x, 7, 0.3, True), [((6, 4), "n")], CPLX),
    Row("hermitian_fill_rfft", lambda x: 2.5 * torch.fft.fft2(x), [((3, 6, 8), "n")], ("f32", "f64")),
    Row("packed_to_sky", lambda x: torch.flip(sh(x, dim=D), dims=(-1,)), [((2, 8, 8), "n")], ALL),
    Row("packed_to_sky_odd", lambda x: torch.flip(sh(x, dim=D), dims=(-1,)), [((2, 1, 5, 7), "n")], ALL),
    Row("sky_to_packed", lambda x: ish(torch.flip(x, dims=(-1,)), dim=D), [((2, 10, 10), "n")], ALL),
    Row("sky_to_packed_odd", lambda x: ish(torch.flip(x, dims=(-1,)), dim=D), [((7, 4), "n")], ALL),
    Row("packed_to_ground", lambda x: sh(x, dim=D), [((3, 6, 8), "n")], ALL),
    Row("packed_to_ground_odd", lambda x: sh(x, dim=D), [((5, 3), "n")], ALL),
    Row("ground_to_packed", lambda x: ish(x, dim=D), [((2, 8, 8), "n")], ALL),
    Row("ground_to_packed_odd", lambda x: ish(x, dim=D), [((2, 3, 9), "n")], ALL),
    Row("sky_roundtrip_t", lambda x: ish(torch.flip(torch.flip(sh(x, dim=D), dims=(-1,)).transpose(-1, -2), dims=(-1,)), dim=D),
        [((2, 6, 4), "n")], ALL),
]
