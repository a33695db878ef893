"""Imaging layouts (include/astrograd/imaging.h), written from MPoL's definitions:
sky = flip(fftshift(packed, last two dims), last dim); ground = fftshift(packed). The way
back is ifftshift (equal to fftshift for the cubes' even npix; odd sizes check the inverse)."""
import torch

from .common import Row

FAMILY = "imaging_layout"
ALL = ("f32", "f64", "c64", "c128")
D = (-2, -1)
sh, ish = torch.fft.fftshift, torch.fft.ifftshift

ROWS = [
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
