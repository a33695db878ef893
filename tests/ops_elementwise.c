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
OPFN(sub_s, ag_sub_s(x[0], 1.5))
OPFN(div_s, ag_div_s(x[0], 2.5))
OPFN(div_s_i64, ag_div_s(x[0], 2.0))
/* in place: a clone of x[0] updated (not differentiable: the inputs do not require grad) */
#define INPLACE2(name, fn)                                                      \
    static ag_tensor *f_##name(ag_tensor *const *x, int n, void *ud) {          \
        (void)n; (void)ud;                                                      \
        ag_tensor *y = ag_clone(x[0]);                                          \
        if (y && fn(y, x[1]) != 0) { ag_release(y); return NULL; }             \
        return y;                                                               \
    }
INPLACE2(add_, ag_add_)
INPLACE2(sub_, ag_sub_)
INPLACE2(mul_, ag_mul_)
INPLACE2(div_, ag_div_)
INPLACE2(mul_i64, ag_mul_)
static ag_tensor *f_clamp_(ag_tensor *const *x, int n, void *ud) {
    (void)n; (void)ud;
    ag_tensor *y = ag_clone(x[0]);
    if (y && ag_clamp_(y, -0.5, 0.7) != 0) { ag_release(y); return NULL; }
    return y;
}
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

/* rounding, inverse trig, hyperbolics, log2/log10, atan2 */
OPFN(floor, ag_floor(x[0]))
OPFN(ceil, ag_ceil(x[0]))
OPFN(round, ag_round(x[0]))
OPFN(round_half, ag_round(ag_mul_s(ag_floor(ag_mul_s(x[0], 8.0)), 0.5)))
OPFN(floor_i64, ag_floor(x[0]))
OPFN(asin, ag_asin(x[0]))
OPFN(acos, ag_acos(x[0]))
OPFN(atan, ag_atan(x[0]))
OPFN(sinh, ag_sinh(x[0]))
OPFN(cosh, ag_cosh(x[0]))
OPFN(log2, ag_log2(x[0]))
OPFN(log10, ag_log10(x[0]))
OPFN(asin_i64, ag_asin(x[0]))
OPFN(atan2, ag_atan2(x[0], x[1]))
OPFN(atan2_i64, ag_atan2(x[0], x[1]))
/* predicates and logical ops */
OPFN(isnan, ag_isnan(x[0]))
OPFN(isinf, ag_isinf(x[0]))
OPFN(isfinite, ag_isfinite(x[0]))
OPFN(isnan_log, ag_isnan(ag_log(x[0])))
OPFN(isinf_log, ag_isinf(ag_log(x[0])))
OPFN(isfinite_log, ag_isfinite(ag_log(x[0])))
OPFN(isnan_cx, ag_isnan(ag_complex(ag_log(x[0]), ag_log(x[1]))))
OPFN(isinf_cx, ag_isinf(ag_complex(ag_log(x[0]), ag_log(x[1]))))
OPFN(isfinite_cx, ag_isfinite(ag_complex(ag_log(x[0]), ag_log(x[1]))))
OPFN(logical_not, ag_logical_not(x[0]))
OPFN(logical_and, ag_logical_and(x[0], x[1]))
OPFN(logical_or, ag_logical_or(x[0], x[1]))
OPFN(logical_and_mixed, ag_logical_and(x[0], ag_to_dtype(x[1], AG_I64)))
OPFN(isclose, ag_isclose(x[0], ag_add(x[0], ag_mul_s(x[1], 0.1)), 0.05, 0.02, false))
OPFN(isclose_nan, ag_isclose(ag_log(x[0]), ag_log(ag_add(x[0], ag_mul_s(x[1], 0.01))), 1e-2, 0.0, true))
OPFN(isclose_nonan, ag_isclose(ag_log(x[0]), ag_log(ag_add(x[0], ag_mul_s(x[1], 0.01))), 1e-2, 0.0, false))
OPFN(isclose_cnan, ag_isclose(ag_div(x[0], x[1]), ag_div(x[0], x[1]), 1e-5, 1e-8, true))
OPFN(isclose_exact, ag_isclose(x[0], ag_add(x[0], ag_to_dtype(ag_gt(x[1], ag_scalar_like(x[1], 1.0)), ag_dtype_of(x[1]))),
                               0.0, 0.0, false))
OPFN(isclose_i64, ag_isclose(x[0], x[1], 0.5, 1.0, false))
/* allclose returns a C bool: the row wraps it in a 0-d bool tensor on the inputs' device */
static ag_tensor *allclose_row(ag_tensor *const *x, double scale) {
    if (!x[0] || !x[1]) return (void)ag_allclose(x[0], x[1], 1e-5, 1e-8, false), NULL; /* its own error */
    ag_tensor *b = ag_add(x[0], ag_mul_s(x[1], scale));
    bool r = ag_allclose(x[0], b, 1e-5, 1e-8, false);
    ag_release(b);
    return ag_failed() ? NULL : ag_scalar_on(r, AG_BOOL, ag_device_of(x[0]));
}
OPFN(allclose_t, allclose_row(x, 1e-9))
OPFN(allclose_f, allclose_row(x, 1e-3))

#define DT_ANY (DT_FLOAT | DT(AG_I64) | DT(AG_BOOL))
#define ROW(nm, n, dts, ...) {.name = #nm, .fn = f_##nm, .n_in = n, .dtypes = dts, __VA_ARGS__}
const op_row ops_elementwise[] = {
    ROW(add, 2, DT_FLOAT), ROW(sub, 2, DT_FLOAT), ROW(mul, 2, DT_FLOAT), ROW(div, 2, DT_FLOAT),
    ROW(pow, 2, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(maximum, 2, DT_REAL), ROW(minimum, 2, DT_REAL),
    ROW(add_s, 1, DT_FLOAT), ROW(mul_s, 1, DT_FLOAT), ROW(pow_s3, 1, DT_FLOAT, TOL(1e-11, 1e-4)),
    ROW(pow_s05, 1, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(rsub_s, 1, DT_FLOAT),
    ROW(sub_s, 1, DT_FLOAT), ROW(div_s, 1, DT_FLOAT), ROW(div_s_i64, 1, DT(AG_F64)),
    ROW(add_, 2, DT_FLOAT), ROW(sub_, 2, DT_FLOAT), ROW(mul_, 2, DT_FLOAT), ROW(div_, 2, DT_FLOAT),
    ROW(mul_i64, 2, DT(AG_F64)), ROW(clamp_, 1, DT_REAL),
    ROW(neg, 1, DT_FLOAT), ROW(abs, 1, DT_FLOAT, NOGC), ROW(sign, 1, DT_FLOAT, NOGC), ROW(sign_nonzero, 1, DT_FLOAT),
    ROW(square, 1, DT_FLOAT), ROW(reciprocal, 1, DT_FLOAT), ROW(exp, 1, DT_FLOAT), ROW(log, 1, DT_FLOAT),
    ROW(log1p, 1, DT_REAL), ROW(expm1, 1, DT_REAL), ROW(sqrt, 1, DT_FLOAT), ROW(rsqrt, 1, DT_FLOAT),
    ROW(sin, 1, DT_FLOAT), ROW(cos, 1, DT_FLOAT), ROW(tanh, 1, DT_FLOAT), ROW(sigmoid, 1, DT_FLOAT),
    ROW(softplus, 1, DT_REAL), ROW(softplus_b2_t1, 1, DT_REAL, NOGC), ROW(erf, 1, DT_REAL),
    ROW(clamp, 1, DT_REAL, NOGC), ROW(complex, 2, DT_REAL), ROW(polar, 2, DT_REAL),
    ROW(conj, 1, DT_CPLX), ROW(angle, 1, DT_FLOAT, NOGC), ROW(where, 3, DT_FLOAT),
    ROW(eq, 2, DT(AG_I64)), ROW(lt, 2, DT_REAL), ROW(ge, 2, DT_REAL), ROW(ne_c, 2, DT(AG_I64)),
    ROW(floor, 1, DT_REAL), ROW(ceil, 1, DT_REAL), ROW(round, 1, DT_REAL), ROW(round_half, 1, DT_REAL),
    ROW(floor_i64, 1, DT(AG_I64)),
    ROW(asin, 1, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(acos, 1, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(atan, 1, DT_FLOAT),
    ROW(sinh, 1, DT_FLOAT), ROW(cosh, 1, DT_FLOAT), ROW(log2, 1, DT_FLOAT), ROW(log10, 1, DT_FLOAT),
    ROW(asin_i64, 1, DT(AG_I64)), ROW(atan2, 2, DT_REAL), ROW(atan2_i64, 2, DT(AG_I64)),
    ROW(isnan, 1, DT_ANY), ROW(isinf, 1, DT_ANY), ROW(isfinite, 1, DT_ANY),
    ROW(isnan_log, 1, DT_REAL), ROW(isinf_log, 1, DT_REAL), ROW(isfinite_log, 1, DT_REAL),
    ROW(isnan_cx, 2, DT_REAL), ROW(isinf_cx, 2, DT_REAL), ROW(isfinite_cx, 2, DT_REAL),
    ROW(logical_not, 1, DT_ANY), ROW(logical_and, 2, DT_ANY), ROW(logical_or, 2, DT_ANY),
    ROW(logical_and_mixed, 2, DT_REAL),
    ROW(isclose, 2, DT_FLOAT), ROW(isclose_nan, 2, DT_REAL), ROW(isclose_nonan, 2, DT_REAL),
    ROW(isclose_cnan, 2, DT_CPLX), ROW(isclose_exact, 2, DT_REAL), ROW(isclose_i64, 2, DT(AG_I64)),
    ROW(allclose_t, 2, DT(AG_F64) | DT(AG_C128)), ROW(allclose_f, 2, DT(AG_F64) | DT(AG_C128)),
    {0},
};
