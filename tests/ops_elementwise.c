/* tests/ops_elementwise.c — op-table rows for elementwise ops (fixtures: fixturegen/elementwise.py). */
#include <math.h>

#include "op_table.h"

OPFN(add, ag_add(x[0], x[1]))
OPFN(sub, ag_sub(x[0], x[1]))
OPFN(mul, ag_mul(x[0], x[1]))
OPFN(div, ag_div(x[0], x[1]))
OPFN(pow, ag_pow(x[0], x[1]))
OPFN(maximum, ag_maximum(x[0], x[1]))
OPFN(minimum, ag_minimum(x[0], x[1]))
OPFN(add_s, ag_add_s(x[0], 2.5))
OPFN(mul_s, ag_mul_s(x[0], -1.5))
OPFN(pow_s3, ag_pow_s(x[0], 3))
OPFN(pow_s05, ag_pow_s(x[0], 0.5))
OPFN(rsub_s, ag_rsub_s(2.0, x[0]))
OPFN(neg, ag_neg(x[0]))
OPFN(abs, ag_abs(x[0]))
OPFN(sign, ag_sign(x[0]))
OPFN(sign_nonzero, ag_sign(x[0]))
OPFN(square, ag_square(x[0]))
OPFN(reciprocal, ag_reciprocal(x[0]))
OPFN(exp, ag_exp(x[0]))
OPFN(log, ag_log(x[0]))
OPFN(log1p, ag_log1p(x[0]))
OPFN(expm1, ag_expm1(x[0]))
OPFN(sqrt, ag_sqrt(x[0]))
OPFN(rsqrt, ag_rsqrt(x[0]))
OPFN(sin, ag_sin(x[0]))
OPFN(cos, ag_cos(x[0]))
OPFN(tanh, ag_tanh(x[0]))
OPFN(sigmoid, ag_sigmoid(x[0]))
OPFN(softplus, ag_softplus(x[0], 1.0, 20.0))
OPFN(softplus_b2_t1, ag_softplus(x[0], 2.0, 1.0))
OPFN(erf, ag_erf(x[0]))
OPFN(clamp, ag_clamp(x[0], -0.5, 0.7))
OPFN(complex, ag_complex(x[0], x[1]))
OPFN(polar, ag_polar(x[0], x[1]))
OPFN(conj, ag_conj(x[0]))
OPFN(angle, ag_angle(x[0]))
OPFN(where, ag_where(x[0], x[1], x[2]))
OPFN(eq, ag_eq(x[0], x[1]))
OPFN(lt, ag_lt(x[0], x[1]))
OPFN(ge, ag_ge(x[0], x[1]))
OPFN(ne_c, ag_ne(x[0], x[1]))

#define ROW(nm, n, dts, ...) {.name = #nm, .fn = f_##nm, .n_in = n, .dtypes = dts, __VA_ARGS__}
const op_row ops_elementwise[] = {
    ROW(add, 2, DT_FLOAT), ROW(sub, 2, DT_FLOAT), ROW(mul, 2, DT_FLOAT), ROW(div, 2, DT_FLOAT),
    ROW(pow, 2, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(maximum, 2, DT_REAL), ROW(minimum, 2, DT_REAL),
    ROW(add_s, 1, DT_FLOAT), ROW(mul_s, 1, DT_FLOAT), ROW(pow_s3, 1, DT_FLOAT, TOL(1e-11, 1e-4)),
    ROW(pow_s05, 1, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(rsub_s, 1, DT_FLOAT),
    ROW(neg, 1, DT_FLOAT), ROW(abs, 1, DT_FLOAT, NOGC), ROW(sign, 1, DT_FLOAT, NOGC), ROW(sign_nonzero, 1, DT_FLOAT),
    ROW(square, 1, DT_FLOAT), ROW(reciprocal, 1, DT_FLOAT), ROW(exp, 1, DT_FLOAT), ROW(log, 1, DT_FLOAT),
    ROW(log1p, 1, DT_REAL), ROW(expm1, 1, DT_REAL), ROW(sqrt, 1, DT_FLOAT), ROW(rsqrt, 1, DT_FLOAT),
    ROW(sin, 1, DT_FLOAT), ROW(cos, 1, DT_FLOAT), ROW(tanh, 1, DT_FLOAT), ROW(sigmoid, 1, DT_FLOAT),
    ROW(softplus, 1, DT_REAL), ROW(softplus_b2_t1, 1, DT_REAL, NOGC), ROW(erf, 1, DT_REAL),
    ROW(clamp, 1, DT_REAL, NOGC), ROW(complex, 2, DT_REAL), ROW(polar, 2, DT_REAL),
    ROW(conj, 1, DT_CPLX), ROW(angle, 1, DT_FLOAT, NOGC), ROW(where, 3, DT_FLOAT),
    ROW(eq, 2, DT(AG_I64)), ROW(lt, 2, DT_REAL), ROW(ge, 2, DT_REAL), ROW(ne_c, 2, DT(AG_I64)),
    {0},
};
