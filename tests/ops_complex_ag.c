/* tests/ops_complex_ag.c — op-table rows for autograd through complex numbers: real losses
 * and outputs of complex inputs (fixtures: fixturegen/complex_ag.py). */
#include "op_table.h"

OPFN(abs2_square_abs, ag_square(ag_abs(x[0])))
OPFN(abs2_real_zconjz, ag_real(ag_mul(x[0], ag_conj(x[0]))))
OPFN(abs2_sum, ag_sum(ag_real(ag_mul(x[0], ag_conj(x[0]))), AG_ALL_DIMS, false))
OPFN(mul_conj, ag_mul(x[0], ag_conj(x[1])))
OPFN(abs, ag_abs(x[0]))
OPFN(angle, ag_angle(x[0]))
OPFN(real, ag_real(x[0]))
OPFN(imag, ag_imag(x[0]))
OPFN(real_plus_imag, ag_mul(ag_real(x[0]), ag_imag(x[0])))
OPFN(matmul_abs, ag_abs(ag_matmul(x[0], x[1])))
OPFN(sum_abs_expr, ag_sum(ag_abs(ag_add(ag_mul(x[0], x[1]), ag_conj(x[0]))), AG_ALL_DIMS, false))
OPFN(mixed_real_complex, ag_abs(ag_mul(x[0], x[1])))
OPFN(abs_zeros, ag_abs(x[0]))
OPFN(angle_zeros, ag_angle(x[0]))
OPFN(abs2_zeros, ag_square(ag_abs(x[0])))

#define ROW(nm, n, ...) {.name = #nm, .fn = f_##nm, .n_in = n, .dtypes = DT_CPLX, __VA_ARGS__}
const op_row ops_complex_ag[] = {
    ROW(abs2_square_abs, 1, TOL(1e-12, 1e-5)), ROW(abs2_real_zconjz, 1, TOL(1e-12, 1e-5)),
    ROW(abs2_sum, 1, TOL(1e-12, 1e-5)), ROW(mul_conj, 2, TOL(1e-12, 1e-5)),
    ROW(abs, 1, TOL(1e-12, 1e-5)), ROW(angle, 1, TOL(1e-12, 1e-5)),
    ROW(real, 1, TOL(1e-12, 1e-5)), ROW(imag, 1, TOL(1e-12, 1e-5)),
    ROW(real_plus_imag, 1, TOL(1e-12, 1e-5)), ROW(matmul_abs, 2, TOL(1e-11, 1e-4)),
    ROW(sum_abs_expr, 2, TOL(1e-11, 1e-4)), ROW(mixed_real_complex, 2, TOL(1e-12, 1e-5)),
    /* not differentiable at the zeros: forward and VJP vs PyTorch only */
    ROW(abs_zeros, 1, NOGC), ROW(angle_zeros, 1, NOGC), ROW(abs2_zeros, 1, NOGG("abs is not differentiable at 0: the chain rule through it loses the curvature of |z|^2 there")),
    {0},
};
