/* tensor/elementwise.c — elementwise ops: front ends (checks, broadcasting, promotion, one
 * kernel call, node recording) and their backward rules, written with ag ops.
 * Complex rules follow PyTorch: the gradient passed around is dL/dRe + i dL/dIm, so for a
 * holomorphic f the rule is g * conj(f'(z)). */
#include <math.h>
#include <string.h>

#include "tensor/internal.h"

/* ---- shared front ends ----------------------------------------------------------- */

/* torch.result_type of two tensors: dimensioned tensors outrank 0-d ones, which raise the
 * dtype only from a lower category (bool < integer < float < complex), as c10's
 * combine_categories; a complex 0-d with a float tensor keeps the tensor's width. */
static ag_dtype combine_categories(int higher, int lower) {
    if (higher < 0) return (ag_dtype)lower;
    if (lower < 0) return (ag_dtype)higher;
    ag_dtype h = (ag_dtype)higher, l = (ag_dtype)lower;
    if (ag_dtype_is_complex(h)) return h;
    if (ag_dtype_is_complex(l)) return ag_dtype_is_float(h) ? ag_dtype_to_complex(h) : l;
    if (ag_dtype_is_float(h)) return h;
    if (h == AG_BOOL || ag_dtype_is_float(l)) return ag_promote_types(h, l);
    return h;
}
static ag_dtype result_type(const ag_tensor *a, const ag_tensor *b) {
    int dim = -1, zero = -1;
    for (int k = 0; k < 2; k++) {
        const ag_tensor *t = k ? b : a;
        int *slot = t->ndim ? &dim : &zero;
        *slot = *slot < 0 ? (int)t->dtype : (int)ag_promote_types((ag_dtype)*slot, t->dtype);
    }
    return combine_categories(dim, zero);
}

/* Result dtype of a binary op before op-specific rules. */
static ag_dtype binary_dtype(ag_binary_op op, const ag_tensor *a, const ag_tensor *b) {
    ag_dtype dt = result_type(a, b);
    if (op == AG_BIN_DIV && !ag_dtype_is_float(dt)) dt = ag_get_default_dtype(); /* true division */
    return dt;
}

/* Broadcast a and b, cast both to `dt`, run kernel `kop` into a new tensor of `out_dt`.
 * Not recorded; the caller records. */
static ag_tensor *binary_raw(const char *op, ag_binary_op kop, ag_tensor *a, ag_tensor *b, ag_dtype dt, ag_dtype out_dt) {
    if (ag__narrow_int(dt)) /* i32/u8: compute in i64, cast back */
        return ag__narrow(binary_raw(op, kop, a, b, AG_I64, out_dt == dt ? AG_I64 : out_dt), out_dt);
    if (!ag__same_device(op, a, b)) return NULL;
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes(op, a->shape, a->ndim, b->shape, b->ndim, shp, &nd)) return NULL;
    const ag_kernels *k = ag__kernels(a);
    if (!k->binary) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *ca = ag__cast(a, dt), *cb = ag__cast(b, dt);
    ag_tensor *r = ca && cb ? ag__new(shp, nd, out_dt, a->storage->dev, op) : NULL;
    if (r) {
        ag_kview o = ag__view(r), va = ag__view_bcast(ca, shp, nd), vb = ag__view_bcast(cb, shp, nd);
        if (k->binary(kop, &o, &va, &vb) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(ca);
    ag__drop(cb);
    return r;
}

static ag_tensor *unary_raw(const char *op, ag_unary_op kop, ag_tensor *t, ag_dtype in_dt, ag_dtype out_dt,
                            const double *params) {
    if (ag__narrow_int(in_dt)) /* i32/u8: compute in i64, cast back */
        return ag__narrow(unary_raw(op, kop, t, AG_I64, out_dt == in_dt ? AG_I64 : out_dt, params), out_dt);
    const ag_kernels *k = ag__kernels(t);
    if (!k->unary) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *c = ag__cast(t, in_dt);
    ag_tensor *r = c ? ag__new(t->shape, t->ndim, out_dt, t->storage->dev, op) : NULL;
    if (r) {
        ag_kview o = ag__view(r), vi = ag__view(c);
        if (k->unary(kop, &o, &vi, params) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(c);
    return r;
}

/* dtype in which a float op computes: ints and bools become the default float dtype */
static ag_dtype float_dtype(ag_dtype dt) { return ag_dtype_is_float(dt) ? dt : ag_get_default_dtype(); }

static ag_tensor *require_real(const char *op, ag_tensor *t) {
    if (ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a real tensor, given %s", op, ag_dtype_name(t->dtype));
    return t;
}

/* ---- add, sub, mul, div, pow, maximum, minimum ----------------------------------- */
int ag__bw_add(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (n->needs[0]) gin[0] = ag_retain(g);
    if (n->needs[1]) gin[1] = ag_retain(g);
    return 0;
}
int ag__bw_sub(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (n->needs[0]) gin[0] = ag_retain(g);
    if (n->needs[1]) gin[1] = ag_neg(g);
    return 0;
}
/* conj(t) for an operand of a rule: t itself (borrowed) when real, saving a tensor per call */
static ag_tensor *cj(ag_tensor *t) { return t && !ag_dtype_is_complex(t->dtype) ? t : ag_conj(t); }
int ag__bw_mul(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (n->needs[0]) gin[0] = ag_mul(g, cj(n->saved[1]));
    if (n->needs[1]) gin[1] = ag_mul(g, cj(n->saved[0]));
    return 0;
}
int ag__bw_div(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *cb = cj(n->saved[1]);
    if (n->needs[0]) gin[0] = ag_div(g, cb);
    if (n->needs[1]) gin[1] = ag_neg(ag_div(ag_mul(g, cj(n->saved[2])), cb)); /* -g conj(a/b) / conj(b) */
    return 0;
}
int ag__bw_pow(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *a = n->saved[0], *b = n->saved[1], *out = n->saved[2];
    if (n->needs[0]) { /* b a^(b-1), and 0 where b == 0 */
        ag_tensor *d = ag_mul(b, ag_pow(a, ag_add_s(b, -1.0)));
        ag_tensor *zero = ag_zeros_like(d);
        d = ag_where(ag_eq(b, zero), zero, d);
        gin[0] = ag_mul(g, ag_conj(d));
    }
    if (n->needs[1]) { /* out log a, and 0 where a == 0 and b >= 0 */
        ag_tensor *d = ag_mul(out, ag_log(a));
        ag_tensor *zero = ag_zeros_like(d);
        ag_tensor *za = ag_eq(a, ag_zeros_like(a));
        ag_tensor *cond = ag_dtype_is_complex(b->dtype) ? za : ag_mul(za, ag_ge(b, ag_zeros_like(b)));
        d = ag_where(ag_to_dtype(cond, AG_BOOL), zero, d);
        gin[1] = ag_mul(g, ag_conj(d));
    }
    return 0;
}
/* PyTorch: the gradient is split evenly between equal inputs */
int ag__bw_maxmin(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    bool is_max = n->p.i[0];
    ag_tensor *a = n->saved[0], *b = n->saved[1];
    ag_tensor *half = ag_mul_s(g, 0.5), *zero = ag_zeros_like(g);
    ag_tensor *eq = ag_eq(a, b);
    if (n->needs[0]) gin[0] = ag_where(eq, half, ag_where(is_max ? ag_gt(a, b) : ag_lt(a, b), g, zero));
    if (n->needs[1]) gin[1] = ag_where(eq, half, ag_where(is_max ? ag_lt(a, b) : ag_gt(a, b), g, zero));
    return 0;
}

static ag_tensor *arith(const char *op, ag_binary_op kop, ag_tensor *a, ag_tensor *b, const ag_opdef *bw, int nsave) {
    if (!AG_NONNULL(op, a, b)) return NULL;
    ag_dtype dt = binary_dtype(kop, a, b);
    if (kop == AG_BIN_POW && dt == AG_BOOL) dt = AG_I64;
    if ((kop == AG_BIN_MAX || kop == AG_BIN_MIN) && ag_dtype_is_complex(dt))
        return ag_fail(AG_ERR_DTYPE, "%s: complex tensors are not ordered, given %s", op, ag_dtype_name(dt));
    if (kop == AG_BIN_SUB && dt == AG_BOOL)
        return ag_fail(AG_ERR_DTYPE, "%s: subtraction of bool tensors is not supported; use a logical op", op);
    ag_tensor *r = binary_raw(op, kop, a, b, dt, dt);
    ag_op_params p = {.i = {kop == AG_BIN_MAX}};
    ag_tensor *saved[3] = {a, b, r};
    return ag__finish(r, op, bw, AG_IN(a, b), saved, nsave, &p);
}

ag_tensor *ag_add(ag_tensor *a, ag_tensor *b) { return arith("ag_add", AG_BIN_ADD, a, b, AG_OP(ADD), 0); }
ag_tensor *ag_sub(ag_tensor *a, ag_tensor *b) { return arith("ag_sub", AG_BIN_SUB, a, b, AG_OP(SUB), 0); }
ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b) { return arith("ag_mul", AG_BIN_MUL, a, b, AG_OP(MUL), 2); }
ag_tensor *ag_div(ag_tensor *a, ag_tensor *b) { return arith("ag_div", AG_BIN_DIV, a, b, AG_OP(DIV), 3); }
ag_tensor *ag_pow(ag_tensor *a, ag_tensor *b) { return arith("ag_pow", AG_BIN_POW, a, b, AG_OP(POW), 3); }
ag_tensor *ag_maximum(ag_tensor *a, ag_tensor *b) { return arith("ag_maximum", AG_BIN_MAX, a, b, AG_OP(MAXIMUM), 2); }
ag_tensor *ag_minimum(ag_tensor *a, ag_tensor *b) { return arith("ag_minimum", AG_BIN_MIN, a, b, AG_OP(MINIMUM), 2); }

/* ---- tensor-scalar forms --------------------------------------------------------- */
static ag_dtype scalar_dtype(ag_dtype t, double s) {
    if (ag_dtype_is_float(t)) return t;
    if (s != floor(s) || !isfinite(s)) return ag_get_default_dtype();
    return t == AG_BOOL ? AG_I64 : t; /* an integer scalar keeps an integer tensor's dtype */
}

int ag__bw_adds(ag_node *n, ag_tensor *g, ag_tensor **gin) { (void)n; gin[0] = ag_retain(g); return 0; }
int ag__bw_muls(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul_s(g, n->p.d[0]); return 0; }
int ag__bw_rsubs(ag_node *n, ag_tensor *g, ag_tensor **gin) { (void)n; gin[0] = ag_neg(g); return 0; }
int ag__bw_pows(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    double p = n->p.d[0];
    if (p == 0) { gin[0] = ag_zeros_like(g); return 0; }
    gin[0] = ag_mul(g, ag_conj(ag_mul_s(ag_pow_s(n->saved[0], p - 1), p)));
    return 0;
}

static ag_tensor *scalar_op(const char *op, ag_unary_op kop, ag_tensor *a, double s, const ag_opdef *bw, bool save) {
    if (!AG_NONNULL(op, a)) return NULL;
    ag_dtype dt = scalar_dtype(a->dtype, s);
    if (kop == AG_UN_POW_S && !ag_dtype_is_float(dt) && s < 0) dt = ag_get_default_dtype();
    double params[2] = {s, 0};
    ag_tensor *r = unary_raw(op, kop, a, dt, dt, params);
    ag_op_params p = {.d = {s}};
    return ag__finish(r, op, bw, AG_IN(a), save ? (ag_tensor *const[]){a} : NULL, save, &p);
}

ag_tensor *ag_add_s(ag_tensor *a, double s) { return scalar_op("ag_add_s", AG_UN_ADD_S, a, s, AG_OP(ADD_S), false); }
ag_tensor *ag_mul_s(ag_tensor *a, double s) { return scalar_op("ag_mul_s", AG_UN_MUL_S, a, s, AG_OP(MUL_S), false); }
ag_tensor *ag_pow_s(ag_tensor *a, double p) { return scalar_op("ag_pow_s", AG_UN_POW_S, a, p, AG_OP(POW_S), true); }
ag_tensor *ag_rsub_s(double s, ag_tensor *a) {
    if (!AG_NONNULL_FROM("ag_rsub_s", 2, a)) return NULL;
    return scalar_op("ag_rsub_s", AG_UN_RSUB_S, a, s, AG_OP(RSUB_S), false);
}

/* Composed (no node of their own): a - s is a + (-s) exactly; a / s divides by a 0-d constant
 * of a's dtype on a's device (true division: integers and bools are cast to the default float
 * dtype first, as PyTorch). */
ag_tensor *ag_sub_s(ag_tensor *a, double s) {
    if (!AG_NONNULL("ag_sub_s", a)) return NULL;
    return ag_add_s(a, -s);
}
ag_tensor *ag_div_s(ag_tensor *a, double s) {
    if (!AG_NONNULL("ag_div_s", a)) return NULL;
    ag_scope_begin();
    ag_tensor *x = ag_dtype_is_float(a->dtype) ? a : ag_to_dtype(a, ag_get_default_dtype());
    ag_tensor *r = ag_keep(x ? ag_div(x, ag_scalar_like(x, s)) : NULL);
    ag_scope_end();
    return r ? ag__ret(r) : NULL;
}

/* ---- unary math -------------------------------------------------------------------- */
enum { SAVE_IN = 1, SAVE_OUT = 2 };

static ag_tensor *unary(const char *op, ag_unary_op kop, ag_tensor *t, bool float_only, bool real_only,
                        const ag_opdef *bw, int save, const ag_op_params *p, const double *params) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (real_only && !require_real(op, t)) return NULL;
    ag_dtype dt = float_only ? float_dtype(t->dtype) : t->dtype;
    if (!float_only && t->dtype == AG_BOOL && kop != AG_UN_ABS && kop != AG_UN_NOT)
        return ag_fail(AG_ERR_DTYPE, "%s: not supported for bool tensors", op);
    ag_dtype out_dt = (kop == AG_UN_ABS || kop == AG_UN_ANGLE) ? ag_dtype_to_real(dt) : dt;
    ag_tensor *r = unary_raw(op, kop, t, dt, out_dt, params);
    ag_tensor *saved[2];
    int ns = 0;
    if (save & SAVE_IN) saved[ns++] = t;
    if (save & SAVE_OUT) saved[ns++] = r;
    return ag__finish(r, op, bw, AG_IN(t), saved, ns, p);
}

#define IN0 (n->saved[0])
#define OUT (n->saved[n->n_saved - 1])
int ag__bw_neg(ag_node *n, ag_tensor *g, ag_tensor **gin) { (void)n; gin[0] = ag_neg(g); return 0; }
int ag__bw_abs(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_sign(IN0)); return 0; }
int ag__bw_sign(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (!ag_dtype_is_complex(IN0->dtype)) { gin[0] = ag_zeros_like(IN0); return 0; }
    /* d sgn(z): (g - Re(conj(g) s) s) / |z|, 0 at z = 0 */
    ag_tensor *s = OUT, *a = ag_abs(IN0);
    ag_tensor *r = ag_div(ag_sub(g, ag_mul(ag_real(ag_mul(ag_conj(g), s)), s)), a);
    ag_tensor *zero = ag_zeros_like(r);
    gin[0] = ag_where(ag_eq(a, ag_zeros_like(a)), zero, r);
    return 0;
}
int ag__bw_square(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_mul_s(ag_conj(IN0), 2.0)); return 0; }
int ag__bw_recip(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_neg(ag_mul(g, ag_conj(ag_square(OUT)))); return 0; }
int ag__bw_exp(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(OUT)); return 0; }
int ag__bw_log(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_div(g, ag_conj(IN0)); return 0; }
int ag__bw_log1p(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_div(g, ag_conj(ag_add_s(IN0, 1.0))); return 0; }
int ag__bw_expm1(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_add_s(OUT, 1.0))); return 0; }
int ag__bw_sqrt(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_div(g, ag_mul_s(ag_conj(OUT), 2.0)); return 0; }
int ag__bw_rsqrt(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_mul_s(ag_conj(ag_pow_s(OUT, 3.0)), -0.5)); return 0; }
int ag__bw_sin(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_cos(IN0))); return 0; }
int ag__bw_cos(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_neg(ag_mul(g, ag_conj(ag_sin(IN0)))); return 0; }
int ag__bw_tanh(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_rsub_s(1.0, ag_square(OUT)))); return 0; }
int ag__bw_sigmoid(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_mul(OUT, ag_rsub_s(1.0, OUT)))); return 0; }
int ag__bw_softplus(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    double beta = n->p.d[0], thr = n->p.d[1];
    ag_tensor *x = IN0;
    const ag_kernels *k = ag__kernels(x);
    /* one fused pass where the backend has it and no graph of the derivative is wanted */
    if (k->unary_backward && !ag__grad_enabled() && (x->dtype == AG_F32 || x->dtype == AG_F64) &&
        g->dtype == x->dtype && g->ndim == x->ndim && !memcmp(g->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim) &&
        ag__same_device(n->name, g, x)) {
        ag_tensor *r = ag__new(x->shape, x->ndim, x->dtype, x->storage->dev, n->name);
        if (!r) return ag_error_code();
        ag_kview vr = ag__view(r), vg = ag__view(g), vx = ag__view(x);
        if (k->unary_backward(AG_UN_SOFTPLUS, &vr, &vg, &vx, n->p.d) < 0) {
            ag__drop(r);
            return ag_error_code();
        }
        gin[0] = r;
        return 0;
    }
    ag_tensor *bx = ag_mul_s(IN0, beta);
    ag_tensor *d = ag_where(ag_gt(bx, ag_full_like(bx, thr)), ag_ones_like(bx), ag_sigmoid(bx));
    gin[0] = ag_mul(g, d);
    return 0;
}
int ag__bw_erf(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = ag_mul(g, ag_mul_s(ag_exp(ag_neg(ag_square(IN0))), 1.1283791670955126)); /* 2/sqrt(pi) */
    return 0;
}
int ag__bw_clamp(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *x = IN0;
    ag_tensor *ok = ag_mul(ag_ge(x, ag_full_like(x, n->p.d[0])), ag_le(x, ag_full_like(x, n->p.d[1])));
    gin[0] = ag_where(ag_to_dtype(ok, AG_BOOL), g, ag_zeros_like(g));
    return 0;
}
int ag__bw_conj(ag_node *n, ag_tensor *g, ag_tensor **gin) { (void)n; gin[0] = ag_conj(g); return 0; }
int ag__bw_angle(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *z = IN0;
    if (!ag_dtype_is_complex(z->dtype)) { gin[0] = ag_zeros_like(z); return 0; }
    /* i z / |z|^2 times g, 0 at z = 0 (finite where PyTorch#98276 was not) */
    ag_tensor *a2 = ag_square(ag_abs(z));
    ag_tensor *iz = ag_complex(ag_neg(ag_imag(z)), ag_real(z));
    ag_tensor *r = ag_mul(g, ag_div(iz, a2));
    gin[0] = ag_where(ag_eq(a2, ag_zeros_like(a2)), ag_zeros_like(r), r);
    return 0;
}

ag_tensor *ag_neg(ag_tensor *t) { return unary("ag_neg", AG_UN_NEG, t, false, false, AG_OP(NEG), 0, NULL, NULL); }
ag_tensor *ag_abs(ag_tensor *t) { return unary("ag_abs", AG_UN_ABS, t, false, false, AG_OP(ABS), SAVE_IN, NULL, NULL); }
ag_tensor *ag_sign(ag_tensor *t) { return unary("ag_sign", AG_UN_SIGN, t, false, false, AG_OP(SIGN), SAVE_IN | SAVE_OUT, NULL, NULL); }
ag_tensor *ag_square(ag_tensor *t) { return unary("ag_square", AG_UN_SQUARE, t, false, false, AG_OP(SQUARE), SAVE_IN, NULL, NULL); }
ag_tensor *ag_reciprocal(ag_tensor *t) { return unary("ag_reciprocal", AG_UN_RECIPROCAL, t, true, false, AG_OP(RECIPROCAL), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_exp(ag_tensor *t) { return unary("ag_exp", AG_UN_EXP, t, true, false, AG_OP(EXP), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_log(ag_tensor *t) { return unary("ag_log", AG_UN_LOG, t, true, false, AG_OP(LOG), SAVE_IN, NULL, NULL); }
ag_tensor *ag_log1p(ag_tensor *t) { return unary("ag_log1p", AG_UN_LOG1P, t, true, false, AG_OP(LOG1P), SAVE_IN, NULL, NULL); }
ag_tensor *ag_expm1(ag_tensor *t) { return unary("ag_expm1", AG_UN_EXPM1, t, true, false, AG_OP(EXPM1), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_sqrt(ag_tensor *t) { return unary("ag_sqrt", AG_UN_SQRT, t, true, false, AG_OP(SQRT), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_rsqrt(ag_tensor *t) { return unary("ag_rsqrt", AG_UN_RSQRT, t, true, false, AG_OP(RSQRT), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_sin(ag_tensor *t) { return unary("ag_sin", AG_UN_SIN, t, true, false, AG_OP(SIN), SAVE_IN, NULL, NULL); }
ag_tensor *ag_cos(ag_tensor *t) { return unary("ag_cos", AG_UN_COS, t, true, false, AG_OP(COS), SAVE_IN, NULL, NULL); }
ag_tensor *ag_tanh(ag_tensor *t) { return unary("ag_tanh", AG_UN_TANH, t, true, false, AG_OP(TANH), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_sigmoid(ag_tensor *t) { return unary("ag_sigmoid", AG_UN_SIGMOID, t, true, false, AG_OP(SIGMOID), SAVE_OUT, NULL, NULL); }
ag_tensor *ag_erf(ag_tensor *t) { return unary("ag_erf", AG_UN_ERF, t, true, true, AG_OP(ERF), SAVE_IN, NULL, NULL); }
ag_tensor *ag_softplus(ag_tensor *t, double beta, double threshold) {
    if (t && !(beta != 0 && isfinite(beta)))
        return ag_fail(AG_ERR_INVALID, "ag_softplus: expected a finite non-zero beta, given %g", beta);
    ag_op_params p = {.d = {beta, threshold}};
    double params[2] = {beta, threshold};
    return unary("ag_softplus", AG_UN_SOFTPLUS, t, true, true, AG_OP(SOFTPLUS), SAVE_IN, &p, params);
}
ag_tensor *ag_clamp(ag_tensor *t, double min, double max) {
    if (t && (isnan(min) || isnan(max) || min > max))
        return ag_fail(AG_ERR_INVALID, "ag_clamp: expected min <= max, given min=%g max=%g", min, max);
    ag_op_params p = {.d = {min, max}};
    double params[2] = {min, max};
    return unary("ag_clamp", AG_UN_CLAMP, t, false, true, AG_OP(CLAMP), SAVE_IN, &p, params);
}

/* ReLU is one op with its own backward kernel (g where x > 0): composed from compare and
 * where it cost three passes and a mispredicted branch per element. The backward is an op of
 * its own, so a gradient through ReLU can be differentiated again (create_graph): it is linear
 * in g, and x only selects. */
static ag_tensor *relu_backward(ag_tensor *g, ag_tensor *x) {
    ag_tensor *r = binary_raw("ag_relu_backward", AG_BIN_RELU_BWD, g, x, g->dtype, g->dtype);
    return ag__finish(r, "ag_relu_backward", AG_OP(RELU_BACKWARD), AG_IN(g, x), AG_IN(x), NULL);
}
int ag__bw_relu(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = relu_backward(g, IN0);
    return gin[0] ? 0 : ag_error_code();
}
int ag__bw_relu_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = relu_backward(g, n->saved[0]);
    return gin[0] ? 0 : ag_error_code();
}
ag_tensor *ag_relu(ag_tensor *t) { return unary("ag_relu", AG_UN_RELU, t, true, true, AG_OP(RELU), SAVE_IN, NULL, NULL); }

ag_tensor *ag_conj(ag_tensor *t) {
    if (!AG_NONNULL("ag_conj", t)) return NULL;
    if (!ag_dtype_is_complex(t->dtype)) return ag__identity(t, "ag_conj");
    return unary("ag_conj", AG_UN_CONJ, t, false, false, AG_OP(CONJ), 0, NULL, NULL);
}
ag_tensor *ag_angle(ag_tensor *t) {
    if (!AG_NONNULL("ag_angle", t)) return NULL;
    return unary("ag_angle", AG_UN_ANGLE, t, true, false, AG_OP(ANGLE), SAVE_IN, NULL, NULL);
}

/* ---- complex construction ------------------------------------------------------- */
int ag__bw_complex(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (n->needs[0]) gin[0] = ag_clone(ag_real(g));
    if (n->needs[1]) gin[1] = ag_clone(ag_imag(g));
    return 0;
}
int ag__bw_polar(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *th = n->saved[1], *out = n->saved[2];
    if (n->needs[0]) gin[0] = ag_real(ag_mul(g, ag_conj(ag_complex(ag_cos(th), ag_sin(th)))));
    if (n->needs[1]) gin[1] = ag_imag(ag_mul(g, ag_conj(out)));
    return 0;
}

static ag_tensor *make_complex(const char *op, ag_binary_op kop, ag_tensor *a, ag_tensor *b, const ag_opdef *bw) {
    if (!AG_NONNULL(op, a, b)) return NULL;
    if (a->dtype != b->dtype || (a->dtype != AG_F32 && a->dtype != AG_F64))
        return ag_fail(AG_ERR_DTYPE, "%s: expected two f32 or two f64 tensors, given %s and %s", op,
                       ag_dtype_name(a->dtype), ag_dtype_name(b->dtype));
    ag_tensor *r = binary_raw(op, kop, a, b, a->dtype, ag_dtype_to_complex(a->dtype));
    ag_tensor *saved[3] = {a, b, r};
    return ag__finish(r, op, bw, AG_IN(a, b), saved, 3, NULL);
}
ag_tensor *ag_complex(ag_tensor *re, ag_tensor *im) { return make_complex("ag_complex", AG_BIN_COMPLEX, re, im, AG_OP(COMPLEX)); }
ag_tensor *ag_polar(ag_tensor *abs, ag_tensor *angle) { return make_complex("ag_polar", AG_BIN_POLAR, abs, angle, AG_OP(POLAR)); }

/* ---- comparisons and where ------------------------------------------------------ */
static ag_tensor *compare(const char *op, ag_binary_op kop, ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL(op, a, b)) return NULL;
    ag_dtype dt = result_type(a, b);
    if (ag_dtype_is_complex(dt) && kop != AG_BIN_EQ && kop != AG_BIN_NE)
        return ag_fail(AG_ERR_DTYPE, "%s: complex tensors are not ordered, given %s", op, ag_dtype_name(dt));
    return ag__finish(binary_raw(op, kop, a, b, dt, AG_BOOL), op, NULL, AG_NONE, AG_NONE, NULL);
}
ag_tensor *ag_eq(ag_tensor *a, ag_tensor *b) { return compare("ag_eq", AG_BIN_EQ, a, b); }
ag_tensor *ag_ne(ag_tensor *a, ag_tensor *b) { return compare("ag_ne", AG_BIN_NE, a, b); }
ag_tensor *ag_lt(ag_tensor *a, ag_tensor *b) { return compare("ag_lt", AG_BIN_LT, a, b); }
ag_tensor *ag_le(ag_tensor *a, ag_tensor *b) { return compare("ag_le", AG_BIN_LE, a, b); }
ag_tensor *ag_gt(ag_tensor *a, ag_tensor *b) { return compare("ag_gt", AG_BIN_GT, a, b); }
ag_tensor *ag_ge(ag_tensor *a, ag_tensor *b) { return compare("ag_ge", AG_BIN_GE, a, b); }

int ag__bw_where(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *c = n->saved[0], *zero = ag_scalar_like(g, 0.0); /* broadcast, never filled */
    if (n->needs[1]) gin[1] = ag_where(c, g, zero);
    if (n->needs[2]) gin[2] = ag_where(c, zero, g);
    return 0;
}

ag_tensor *ag_where(ag_tensor *cond, ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL("ag_where", cond, a, b)) return NULL;
    if (cond->dtype != AG_BOOL)
        return ag_fail(AG_ERR_DTYPE, "ag_where: expected a bool condition, given %s", ag_dtype_name(cond->dtype));
    if (!ag__same_device("ag_where", cond, a) || !ag__same_device("ag_where", a, b)) return NULL;
    int64_t s1[AG_MAX_DIMS], shp[AG_MAX_DIMS];
    int n1, nd;
    if (!ag__broadcast_shapes("ag_where", cond->shape, cond->ndim, a->shape, a->ndim, s1, &n1) ||
        !ag__broadcast_shapes("ag_where", s1, n1, b->shape, b->ndim, shp, &nd))
        return NULL;
    ag_dtype rdt = result_type(a, b), dt = ag__wide(rdt); /* i32/u8 select in i64 */
    const ag_kernels *k = ag__kernels(a);
    if (!k->where) return ag_fail(AG_ERR_NOTIMPL, "ag_where: not implemented for %s", k->name);
    ag_tensor *ca = ag__cast(a, dt), *cb = ag__cast(b, dt);
    ag_tensor *r = ca && cb ? ag__new(shp, nd, dt, a->storage->dev, "ag_where") : NULL;
    if (r) {
        ag_kview o = ag__view(r), vc = ag__view_bcast(cond, shp, nd), va = ag__view_bcast(ca, shp, nd),
                vb = ag__view_bcast(cb, shp, nd);
        if (k->where(&o, &vc, &va, &vb) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(ca);
    ag__drop(cb);
    r = ag__narrow(r, rdt);
    return ag__finish(r, "ag_where", AG_OP(WHERE), AG_IN(cond, a, b), (ag_tensor *const[]){cond}, 1, NULL);
}

/* ---- rounding, inverse trig, hyperbolics, log2/log10, atan2 ------------------------- */
/* floor, ceil, round: the gradient is zero (PyTorch) */
int ag__bw_zero(ag_node *n, ag_tensor *g, ag_tensor **gin) { (void)n; gin[0] = ag_zeros_like(g); return 0; }
/* the rules as PyTorch's derivatives.yaml writes them: g * conj(f'(z)) */
int ag__bw_asin(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_rsqrt(ag_rsub_s(1.0, ag_square(IN0))))); return 0; }
int ag__bw_acos(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_neg(ag_mul(g, ag_conj(ag_rsqrt(ag_rsub_s(1.0, ag_square(IN0)))))); return 0; }
int ag__bw_atan(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_div(g, ag_conj(ag_add_s(ag_square(IN0), 1.0))); return 0; }
int ag__bw_sinh(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_cosh(IN0))); return 0; }
int ag__bw_cosh(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_mul(g, ag_conj(ag_sinh(IN0))); return 0; }
int ag__bw_log2(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_div(g, ag_mul_s(ag_conj(IN0), M_LN2)); return 0; }
int ag__bw_log10(ag_node *n, ag_tensor *g, ag_tensor **gin) { gin[0] = ag_div(g, ag_mul_s(ag_conj(IN0), M_LN10)); return 0; }

ag_tensor *ag_floor(ag_tensor *t) { return unary("ag_floor", AG_UN_FLOOR, t, false, true, AG_OP(FLOOR), 0, NULL, NULL); }
ag_tensor *ag_ceil(ag_tensor *t) { return unary("ag_ceil", AG_UN_CEIL, t, false, true, AG_OP(CEIL), 0, NULL, NULL); }
ag_tensor *ag_round(ag_tensor *t) { return unary("ag_round", AG_UN_ROUND, t, false, true, AG_OP(ROUND), 0, NULL, NULL); }
ag_tensor *ag_asin(ag_tensor *t) { return unary("ag_asin", AG_UN_ASIN, t, true, false, AG_OP(ASIN), SAVE_IN, NULL, NULL); }
ag_tensor *ag_acos(ag_tensor *t) { return unary("ag_acos", AG_UN_ACOS, t, true, false, AG_OP(ACOS), SAVE_IN, NULL, NULL); }
ag_tensor *ag_atan(ag_tensor *t) { return unary("ag_atan", AG_UN_ATAN, t, true, false, AG_OP(ATAN), SAVE_IN, NULL, NULL); }
ag_tensor *ag_sinh(ag_tensor *t) { return unary("ag_sinh", AG_UN_SINH, t, true, false, AG_OP(SINH), SAVE_IN, NULL, NULL); }
ag_tensor *ag_cosh(ag_tensor *t) { return unary("ag_cosh", AG_UN_COSH, t, true, false, AG_OP(COSH), SAVE_IN, NULL, NULL); }
ag_tensor *ag_log2(ag_tensor *t) { return unary("ag_log2", AG_UN_LOG2, t, true, false, AG_OP(LOG2), SAVE_IN, NULL, NULL); }
ag_tensor *ag_log10(ag_tensor *t) { return unary("ag_log10", AG_UN_LOG10, t, true, false, AG_OP(LOG10), SAVE_IN, NULL, NULL); }

/* d atan2(a, b) = (b da - a db) / (a^2 + b^2) */
int ag__bw_atan2(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *a = n->saved[0], *b = n->saved[1];
    ag_tensor *gr = ag_div(g, ag_add(ag_square(a), ag_square(b)));
    if (n->needs[0]) gin[0] = ag_mul(gr, b);
    if (n->needs[1]) gin[1] = ag_neg(ag_mul(gr, a));
    return 0;
}
ag_tensor *ag_atan2(ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL("ag_atan2", a, b)) return NULL;
    if (ag_dtype_is_complex(a->dtype) || ag_dtype_is_complex(b->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_atan2: expected real tensors, given %s and %s", ag_dtype_name(a->dtype),
                       ag_dtype_name(b->dtype));
    ag_dtype dt = float_dtype(binary_dtype(AG_BIN_ATAN2, a, b)); /* ints -> default float */
    ag_tensor *r = binary_raw("ag_atan2", AG_BIN_ATAN2, a, b, dt, dt);
    return ag__finish(r, "ag_atan2", AG_OP(ATAN2), AG_IN(a, b), (ag_tensor *const[]){a, b}, 2, NULL);
}

/* ---- predicates and logical ops -> bool (not differentiable) ------------------------ */
static ag_tensor *predicate(const char *op, ag_unary_op kop, ag_tensor *t) {
    if (!AG_NONNULL(op, t)) return NULL;
    return ag__finish(unary_raw(op, kop, t, t->dtype, AG_BOOL, NULL), op, NULL, AG_NONE, AG_NONE, NULL);
}
ag_tensor *ag_isnan(ag_tensor *t) { return predicate("ag_isnan", AG_UN_ISNAN, t); }
ag_tensor *ag_isinf(ag_tensor *t) { return predicate("ag_isinf", AG_UN_ISINF, t); }
ag_tensor *ag_isfinite(ag_tensor *t) { return predicate("ag_isfinite", AG_UN_ISFINITE, t); }

/* inputs of any dtype become bool first (nonzero = true: the cast's rule) */
ag_tensor *ag_logical_not(ag_tensor *t) {
    if (!AG_NONNULL("ag_logical_not", t)) return NULL;
    ag_tensor *r = unary_raw("ag_logical_not", AG_UN_NOT, t, AG_BOOL, AG_BOOL, NULL);
    return ag__finish(r, "ag_logical_not", NULL, AG_NONE, AG_NONE, NULL);
}
static ag_tensor *logical(const char *op, ag_binary_op kop, ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL(op, a, b)) return NULL;
    return ag__finish(binary_raw(op, kop, a, b, AG_BOOL, AG_BOOL), op, NULL, AG_NONE, AG_NONE, NULL);
}
ag_tensor *ag_logical_and(ag_tensor *a, ag_tensor *b) { return logical("ag_logical_and", AG_BIN_AND, a, b); }
ag_tensor *ag_logical_or(ag_tensor *a, ag_tensor *b) { return logical("ag_logical_or", AG_BIN_OR, a, b); }

/* torch.isclose: a == b, or (equal_nan) both NaN, or |a - b| finite and <= atol + |rtol b|;
 * composed from ops on the inputs' device, not recorded */
ag_tensor *ag_isclose(ag_tensor *a, ag_tensor *b, double rtol, double atol, bool equal_nan) {
    if (!AG_NONNULL("ag_isclose", a, b)) return NULL;
    if (!(rtol >= 0) || !(atol >= 0))
        return ag_fail(AG_ERR_INVALID, "ag_isclose: expected rtol >= 0 and atol >= 0, given rtol=%g atol=%g", rtol, atol);
    if (a->dtype != b->dtype)
        return ag_fail(AG_ERR_DTYPE, "ag_isclose: expected two tensors of one dtype, given %s and %s",
                       ag_dtype_name(a->dtype), ag_dtype_name(b->dtype));
    if (!ag__same_device("ag_isclose", a, b)) return NULL;
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes("ag_isclose", a->shape, a->ndim, b->shape, b->ndim, shp, &nd)) return NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *close = ag_eq(a, b);
    if (equal_nan && ag_dtype_is_float(a->dtype)) close = ag_logical_or(close, ag_logical_and(ag_isnan(a), ag_isnan(b)));
    if (rtol != 0 || atol != 0) { /* zero tolerances: equality only (no inf - inf <= inf) */
        ag_tensor *bf = ag_dtype_is_float(b->dtype) ? b : ag_to_dtype(b, ag_get_default_dtype());
        ag_tensor *allowed = ag_add_s(ag_abs(ag_mul_s(bf, rtol)), atol);
        ag_tensor *actual = ag_abs(ag_sub(a, bf));
        close = ag_logical_or(close, ag_logical_and(ag_isfinite(actual), ag_le(actual, allowed)));
    }
    ag_no_grad_end();
    ag_keep(close);
    ag_scope_end();
    return close;
}

bool ag_allclose(ag_tensor *a, ag_tensor *b, double rtol, double atol, bool equal_nan) {
    if (!AG_NONNULL("ag_allclose", a, b)) return false;
    ag_scope_begin();
    ag_tensor *all = ag_all(ag_isclose(a, b, rtol, atol, equal_nan), AG_ALL_DIMS, false);
    bool r = all && ag_item(all) != 0; /* host: the answer is a C bool */
    ag_scope_end();
    return r;
}
