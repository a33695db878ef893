/* tests/ops_linalg.c — op-table rows for matrix products (fixtures: fixturegen/linalg.py). */
#include "op_table.h"

OPFN(matmul, ag_matmul(x[0], x[1]))
OPFN(bmm, ag_bmm(x[0], x[1]))
OPFN(mv, ag_mv(x[0], x[1]))
OPFN(dot, ag_dot(x[0], x[1]))
OPFN(outer, ag_outer(x[0], x[1]))

OPFN(es_mm, ag_einsum("ij,jk->ik", x, 2))
OPFN(es_bmm, ag_einsum("bij,bjk->bik", x, 2))
OPFN(es_outer, ag_einsum("i,j->ij", x, 2))
OPFN(es_dot, ag_einsum("i,i->", x, 2))
OPFN(es_implicit, ag_einsum("ij,jk", x, 2))
OPFN(es_own_sum, ag_einsum("ij,jk->i", x, 2))
OPFN(es_perm_out, ag_einsum("bij, bjk -> kbi", x, 2))
OPFN(es_transpose, ag_einsum("ij->ji", x, 1))
OPFN(es_implicit_transpose, ag_einsum("ba", x, 1))
OPFN(es_sum, ag_einsum("ijk->ik", x, 1))
OPFN(es_three, ag_einsum("ij,jk,kl->il", x, 3))
OPFN(es_diag, ag_einsum("ii->i", x, 1))
OPFN(es_trace, ag_einsum("ii->", x, 1))
OPFN(es_diag_mixed, ag_einsum("iji,jk->ik", x, 2))
OPFN(es_el_bmm, ag_einsum("...ij,...jk->...ik", x, 2))
OPFN(es_el_implicit, ag_einsum("...ij", x, 1))
OPFN(es_el_sum, ag_einsum("i...->i", x, 1))
OPFN(es_el_diag, ag_einsum("...ii->...i", x, 1))
OPFN(es_el_mid, ag_einsum("a...b,b->...a", x, 2))

#define ROW(nm, f, dts) {.name = #nm, .fn = f_##f, .n_in = 2, .dtypes = dts, TOL(1e-11, 1e-4)}
const op_row ops_linalg[] = {
    ROW(matmul_2d, matmul, DT_FLOAT), ROW(matmul_batch_bcast, matmul, DT_FLOAT),
    ROW(matmul_3d_2d, matmul, DT_FLOAT), ROW(matmul_2d_3d, matmul, DT_FLOAT),
    ROW(matmul_1d_2d, matmul, DT_FLOAT), ROW(matmul_3d_1d, matmul, DT_FLOAT),
    ROW(matmul_1d_1d, matmul, DT_FLOAT), ROW(bmm, bmm, DT_FLOAT), ROW(mv, mv, DT_FLOAT),
    ROW(dot, dot, DT_FLOAT), ROW(outer, outer, DT_FLOAT), ROW(matmul_i64, matmul, DT(AG_I64)),
#define EROW(nm, f, nin) {.name = #nm, .fn = f_##f, .n_in = nin, .dtypes = DT_FLOAT, TOL(1e-11, 1e-4)}
    EROW(einsum_matmul, es_mm, 2), EROW(einsum_bmm, es_bmm, 2), EROW(einsum_bcast, es_bmm, 2),
    EROW(einsum_outer, es_outer, 2), EROW(einsum_dot, es_dot, 2), EROW(einsum_implicit, es_implicit, 2),
    EROW(einsum_own_sum, es_own_sum, 2), EROW(einsum_perm_out, es_perm_out, 2),
    EROW(einsum_transpose, es_transpose, 1), EROW(einsum_implicit_transpose, es_implicit_transpose, 1),
    EROW(einsum_sum, es_sum, 1), EROW(einsum_three, es_three, 3),
    EROW(einsum_diag, es_diag, 1), EROW(einsum_trace, es_trace, 1), EROW(einsum_diag_mixed, es_diag_mixed, 2),
    EROW(einsum_ellipsis_bmm, es_el_bmm, 2), EROW(einsum_ellipsis_implicit, es_el_implicit, 1),
    EROW(einsum_ellipsis_sum, es_el_sum, 1), EROW(einsum_ellipsis_diag, es_el_diag, 1),
    EROW(einsum_ellipsis_mid, es_el_mid, 2),
    {0},
};
