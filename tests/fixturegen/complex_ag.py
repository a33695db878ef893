"""Autograd through complex numbers: real losses and outputs of complex inputs, checked
against PyTorch's convention (the gradient of a real L is dL/dRe z + i dL/dIm z)."""
import torch

from .common import Row

FAMILY = "complex_ag"
CPLX = ("c64", "c128")
Z = ((3, 4), "n")


def sum_abs_expr(z, w):
    return torch.sum(torch.abs(z * w + z.conj()))


ROWS = [
    Row("abs2_square_abs", lambda z: torch.square(torch.abs(z)), [Z], CPLX),
    Row("abs2_real_zconjz", lambda z: torch.real(z * z.conj()), [Z], CPLX),
    Row("abs2_sum", lambda z: torch.sum(torch.real(z * z.conj())), [Z], CPLX),
    Row("mul_conj", lambda z, w: z * w.conj(), [Z, ((4,), "n")], CPLX),
    Row("abs", torch.abs, [Z], CPLX),
    Row("angle", torch.angle, [Z], CPLX),
    Row("real", torch.real, [Z], CPLX),
    Row("imag", torch.imag, [Z], CPLX),
    Row("real_plus_imag", lambda z: torch.real(z) * torch.imag(z), [Z], CPLX),
    Row("matmul_abs", lambda a, b: torch.abs(a @ b), [((3, 4), "n"), ((4, 2), "n")], CPLX),
    Row("sum_abs_expr", sum_abs_expr, [Z, Z], CPLX),
    Row("mixed_real_complex", lambda x, z: torch.abs(x * z), [((3, 4), "r"), Z], CPLX),
    # exact zeros (seed 8 gives 3 elements with re = im = 0): PyTorch's gradients of abs and
    # angle are 0 there, not NaN (PyTorch issues 96543, 98276)
    Row("abs_zeros", torch.abs, [((4, 5), "z")], CPLX, seed=8),
    Row("angle_zeros", torch.angle, [((4, 5), "z")], CPLX, seed=8),
    Row("abs2_zeros", lambda z: torch.square(torch.abs(z)), [((4, 5), "z")], CPLX, seed=8),
]
