/* tensor/reduce.c — reductions over any set of dims (sum, mean, prod, var, std, norm,
 * logsumexp, amax/amin, max/min along a dim with indices, argmax/argmin) and their
 * backward rules. */
#include <math.h>
#include <string.h>

#include "tensor/internal.h"

typedef struct red {
    bool mask[AG_MAX_DIMS];
    int64_t keep_shape[AG_MAX_DIMS]; /* input shape with reduced dims = 1 */
    int64_t out_shape[AG_MAX_DIMS];
    int out_ndim;
    int64_t count;                   /* elements per output */
} red;

static bool plan_dims(const char *op, const ag_tensor *t, const int *dims, int ndims, bool keepdim, red *r) {
    memset(r, 0, sizeof *r);
    if (ndims < 0 || (ndims > 0 && !dims)) {
        ag_set_error(AG_ERR_INVALID, "%s: invalid dims list (n=%d)", op, ndims);
        return false;
    }
    for (int i = 0; i < ndims; i++) {
        int d = ag__normalize_dim(op, dims[i], t->ndim);
        if (d < 0) return false;
        if (t->ndim == 0) continue;
        if (r->mask[d]) { ag_set_error(AG_ERR_INVALID, "%s: dim %d appears more than once", op, dims[i]); return false; }
        r->mask[d] = true;
    }
    if (ndims == 0) for (int d = 0; d < t->ndim; d++) r->mask[d] = true;
    r->count = 1;
    for (int d = 0; d < t->ndim; d++) {
        r->keep_shape[d] = r->mask[d] ? 1 : t->shape[d];
        if (r->mask[d]) r->count *= t->shape[d];
        if (!r->mask[d] || keepdim) r->out_shape[r->out_ndim++] = r->keep_shape[d];
    }
    return true;
}

static ag_op_params red_params(const int *dims, int ndims, bool keepdim) {
    ag_op_params p = {0};
    for (int i = 0; i < ndims && i < AG_MAX_DIMS; i++) p.red.dims[i] = dims[i];
    p.red.ndims = ndims;
    p.red.keepdim = keepdim;
    return p;
}

/* g (output shape) -> keepdim shape, broadcastable against the input */
static ag_tensor *unreduce(ag_node *n, ag_tensor *g) {
    int64_t ks[AG_MAX_DIMS] = {0};
    const int64_t *in = n->in_shape[0];
    int nd = n->in_ndim[0];
    bool mask[AG_MAX_DIMS] = {0};
    for (int i = 0; i < n->p.red.ndims; i++) mask[n->p.red.dims[i] < 0 ? n->p.red.dims[i] + nd : n->p.red.dims[i]] = true;
    for (int d = 0; d < nd; d++) ks[d] = (n->p.red.ndims == 0 || mask[d]) ? 1 : in[d];
    return ag_reshape(g, ks, nd);
}

/* run the reduce kernel into a fresh keepdim-shaped tensor, then view it as the output shape */
static ag_tensor *reduce_raw(const char *op, ag_reduce_op kop, ag_tensor *t, const red *r, ag_dtype dt,
                             ag_tensor **idx_out) {
    if (ag__narrow_int(dt)) return ag__narrow(reduce_raw(op, kop, t, r, AG_I64, idx_out), dt); /* via i64 */
    const ag_kernels *k = ag__kernels(t);
    if (!k->reduce) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *c = ag__cast(t, dt);
    ag_tensor *o = c ? ag__new(r->keep_shape, t->ndim, dt, t->storage->dev, op) : NULL;
    ag_tensor *ix = o && idx_out ? ag__new(r->keep_shape, t->ndim, AG_I64, t->storage->dev, op) : NULL;
    if (o && (!idx_out || ix)) {
        ag_kview vo = ag__view(o), vi = ag__view(c), vx;
        if (ix) vx = ag__view(ix);
        if (k->reduce(kop, &vo, ix ? &vx : NULL, &vi) < 0) { ag__drop(o); o = NULL; }
    } else {
        ag__drop(o);
        o = NULL;
    }
    ag__drop(c);
    if (o) { /* drop reduced dims without a new node: o is fresh and contiguous */
        o->ndim = r->out_ndim;
        memcpy(o->shape, r->out_shape, sizeof o->shape);
        ag__contiguous_strides(o->shape, o->ndim, o->strides);
    }
    if (ix) {
        if (o) {
            ix->ndim = r->out_ndim;
            memcpy(ix->shape, r->out_shape, sizeof ix->shape);
            ag__contiguous_strides(ix->shape, ix->ndim, ix->strides);
            *idx_out = ix;
        } else {
            ag__drop(ix);
        }
    }
    return o;
}

static ag_tensor *finish(ag_tensor *r, const char *op, const ag_opdef *bw, ag_tensor *t, ag_tensor *const *saved,
                         int n_saved, const ag_op_params *p) {
    return ag__finish(r, op, bw, AG_IN(t), saved, n_saved, p);
}

int ag__bw_sum(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = ag_expand(unreduce(n, g), n->in_shape[0], n->in_ndim[0]);
    return 0;
}

ag_tensor *ag_sum(ag_tensor *t, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL("ag_sum", t)) return NULL;
    red r;
    if (!plan_dims("ag_sum", t, dims, ndims, keepdim, &r)) return NULL;
    ag_dtype dt = ag_dtype_is_float(t->dtype) ? t->dtype : AG_I64;
    ag_op_params p = red_params(dims, ndims, keepdim);
    return finish(reduce_raw("ag_sum", AG_RED_SUM, t, &r, dt, NULL), "ag_sum", AG_OP(SUM), t, AG_NONE, &p);
}

ag_tensor *ag_mean(ag_tensor *t, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL("ag_mean", t)) return NULL;
    if (!ag_dtype_is_float(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_mean: expected a floating point or complex tensor, given %s "
                       "(cast with ag_to_dtype)", ag_dtype_name(t->dtype));
    red r;
    if (!plan_dims("ag_mean", t, dims, ndims, keepdim, &r)) return NULL;
    ag_tensor *s = ag_sum(t, dims, ndims, keepdim);
    ag_tensor *m = ag_mul_s(s, r.count ? 1.0 / (double)r.count : NAN);
    ag_release(s);
    return m;
}

int ag__bw_prod(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    /* d prod / d x_i = product of the others: out / x_i without zeros; with one zero in a
     * slice only the zero's position gets the product of the rest; with two, nothing */
    ag_tensor *x = n->saved[0], *out = unreduce(n, n->saved[1]);
    int nd = n->p.red.ndims;
    const int *dims = n->p.red.dims;
    ag_tensor *zero = ag_zeros_like(x), *iszero = ag_eq(x, zero);
    ag_tensor *nz = ag_where(iszero, ag_ones_like(x), x);
    ag_tensor *prod_nz = ag_prod(nz, nd ? dims : NULL, nd, true);
    ag_tensor *zc = ag_sum(iszero, nd ? dims : NULL, nd, true);
    ag_tensor *no_zero = ag_div(out, nz);
    ag_tensor *one_zero = ag_where(iszero, ag_expand(prod_nz, x->shape, x->ndim), zero);
    ag_tensor *zc1 = ag_eq(zc, ag_ones_like(zc)), *zc0 = ag_eq(zc, ag_zeros_like(zc));
    ag_tensor *d = ag_where(zc0, no_zero, ag_where(zc1, one_zero, zero));
    gin[0] = ag_mul(unreduce(n, g), ag_conj(d));
    return 0;
}

ag_tensor *ag_prod(ag_tensor *t, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL("ag_prod", t)) return NULL;
    red r;
    if (!plan_dims("ag_prod", t, dims, ndims, keepdim, &r)) return NULL;
    ag_dtype dt = ag_dtype_is_float(t->dtype) ? t->dtype : AG_I64;
    ag_op_params p = red_params(dims, ndims, keepdim);
    ag_tensor *o = reduce_raw("ag_prod", AG_RED_PROD, t, &r, dt, NULL);
    return finish(o, "ag_prod", AG_OP(PROD), t, (ag_tensor *const[]){t, o}, 2, &p);
}

/* amax/amin: the gradient is shared evenly by all elements equal to the extreme (PyTorch) */
int ag__bw_amax(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *x = n->saved[0], *out = unreduce(n, n->saved[1]);
    int nd = n->p.red.ndims;
    ag_tensor *mask = ag_eq(x, out);
    ag_tensor *cnt = ag_sum(mask, nd ? n->p.red.dims : NULL, nd, true);
    ag_tensor *share = ag_div(unreduce(n, g), ag_to_dtype(cnt, g->dtype));
    gin[0] = ag_where(mask, ag_expand(share, x->shape, x->ndim), ag_zeros_like(x));
    return 0;
}

static ag_tensor *extreme(const char *op, ag_reduce_op kop, ag_tensor *t, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: complex tensors are not ordered, given %s", op, ag_dtype_name(t->dtype));
    red r;
    if (!plan_dims(op, t, dims, ndims, keepdim, &r)) return NULL;
    if (r.count == 0 && ag_numel(t) == 0)
        return ag_fail(AG_ERR_SHAPE, "%s: cannot reduce an empty tensor (shape %s): no identity for max/min", op, AG_SHP(t));
    for (int d = 0; d < t->ndim; d++)
        if (r.mask[d] && t->shape[d] == 0)
            return ag_fail(AG_ERR_SHAPE, "%s: cannot reduce over dim %d of size 0 (shape %s)", op, d, AG_SHP(t));
    ag_op_params p = red_params(dims, ndims, keepdim);
    ag_tensor *o = reduce_raw(op, kop, t, &r, t->dtype, NULL);
    return finish(o, op, AG_OP(AMAX), t, (ag_tensor *const[]){t, o}, 2, &p);
}
ag_tensor *ag_amax(ag_tensor *t, const int *dims, int ndims, bool keepdim) { return extreme("ag_amax", AG_RED_MAX, t, dims, ndims, keepdim); }
ag_tensor *ag_amin(ag_tensor *t, const int *dims, int ndims, bool keepdim) { return extreme("ag_amin", AG_RED_MIN, t, dims, ndims, keepdim); }

/* max/min along a dim: the gradient goes to the selected index only */
int ag__bw_maxdim(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int d = n->p.red.dims[0], nd = n->in_ndim[0];
    if (d < 0) d += nd;
    ag_tensor *idx = unreduce(n, n->saved[0]);
    int64_t len = n->in_shape[0][d], shp[AG_MAX_DIMS];
    for (int i = 0; i < nd; i++) shp[i] = i == d ? len : 1;
    ag_tensor *pos = ag_reshape(ag_arange_on(0, (double)len, 1, AG_I64, ag_device_of(g)), shp, nd);
    ag_tensor *mask = ag_eq(pos, idx);
    ag_tensor *gk = unreduce(n, g);
    gin[0] = ag_where(mask, gk, ag_zeros_like(gk));
    return 0;
}

static ag_tensor *along(const char *op, ag_reduce_op kop, ag_tensor *t, int dim, bool keepdim, ag_tensor **indices,
                        bool values) {
    if (indices) *indices = NULL;
    if (!AG_NONNULL(op, t)) return NULL;
    if (ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: complex tensors are not ordered, given %s", op, ag_dtype_name(t->dtype));
    int d = ag__normalize_dim(op, dim, t->ndim);
    if (d < 0) return NULL;
    red r;
    if (!plan_dims(op, t, &d, t->ndim ? 1 : 0, keepdim, &r)) return NULL;
    if (t->ndim && t->shape[d] == 0)
        return ag_fail(AG_ERR_SHAPE, "%s: cannot reduce over dim %d of size 0 (shape %s)", op, dim, AG_SHP(t));
    ag_tensor *ix = NULL;
    ag_tensor *o = reduce_raw(op, kop, t, &r, t->dtype, &ix);
    if (!o) return NULL;
    if (!values) { ag__drop(o); return ag__ret(ix); }
    ag_op_params p = red_params(&d, 1, keepdim);
    o = finish(o, op, AG_OP(MAX_DIM), t, (ag_tensor *const[]){ix}, 1, &p);
    if (o && indices) *indices = ag__ret(ix);
    else ag__drop(ix);
    return o;
}
ag_tensor *ag_max_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices) { return along("ag_max_dim", AG_RED_MAX, t, dim, keepdim, indices, true); }
ag_tensor *ag_min_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices) { return along("ag_min_dim", AG_RED_MIN, t, dim, keepdim, indices, true); }
ag_tensor *ag_argmax(ag_tensor *t, int dim, bool keepdim) { return along("ag_argmax", AG_RED_MAX, t, dim, keepdim, NULL, false); }
ag_tensor *ag_argmin(ag_tensor *t, int dim, bool keepdim) { return along("ag_argmin", AG_RED_MIN, t, dim, keepdim, NULL, false); }

/* ---- composites: var, std (differentiable through their parts) ---------------------- */
ag_tensor *ag_var(ag_tensor *t, const int *dims, int ndims, int correction, bool keepdim) {
    if (!AG_NONNULL("ag_var", t)) return NULL;
    if (!ag_dtype_is_float(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_var: expected a floating point or complex tensor, given %s", ag_dtype_name(t->dtype));
    red r;
    if (!plan_dims("ag_var", t, dims, ndims, keepdim, &r)) return NULL;
    ag_scope_begin();
    ag_tensor *dev = ag_sub(t, ag_mean(t, dims, ndims, true));
    ag_tensor *sq = ag_dtype_is_complex(t->dtype) ? ag_real(ag_mul(dev, ag_conj(dev))) : ag_square(dev);
    double denom = (double)r.count - correction;
    ag_tensor *v = ag_keep(ag_mul_s(ag_sum(sq, dims, ndims, keepdim), denom > 0 ? 1.0 / denom : (denom == 0 ? INFINITY : NAN)));
    ag_scope_end();
    return v;
}

/* sqrt's rule g / (2 s) is g * inf at a constant input (s = 0); PyTorch's std backward gives 0
 * there, so std records its own sqrt step */
int ag__bw_std(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *s = n->saved[0], *zero = ag_zeros_like(s);
    ag_tensor *is0 = ag_eq(s, zero);
    gin[0] = ag_where(is0, zero, ag_div(g, ag_mul_s(ag_where(is0, ag_ones_like(s), s), 2.0)));
    return 0;
}

ag_tensor *ag_std(ag_tensor *t, const int *dims, int ndims, int correction, bool keepdim) {
    if (!AG_NONNULL("ag_std", t)) return NULL;
    ag_tensor *v = ag_var(t, dims, ndims, correction, keepdim);
    if (!v) return NULL;
    ag_no_grad_begin();
    ag_tensor *s = ag_sqrt(v);
    ag_no_grad_end();
    if (s) {
        ag__unscope(s);
        s = ag__finish(s, "ag_std", AG_OP(STD), AG_IN(v), (ag_tensor *const[]){s}, 1, NULL);
    }
    ag_release(v);
    return s;
}

/* ---- norm and logsumexp: composite forward, own backward (finite at 0, as PyTorch) ---- */
_Static_assert(sizeof(((ag_op_params *)0)->red) <= 5 * sizeof(double), "norm's p (d[5]) would overlap the dims");
int ag__bw_norm(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *x = n->saved[0], *out = unreduce(n, n->saved[1]);
    double p = n->p.d[5];
    ag_tensor *gk = unreduce(n, g), *d;
    ag_tensor *zero_out = ag_eq(out, ag_zeros_like(out));
    if (p == 1) {
        d = ag_sign(x);
    } else if (isinf(p)) {
        ag_tensor *ax = ag_abs(x);
        ag_tensor *mask = ag_eq(ax, out);
        int nd = n->p.red.ndims;
        ag_tensor *cnt = ag_sum(mask, nd ? n->p.red.dims : NULL, nd, true);
        d = ag_div(ag_where(mask, ag_sign(x), ag_zeros_like(x)), ag_to_dtype(cnt, ag_dtype_to_real(x->dtype)));
    } else if (p == 2) {
        d = ag_div(x, ag_where(zero_out, ag_ones_like(out), out));
    } else { /* x |x|^(p-2) / out^(p-1) */
        ag_tensor *ax = ag_abs(x);
        ag_tensor *safe = ag_where(zero_out, ag_ones_like(out), out);
        d = ag_div(ag_mul(x, ag_pow_s(ax, p - 2)), ag_pow_s(safe, p - 1));
        d = ag_where(ag_eq(ax, ag_zeros_like(ax)), ag_zeros_like(d), d);
    }
    if (p != 1) d = ag_where(zero_out, ag_zeros_like(d), d);
    gin[0] = ag_mul(gk, d);
    return 0;
}

ag_tensor *ag_norm(ag_tensor *t, double p, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL("ag_norm", t)) return NULL;
    if (!ag_dtype_is_float(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_norm: expected a floating point or complex tensor, given %s", ag_dtype_name(t->dtype));
    if (!(p > 0))
        return ag_fail(AG_ERR_INVALID, "ag_norm: expected p > 0 (1, 2, INFINITY or any positive p), given %g", p);
    red r;
    if (!plan_dims("ag_norm", t, dims, ndims, keepdim, &r)) return NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *ax = ag_abs(t), *o;
    if (p == 1) o = ag_sum(ax, dims, ndims, keepdim);
    else if (isinf(p)) o = r.count ? ag_amax(ax, dims, ndims, keepdim) : ag_sum(ax, dims, ndims, keepdim);
    else if (p == 2) o = ag_sqrt(ag_sum(ag_square(ax), dims, ndims, keepdim));
    else o = ag_pow_s(ag_sum(ag_pow_s(ax, p), dims, ndims, keepdim), 1.0 / p);
    ag_no_grad_end();
    ag_keep(o);
    ag_scope_end();
    if (!o) return NULL;
    ag__unscope(o);
    ag_op_params prm = red_params(dims, ndims, keepdim);
    prm.d[5] = p; /* d[5] lies past the red member of the union */
    return finish(o, "ag_norm", AG_OP(NORM), t, (ag_tensor *const[]){t, o}, 2, &prm);
}

int ag__bw_lse(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *x = n->saved[0], *out = unreduce(n, n->saved[1]);
    gin[0] = ag_mul(unreduce(n, g), ag_exp(ag_sub(x, out)));
    return 0;
}

ag_tensor *ag_logsumexp(ag_tensor *t, const int *dims, int ndims, bool keepdim) {
    if (!AG_NONNULL("ag_logsumexp", t)) return NULL;
    if (!ag_dtype_is_float(t->dtype) || ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_logsumexp: expected a real floating point tensor, given %s", ag_dtype_name(t->dtype));
    red r;
    if (!plan_dims("ag_logsumexp", t, dims, ndims, keepdim, &r)) return NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *o;
    if (r.count == 0) {
        o = ag_log(ag_sum(t, dims, ndims, keepdim)); /* log 0 = -inf, as PyTorch */
    } else {
        ag_tensor *m = ag_amax(t, dims, ndims, true);
        /* an infinite max would make x - m NaN: shift by 0 there instead */
        m = ag_where(ag_eq(ag_abs(m), ag_full_like(m, INFINITY)), ag_zeros_like(m), m);
        ag_tensor *s = ag_log(ag_sum(ag_exp(ag_sub(t, m)), dims, ndims, true));
        o = ag_add(s, m);
        if (!keepdim) o = ag_reshape(o, r.out_shape, r.out_ndim);
    }
    ag_no_grad_end();
    ag_keep(o);
    ag_scope_end();
    if (!o) return NULL;
    ag__unscope(o);
    ag_op_params prm = red_params(dims, ndims, keepdim);
    return finish(o, "ag_logsumexp", AG_OP(LOGSUMEXP), t, (ag_tensor *const[]){t, o}, 2, &prm);
}

/* ---- any, all: bool results (nonzero = true), not differentiable -------------------- */
static ag_tensor *logical_reduce(const char *op, ag_reduce_op kop, ag_tensor *t, const int *dims, int ndims,
                                 bool keepdim) {
    if (!AG_NONNULL(op, t)) return NULL;
    red r;
    if (!plan_dims(op, t, dims, ndims, keepdim, &r)) return NULL;
    ag_tensor *o;
    if (r.count == 0) { /* an empty reduction: any is false, all is true (PyTorch) */
        o = ag__new(r.out_shape, r.out_ndim, AG_BOOL, t->storage->dev, op);
        ag_kview v;
        if (o) v = ag__view(o);
        if (o && ag__kernels(o)->fill(&v, kop == AG_RED_MIN ? 1.0 : 0.0, 0) < 0) { ag__drop(o); o = NULL; }
    } else { /* max/min of the input cast to bool */
        o = reduce_raw(op, kop, t, &r, AG_BOOL, NULL);
    }
    return ag__finish(o, op, NULL, AG_NONE, AG_NONE, NULL);
}
ag_tensor *ag_any(ag_tensor *t, const int *dims, int ndims, bool keepdim) { return logical_reduce("ag_any", AG_RED_MAX, t, dims, ndims, keepdim); }
ag_tensor *ag_all(ag_tensor *t, const int *dims, int ndims, bool keepdim) { return logical_reduce("ag_all", AG_RED_MIN, t, dims, ndims, keepdim); }
