"""matmul in all its broadcasting forms, bmm, mv, dot; real and complex."""
import torch

from .common import Row

FAMILY = "linalg"
ALL = ("f32", "f64", "c64", "c128")


def dot_ref(a, b):
    # torch 1.13's complex dot (and matmul of two vectors) returns 0: compute it as a sum
    return torch.sum(a * b)

ROWS = [
    Row("matmul_2d", torch.matmul, [((3, 4), "n"), ((4, 5), "n")], ALL),
    Row("matmul_batch_bcast", torch.matmul, [((2, 1, 3, 4), "n"), ((3, 4, 2), "n")], ALL),
    Row("matmul_3d_2d", torch.matmul, [((2, 3, 4), "n"), ((4, 5), "n")], ALL),
    Row("matmul_2d_3d", torch.matmul, [((3, 4), "n"), ((2, 4, 5), "n")], ALL),
    Row("matmul_1d_2d", torch.matmul, [((4,), "n"), ((4, 5), "n")], ALL),
    Row("matmul_3d_1d", torch.matmul, [((2, 3, 4), "n"), ((4,), "n")], ALL),
    Row("matmul_1d_1d", dot_ref, [((4,), "n"), ((4,), "n")], ALL),
    Row("bmm", torch.bmm, [((2, 3, 4), "n"), ((2, 4, 5), "n")], ALL),
    Row("mv", torch.mv, [((3, 4), "n"), ((4,), "n")], ALL),
    Row("dot", dot_ref, [((6,), "n"), ((6,), "n")], ALL),
    Row("outer", torch.outer, [((4,), "n"), ((3,), "n")], ALL),
    Row("matmul_i64", torch.matmul, [((3, 4), "i"), ((4, 2), "i")], ("i64",), grad=[]),
]


def es(eq):
    return lambda *ops: torch.einsum(eq, *ops)


ROWS += [
    Row("einsum_matmul", es("ij,jk->ik"), [((3, 4), "n"), ((4, 5), "n")], ALL),
    Row("einsum_bmm", es("bij,bjk->bik"), [((2, 3, 4), "n"), ((2, 4, 5), "n")], ALL),
    Row("einsum_bcast", es("bij,bjk->bik"), [((1, 3, 4), "n"), ((2, 4, 5), "n")], ALL),
    Row("einsum_outer", es("i,j->ij"), [((3,), "n"), ((4,), "n")], ALL),
    Row("einsum_dot", es("i,i->"), [((5,), "n"), ((5,), "n")], ALL),
    Row("einsum_implicit", es("ij,jk"), [((3, 4), "n"), ((4, 2), "n")], ALL),
    Row("einsum_own_sum", es("ij,jk->i"), [((3, 4), "n"), ((4, 2), "n")], ALL),
    Row("einsum_perm_out", es("bij,bjk->kbi"), [((2, 3, 4), "n"), ((2, 4, 5), "n")], ALL),
    Row("einsum_transpose", es("ij->ji"), [((3, 4), "n")], ALL),
    Row("einsum_implicit_transpose", es("ba"), [((3, 4), "n")], ALL),
    Row("einsum_sum", es("ijk->ik"), [((2, 3, 4), "n")], ALL),
    Row("einsum_three", es("ij,jk,kl->il"), [((2, 3), "n"), ((3, 4), "n"), ((4, 2), "n")], ALL),
    Row("einsum_diag", es("ii->i"), [((4, 4), "n")], ALL),
    Row("einsum_trace", es("ii->"), [((4, 4), "n")], ALL),
    Row("einsum_diag_mixed", es("iji,jk->ik"), [((3, 2, 3), "n"), ((2, 4), "n")], ALL),
    Row("einsum_ellipsis_bmm", es("...ij,...jk->...ik"), [((2, 1, 3, 4), "n"), ((5, 4, 2), "n")], ALL),
    Row("einsum_ellipsis_implicit", es("...ij"), [((2, 3, 4), "n")], ALL),
    Row("einsum_ellipsis_sum", es("i...->i"), [((3, 2, 4), "n")], ALL),
    Row("einsum_ellipsis_diag", es("...ii->...i"), [((2, 3, 3), "n")], ALL),
    Row("einsum_ellipsis_mid", es("a...b,b->...a"), [((2, 3, 4), "n"), ((4,), "n")], ALL),
]
