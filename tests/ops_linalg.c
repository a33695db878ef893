/* tests/ops_linalg.c — op-table rows for matrix products (fixtures: fixturegen/linalg.py). */
#include "op_table.h"

OPFN(matmul, ag_matmul(x[0], x[1]))
OPFN(bmm, ag_bmm(x[0], x[1]))
OPFN(mv, ag_mv(x[0], x[1]))
OPFN(dot, ag_dot(x[0], x[1]))
OPFN(outer, ag_outer(x[0], x[1]))

#define ROW(nm, f, dts) {.name = #nm, .fn = f_##f, .n_in = 2, .dtypes = dts, TOL(1e-11, 1e-4)}
const op_row ops_linalg[] = {
    ROW(matmul_2d, matmul, DT_FLOAT), ROW(matmul_batch_bcast, matmul, DT_FLOAT),
    ROW(matmul_3d_2d, matmul, DT_FLOAT), ROW(matmul_2d_3d, matmul, DT_FLOAT),
    ROW(matmul_1d_2d, matmul, DT_FLOAT), ROW(matmul_3d_1d, matmul, DT_FLOAT),
    ROW(matmul_1d_1d, matmul, DT_FLOAT), ROW(bmm, bmm, DT_FLOAT), ROW(mv, mv, DT_FLOAT),
    ROW(dot, dot, DT_FLOAT), ROW(outer, outer, DT_FLOAT), ROW(matmul_i64, matmul, DT(AG_I64)),
    {0},
};
