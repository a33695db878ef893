"""Dense solvers: solve, inverse, det, logdet, slogdet, cholesky, solve_triangular; real and complex.

Inputs are random; each fn makes them well conditioned the same way as its C row in
tests/ops_solve.c (so gradcheck perturbs the raw input and the matrix stays invertible/SPD):
  shift(M)  = M + 4 I                 (general, non-symmetric)
  spd(M)    = M M^H + n I             (Hermitian positive definite)
"""
import torch

from .common import Row

FAMILY = "solve"
ALL = ("f32", "f64", "c64", "c128")
REAL = ("f32", "f64")
CPLX = ("c64", "c128")


def eye_like(m):
    n = m.shape[-1]
    return torch.eye(n, dtype=m.dtype)


def shift(m):
    return m + 4 * eye_like(m)


def spd(m):
    return m @ m.mH + m.shape[-1] * eye_like(m)


def solve(a, b):
    return torch.linalg.solve(shift(a), b)


def det(a):
    # torch 1.13's det backward breaks in f32/c64 under a f64 default dtype: go through f64/c128
    wide = torch.complex128 if a.is_complex() else torch.float64
    return torch.linalg.det(a.to(wide)).to(a.dtype)


def tri(upper, left, unit):
    return lambda a, b: torch.linalg.solve_triangular(shift(a), b, upper=upper, left=left, unitriangular=unit)


ROWS = [
    Row("solve_mat", solve, [((4, 4), "n"), ((4, 3), "n")], ALL),
    Row("solve_batch", solve, [((2, 3, 3), "n"), ((2, 3, 2), "n")], ALL),
    Row("solve_bcast", solve, [((3, 3), "n"), ((2, 3, 2), "n")], ALL),
    Row("solve_bcast_a", solve, [((2, 1, 3, 3), "n"), ((3, 3, 1), "n")], ALL),
    Row("solve_vec", solve, [((4, 4), "n"), ((4,), "n")], ALL),
    Row("solve_batch_vec", solve, [((2, 3, 3), "n"), ((2, 3), "n")], ALL),
    Row("solve_spd", lambda m, b: torch.linalg.solve(spd(m), b), [((4, 4), "n"), ((4, 2), "n")], ALL),
    Row("inverse", lambda a: torch.linalg.inv(shift(a)), [((4, 4), "n")], ALL),
    Row("inverse_batch", lambda a: torch.linalg.inv(shift(a)), [((2, 3, 3), "n")], ALL),
    Row("det", lambda a: det(shift(a)), [((4, 4), "n")], ALL),
    Row("det_batch", lambda a: det(a + 0.5 * eye_like(a)), [((3, 3, 3), "n")], ALL),
    Row("logdet_spd", lambda m: torch.logdet(spd(m)), [((2, 4, 4), "n")], ALL),
    Row("logdet", lambda a: torch.logdet(shift(a)), [((4, 4), "n")], CPLX),
    Row("slogdet_logabs", lambda a: torch.linalg.slogdet(a + 0.5 * eye_like(a))[1], [((3, 3, 3), "n")], ALL),
    Row("slogdet_sign", lambda a: torch.linalg.slogdet(shift(a))[0], [((2, 3, 3), "n")], CPLX),
    Row("slogdet_sign_real", lambda a: torch.linalg.slogdet(a)[0], [((3, 3, 3), "n")], REAL, grad=[]),
    Row("cholesky", lambda m: torch.linalg.cholesky(spd(m)), [((4, 4), "n")], ALL),
    Row("cholesky_upper", lambda m: torch.linalg.cholesky(spd(m), upper=True), [((4, 4), "n")], ALL),
    Row("cholesky_batch", lambda m: torch.linalg.cholesky(spd(m)), [((2, 3, 3), "n")], ALL),
    Row("trsolve_lower", tri(False, True, False), [((4, 4), "n"), ((4, 3), "n")], ALL),
    Row("trsolve_upper", tri(True, True, False), [((4, 4), "n"), ((4, 3), "n")], ALL),
    Row("trsolve_lower_right", tri(False, False, False), [((4, 4), "n"), ((3, 4), "n")], ALL),
    Row("trsolve_upper_right_unit", tri(True, False, True), [((4, 4), "n"), ((3, 4), "n")], ALL),
    Row("trsolve_lower_unit", tri(False, True, True), [((4, 4), "n"), ((4, 2), "n")], ALL),
    Row("trsolve_batch_bcast", tri(True, True, False), [((3, 3), "n"), ((2, 3, 2), "n")], ALL),
]

# Decompositions (real only). Their factors have sign freedom, so the rows test gauge-invariant
# functions (the same on both sides whatever the signs): squares of the factors' entries,
# U Vh, V diag(f(L)) V^T, a factor times the matching diagonal of the other.


def sym(m):
    return m + m.mH


def qr_q2(a):
    return torch.linalg.qr(a)[0] ** 2


def qr_r2(a):
    return torch.linalg.qr(a)[1] ** 2


def qr_qd(a):
    q, r = torch.linalg.qr(a)
    return q * torch.diagonal(r, dim1=-2, dim2=-1).unsqueeze(-2)


def qr_abs_r(a):
    return torch.linalg.qr(a)[1].abs()


def eigh_vals(m):
    return torch.linalg.eigh(sym(m))[0]


def eigh_v2(m):
    return torch.linalg.eigh(sym(m))[1] ** 2


def eigh_fun(m):
    l, v = torch.linalg.eigh(sym(m))
    return v @ torch.diag_embed(torch.tanh(l)).to(v.dtype) @ v.mH


# complex eigen- and singular vectors carry a free phase per column: |.| does not see it
def eigh_vabs(m):
    return torch.linalg.eigh(sym(m))[1].abs()


def svd_uabs(a):
    return torch.linalg.svd(a, full_matrices=False)[0].abs()


def svd_vhabs(a):
    return torch.linalg.svd(a, full_matrices=False)[2].abs()


def svd_s(a):
    return torch.linalg.svd(a, full_matrices=False)[1]


def svd_uvh(a):
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    return u @ vh


def svd_u2(a):
    return torch.linalg.svd(a, full_matrices=False)[0] ** 2


def svd_vh2(a):
    return torch.linalg.svd(a, full_matrices=False)[2] ** 2


def lstsq(a, b):
    return torch.linalg.lstsq(a, b).solution


ROWS += [
    Row("qr_q2", qr_q2, [((4, 3), "n")], ALL),
    Row("qr_r2", qr_r2, [((4, 3), "n")], ALL),
    Row("qr_qd_batch", qr_qd, [((2, 4, 3), "n")], ALL),
    Row("qr_qd_square", qr_qd, [((3, 3), "n")], ALL),
    Row("qr_wide", qr_abs_r, [((3, 5), "n")], ALL, grad=[]),
    Row("eigh_vals", eigh_vals, [((4, 4), "n")], ALL),
    Row("eigh_v2", eigh_v2, [((4, 4), "n")], REAL),
    Row("eigh_fun_batch", eigh_fun, [((2, 3, 3), "n")], ALL),
    Row("svd_s", svd_s, [((4, 3), "n")], ALL),
    Row("svd_s_wide_batch", svd_s, [((2, 3, 5), "n")], ALL),
    Row("svd_uvh", svd_uvh, [((4, 4), "n")], ALL),
    Row("svd_u2_tall", svd_u2, [((5, 3), "n")], REAL),
    Row("svd_vh2_wide", svd_vh2, [((3, 5), "n")], REAL),
    Row("eigh_vabs", eigh_vabs, [((4, 4), "n")], CPLX),
    Row("svd_uabs_tall", svd_uabs, [((5, 3), "n")], CPLX),
    Row("svd_vhabs_wide", svd_vhabs, [((3, 5), "n")], CPLX),
    Row("svd_uvh_batch", svd_uvh, [((2, 3, 4), "n")], ALL),
    Row("lstsq", lstsq, [((5, 3), "n"), ((5, 2), "n")], ALL),
    Row("lstsq_batch", lstsq, [((2, 4, 3), "n"), ((2, 4, 2), "n")], ALL),
]
