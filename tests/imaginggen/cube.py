"""BaseCube, ImageCube and FourierCube, written out from MPoL's definitions in torch:
I = softplus(b) (beta 1, threshold 20), sky = flip(fftshift(I), last axis),
flux = cell² Σ I, vis = cell² fft2(I) (sign -1) or cell² conj(fft2(I)) = cell² npix² ifft2(I)
for a real I (sign +1); complex cubes z: cell² fft2(z), cell² npix² ifft2(z).

The convolution layers as MPoL defines them: HannConvCube (0.2's images.py: a depthwise 3x3
[.25 .5 .25]² kernel, zero padding 1, applied to the sky cube of a packed cube), GaussConvImage
and GaussConvFourier (MPoL's later images.py, absent from 0.2: a normalized Gaussian kernel of
1 + 2 ceil(3 σ_maj / cell) samples on linspace(-3 σ_maj, 3 σ_maj), sky in and out, "same" zero
padding; and a packed cube times MPoL's uv taper exp(-2π²(σ_l² u'² + σ_m² v'²)) between fft2
and ifft2, real part), with each input cube's gradient of sum(out² w)."""
import math

import numpy as np
import torch

FAMILY = "cube"
F = torch.fft


def case(tag, cell, nchan, npix, seed):
    g = torch.Generator().manual_seed(seed)
    b = 3 * torch.randn(nchan, npix, npix, generator=g, dtype=torch.float64)
    b[0, 1, 2] = 25.0  # above softplus' threshold: the identity branch
    w = torch.rand(nchan, npix, npix, generator=g, dtype=torch.float64) + 0.5
    z = torch.complex(torch.randn(nchan, npix, npix, generator=g, dtype=torch.float64),
                      torch.randn(nchan, npix, npix, generator=g, dtype=torch.float64))
    bl = b.clone().requires_grad_(True)
    img = torch.nn.functional.softplus(bl, beta=1, threshold=20)
    a = cell ** 2
    vis_m = a * F.fft2(img)
    loss = (vis_m.abs() ** 2 * w).sum() + (a * npix ** 2 * F.ifft2(img)).real.sum()
    loss.backward()
    img = img.detach()
    return [
        (f"{tag}.b", b), (f"{tag}.w", w), (f"{tag}.z", z), (f"{tag}.img", img),
        (f"{tag}.sky", torch.flip(F.fftshift(img, dim=(1, 2)), dims=(2,))),
        (f"{tag}.flux", a * img.sum(dim=(1, 2))),
        (f"{tag}.vis_m", vis_m.detach()), (f"{tag}.vis_p", a * F.fft2(img).conj()),
        (f"{tag}.zvis_m", a * F.fft2(z)), (f"{tag}.zvis_p", a * npix ** 2 * F.ifft2(z)),
        (f"{tag}.loss", loss.detach()), (f"{tag}.grad", bl.grad),
    ]


ARCSEC = np.pi / (180.0 * 3600.0)
DEG = np.pi / 180.0
FWHM2SIGMA = 1 / (2 * np.sqrt(2 * np.log(2)))


def sky_gaussian(l, m, sigma_l, sigma_m, omega):  # MPoL's utils.sky_gaussian_radians, a = 1, no offset
    lp = l * np.cos(omega * DEG) - m * np.sin(omega * DEG)
    mp = l * np.sin(omega * DEG) + m * np.cos(omega * DEG)
    return np.exp(-0.5 * ((lp / sigma_l) ** 2 + (mp / sigma_m) ** 2))


def gauss_kernel(cell, fmaj, fmin, omega):
    sigma_y, sigma_x = fmaj * FWHM2SIGMA, fmin * FWHM2SIGMA  # arcsec; major axis north-south at omega 0
    limit = 3.0 * sigma_y
    nk = 1 + 2 * math.ceil(limit / cell)
    c = np.linspace(-limit, limit, num=nk)
    sky_x = np.fliplr(np.tile(c, (nk, 1)))
    sky_y = np.tile(c, (nk, 1)).T
    g = sky_gaussian(sky_x * ARCSEC, sky_y * ARCSEC, sigma_x * ARCSEC, sigma_y * ARCSEC, omega)
    return torch.tensor(g / np.sum(g))


def uv_taper(cell, npix, fmaj, fmin, omega):  # MPoL's uv_gaussian_taper, u and v in λ
    sigma_l, sigma_m = fmaj * FWHM2SIGMA * ARCSEC, fmin * FWHM2SIGMA * ARCSEC
    du = 1.0 / (npix * cell * ARCSEC)
    uc = du * (np.arange(npix) - npix // 2)
    u = np.fft.fftshift(np.tile(uc, (npix, 1)))
    v = np.fft.fftshift(np.tile(uc, (npix, 1)).T)
    up = u * np.cos(omega * DEG) - v * np.sin(omega * DEG)
    vp = u * np.sin(omega * DEG) + v * np.cos(omega * DEG)
    return torch.tensor(np.exp(-2 * np.pi ** 2 * (sigma_l ** 2 * up ** 2 + sigma_m ** 2 * vp ** 2)))


def packed_to_sky(x):
    return torch.flip(F.fftshift(x, dim=(1, 2)), dims=(2,))


def sky_to_packed(x):
    return F.ifftshift(torch.flip(x, dims=(2,)), dim=(1, 2))


def conv_case(tag, cell, nchan, npix, fmaj, fmin, omega, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(nchan, npix, npix, generator=g, dtype=torch.float64)
    w = torch.rand(nchan, npix, npix, generator=g, dtype=torch.float64) + 0.5
    spec = torch.tensor([0.25, 0.5, 0.25])
    hann = torch.outer(spec, spec).expand(nchan, 1, 3, 3)
    gk = gauss_kernel(cell, fmaj, fmin, omega)
    k = gk.shape[0]
    taper = uv_taper(cell, npix, fmaj, fmin, omega)
    layers = {
        "hann": lambda c: sky_to_packed(torch.nn.functional.conv2d(packed_to_sky(c)[None], hann, padding=1,
                                                                   groups=nchan)[0]),
        "gimg": lambda c: torch.nn.functional.conv2d(c[None], gk.expand(nchan, 1, k, k), padding=k // 2,
                                                     groups=nchan)[0],
        "gfou": lambda c: F.ifftn(F.fftn(c, dim=(1, 2)) * taper, dim=(1, 2)).real,
    }
    out = [(f"{tag}.x", x), (f"{tag}.w", w), (f"{tag}.gauss_kernel", gk), (f"{tag}.taper", taper)]
    for name, fn in layers.items():
        xl = x.clone().requires_grad_(True)
        y = fn(xl)
        (y ** 2 * w).sum().backward()
        out += [(f"{tag}.{name}", y.detach()), (f"{tag}.{name}_grad", xl.grad)]
    return out


def make():
    return (case("n8", 0.005, 2, 8, 1) + case("n10", 0.0123, 3, 10, 2)
            + conv_case("c8", 0.005, 2, 8, 0.011, 0.007, 30.0, 3) + conv_case("c10", 0.0123, 3, 10, 0.03, 0.02, -50.0, 4))
