"""FFT ops (torch.fft): c2c, r2c/c2r, all norms, odd/even sizes, n padding/truncation,
batched and multi-dim transforms, fftshift/ifftshift. Real inputs of fft/ifft/fftn rows are
promoted to complex (the f32/f64 rows); irfft rows take complex half spectra."""
import torch

from .common import Row

FAMILY = "fft"
ALL = ("f32", "f64", "c64", "c128")
REAL = ("f32", "f64")
CPLX = ("c64", "c128")
F = torch.fft

ROWS = [
    # c2c, one dim
    Row("fft", lambda x: F.fft(x), [((3, 8), "n")], ALL),
    Row("fft_odd_dim0", lambda x: F.fft(x, dim=0), [((7, 3), "n")], ALL),
    Row("fft_pad", lambda x: F.fft(x, n=10, dim=-1), [((3, 7), "n")], ALL),
    Row("fft_trunc", lambda x: F.fft(x, n=5, dim=1), [((2, 8, 3), "n")], ALL),
    Row("fft_ortho", lambda x: F.fft(x, norm="ortho"), [((4, 6), "n")], ALL),
    Row("fft_forward", lambda x: F.fft(x, norm="forward"), [((4, 5), "n")], ALL),
    Row("ifft", lambda x: F.ifft(x), [((3, 8), "n")], ALL),
    Row("ifft_odd", lambda x: F.ifft(x, dim=0), [((9, 2), "n")], ALL),
    Row("ifft_n", lambda x: F.ifft(x, n=9), [((2, 6), "n")], ALL),
    Row("ifft_ortho", lambda x: F.ifft(x, norm="ortho"), [((4, 7), "n")], ALL),
    Row("ifft_forward", lambda x: F.ifft(x, norm="forward"), [((4, 6), "n")], ALL),
    # c2c, several dims
    Row("fft2", lambda x: F.fft2(x), [((2, 5, 6), "n")], ALL),
    Row("fft2_ortho", lambda x: F.fft2(x, norm="ortho"), [((4, 7), "n")], ALL),
    Row("ifft2", lambda x: F.ifft2(x), [((3, 4, 5), "n")], ALL),
    Row("ifft2_forward", lambda x: F.ifft2(x, norm="forward"), [((6, 4), "n")], ALL),
    Row("fftn_02", lambda x: F.fftn(x, dim=(0, 2)), [((4, 3, 5), "n")], ALL),
    Row("fftn_all", lambda x: F.fftn(x), [((3, 4, 5), "n")], ALL),
    Row("ifftn_10_forward", lambda x: F.ifftn(x, dim=(1, 0), norm="forward"), [((4, 5, 2), "n")], ALL),
    # r2c
    Row("rfft", lambda x: F.rfft(x), [((3, 8), "n")], REAL),
    Row("rfft_odd", lambda x: F.rfft(x), [((3, 7), "n")], REAL),
    Row("rfft_pad", lambda x: F.rfft(x, n=12), [((2, 7), "n")], REAL),
    Row("rfft_trunc", lambda x: F.rfft(x, n=5, dim=0), [((8, 3), "n")], REAL),
    Row("rfft_ortho", lambda x: F.rfft(x, norm="ortho"), [((4, 9), "n")], REAL),
    Row("rfft_forward", lambda x: F.rfft(x, norm="forward"), [((4, 6), "n")], REAL),
    Row("rfftn", lambda x: F.rfftn(x, dim=(0, 1)), [((4, 6, 3), "n")], REAL),
    Row("rfftn_all_odd", lambda x: F.rfftn(x, norm="ortho"), [((5, 7), "n")], REAL),
    # c2r
    Row("irfft", lambda x: F.irfft(x), [((3, 5), "n")], CPLX),
    Row("irfft_odd", lambda x: F.irfft(x, n=9), [((3, 5), "n")], CPLX),
    Row("irfft_pad", lambda x: F.irfft(x, n=14), [((2, 5), "n")], CPLX),
    Row("irfft_trunc", lambda x: F.irfft(x, n=6, dim=0), [((7, 3), "n")], CPLX),
    Row("irfft_ortho", lambda x: F.irfft(x, norm="ortho"), [((4, 6), "n")], CPLX),
    Row("irfft_forward", lambda x: F.irfft(x, n=7, norm="forward"), [((4, 4), "n")], CPLX),
    Row("irfftn", lambda x: F.irfftn(x, dim=(0, 1)), [((4, 3, 2), "n")], CPLX),
    Row("irfftn_odd", lambda x: F.irfftn(x, s=(4, 5), norm="ortho"), [((4, 3), "n")], CPLX),
    # shifts
    Row("fftshift", lambda x: F.fftshift(x), [((5, 6), "n")], ALL),
    Row("fftshift_dim", lambda x: F.fftshift(x, dim=1), [((3, 5), "n")], ALL),
    Row("ifftshift", lambda x: F.ifftshift(x), [((5, 6), "n")], ALL),
    Row("ifftshift_dim0", lambda x: F.ifftshift(x, dim=0), [((7, 4), "n")], ALL),
    Row("fftshift_3d", lambda x: F.fftshift(x, dim=(0, 2)), [((3, 4, 5), "n")], ALL),
]
