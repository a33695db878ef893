"""BaseCube, ImageCube and FourierCube, written out from MPoL's definitions in torch:
I = softplus(b) (beta 1, threshold 20), sky = flip(fftshift(I), last axis),
flux = cell² Σ I, vis = cell² fft2(I) (sign -1) or cell² conj(fft2(I)) = cell² npix² ifft2(I)
for a real I (sign +1); complex cubes z: cell² fft2(z), cell² npix² ifft2(z)."""
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


def make():
    return case("n8", 0.005, 2, 8, 1) + case("n10", 0.0123, 3, 10, 2)
