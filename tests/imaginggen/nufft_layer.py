"""The NuFFT layer's references: MPoL's visibility sum V = c² Σ_p I_p e^{s 2πi(u l_p + v m_p)}
[Jy] written out as a direct sum in PyTorch (packed l, m: numpy's fftfreq(npix, 1/(npix dl)),
l along columns, m along rows), and the gradients of L = Σ w |V − y|² with respect to the cube,
u and v by torch.autograd (PyTorch's convention for the complex case). Shared points (nvis)
for a real cube with s = -1, per-channel points (nchan, nvis) for a complex cube with s = +1."""
import numpy as np
import torch

FAMILY = "nufft_layer"
ARCSEC = np.pi / (180.0 * 3600.0)
NPIX, CELL, NCHAN, NVIS = 8, 0.02, 2, 10


def vis(cube, u, v, sign):
    dl = CELL * ARCSEC
    f = torch.from_numpy(np.fft.fftfreq(NPIX, 1.0 / (NPIX * dl)))
    l, m = f[None, :].expand(NPIX, NPIX).reshape(-1), f[:, None].expand(NPIX, NPIX).reshape(-1)
    if u.dim() == 1:
        u, v = u.expand(NCHAN, NVIS), v.expand(NCHAN, NVIS)
    th = 2 * np.pi * (u[..., None] * l + v[..., None] * m)            # (nchan, nvis, npix²)
    e = torch.exp(1j * sign * th)
    return CELL**2 * (cube.reshape(NCHAN, 1, NPIX * NPIX).to(e.dtype) * e).sum(-1)


def make():
    g = torch.Generator().manual_seed(2026)
    du = 1.0 / (NPIX * CELL * ARCSEC)
    umax = du * (NPIX / 2 - 0.5)
    out = []
    for name, sign, shape, cplx in (("shared", -1, (NVIS,), False), ("perchan", 1, (NCHAN, NVIS), True)):
        u = ((torch.rand(shape, generator=g) - 0.5) * 2 * umax).requires_grad_()
        v = ((torch.rand(shape, generator=g) - 0.5) * 2 * umax).requires_grad_()
        cube = torch.rand(NCHAN, NPIX, NPIX, generator=g)
        if cplx:
            cube = torch.complex(cube, torch.rand(NCHAN, NPIX, NPIX, generator=g))
        cube.requires_grad_()
        y = torch.complex(torch.randn(NCHAN, NVIS, generator=g), torch.randn(NCHAN, NVIS, generator=g))
        w = torch.rand(NCHAN, NVIS, generator=g)
        V = vis(cube, u, v, sign)
        loss = (w * (V - y).abs() ** 2).sum()
        gc, gu, gv = torch.autograd.grad(loss, (cube, u, v))
        for k, t in (("cube", cube), ("u", u), ("v", v), ("y", y), ("w", w), ("vis", V),
                     ("grad_cube", gc), ("grad_u", gu), ("grad_v", gv)):
            out.append((f"{name}/{k}", t.detach()))
    return out
