/* tensor/sort.c — sorting and order statistics: sort, argsort, topk, median, quantile.
 *
 * One primitive, the backend's `sort` kernel, gives the stable sort permutation along a dim (NaN
 * as the largest value, as torch). sort's values are the input gathered through it, recorded as
 * one SORT node whose backward scatters g back through the indices (ag_scatter_add into zeros,
 * itself differentiable, so second derivatives work). Everything else is composed from sort and
 * ag ops: topk narrows a sort; median and quantile pick (and, for quantile, interpolate between)
 * sorted values, and propagate NaN as torch does: a row holding a NaN gives NaN (median_dim's
 * index is then the first NaN's). */
#include <math.h>
#include <string.h>

#include "tensor/internal.h"

static bool check_ordered(const char *op, const ag_tensor *t) {
    if (ag_dtype_is_complex(t->dtype)) {
        ag_set_error(AG_ERR_DTYPE, "%s: complex tensors are not ordered, given %s", op, ag_dtype_name(t->dtype));
        return false;
    }
    if (t->dtype != AG_F32 && t->dtype != AG_F64 && t->dtype != AG_I64 && t->dtype != AG_I32 && t->dtype != AG_U8) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected an f32, f64, i64, i32 or u8 tensor, given %s", op,
                     ag_dtype_name(t->dtype));
        return false;
    }
    return true;
}

/* the sort permutation of t along d (i64, t's shape, contiguous), not recorded */
static ag_tensor *sort_indices(const char *op, ag_tensor *t, int d, bool descending) {
    const ag_kernels *k = ag__kernels(t);
    if (!k->sort || !k->gather)
        return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *ix = ag__new(t->shape, t->ndim, AG_I64, t->storage->dev, op);
    if (!ix) return NULL;
    ag_kview vi = ag__view(ix), vt = ag__view(t);
    if (k->sort(&vi, &vt, t->ndim ? d : 0, descending) < 0) { ag__drop(ix); return NULL; }
    return ix;
}

int ag__bw_sort(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *z = ag_zeros_on(n->in_shape[0], n->in_ndim[0], g->dtype, ag_device_of(g));
    gin[0] = z ? ag_scatter_add(z, (int)n->p.i[0], n->saved[0], g) : NULL;
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *sort_impl(const char *op, ag_tensor *t, int dim, bool descending, ag_tensor **indices,
                            bool values) {
    if (indices) *indices = NULL;
    if (!AG_NONNULL(op, t)) return NULL;
    if (!check_ordered(op, t)) return NULL;
    int d = ag__normalize_dim(op, dim, t->ndim);
    if (d < 0) return NULL;
    ag_tensor *ix = sort_indices(op, t, d, descending);
    if (!ix) return NULL;
    if (!values) return ag__ret(ix);
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (r) {
        ag_kview o = ag__view(r), vt = ag__view(t), vi = ag__view(ix);
        if (ag__kernels(t)->gather(op, &o, &vt, &vi, t->ndim ? d : 0, false) < 0) { ag__drop(r); r = NULL; }
    }
    ag_op_params p = {.i = {t->ndim ? d : 0}};
    r = ag__finish(r, op, AG_OP(SORT), AG_IN(t), (ag_tensor *const[]){ix}, 1, &p);
    if (r && indices) *indices = ag__ret(ix);
    else ag__drop(ix);
    return r;
}

ag_tensor *ag_sort(ag_tensor *t, int dim, bool descending, ag_tensor **indices) {
    return sort_impl("ag_sort", t, dim, descending, indices, true);
}

ag_tensor *ag_argsort(ag_tensor *t, int dim, bool descending) {
    return sort_impl("ag_argsort", t, dim, descending, NULL, false);
}

ag_tensor *ag_topk(ag_tensor *t, int64_t k, int dim, bool largest, bool sorted, ag_tensor **indices) {
    (void)sorted; /* always sorted: torch leaves the order unspecified otherwise */
    if (indices) *indices = NULL;
    if (!AG_NONNULL("ag_topk", t)) return NULL;
    if (!check_ordered("ag_topk", t)) return NULL;
    int d = ag__normalize_dim("ag_topk", dim, t->ndim);
    if (d < 0) return NULL;
    int64_t size = t->ndim ? t->shape[d] : 1;
    if (k < 0 || k > size)
        return ag_fail(AG_ERR_INVALID, "ag_topk: expected 0 <= k <= %lld (the size of dim %d), given k = %lld",
                       (long long)size, dim, (long long)k);
    ag_scope_begin();
    ag_tensor *ix = NULL;
    ag_tensor *s = sort_impl("ag_topk", t, d, largest, &ix, true);
    ag_tensor *v = NULL, *i = NULL;
    if (s) {
        v = t->ndim ? ag_narrow(s, d, 0, k) : s;
        i = t->ndim ? ag_narrow(ix, d, 0, k) : ix;
        if (v && i && t->ndim) { v = ag_contiguous(v); i = ag_contiguous(i); }
    }
    ag_keep(v);
    if (indices && v) ag_keep(i);
    ag_scope_end();
    if (v && indices) *indices = ag__ret(i);
    return v ? ag__ret(v) : NULL;
}

/* ---- median and quantile ------------------------------------------------------------------ */
/* The element at sorted position `pos` along d of each row (keepdim shape), NaN rows giving NaN:
 * where the row's largest sorted value is NaN, take it instead. Differentiable through sort. */
static ag_tensor *pick(ag_tensor *s, int d, int64_t pos) {
    int64_t len = s->shape[d];
    ag_tensor *v = ag_narrow(s, d, pos, 1);
    ag_tensor *last = ag_narrow(s, d, len - 1, 1);
    return ag_where(ag_isnan(last), last, v);
}

static bool check_nonempty(const char *op, const ag_tensor *t, int d) {
    int64_t len = d < 0 ? ag_numel(t) : t->ndim ? t->shape[d] : 1; /* d < 0: all elements */
    if (len > 0) return true;
    ag_set_error(AG_ERR_SHAPE, "%s: expected a nonempty tensor (or dim), given shape %s", op, AG_SHP(t));
    return false;
}

static bool check_real(const char *op, const ag_tensor *t) {
    if (!check_ordered(op, t)) return false;
    if (t->dtype != AG_F32 && t->dtype != AG_F64 && strcmp(op, "ag_quantile") == 0) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected an f32 or f64 tensor, given %s", op, ag_dtype_name(t->dtype));
        return false;
    }
    return true;
}

ag_tensor *ag_median(ag_tensor *t) {
    if (!AG_NONNULL("ag_median", t)) return NULL;
    if (!check_real("ag_median", t) || !check_nonempty("ag_median", t, -1)) return NULL;
    ag_scope_begin();
    ag_tensor *flat = ag_reshape(t, AG_SHAPE(-1));
    ag_tensor *s = flat ? ag_sort(flat, 0, false, NULL) : NULL;
    ag_tensor *r = s ? ag_reshape(pick(s, 0, (s->shape[0] - 1) / 2), NULL, 0) : NULL;
    ag_keep(r);
    ag_scope_end();
    return r ? ag__ret(r) : NULL;
}

ag_tensor *ag_median_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices) {
    if (indices) *indices = NULL;
    if (!AG_NONNULL("ag_median_dim", t)) return NULL;
    if (!check_real("ag_median_dim", t)) return NULL;
    int d = ag__normalize_dim("ag_median_dim", dim, t->ndim);
    if (d < 0 || !check_nonempty("ag_median_dim", t, d)) return NULL;
    ag_scope_begin();
    ag_tensor *x = t->ndim ? t : ag_reshape(t, AG_SHAPE(1));
    int64_t len = x ? x->shape[d] : 0;
    /* sorted position: (len - 1) / 2, or the first NaN's (= the count of non-NaN values) */
    ag_tensor *ix = NULL, *v = NULL;
    ag_tensor *perm = x ? ag_argsort(x, d, false) : NULL;
    ag_tensor *good = perm ? ag_sum(ag_logical_not(ag_isnan(x)), AG_DIMS(d), true) : NULL;
    if (good) {
        ag_tensor *pos = ag_where(ag_lt(good, ag_full_like(good, (double)len)), good,
                                  ag_full_like(good, (double)((len - 1) / 2)));
        ix = ag_gather(perm, d, pos);
        v = ix ? ag_gather(x, d, ix) : NULL;
        if (v && !keepdim) { v = ag_squeeze(v, d); ix = ag_squeeze(ix, d); }
        if (v && !t->ndim) { v = ag_reshape(v, NULL, 0); ix = ag_reshape(ix, NULL, 0); }
    }
    ag_keep(v);
    if (v && indices) ag_keep(ix);
    ag_scope_end();
    if (v && indices) *indices = ag__ret(ix);
    return v ? ag__ret(v) : NULL;
}

ag_tensor *ag_quantile(ag_tensor *t, double q, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL("ag_quantile", t)) return NULL;
    if (!check_real("ag_quantile", t)) return NULL;
    if (!(q >= 0 && q <= 1)) return ag_fail(AG_ERR_INVALID, "ag_quantile: expected q in [0, 1], given %g", q);
    if (ndims < 0 || ndims > 1 || (ndims == 1 && !dims))
        return ag_fail(AG_ERR_INVALID, "ag_quantile: expected one dim or all dims (AG_ALL_DIMS), given %d dims", ndims);
    int d = -1;
    if (ndims == 1 && (d = ag__normalize_dim("ag_quantile", dims[0], t->ndim)) < 0) return NULL;
    if (!check_nonempty("ag_quantile", t, d)) return NULL;
    ag_scope_begin();
    ag_tensor *x = d < 0 ? ag_reshape(t, AG_SHAPE(-1)) : t->ndim ? t : ag_reshape(t, AG_SHAPE(1));
    int dd = d < 0 ? 0 : d;
    ag_tensor *s = x ? ag_sort(x, dd, false, NULL) : NULL, *r = NULL;
    if (s) {
        int64_t len = s->shape[dd];
        double rank = q * (double)(len - 1);
        int64_t lo = (int64_t)floor(rank), hi = (int64_t)ceil(rank);
        double w = rank - (double)lo;
        ag_tensor *a = ag_narrow(s, dd, lo, 1), *b = ag_narrow(s, dd, hi, 1);
        /* torch.lerp: a + w (b - a) for w < 0.5, b - (b - a)(1 - w) otherwise */
        ag_tensor *diff = ag_sub(b, a);
        ag_tensor *v = w < 0.5 ? ag_add(a, ag_mul_s(diff, w)) : ag_sub(b, ag_mul_s(diff, 1 - w));
        ag_tensor *last = ag_narrow(s, dd, len - 1, 1);
        r = ag_where(ag_isnan(last), last, v);
        if (r && d < 0) {
            int64_t ones[AG_MAX_DIMS];
            for (int i = 0; i < t->ndim; i++) ones[i] = 1;
            r = keepdim ? ag_reshape(r, ones, t->ndim) : ag_reshape(r, NULL, 0);
        } else if (r && (!keepdim || !t->ndim)) {
            r = t->ndim ? ag_squeeze(r, d) : ag_reshape(r, NULL, 0);
        }
    }
    ag_keep(r);
    ag_scope_end();
    return r ? ag__ret(r) : NULL;
}
