/* nn/loss.c — regression and classification losses, composed from differentiable ops.
 * Each follows its torch.nn counterpart (values and gradients), with reduction mean/sum/none
 * (kl_div also batchmean). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/nn.h"
#include "tensor/layer.h"

static bool check_red(const char *fn, ag_reduction red) {
    if (red != AG_REDUCE_MEAN && red != AG_REDUCE_SUM && red != AG_REDUCE_NONE) {
        ag_set_error(AG_ERR_INVALID, "%s: expected AG_REDUCE_MEAN, AG_REDUCE_SUM or AG_REDUCE_NONE, given %d", fn, (int)red);
        return false;
    }
    return true;
}

static bool check_pair(const char *fn, ag_tensor *a, ag_tensor *b, ag_reduction red) {
    if (!check_red(fn, red)) return false;
    if (ag_dtype_is_complex(ag_dtype_of(a)) || ag_dtype_is_complex(ag_dtype_of(b)) || !ag_dtype_is_float(ag_dtype_of(a))) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected a real floating-point input and target, given %s and %s", fn,
                     ag_dtype_name(ag_dtype_of(a)), ag_dtype_name(ag_dtype_of(b)));
        return false;
    }
    int64_t shp[AG_MAX_DIMS];
    int nd;
    return ag__broadcast_shapes(fn, ag_shape(a), ag_ndim(a), ag_shape(b), ag_ndim(b), shp, &nd);
}

static ag_tensor *reduce(ag_tensor *l, ag_reduction red) {
    if (red == AG_REDUCE_MEAN) return ag_mean(l, AG_ALL_DIMS, false);
    if (red == AG_REDUCE_SUM) return ag_sum(l, AG_ALL_DIMS, false);
    return l;
}

#define BEGIN ag_scope_begin()
#define END(r) do { ag_tensor *r_ = (r); if (r_) ag_keep(r_); ag_scope_end(); return r_; } while (0)

ag_tensor *ag_mse_loss(ag_tensor *x, ag_tensor *t, ag_reduction red) {
    if (!AG_NONNULL("ag_mse_loss", x, t) || !check_pair("ag_mse_loss", x, t, red)) return NULL;
    BEGIN;
    END(reduce(ag_square(ag_sub(x, t)), red));
}

ag_tensor *ag_l1_loss(ag_tensor *x, ag_tensor *t, ag_reduction red) {
    if (!AG_NONNULL("ag_l1_loss", x, t) || !check_pair("ag_l1_loss", x, t, red)) return NULL;
    BEGIN;
    END(reduce(ag_abs(ag_sub(x, t)), red));
}

/* 0.5 r^2 / s where |r| < s, |r| - s/2 elsewhere; times `scale` */
static ag_tensor *huberish(ag_tensor *x, ag_tensor *t, double s, double scale) {
    ag_tensor *r = ag_sub(x, t), *a = ag_abs(r);
    ag_tensor *quad = ag_mul_s(ag_square(r), 0.5 * scale / s);
    ag_tensor *lin = ag_mul_s(ag_add_s(a, -0.5 * s), scale);
    return ag_where(ag_lt(a, ag_scalar_like(a, s)), quad, lin);
}

ag_tensor *ag_huber_loss(ag_tensor *x, ag_tensor *t, double delta, ag_reduction red) {
    if (!AG_NONNULL("ag_huber_loss", x, t) || !check_pair("ag_huber_loss", x, t, red)) return NULL;
    if (!(delta > 0 && isfinite(delta))) return ag_fail(AG_ERR_INVALID, "ag_huber_loss: expected delta > 0, given %g", delta);
    BEGIN;
    END(reduce(huberish(x, t, delta, delta), red));
}

ag_tensor *ag_smooth_l1_loss(ag_tensor *x, ag_tensor *t, double beta, ag_reduction red) {
    if (!AG_NONNULL("ag_smooth_l1_loss", x, t) || !check_pair("ag_smooth_l1_loss", x, t, red)) return NULL;
    if (!(beta >= 0 && isfinite(beta))) return ag_fail(AG_ERR_INVALID, "ag_smooth_l1_loss: expected beta >= 0, given %g", beta);
    BEGIN;
    END(reduce(beta == 0 ? ag_abs(ag_sub(x, t)) : huberish(x, t, beta, 1.0), red));
}

ag_tensor *ag_cauchy_loss(ag_tensor *x, ag_tensor *t, double c, ag_reduction red) {
    if (!AG_NONNULL("ag_cauchy_loss", x, t) || !check_pair("ag_cauchy_loss", x, t, red)) return NULL;
    if (!(c > 0 && isfinite(c))) return ag_fail(AG_ERR_INVALID, "ag_cauchy_loss: expected a scale c > 0, given %g", c);
    BEGIN;
    END(reduce(ag_log1p(ag_square(ag_mul_s(ag_sub(x, t), 1.0 / c))), red));
}

ag_tensor *ag_log_cosh_loss(ag_tensor *x, ag_tensor *t, ag_reduction red) {
    if (!AG_NONNULL("ag_log_cosh_loss", x, t) || !check_pair("ag_log_cosh_loss", x, t, red)) return NULL;
    BEGIN;
    /* log cosh r = |r| + log1p(exp(-2|r|)) - log 2: no overflow for large |r| */
    ag_tensor *a = ag_abs(ag_sub(x, t));
    END(reduce(ag_add_s(ag_add(a, ag_log1p(ag_exp(ag_mul_s(a, -2.0)))), -M_LN2), red));
}

ag_tensor *ag_gaussian_nll_loss(ag_tensor *x, ag_tensor *t, ag_tensor *var, bool full, double eps, ag_reduction red) {
    const char *fn = "ag_gaussian_nll_loss";
    if (!AG_NONNULL(fn, x, t, var) || !check_pair(fn, x, t, red)) return NULL;
    if (eps == 0) eps = 1e-6;
    if (!(eps > 0)) return ag_fail(AG_ERR_INVALID, "%s: expected eps > 0, given %g", fn, eps);
    if (!ag_dtype_is_float(ag_dtype_of(var)) || ag_dtype_is_complex(ag_dtype_of(var)))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a real floating-point var, given %s", fn, ag_dtype_name(ag_dtype_of(var)));
    bool unsq = false;
    if (!(ag_ndim(var) == ag_ndim(x) && !memcmp(ag_shape(var), ag_shape(x), (size_t)ag_ndim(x) * sizeof(int64_t)))) {
        bool lead_same = ag_ndim(var) >= 1 && ag_ndim(x) >= 1 &&
                         !memcmp(ag_shape(var), ag_shape(x), (size_t)(ag_ndim(x) - 1) * sizeof(int64_t));
        if (ag_ndim(var) == ag_ndim(x) - 1 &&
            (ag_ndim(x) == 1 || !memcmp(ag_shape(var), ag_shape(x), (size_t)ag_ndim(var) * sizeof(int64_t))))
            unsq = true;
        else if (!(ag_ndim(var) == ag_ndim(x) && lead_same && ag_shape(var)[ag_ndim(var) - 1] == 1))
            return ag_fail(AG_ERR_SHAPE, "%s: var %s must have the input's shape %s, that shape without its last dim, "
                           "or a last dim of 1", fn, AG_SHP(var), AG_SHP(x));
    }
    /* var must be >= 0: the count of negative entries, reduced on var's device, comes to the
     * host; all of var only when there is one, for the message */
    ag_no_grad_begin();
    BEGIN;
    ag_tensor *nneg = ag_sum(ag_to_dtype(ag_lt(var, ag_scalar_like(var, 0)), AG_I64), AG_ALL_DIMS, false);
    double n_neg = nneg ? ag_item(nneg) : NAN;
    ag_scope_end();
    ag_no_grad_end();
    if (isnan(n_neg)) return NULL;
    if (n_neg > 0) {
        int64_t n = ag_numel(var);
        double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
        if (!v) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
        if (ag_copy_to_buffer(var, v, AG_F64) < 0) { free(v); return NULL; }
        for (int64_t i = 0; i < n; i++)
            if (v[i] < 0) {
                double bad = v[i];
                free(v);
                return ag_fail(AG_ERR_INVALID, "%s: var has a negative entry (%g at element %lld)", fn, bad, (long long)i);
            }
        free(v);
    }
    BEGIN;
    ag_tensor *vv = unsq ? ag_unsqueeze(var, -1) : var;
    /* max(var, eps) with the gradient of var itself, as torch's no-grad clamp_ */
    ag_no_grad_begin();
    ag_tensor *shift = ag_sub(ag_clamp(vv, eps, INFINITY), vv);
    ag_no_grad_end();
    ag_tensor *vc = ag_add(vv, shift);
    ag_tensor *l = ag_mul_s(ag_add(ag_log(vc), ag_div(ag_square(ag_sub(x, t)), vc)), 0.5);
    if (full) l = ag_add_s(l, 0.91893853320467274178); /* 0.5 log(2 pi) */
    END(reduce(l, red));
}

/* class targets in [0, C): their min and max, reduced on t's device, come to the host; all of t
 * only when one is out of range, for the message */
static bool check_classes(const char *fn, ag_tensor *t, int64_t C) {
    int64_t n = ag_numel(t);
    bool in_range = true;
    if (n > 0) {
        ag_no_grad_begin();
        BEGIN;
        ag_tensor *mn = ag_amin(t, AG_ALL_DIMS, false), *mx = ag_amax(t, AG_ALL_DIMS, false);
        double lo = mn && mx ? ag_item(mn) : NAN, hi = mn && mx ? ag_item(mx) : NAN;
        ag_scope_end();
        ag_no_grad_end();
        if (isnan(lo) || isnan(hi)) return false;
        in_range = lo >= 0 && hi < (double)C;
    }
    if (!in_range) {
        int64_t *idx = malloc((size_t)n * sizeof *idx);
        if (!idx) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); return false; }
        if (ag_copy_to_buffer(t, idx, AG_I64) < 0) { free(idx); return false; }
        for (int64_t i = 0; i < n; i++)
            if (idx[i] < 0 || idx[i] >= C) {
                long long bad = (long long)idx[i];
                free(idx);
                ag_set_error(AG_ERR_INDEX, "%s: target %lld at element %lld is out of range for %lld classes", fn, bad,
                             (long long)i, (long long)C);
                return false;
            }
        free(idx);
    }
    return true;
}

ag_tensor *ag_cross_entropy(ag_tensor *x, ag_tensor *t, ag_reduction red) {
    const char *fn = "ag_cross_entropy";
    if (!AG_NONNULL("ag_cross_entropy", x, t)) return NULL;
    if (!check_red(fn, red)) return NULL;
    if (!ag_dtype_is_float(ag_dtype_of(x)) || ag_dtype_is_complex(ag_dtype_of(x)))
        return ag_fail(AG_ERR_DTYPE, "%s: expected real floating-point logits, given %s", fn, ag_dtype_name(ag_dtype_of(x)));
    if (ag_ndim(x) < 1) return ag_fail(AG_ERR_SHAPE, "%s: expected logits [N, C, ...] or [C], given a 0-d tensor", fn);
    int cdim = ag_ndim(x) >= 2 ? 1 : 0;
    int64_t C = ag_shape(x)[cdim];
    if (ag_dtype_is_float(ag_dtype_of(t))) {
        if (ag_dtype_is_complex(ag_dtype_of(t)) || ag_ndim(t) != ag_ndim(x) ||
            memcmp(ag_shape(t), ag_shape(x), (size_t)ag_ndim(x) * sizeof(int64_t)))
            return ag_fail(AG_ERR_SHAPE, "%s: class-probability targets must be real with the logits' shape %s, given %s %s",
                           fn, AG_SHP(x), ag_dtype_name(ag_dtype_of(t)), AG_SHP(t));
        BEGIN;
        END(reduce(ag_neg(ag_sum(ag_mul(t, ag_log_softmax(x, cdim)), &cdim, 1, false)), red));
    }
    if (ag_dtype_of(t) != AG_I64)
        return ag_fail(AG_ERR_DTYPE, "%s: expected i64 class indices or float probabilities as target, given %s", fn,
                       ag_dtype_name(ag_dtype_of(t)));
    /* target shape = logits shape without the class dim */
    bool ok = ag_ndim(t) == ag_ndim(x) - 1;
    for (int i = 0, j = 0; ok && i < ag_ndim(x); i++) {
        if (i == cdim) continue;
        ok = ag_shape(t)[j++] == ag_shape(x)[i];
    }
    if (!ok) return ag_fail(AG_ERR_SHAPE, "%s: target %s does not fit logits %s (expected the logits' shape without dim %d)",
                            fn, AG_SHP(t), AG_SHP(x), cdim);
    if (!check_classes(fn, t, C)) return NULL;
    BEGIN;
    int64_t shp[AG_MAX_DIMS];
    int k = 0;
    shp[k++] = C;
    for (int i = cdim + 1; i < ag_ndim(x); i++) shp[k++] = 1;
    ag_tensor *classes = ag_reshape(ag_arange_on(0, (double)C, 1, AG_I64, ag_device_of(t)), shp, k);
    ag_tensor *onehot = ag_to_dtype(ag_eq(cdim ? ag_unsqueeze(t, cdim) : t, classes), ag_dtype_of(x));
    ag_tensor *picked = ag_sum(ag_mul(x, onehot), &cdim, 1, false);
    END(reduce(ag_sub(ag_logsumexp(x, &cdim, 1, false), picked), red));
}

/* a real floating-point tensor argument (weights), or NULL when optional */
static bool check_real(const char *fn, const char *what, ag_tensor *w) {
    if (!w) return true;
    if (!ag_dtype_is_float(ag_dtype_of(w)) || ag_dtype_is_complex(ag_dtype_of(w))) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected a real floating-point %s, given %s", fn, what, ag_dtype_name(ag_dtype_of(w)));
        return false;
    }
    return true;
}

static bool same_shape(ag_tensor *a, ag_tensor *b) {
    return ag_ndim(a) == ag_ndim(b) && !memcmp(ag_shape(a), ag_shape(b), (size_t)ag_ndim(a) * sizeof(int64_t));
}

/* weight must broadcast to x's shape */
static bool check_bcast_to(const char *fn, const char *what, ag_tensor *w, ag_tensor *x) {
    if (!w) return true;
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes(fn, ag_shape(w), ag_ndim(w), ag_shape(x), ag_ndim(x), shp, &nd)) return false;
    if (nd != ag_ndim(x) || memcmp(shp, ag_shape(x), (size_t)nd * sizeof(int64_t))) {
        ag_set_error(AG_ERR_SHAPE, "%s: %s of shape %s does not broadcast to the input's shape %s", fn, what, AG_SHP(w), AG_SHP(x));
        return false;
    }
    return true;
}

ag_tensor *ag_binary_cross_entropy(ag_tensor *p, ag_tensor *t, ag_tensor *weight, ag_reduction red) {
    const char *fn = "ag_binary_cross_entropy";
    if (!AG_NONNULL(fn, p, t) || !check_pair(fn, p, t, red) || !check_real(fn, "target", t) ||
        !check_real(fn, "weight", weight))
        return NULL;
    if (!same_shape(p, t))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a target of the input's shape %s, given %s", fn, AG_SHP(p), AG_SHP(t));
    if (!check_bcast_to(fn, "weight", weight, p)) return NULL;
    BEGIN;
    /* logs clamped at -100, as PyTorch (p = 0 or 1 gives a finite loss) */
    ag_tensor *lp = ag_clamp(ag_log(p), -100, INFINITY);
    ag_tensor *lq = ag_clamp(ag_log(ag_rsub_s(1.0, p)), -100, INFINITY);
    ag_tensor *l = ag_neg(ag_add(ag_mul(t, lp), ag_mul(ag_rsub_s(1.0, t), lq)));
    if (weight) l = ag_mul(l, weight);
    END(reduce(l, red));
}

ag_tensor *ag_binary_cross_entropy_with_logits(ag_tensor *x, ag_tensor *t, ag_tensor *weight, ag_tensor *pos_weight,
                                               ag_reduction red) {
    const char *fn = "ag_binary_cross_entropy_with_logits";
    if (!AG_NONNULL(fn, x, t) || !check_pair(fn, x, t, red) || !check_real(fn, "target", t) ||
        !check_real(fn, "weight", weight) || !check_real(fn, "pos_weight", pos_weight))
        return NULL;
    if (!same_shape(x, t))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a target of the input's shape %s, given %s", fn, AG_SHP(x), AG_SHP(t));
    if (!check_bcast_to(fn, "weight", weight, x) || !check_bcast_to(fn, "pos_weight", pos_weight, x)) return NULL;
    BEGIN;
    /* softplus(-x) = max(-x, 0) + log1p(exp(-|x|)): no overflow for large |x| */
    ag_tensor *sp = ag_add(ag_relu(ag_neg(x)), ag_log1p(ag_exp(ag_neg(ag_abs(x)))));
    /* (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x) */
    ag_tensor *lw = pos_weight ? ag_add_s(ag_mul(ag_add_s(pos_weight, -1.0), t), 1.0) : NULL;
    ag_tensor *l = ag_add(ag_mul(ag_rsub_s(1.0, t), x), lw ? ag_mul(lw, sp) : sp);
    if (weight) l = ag_mul(l, weight);
    END(reduce(l, red));
}

ag_tensor *ag_nll_loss(ag_tensor *x, ag_tensor *t, ag_tensor *weight, int64_t ignore_index, ag_reduction red) {
    const char *fn = "ag_nll_loss";
    if (!AG_NONNULL(fn, x, t) || !check_red(fn, red)) return NULL;
    if (!ag_dtype_is_float(ag_dtype_of(x)) || ag_dtype_is_complex(ag_dtype_of(x)))
        return ag_fail(AG_ERR_DTYPE, "%s: expected real floating-point log-probabilities, given %s", fn,
                       ag_dtype_name(ag_dtype_of(x)));
    if (ag_ndim(x) < 1) return ag_fail(AG_ERR_SHAPE, "%s: expected log-probabilities [N, C, ...] or [C], given a 0-d tensor", fn);
    if (ag_dtype_of(t) != AG_I64)
        return ag_fail(AG_ERR_DTYPE, "%s: expected i64 class indices as target, given %s", fn, ag_dtype_name(ag_dtype_of(t)));
    int cdim = ag_ndim(x) >= 2 ? 1 : 0;
    int64_t C = ag_shape(x)[cdim];
    bool ok = ag_ndim(t) == ag_ndim(x) - 1;
    for (int i = 0, j = 0; ok && i < ag_ndim(x); i++) {
        if (i == cdim) continue;
        ok = ag_shape(t)[j++] == ag_shape(x)[i];
    }
    if (!ok) return ag_fail(AG_ERR_SHAPE, "%s: target %s does not fit input %s (expected the input's shape without dim %d)",
                            fn, AG_SHP(t), AG_SHP(x), cdim);
    if (!check_real(fn, "weight", weight)) return NULL;
    if (weight && (ag_ndim(weight) != 1 || ag_shape(weight)[0] != C))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a weight of shape [%lld] (one per class), given %s", fn, (long long)C,
                       AG_SHP(weight));
    BEGIN;
    ag_no_grad_begin();
    ag_tensor *keep = ag_ne(t, ag_scalar_on((double)ignore_index, AG_I64, ag_device_of(t)));
    ag_tensor *tt = ag_where(keep, t, ag_scalar_on(0, AG_I64, ag_device_of(t))); /* ignored: class 0, weight 0 */
    ag_no_grad_end();
    if (!tt || !check_classes(fn, tt, C)) { ag_scope_end(); return NULL; }
    ag_tensor *picked = ag_gather(x, cdim, ag_unsqueeze(tt, cdim));
    picked = ag_reshape(picked, ag_shape(t), ag_ndim(t));
    ag_tensor *w = ag_to_dtype(keep, ag_dtype_of(x));
    if (weight) w = ag_mul(w, ag_reshape(ag_index_select(weight, 0, ag_reshape(tt, AG_SHAPE(-1))), ag_shape(t), ag_ndim(t)));
    ag_tensor *l = ag_neg(ag_mul(picked, w));
    /* mean: divided by the total weight of the counted targets, as PyTorch */
    if (red == AG_REDUCE_MEAN) END(ag_div(ag_sum(l, AG_ALL_DIMS, false), ag_sum(w, AG_ALL_DIMS, false)));
    END(reduce(l, red));
}

ag_tensor *ag_kl_div(ag_tensor *x, ag_tensor *t, ag_reduction red, bool log_target) {
    const char *fn = "ag_kl_div";
    if (!AG_NONNULL(fn, x, t)) return NULL;
    if (red != AG_REDUCE_BATCHMEAN && !check_pair(fn, x, t, red)) return NULL;
    if (red == AG_REDUCE_BATCHMEAN && !check_pair(fn, x, t, AG_REDUCE_SUM)) return NULL;
    if (!check_real(fn, "target", t)) return NULL;
    BEGIN;
    ag_tensor *l;
    if (log_target) {
        l = ag_mul(ag_exp(t), ag_sub(t, x));
    } else {
        /* xlogy(t, t) - t x: 0 where t = 0 */
        ag_tensor *pos = ag_gt(t, ag_scalar_like(t, 0));
        ag_tensor *tlt = ag_where(pos, ag_mul(t, ag_log(ag_where(pos, t, ag_scalar_like(t, 1)))), ag_scalar_like(t, 0));
        l = ag_sub(tlt, ag_mul(t, x));
    }
    if (red == AG_REDUCE_BATCHMEAN) {
        ag_tensor *s = ag_sum(l, AG_ALL_DIMS, false);
        END(l && ag_ndim(l) > 0 ? ag_mul_s(s, 1.0 / (double)ag_shape(l)[0]) : s);
    }
    END(reduce(l, red));
}
