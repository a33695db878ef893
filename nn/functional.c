/* nn/functional.c — activations, softmax, linear, normalisations, dropout, parameter
 * transforms and prior log densities, composed from differentiable tensor ops (so their
 * gradients come from the ops' rules and run on every backend). Each composite opens a scope
 * for its temporaries and keeps only the result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/nn.h"
#include "tensor/layer.h"

#define BEGIN ag_scope_begin()
#define END(r) do { ag_tensor *r_ = (r); if (r_) ag_keep(r_); ag_scope_end(); return r_; } while (0)

static bool real_float(const char *fn, ag_tensor *x) {
    if (ag_dtype_is_complex(ag_dtype_of(x))) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected a real tensor, given %s", fn, ag_dtype_name(ag_dtype_of(x)));
        return false;
    }
    return true;
}

/* a 0-d constant in x's (float) dtype, on x's device */
static ag_tensor *cst(ag_tensor *x, double v) {
    ag_dtype dt = ag_dtype_is_float(ag_dtype_of(x)) ? ag_dtype_of(x) : ag_get_default_dtype();
    return ag_scalar_on(v, dt, ag_device_of(x));
}

/* ---- activations ------------------------------------------------------------------------- */

ag_tensor *ag_leaky_relu(ag_tensor *x, double slope) {
    if (!AG_NONNULL("ag_leaky_relu", x) || !real_float("ag_leaky_relu", x)) return NULL;
    BEGIN;
    END(ag_where(ag_gt(x, ag_scalar_like(x, 0.0)), x, ag_mul_s(x, slope)));
}

ag_tensor *ag_elu(ag_tensor *x, double alpha) {
    if (!AG_NONNULL("ag_elu", x) || !real_float("ag_elu", x)) return NULL;
    BEGIN;
    /* expm1 of min(x, 0): the unused branch stays finite, so its (zero) gradient is not NaN */
    ag_tensor *neg = ag_mul_s(ag_expm1(ag_clamp(x, -INFINITY, 0.0)), alpha);
    END(ag_where(ag_gt(x, cst(x, 0.0)), x, neg));
}

ag_tensor *ag_gelu(ag_tensor *x, ag_gelu_approx approx) {
    if (!AG_NONNULL("ag_gelu", x) || !real_float("ag_gelu", x)) return NULL;
    if (approx != AG_GELU_EXACT && approx != AG_GELU_TANH)
        return ag_fail(AG_ERR_INVALID, "ag_gelu: expected AG_GELU_EXACT or AG_GELU_TANH, given %d", (int)approx);
    BEGIN;
    ag_tensor *inner;
    if (approx == AG_GELU_EXACT) {
        inner = ag_erf(ag_mul_s(x, M_SQRT1_2));
    } else {
        const double k = 0.7978845608028654; /* sqrt(2/pi) */
        inner = ag_tanh(ag_mul_s(ag_add(x, ag_mul_s(ag_pow_s(x, 3.0), 0.044715)), k));
    }
    END(ag_mul(ag_mul_s(x, 0.5), ag_add_s(inner, 1.0)));
}

ag_tensor *ag_silu(ag_tensor *x) {
    if (!AG_NONNULL("ag_silu", x) || !real_float("ag_silu", x)) return NULL;
    BEGIN;
    END(ag_mul(x, ag_sigmoid(x)));
}

ag_tensor *ag_softmax(ag_tensor *x, int dim) {
    if (!AG_NONNULL("ag_softmax", x) || !real_float("ag_softmax", x)) return NULL;
    if (ag__normalize_dim("ag_softmax", dim, ag_ndim(x)) < 0) return NULL;
    BEGIN;
    END(ag_exp(ag_sub(x, ag_logsumexp(x, &dim, 1, true))));
}

ag_tensor *ag_log_softmax(ag_tensor *x, int dim) {
    if (!AG_NONNULL("ag_log_softmax", x) || !real_float("ag_log_softmax", x)) return NULL;
    if (ag__normalize_dim("ag_log_softmax", dim, ag_ndim(x)) < 0) return NULL;
    BEGIN;
    END(ag_sub(x, ag_logsumexp(x, &dim, 1, true)));
}

/* ---- linear ------------------------------------------------------------------------------------ */

ag_tensor *ag_linear(ag_tensor *x, ag_tensor *w, ag_tensor *b) {
    if (!AG_NONNULL("ag_linear", x, w)) return NULL;
    if (ag_ndim(w) != 2) return ag_fail(AG_ERR_SHAPE, "ag_linear: expected a 2-d weight [out, in], given %s", AG_SHP(w));
    if (ag_ndim(x) < 1 || ag_shape(x)[ag_ndim(x) - 1] != ag_shape(w)[1])
        return ag_fail(AG_ERR_SHAPE, "ag_linear: input %s has %lld features in its last dim, weight %s expects %lld",
                       AG_SHP(x), ag_ndim(x) ? (long long)ag_shape(x)[ag_ndim(x) - 1] : 0LL, AG_SHP(w),
                       (long long)ag_shape(w)[1]);
    if (b && (ag_ndim(b) != 1 || ag_shape(b)[0] != ag_shape(w)[0]))
        return ag_fail(AG_ERR_SHAPE, "ag_linear: expected a bias of shape [%lld], given %s", (long long)ag_shape(w)[0], AG_SHP(b));
    if (ag_dtype_of(w) != ag_dtype_of(x) || (b && ag_dtype_of(b) != ag_dtype_of(x)))
        return ag_fail(AG_ERR_DTYPE, "ag_linear: expected input, weight%s of one dtype, given %s, %s%s%s", b ? " and bias" : "",
                       ag_dtype_name(ag_dtype_of(x)), ag_dtype_name(ag_dtype_of(w)), b ? ", " : "",
                       b ? ag_dtype_name(ag_dtype_of(b)) : "");
    BEGIN;
    ag_tensor *y = ag_matmul(x, ag_transpose(w, 0, 1));
    if (b) y = ag_add(y, b);
    END(y);
}

/* ---- normalisation --------------------------------------------------------------------------- */

/* [C] -> [C, 1, ..., 1] to broadcast against [N, C, ...] */
static ag_tensor *per_channel(ag_tensor *v, int ndim) {
    int64_t shp[AG_MAX_DIMS];
    shp[0] = -1;
    for (int i = 1; i < ndim - 1; i++) shp[i] = 1;
    return ag_reshape(v, shp, ndim - 1);
}

static bool check_channel_vec(const char *fn, const char *what, ag_tensor *v, int64_t C) {
    if (v && (ag_ndim(v) != 1 || ag_shape(v)[0] != C)) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected %s of shape [%lld], given %s", fn, what, (long long)C, AG_SHP(v));
        return false;
    }
    return true;
}

static ag_tensor *affine(ag_tensor *y, ag_tensor *w, ag_tensor *b, int ndim) {
    if (w) y = ag_mul(y, per_channel(w, ndim));
    if (b) y = ag_add(y, per_channel(b, ndim));
    return y;
}

ag_tensor *ag_batch_norm(ag_tensor *x, ag_tensor *rm, ag_tensor *rv, ag_tensor *w, ag_tensor *b, bool training,
                         double momentum, double eps) {
    const char *fn = "ag_batch_norm";
    if (!AG_NONNULL(fn, x)) return NULL;
    if (!real_float(fn, x)) return NULL;
    if (ag_ndim(x) < 2) return ag_fail(AG_ERR_SHAPE, "%s: expected an input [N, C, ...], given %s", fn, AG_SHP(x));
    int64_t C = ag_shape(x)[1];
    if (!check_channel_vec(fn, "running_mean", rm, C) || !check_channel_vec(fn, "running_var", rv, C) ||
        !check_channel_vec(fn, "weight", w, C) || !check_channel_vec(fn, "bias", b, C))
        return NULL;
    if ((rm == NULL) != (rv == NULL))
        return ag_fail(AG_ERR_INVALID, "%s: give both running_mean and running_var, or neither", fn);
    if (!training && !rm) return ag_fail(AG_ERR_INVALID, "%s: evaluation mode needs running_mean and running_var", fn);
    if (!(eps >= 0)) return ag_fail(AG_ERR_INVALID, "%s: expected eps >= 0, given %g", fn, eps);
    int dims[AG_MAX_DIMS], nd = 0;
    for (int i = 0; i < ag_ndim(x); i++) if (i != 1) dims[nd++] = i;
    int64_t n = ag_numel(x) / (C ? C : 1);
    if (training && n <= 1)
        return ag_fail(AG_ERR_SHAPE, "%s: expected more than 1 value per channel when training, given input %s", fn, AG_SHP(x));
    BEGIN;
    ag_tensor *mean, *var;
    if (training) {
        mean = ag_mean(x, dims, nd, true);
        var = ag_var(x, dims, nd, 0, true);
        if (rm) {
            ag_no_grad_begin();
            ag_tensor *m1 = ag_add(ag_mul_s(rm, 1.0 - momentum), ag_mul_s(ag_reshape(mean, AG_SHAPE(-1)), momentum));
            ag_tensor *v1 = ag_add(ag_mul_s(rv, 1.0 - momentum),
                                   ag_mul_s(ag_reshape(var, AG_SHAPE(-1)), momentum * (double)n / (double)(n - 1)));
            if (m1 && v1) { ag_copy_(rm, m1); ag_copy_(rv, v1); }
            ag_no_grad_end();
        }
    } else {
        mean = per_channel(rm, ag_ndim(x));
        var = per_channel(rv, ag_ndim(x));
    }
    ag_tensor *y = ag_mul(ag_sub(x, mean), ag_rsqrt(ag_add_s(var, eps)));
    END(affine(y, w, b, ag_ndim(x)));
}

ag_tensor *ag_group_norm(ag_tensor *x, int64_t groups, ag_tensor *w, ag_tensor *b, double eps) {
    const char *fn = "ag_group_norm";
    if (!AG_NONNULL("ag_group_norm", x)) return NULL;
    if (!real_float(fn, x)) return NULL;
    if (ag_ndim(x) < 2) return ag_fail(AG_ERR_SHAPE, "%s: expected an input [N, C, ...], given %s", fn, AG_SHP(x));
    int64_t C = ag_shape(x)[1];
    if (groups <= 0 || C % groups)
        return ag_fail(AG_ERR_SHAPE, "%s: %lld channels cannot be split into %lld groups", fn, (long long)C, (long long)groups);
    if (!check_channel_vec(fn, "weight", w, C) || !check_channel_vec(fn, "bias", b, C)) return NULL;
    BEGIN;
    ag_tensor *xr = ag_reshape(x, AG_SHAPE(ag_shape(x)[0], groups, -1));
    ag_tensor *mean = ag_mean(xr, AG_DIMS(2), true);
    ag_tensor *var = ag_var(xr, AG_DIMS(2), 0, true);
    ag_tensor *y = ag_reshape(ag_mul(ag_sub(xr, mean), ag_rsqrt(ag_add_s(var, eps))), ag_shape(x), ag_ndim(x));
    END(affine(y, w, b, ag_ndim(x)));
}

static bool same_shape(ag_tensor *t, const int64_t *shape, int ndim) {
    return ag_ndim(t) == ndim && !memcmp(ag_shape(t), shape, (size_t)ndim * sizeof *shape);
}

ag_tensor *ag_layer_norm(ag_tensor *x, const int64_t *shape, int ndim, ag_tensor *w, ag_tensor *b, double eps) {
    const char *fn = "ag_layer_norm";
    if (!AG_NONNULL("ag_layer_norm", x)) return NULL;
    if (!real_float(fn, x)) return NULL;
    if (!shape || ndim < 1 || ndim > ag_ndim(x) ||
        memcmp(ag_shape(x) + ag_ndim(x) - ndim, shape, (size_t)ndim * sizeof *shape)) {
        char buf[AG_SHAPE_BUF];
        return ag_fail(AG_ERR_SHAPE, "%s: input %s does not end with the normalized shape %s", fn, AG_SHP(x),
                       shape && ndim > 0 && ndim <= AG_MAX_DIMS ? ag_shape_str(shape, ndim, buf, sizeof buf) : "[]");
    }
    char buf[AG_SHAPE_BUF];
    if (w && !same_shape(w, shape, ndim))
        return ag_fail(AG_ERR_SHAPE, "%s: expected weight of shape %s, given %s", fn, ag_shape_str(shape, ndim, buf, sizeof buf), AG_SHP(w));
    if (b && !same_shape(b, shape, ndim))
        return ag_fail(AG_ERR_SHAPE, "%s: expected bias of shape %s, given %s", fn, ag_shape_str(shape, ndim, buf, sizeof buf), AG_SHP(b));
    int dims[AG_MAX_DIMS];
    for (int i = 0; i < ndim; i++) dims[i] = ag_ndim(x) - ndim + i;
    BEGIN;
    ag_tensor *mean = ag_mean(x, dims, ndim, true);
    ag_tensor *var = ag_var(x, dims, ndim, 0, true);
    ag_tensor *y = ag_mul(ag_sub(x, mean), ag_rsqrt(ag_add_s(var, eps)));
    if (w) y = ag_mul(y, w);
    if (b) y = ag_add(y, b);
    END(y);
}

/* ---- embedding --------------------------------------------------------------------------------- */

ag_tensor *ag_embedding(ag_tensor *weight, ag_tensor *idx) {
    const char *fn = "ag_embedding";
    if (!AG_NONNULL(fn, weight, idx)) return NULL;
    if (ag_ndim(weight) != 2) return ag_fail(AG_ERR_SHAPE, "%s: expected a weight [num, dim], given %s", fn, AG_SHP(weight));
    if (ag_dtype_of(idx) != AG_I64)
        return ag_fail(AG_ERR_DTYPE, "%s: expected an i64 index tensor, given %s", fn, ag_dtype_name(ag_dtype_of(idx)));
    if (ag_ndim(idx) >= AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "%s: expected an index of fewer than %d dims, given %d", fn, AG_MAX_DIMS, ag_ndim(idx));
    int64_t shp[AG_MAX_DIMS];
    int nd = ag_ndim(idx);
    memcpy(shp, ag_shape(idx), (size_t)nd * sizeof *shp);
    shp[nd] = ag_shape(weight)[1];
    BEGIN;
    END(ag_reshape(ag_index_select(weight, 0, ag_reshape(idx, AG_SHAPE(-1))), shp, nd + 1));
}

/* ---- dropout ----------------------------------------------------------------------------------- */

ag_tensor *ag_dropout(ag_tensor *x, double p, bool training) {
    if (!AG_NONNULL("ag_dropout", x)) return NULL;
    if (!(p >= 0 && p <= 1)) return ag_fail(AG_ERR_INVALID, "ag_dropout: expected 0 <= p <= 1, given %g", p);
    if (!ag_dtype_is_float(ag_dtype_of(x)) || ag_dtype_is_complex(ag_dtype_of(x)))
        return ag_fail(AG_ERR_DTYPE, "ag_dropout: expected a real floating-point tensor, given %s", ag_dtype_name(ag_dtype_of(x)));
    if (!training || p == 0) return ag__identity(x, "ag_dropout");
    BEGIN;
    if (p == 1) END(ag_mul_s(x, 0.0));
    ag_tensor *u = ag_rand_on(ag_shape(x), ag_ndim(x), ag_dtype_of(x), ag_device_of(x));
    ag_tensor *keep = ag_to_dtype(ag_ge(u, ag_scalar_like(x, p)), ag_dtype_of(x));
    END(ag_mul(x, ag_mul_s(keep, 1.0 / (1.0 - p))));
}

/* ---- parameter transforms ---------------------------------------------------------------------- */

ag_tensor *ag_transform_forward(ag_transform tr, ag_tensor *u) {
    if (!AG_NONNULL_FROM("ag_transform_forward", 2, u)) return NULL;
    BEGIN;
    ag_tensor *r = NULL;
    switch (tr.kind) {
    case AG_TRANSFORM_NONE: r = ag__identity(u, "ag_transform_forward"); break;
    case AG_TRANSFORM_SOFTPLUS: r = ag_softplus(u, 1.0, 20.0); break;
    case AG_TRANSFORM_EXP: r = ag_exp(u); break;
    case AG_TRANSFORM_INTERVAL: r = ag_add_s(ag_mul_s(ag_sigmoid(u), tr.b - tr.a), tr.a); break;
    case AG_TRANSFORM_SOFTMAX: r = ag_softmax(u, -1); break;
    case AG_TRANSFORM_NORMALIZE: r = ag_div(u, ag_sum(u, AG_ALL_DIMS, false)); break;
    default: ag_set_error(AG_ERR_INVALID, "ag_transform_forward: unknown transform kind %d", (int)tr.kind);
    }
    END(r);
}

ag_tensor *ag_transform_inverse(ag_transform tr, ag_tensor *x) {
    const char *fn = "ag_transform_inverse";
    if (!AG_NONNULL_FROM("ag_transform_inverse", 2, x)) return NULL;
    if (!ag_dtype_is_float(ag_dtype_of(x)) || ag_dtype_is_complex(ag_dtype_of(x)))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a real floating-point tensor, given %s", fn, ag_dtype_name(ag_dtype_of(x)));
    if (tr.kind == AG_TRANSFORM_INTERVAL && !(tr.a < tr.b && isfinite(tr.a) && isfinite(tr.b)))
        return ag_fail(AG_ERR_INVALID, "%s: expected finite bounds a < b for the interval, given (%g, %g)", fn, tr.a, tr.b);
    if ((tr.kind == AG_TRANSFORM_SOFTMAX) && ag_ndim(x) < 1)
        return ag_fail(AG_ERR_SHAPE, "%s: the simplex constraint needs at least 1 dim, given a 0-d tensor", fn);
    if ((unsigned)tr.kind > AG_TRANSFORM_NORMALIZE)
        return ag_fail(AG_ERR_INVALID, "%s: unknown transform kind %d", fn, (int)tr.kind);
    /* check the values satisfy the constraint lo < v < hi on x's device (in f64, as the host
     * check below): two scalars come to the host; all values only when one fails, for the message */
    int64_t n = ag_numel(x);
    double lo = -INFINITY, hi = INFINITY;
    if (tr.kind == AG_TRANSFORM_SOFTPLUS || tr.kind == AG_TRANSFORM_EXP || tr.kind == AG_TRANSFORM_SOFTMAX) lo = 0;
    else if (tr.kind == AG_TRANSFORM_INTERVAL) { lo = tr.a; hi = tr.b; }
    ag_no_grad_begin();
    BEGIN;
    ag_device dev = ag_device_of(x);
    ag_tensor *xd = ag_to_dtype(x, AG_F64);
    ag_tensor *in = ag_mul(ag_to_dtype(ag_gt(xd, ag_scalar_on(lo, AG_F64, dev)), AG_I64),
                           ag_to_dtype(ag_lt(xd, ag_scalar_on(hi, AG_F64, dev)), AG_I64));
    ag_tensor *nin = ag_sum(in, AG_ALL_DIMS, false);
    ag_tensor *tot = tr.kind == AG_TRANSFORM_NORMALIZE ? ag_sum(xd, AG_ALL_DIMS, false) : NULL;
    bool got = nin && (tot || tr.kind != AG_TRANSFORM_NORMALIZE);
    double n_in = got ? ag_item(nin) : NAN, dsum = tot ? ag_item(tot) : 1;
    ag_scope_end();
    ag_no_grad_end();
    if (isnan(n_in)) return NULL;
    if (n_in == (double)n && tr.kind == AG_TRANSFORM_NORMALIZE && dsum == 0)
        return ag_fail(AG_ERR_INVALID, "%s: the normalized constraint needs a non-zero sum", fn);
    if (n_in != (double)n) { /* one fails: find the first on the host for the message */
        double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
        if (!v) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
        if (ag_copy_to_buffer(x, v, AG_F64) < 0) { free(v); return NULL; }
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            bool ok = true;
            const char *need = "";
            switch (tr.kind) {
            case AG_TRANSFORM_SOFTPLUS: case AG_TRANSFORM_EXP: case AG_TRANSFORM_SOFTMAX:
                ok = v[i] > 0 && isfinite(v[i]); need = "finite values > 0"; break;
            case AG_TRANSFORM_INTERVAL:
                ok = v[i] > tr.a && v[i] < tr.b; need = "values strictly inside the interval"; break;
            default: ok = isfinite(v[i]); need = "finite values"; break;
            }
            sum += v[i];
            if (!ok) {
                double bad = v[i];
                free(v);
                return ag_fail(AG_ERR_INVALID, "%s: the %s constraint needs %s, given %g at element %lld", fn,
                               tr.kind == AG_TRANSFORM_INTERVAL ? "interval" : tr.kind == AG_TRANSFORM_SOFTMAX ? "simplex" :
                               tr.kind == AG_TRANSFORM_NONE ? "unconstrained" : tr.kind == AG_TRANSFORM_NORMALIZE ? "normalized" : "positive",
                               need, bad, (long long)i);
            }
        }
        free(v);
        if (tr.kind == AG_TRANSFORM_NORMALIZE && sum == 0)
            return ag_fail(AG_ERR_INVALID, "%s: the normalized constraint needs a non-zero sum", fn);
    }
    ag_no_grad_begin();
    BEGIN;
    ag_tensor *r = NULL;
    switch (tr.kind) {
    case AG_TRANSFORM_SOFTPLUS: r = ag_add(x, ag_log(ag_neg(ag_expm1(ag_neg(x))))); break;
    case AG_TRANSFORM_EXP: case AG_TRANSFORM_SOFTMAX: r = ag_log(x); break;
    case AG_TRANSFORM_INTERVAL: {
        ag_tensor *p = ag_mul_s(ag_add_s(x, -tr.a), 1.0 / (tr.b - tr.a));
        r = ag_sub(ag_log(p), ag_log1p(ag_neg(p)));
        break;
    }
    default: r = ag_clone(x); break;
    }
    if (r) ag_keep(r);
    ag_scope_end();
    ag_no_grad_end();
    return r;
}

/* ---- priors ------------------------------------------------------------------------------------ */

ag_tensor *ag_prior_log_prob(ag_prior p, ag_tensor *x) {
    const char *fn = "ag_prior_log_prob";
    if (!AG_NONNULL_FROM("ag_prior_log_prob", 2, x)) return NULL;
    if (!real_float(fn, x)) return NULL;
    const double half_log_2pi = 0.91893853320467274178;
    switch (p.kind) {
    case AG_PRIOR_KIND_NORMAL:
    case AG_PRIOR_KIND_LOGNORMAL:
        if (!(p.b > 0 && isfinite(p.b) && isfinite(p.a)))
            return ag_fail(AG_ERR_INVALID, "%s: expected a finite mu and sigma > 0, given mu=%g sigma=%g", fn, p.a, p.b);
        break;
    case AG_PRIOR_KIND_UNIFORM:
        if (!(p.a < p.b && isfinite(p.a) && isfinite(p.b)))
            return ag_fail(AG_ERR_INVALID, "%s: expected finite bounds low < high, given %g, %g", fn, p.a, p.b);
        break;
    default:
        return ag_fail(AG_ERR_INVALID, "%s: unknown prior kind %d", fn, (int)p.kind);
    }
    BEGIN;
    ag_tensor *r = NULL;
    if (p.kind == AG_PRIOR_KIND_NORMAL) {
        ag_tensor *z = ag_mul_s(ag_add_s(x, -p.a), 1.0 / p.b);
        r = ag_add_s(ag_mul_s(ag_square(z), -0.5), -log(p.b) - half_log_2pi);
    } else if (p.kind == AG_PRIOR_KIND_LOGNORMAL) {
        ag_tensor *pos = ag_gt(x, cst(x, 0.0));
        ag_tensor *xs = ag_where(pos, x, cst(x, 1.0)); /* keeps the unused branch finite */
        ag_tensor *lx = ag_log(xs);
        ag_tensor *z = ag_mul_s(ag_add_s(lx, -p.a), 1.0 / p.b);
        ag_tensor *lp = ag_sub(ag_add_s(ag_mul_s(ag_square(z), -0.5), -log(p.b) - half_log_2pi), lx);
        r = ag_where(pos, lp, cst(x, -INFINITY));
    } else {
        ag_tensor *in = ag_to_dtype(ag_mul(ag_ge(x, cst(x, p.a)), ag_lt(x, cst(x, p.b))), AG_BOOL);
        /* x * 0 keeps the result connected to x (zero gradient), as torch's log_prob */
        ag_tensor *base = ag_mul_s(x, 0.0);
        r = ag_add(base, ag_where(in, cst(x, -log(p.b - p.a)), cst(x, -INFINITY)));
    }
    END(r);
}
