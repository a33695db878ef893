"""PyTorch CPU side of benchmarks/bench_rml.c: one RML imaging training step, written as an MPoL
user writes it (BaseCube softplus -> packed cube -> cell_size^2 * fft2 -> vis[mask] ->
negative log likelihood + entropy + sparsity + TV + TSV on the sky cube -> backward -> Adam ->
zero_grad), with the same sizes, mask fraction, weights and thread count as the C side. When
MPoL is importable (its BaseCube, ImageCube, FourierCube and losses), the same step through
MPoL's own modules is timed too (rows *_mpol).
Prints "name ms" lines (median after warm-up).
Usage: python3 torch_rml.py THREADS STEPS CASE...   CASE = npix:nchan:f32|f64"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import bench  # noqa: E402

threads = int(sys.argv[1])
steps = int(sys.argv[2])
cases = sys.argv[3:]
torch.set_num_threads(threads)
CELL = 0.005          # arcsec
MASK_FRACTION = 0.1   # gridded cells with data, as the C side
LAM = dict(ent=1e-4, sparse=1e-4, tv=1e-4, tsv=1e-4)


def problem(npix, nchan, dt):
    g = torch.Generator().manual_seed(7)
    cdt = torch.complex64 if dt == torch.float32 else torch.complex128
    mask = torch.rand(nchan, npix, npix, generator=g) < MASK_FRACTION
    n = int(mask.sum())
    data = torch.randn(n, generator=g, dtype=dt) + 1j * torch.randn(n, generator=g, dtype=dt)
    weight = torch.rand(n, generator=g, dtype=dt) + 0.5
    return mask, data.to(cdt), weight


def nll_avg(model, data, weight):
    n = model.numel()
    chi2 = torch.sum(weight * torch.abs(data - model) ** 2)
    loglike = -n * math.log(2 * math.pi) + torch.sum(torch.log(weight)) - 0.5 * chi2
    return -loglike / (2 * n)


def tv_image(sky, eps=1e-10):
    d1 = sky[:, :-1, 1:] - sky[:, :-1, :-1]
    d2 = sky[:, 1:, :-1] - sky[:, :-1, :-1]
    return torch.sum(torch.sqrt(d1 ** 2 + d2 ** 2 + eps))


def tsv(sky):
    d1 = sky[:, :-1, 1:] - sky[:, :-1, :-1]
    d2 = sky[:, 1:, :-1] - sky[:, :-1, :-1]
    return torch.sum(d1 ** 2 + d2 ** 2)


def plain_step(npix, nchan, dt):
    mask, data, weight = problem(npix, nchan, dt)
    base = torch.nn.Parameter(torch.full((nchan, npix, npix), -3.0, dtype=dt))
    opt = torch.optim.Adam([base], lr=1e-3)

    def step():
        cube = torch.nn.functional.softplus(base, beta=1, threshold=20)
        vis = CELL ** 2 * torch.fft.fftn(cube, dim=(1, 2))
        sky = torch.flip(torch.fft.fftshift(cube, dim=(1, 2)), dims=(2,))
        loss = (nll_avg(vis[mask], data, weight)
                + LAM["ent"] * torch.sum(sky * torch.log(sky / 0.01)) / 10.0
                + LAM["sparse"] * torch.sum(torch.abs(sky))
                + LAM["tv"] * tv_image(sky) + LAM["tsv"] * tsv(sky))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def mpol_step(npix, nchan, dt):
    from mpol import coordinates, fourier, images, losses
    mask, data, weight = problem(npix, nchan, dt)
    gc = coordinates.GridCoords(cell_size=CELL, npix=npix)
    bcube = images.BaseCube(coords=gc, nchan=nchan)
    icube = images.ImageCube(coords=gc, nchan=nchan, passthrough=True)
    fcube = fourier.FourierCube(coords=gc)
    bcube = bcube.to(dt)
    opt = torch.optim.Adam(bcube.parameters(), lr=1e-3)

    def step():
        cube = icube(bcube())
        vis = fcube(cube)
        sky = icube.sky_cube
        loss = (nll_avg(vis[mask], data, weight)
                + LAM["ent"] * losses.entropy(sky, 0.01, 10.0)
                + LAM["sparse"] * losses.sparsity(sky)
                + LAM["tv"] * losses.TV_image(sky) + LAM["tsv"] * losses.TSV(sky))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


for c in cases:
    npix, nchan, dn = c.split(":")
    npix, nchan = int(npix), int(nchan)
    dt = torch.float32 if dn == "f32" else torch.float64
    name = f"rml_step_{npix}_c{nchan}_{dn}"
    bench(name, plain_step(npix, nchan, dt), reps=steps)
    try:
        s = mpol_step(npix, nchan, dt)
    except Exception as e:  # MPoL not importable here: the plain-PyTorch row stands alone
        print(f"mpol unavailable: {e}", file=sys.stderr)
        continue
    bench(name + "_mpol", s, reps=steps)
