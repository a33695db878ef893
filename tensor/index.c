/* tensor/index.c — indexing, joining and reordering ops and their backward rules.
 *
 * Primitives (backend kernels): gather (index_select, gather, take), scatter_add (scatter_add,
 * index_add, one_hot, index_put with accumulate), scatter (scatter, index_put), nonzero (nonzero, masked_select, mask assignment) and cumsum. Everything
 * else is composed from ag ops, so its gradient comes from theirs:
 *   index_select/gather backward = scatter_add into zeros (deterministic kernel); scatter_add
 *   backward = g for t, gather(g) for src; masked ops go through where/index ops; cat backward =
 *   narrow views of g; flip backward = flip; cumsum backward = reverse cumsum. diag, trace,
 *   meshgrid and cumprod (a scan of products) are composed too.
 *
 * cat of any number of inputs is one node: its backward hands every input the narrow of g
 * along dim at its offset (the extents come from the recorded input shapes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

static bool check_index(const char *op, const ag_tensor *t, const ag_tensor *idx) {
    if (idx->dtype != AG_I64) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected an i64 index tensor, given %s", op, ag_dtype_name(idx->dtype));
        return false;
    }
    return ag__same_device(op, t, idx);
}

static bool check_mask(const char *op, const ag_tensor *t, const ag_tensor *mask) {
    if (mask->dtype != AG_BOOL) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected a bool mask, given %s", op, ag_dtype_name(mask->dtype));
        return false;
    }
    return ag__same_device(op, t, mask);
}

#define NEED_KERNEL(op, t, entry)                                                              \
    do {                                                                                       \
        if (!ag__kernels(t)->entry)                                                            \
            return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, ag__kernels(t)->name); \
    } while (0)

/* kview of a 0-d or 1-d index broadcast to `shape` (stride 0 on every dim but dim) */
static ag_kview sel_view(const ag_tensor *idx, const int64_t *shape, int ndim, int dim) {
    ag_kview v = ag__view(idx);
    v.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        v.shape[d] = shape[d];
        v.strides[d] = 0;
    }
    if (idx->ndim == 1) v.strides[dim] = idx->strides[0];
    return v;
}

/* ---- raw kernel calls (not recorded) --------------------------------------------------- */
static ag_tensor *gather_raw(const char *op, ag_tensor *t, int dim, const ag_kview *xv, const int64_t *shape,
                             int ndim, bool allow_neg) {
    ag_tensor *r = ag__new(shape, ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview o = ag__view(r), vi = ag__view(t);
    if (ag__kernels(t)->gather(op, &o, &vi, xv, dim, allow_neg) < 0) { ag__drop(r); return NULL; }
    return r;
}

/* a contiguous copy of t with src scattered in (src read through xv's shape) */
static ag_tensor *scatter_raw(const char *op, ag_tensor *t, int dim, const ag_kview *xv, ag_tensor *src,
                              bool allow_neg) {
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview o = ag__view(r), vt = ag__view(t), vs = ag__view_bcast(src, xv->shape, xv->ndim);
    if (src->ndim == xv->ndim) { /* src may be larger than the index: read its leading part */
        vs = ag__view(src);
        memcpy(vs.shape, xv->shape, sizeof vs.shape);
    }
    if (ag__kernels(t)->copy(&o, &vt) < 0 || ag__kernels(t)->scatter_add(op, &o, xv, &vs, dim, allow_neg) < 0) {
        ag__drop(r);
        return NULL;
    }
    return r;
}

/* ---- index_select and index_add (internal, the latter its adjoint) -------------------------- */
static ag_tensor *index_select_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, bool allow_neg);
static ag_tensor *index_add_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src,
                                 bool allow_neg);

int ag__bw_index_select(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *z = ag_zeros_on(n->in_shape[0], n->in_ndim[0], g->dtype, ag_device_of(g));
    gin[0] = index_add_impl(n->name, z, (int)n->p.i[0], n->saved[0], g, n->p.i[1]);
    return gin[0] ? 0 : ag_error_code();
}

int ag__bw_index_add(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (n->needs[0]) gin[0] = ag_retain(g);
    if (n->needs[1]) gin[1] = index_select_impl(n->name, g, (int)n->p.i[0], n->saved[0], n->p.i[1]);
    return 0;
}

static ag_tensor *index_select_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, bool allow_neg) {
    if (!AG_NONNULL(op, t) || !AG_NONNULL_FROM(op, 3, idx)) return NULL;
    if (!check_index(op, t, idx)) return NULL;
    if (t->ndim == 0) return ag_fail(AG_ERR_SHAPE, "%s: expected a tensor with at least 1 dim, given a 0-d tensor", op);
    if (idx->ndim > 1)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a 0-d or 1-d index, given shape %s", op, AG_SHP(idx));
    int d = ag__normalize_dim(op, dim, t->ndim);
    if (d < 0) return NULL;
    NEED_KERNEL(op, t, gather);
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = ag_numel(idx);
    ag_kview xv = sel_view(idx, shape, t->ndim, d);
    ag_tensor *r = gather_raw(op, t, d, &xv, shape, t->ndim, allow_neg);
    ag_op_params p = {.i = {d, allow_neg}};
    return ag__finish(r, op, AG_OP(INDEX_SELECT), AG_IN(t), (ag_tensor *const[]){idx}, 1, &p);
}

/* t with src[.., k, ..] added at t[.., idx[k], ..] along dim (torch.index_add) */
static ag_tensor *index_add_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src,
                                 bool allow_neg) {
    if (!t || !idx || !src) return NULL;
    if (!check_index(op, t, idx) || !ag__same_device(op, t, src)) return NULL;
    if (src->dtype != t->dtype)
        return ag_fail(AG_ERR_DTYPE, "%s: expected source of dtype %s, given %s", op, ag_dtype_name(t->dtype),
                       ag_dtype_name(src->dtype));
    int d = ag__normalize_dim(op, dim, t->ndim);
    if (d < 0) return NULL;
    bool fits = src->ndim == t->ndim && t->ndim > 0 && src->shape[d] == ag_numel(idx);
    for (int i = 0; fits && i < t->ndim; i++) fits = i == d || src->shape[i] == t->shape[i];
    if (!fits)
        return ag_fail(AG_ERR_SHAPE, "%s: source of shape %s does not fit a tensor of shape %s with %lld indices along dim %d",
                       op, AG_SHP(src), AG_SHP(t), (long long)ag_numel(idx), dim);
    NEED_KERNEL(op, t, scatter_add);
    ag_kview xv = sel_view(idx, src->shape, src->ndim, d);
    ag_tensor *r = scatter_raw(op, t, d, &xv, src, allow_neg);
    ag_op_params p = {.i = {d, allow_neg}};
    return ag__finish(r, op, AG_OP(INDEX_ADD), AG_IN(t, src), (ag_tensor *const[]){idx}, 1, &p);
}

ag_tensor *ag_index_select(ag_tensor *t, int dim, ag_tensor *idx) {
    return index_select_impl("ag_index_select", t, dim, idx, false);
}

/* ---- gather and scatter_add --------------------------------------------------------------- */
static ag_tensor *gather_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx);
static ag_tensor *scatter_add_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src);

int ag__bw_gather(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *z = ag_zeros_on(n->in_shape[0], n->in_ndim[0], g->dtype, ag_device_of(g));
    gin[0] = scatter_add_impl(n->name, z, (int)n->p.i[0], n->saved[0], g);
    return gin[0] ? 0 : ag_error_code();
}

/* gather(g) at idx, padded with zeros where src (of shape src_shape) is larger than the index:
 * joined with cat so that the result stays differentiable (create_graph) */
static ag_tensor *src_grad(const char *op, ag_tensor *g, int dim, ag_tensor *idx, const int64_t *src_shape) {
    ag_tensor *gs = gather_impl(op, g, dim, idx);
    for (int i = 0; i < idx->ndim && gs; i++) {
        int64_t more = src_shape[i] - gs->shape[i];
        if (more <= 0) continue;
        int64_t zs[AG_MAX_DIMS];
        memcpy(zs, gs->shape, sizeof zs);
        zs[i] = more;
        gs = ag_cat((ag_tensor *const[]){gs, ag_zeros_on(zs, gs->ndim, gs->dtype, ag_device_of(gs))}, 2, i);
    }
    return gs;
}

int ag__bw_scatter_add(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (n->needs[0]) gin[0] = ag_retain(g);
    if (n->needs[1] && !(gin[1] = src_grad(n->name, g, (int)n->p.i[0], n->saved[0], n->in_shape[1])))
        return ag_error_code();
    return 0;
}

static ag_tensor *scatter_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src);

/* t: g with the written places zeroed (a scatter of zeros); src: gather(g) */
int ag__bw_scatter(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *idx = n->saved[0];
    int d = (int)n->p.i[0];
    if (n->needs[0]) {
        ag_tensor *z = ag_zeros_on(idx->shape, idx->ndim, g->dtype, ag_device_of(g));
        if (!(gin[0] = scatter_impl(n->name, g, d, idx, z))) return ag_error_code();
    }
    if (n->needs[1] && !(gin[1] = src_grad(n->name, g, d, idx, n->in_shape[1]))) return ag_error_code();
    return 0;
}

/* torch's rules: one ndim; idx.size(d) <= t.size(d) for d != dim (and, with src, <= src.size(d)) */
static bool index_fits(const char *op, const ag_tensor *t, const ag_tensor *idx, const ag_tensor *src, int d) {
    bool ok = idx->ndim == t->ndim && (!src || src->ndim == t->ndim);
    for (int i = 0; ok && i < t->ndim; i++) {
        if (i != d && idx->shape[i] > t->shape[i]) ok = false;
        if (src && idx->shape[i] > src->shape[i]) ok = false;
    }
    if (ok) return true;
    if (src)
        ag_set_error(AG_ERR_SHAPE, "%s: index of shape %s does not fit tensor %s and source %s along dim %d "
                     "(expected one ndim, index sizes <= source sizes, and <= tensor sizes off dim)",
                     op, AG_SHP(idx), AG_SHP(t), AG_SHP(src), d);
    else
        ag_set_error(AG_ERR_SHAPE, "%s: index of shape %s does not fit a tensor of shape %s along dim %d "
                     "(expected one ndim and index sizes <= tensor sizes off dim)", op, AG_SHP(idx), AG_SHP(t), d);
    return false;
}

static ag_tensor *gather_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx) {
    if (!AG_NONNULL(op, t) || !AG_NONNULL_FROM(op, 3, idx)) return NULL;
    if (!check_index(op, t, idx)) return NULL;
    int d = ag__normalize_dim(op, dim, t->ndim);
    if (d < 0 || !index_fits(op, t, idx, NULL, d)) return NULL;
    NEED_KERNEL(op, t, gather);
    ag_kview xv = ag__view(idx);
    ag_tensor *r = gather_raw(op, t, d, &xv, idx->shape, idx->ndim, false);
    ag_op_params p = {.i = {d}};
    return ag__finish(r, op, AG_OP(GATHER), AG_IN(t), (ag_tensor *const[]){idx}, 1, &p);
}

/* the checks scatter and scatter_add share: the normalised dim, or -1 with the error set */
static int scatter_dim(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src) {
    if (!check_index(op, t, idx) || !ag__same_device(op, t, src)) return -1;
    if (src->dtype != t->dtype) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected src of dtype %s (as the tensor), given %s", op,
                     ag_dtype_name(t->dtype), ag_dtype_name(src->dtype));
        return -1;
    }
    if (t->dtype == AG_BOOL) return ag_set_error(AG_ERR_DTYPE, "%s: bool tensors are not supported", op), -1;
    int d = ag__normalize_dim(op, dim, t->ndim);
    return d < 0 || !index_fits(op, t, idx, src, d) ? -1 : d;
}

static ag_tensor *scatter_add_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src) {
    if (!AG_NONNULL(op, t) || !AG_NONNULL_FROM(op, 3, idx, src)) return NULL;
    int d = scatter_dim(op, t, dim, idx, src);
    if (d < 0) return NULL;
    NEED_KERNEL(op, t, scatter_add);
    ag_kview xv = ag__view(idx);
    ag_tensor *r = scatter_raw(op, t, d, &xv, src, false);
    ag_op_params p = {.i = {d}};
    return ag__finish(r, op, AG_OP(SCATTER_ADD), AG_IN(t, src), (ag_tensor *const[]){idx}, 1, &p);
}

/* torch.scatter (no reduction): a copy of t with src[p] written at (p with p[dim] <- idx[p]) */
static ag_tensor *scatter_impl(const char *op, ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src) {
    if (!AG_NONNULL(op, t) || !AG_NONNULL_FROM(op, 3, idx, src)) return NULL;
    int d = scatter_dim(op, t, dim, idx, src);
    if (d < 0) return NULL;
    NEED_KERNEL(op, t, scatter);
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview o = ag__view(r), vt = ag__view(t), xv = ag__view(idx), vs = ag__view(src);
    memcpy(vs.shape, xv.shape, sizeof vs.shape); /* src may be larger than the index: its leading part */
    if (ag__kernels(t)->copy(&o, &vt) < 0 || ag__kernels(t)->scatter(op, &o, &xv, &vs, d, false) < 0) {
        ag__drop(r);
        return NULL;
    }
    ag_op_params p = {.i = {d}};
    return ag__finish(r, op, AG_OP(SCATTER), AG_IN(t, src), (ag_tensor *const[]){idx}, 1, &p);
}

ag_tensor *ag_gather(ag_tensor *t, int dim, ag_tensor *idx) { return gather_impl("ag_gather", t, dim, idx); }
ag_tensor *ag_scatter(ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src) {
    return scatter_impl("ag_scatter", t, dim, idx, src);
}
ag_tensor *ag_scatter_add(ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src) {
    return scatter_add_impl("ag_scatter_add", t, dim, idx, src);
}

/* torch.index_add as a scatter_add whose index is idx broadcast along src's other dims (a
 * stride-0 view: nothing is materialised) */
ag_tensor *ag_index_add(ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src, double alpha) {
    const char *op = "ag_index_add";
    if (!AG_NONNULL(op, t) || !AG_NONNULL_FROM(op, 3, idx, src)) return NULL;
    if (!check_index(op, t, idx)) return NULL;
    int d = ag__normalize_dim(op, dim, t->ndim ? t->ndim : 1);
    if (d < 0) return NULL;
    int64_t n = idx->ndim ? idx->shape[0] : 1;
    bool ok = idx->ndim <= 1 && (t->ndim ? src->ndim == t->ndim : src->ndim <= 1);
    for (int i = 0; ok && i < src->ndim; i++) ok = src->shape[i] == (i == d ? n : t->shape[i]);
    if (!ok)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a 0-d or 1-d index and a source of the tensor's shape with "
                       "dim %d of the index's length, given tensor %s, index %s, source %s", op, d, AG_SHP(t),
                       AG_SHP(idx), AG_SHP(src));
    ag_scope_begin();
    int64_t ishp[AG_MAX_DIMS];
    for (int i = 0; i < src->ndim; i++) ishp[i] = i == d ? n : 1;
    ag_tensor *ix = src->ndim ? ag_expand(ag_reshape(idx, ishp, src->ndim), src->shape, src->ndim) : idx;
    ag_tensor *r = scatter_add_impl(op, t, d, ix, alpha == 1 ? src : ag_mul_s(src, alpha));
    ag_keep(r);
    ag_scope_end();
    return r;
}

/* ---- take -------------------------------------------------------------------------------- */
ag_tensor *ag_take(ag_tensor *t, ag_tensor *idx) {
    if (!AG_NONNULL("ag_take", t, idx)) return NULL;
    if (!check_index("ag_take", t, idx)) return NULL;
    ag_scope_begin();
    ag_tensor *flat = ag_reshape(t, AG_SHAPE(-1));
    ag_tensor *r = index_select_impl("ag_take", flat, 0, ag_reshape(idx, AG_SHAPE(-1)), true);
    r = ag_keep(ag_reshape(r, idx->shape, idx->ndim));
    ag_scope_end();
    return ag__ret(r);
}

/* ---- index_put ------------------------------------------------------------------------- */
/* t[indices[0], ..., indices[n-1]] = values (+= when accumulate), out of place: the indexed leading
 * dims are flattened into one, the broadcast indices into flat row numbers (each checked, negatives
 * wrapped, by an index_select of arange), then an index_add (accumulate) or a scatter of the rows. */
ag_tensor *ag_index_put(ag_tensor *t, ag_tensor *const *indices, int n, ag_tensor *values, bool accumulate) {
    const char *op = "ag_index_put";
    if (!AG_NONNULL(op, t)) return NULL;
    if (n < 1 || !indices || n > t->ndim)
        return ag_fail(AG_ERR_INVALID, "%s: expected 1..%d index tensors for a tensor of shape %s, given %d", op,
                       t->ndim, AG_SHP(t), n);
    for (int i = 0; i < n; i++) {
        if (!indices[i])
            return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: argument 2 (indices[%d]) is NULL", op, i);
        if (indices[i]->dtype != AG_I64)
            return ag_fail(AG_ERR_DTYPE, "%s: expected i64 index tensors, given %s (indices[%d])", op,
                           ag_dtype_name(indices[i]->dtype), i);
        if (!ag__same_device(op, t, indices[i])) return NULL;
    }
    if (!AG_NONNULL_FROM(op, 4, values)) return NULL;
    if (!ag__same_device(op, t, values)) return NULL;
    if (values->dtype != t->dtype)
        return ag_fail(AG_ERR_DTYPE, "%s: expected values of dtype %s (as the tensor), given %s", op,
                       ag_dtype_name(t->dtype), ag_dtype_name(values->dtype));
    if (t->dtype == AG_BOOL) return ag_fail(AG_ERR_DTYPE, "%s: bool tensors are not supported", op);
    int64_t bs[AG_MAX_DIMS];
    int nb = indices[0]->ndim;
    memcpy(bs, indices[0]->shape, sizeof bs);
    for (int i = 1; i < n; i++)
        if (!ag__broadcast_shapes(op, bs, nb, indices[i]->shape, indices[i]->ndim, bs, &nb)) return NULL;
    int rest = t->ndim - n;
    if (nb + rest > AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "%s: the indexed result would have %d dims, more than %d", op, nb + rest, AG_MAX_DIMS);
    int64_t want[AG_MAX_DIMS], nsel = ag__numel(bs, nb);
    memcpy(want, bs, (size_t)nb * sizeof *want);
    memcpy(want + nb, t->shape + n, (size_t)rest * sizeof *want);
    bool bc = values->ndim <= nb + rest;
    for (int i = 0; bc && i < values->ndim; i++) {
        int64_t v = values->shape[values->ndim - 1 - i], w = want[nb + rest - 1 - i];
        bc = v == w || v == 1;
    }
    if (!bc)
        return ag_fail(AG_ERR_SHAPE, "%s: values of shape %s cannot be broadcast to the indexed shape %s", op,
                       AG_SHP(values), ag_shape_str(want, nb + rest, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF));
    ag_device dev = ag_device_of(t);
    ag_scope_begin();
    /* flat row numbers in [0, L): sum of the wrapped indices times the row-major strides */
    ag_no_grad_begin();
    ag_tensor *rows = NULL;
    int64_t stride = 1;
    for (int i = n - 1; i >= 0; i--) {
        ag_tensor *flat = ag_reshape(ag_contiguous(ag_expand(indices[i], bs, nb)), AG_SHAPE(nsel));
        ag_tensor *ar = ag_arange_on(0, (double)t->shape[i], 1, AG_I64, dev);
        ag_tensor *w = flat && ar ? index_select_impl(op, ar, 0, flat, true) : NULL;
        if (!w && ag_error_code() == AG_ERR_INDEX) {
            /* the kernel named dim 0 of the arange: name indices[i] and the dim of t (the position
             * is in the flattened broadcast index) */
            char msg[512], pre[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            char *at = strstr(msg, " for dim 0 of size");
            if (at) {
                *at = 0;
                char *tail = strstr(at + 1, " of size ") + 9; /* the size's digits, then the rest */
                while (*tail >= '0' && *tail <= '9') tail++;
                snprintf(pre, sizeof pre, "%.200s for dim %d of size %lld (indices[%d])%.200s", msg, i,
                         (long long)t->shape[i], i, tail);
                ag_clear_error();
                ag_set_error(AG_ERR_INDEX, "%s", pre);
            }
        }
        if (!w) { rows = NULL; break; }
        if (stride != 1) w = ag_mul(w, ag_scalar_on((double)stride, AG_I64, dev));
        rows = rows ? ag_add(rows, w) : w;
        stride *= t->shape[i];
    }
    ag_no_grad_end();
    int64_t ts[AG_MAX_DIMS], vs[AG_MAX_DIMS];
    ts[0] = stride;
    vs[0] = nsel;
    memcpy(ts + 1, t->shape + n, (size_t)rest * sizeof *ts);
    memcpy(vs + 1, t->shape + n, (size_t)rest * sizeof *vs);
    ag_tensor *t2 = ag_reshape(t, ts, 1 + rest);
    ag_tensor *v2 = ag_reshape(ag_expand(values, want, nb + rest), vs, 1 + rest);
    ag_tensor *r2 = NULL;
    if (rows && t2 && v2) {
        if (accumulate) {
            r2 = index_add_impl(op, t2, 0, rows, v2, false);
        } else {
            int64_t one[AG_MAX_DIMS];
            one[0] = nsel;
            for (int i = 1; i <= rest; i++) one[i] = 1;
            ag_tensor *ix = ag_expand(ag_reshape(rows, one, 1 + rest), vs, 1 + rest);
            r2 = scatter_impl(op, t2, 0, ix, v2);
        }
    }
    ag_tensor *r = r2 ? ag_keep(ag_reshape(r2, t->shape, t->ndim)) : NULL;
    ag_scope_end();
    return ag__ret(r);
}

/* ---- nonzero, masked_select, masked_fill, mask assignment ---------------------------------- */
/* number of nonzero elements; -1 on error. The one host read of a value in these ops: ag_item waits
   for the device and transfers the count, which only ops whose shapes depend on the data call
   (nonzero and masked_select's result, mask_assign's selected rows, masked_scatter's src prefix). */
static int64_t count_nonzero(ag_tensor *t) {
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *s = ag_sum(ag_to_dtype(t, AG_BOOL), AG_ALL_DIMS, false);
    int64_t n = s ? (int64_t)ag_item(s) : -1;
    ag_no_grad_end();
    ag_scope_end();
    return n;
}

ag_tensor *ag_nonzero(ag_tensor *t) {
    if (!AG_NONNULL("ag_nonzero", t)) return NULL;
    NEED_KERNEL("ag_nonzero", t, nonzero);
    int64_t nnz = count_nonzero(t);
    if (nnz < 0) return NULL;
    ag_tensor *r = ag__new((int64_t[]){nnz, t->ndim}, 2, AG_I64, t->storage->dev, "ag_nonzero");
    if (!r) return NULL;
    ag_kview o = ag__view(r), vi = ag__view(t);
    if (ag__kernels(t)->nonzero(&o, &vi) < 0) { ag__drop(r); return NULL; }
    return ag__ret(r);
}

/* row-major flat positions of the true entries of mask (i64 [nnz]) */
static ag_tensor *mask_positions(ag_tensor *mask) {
    ag_tensor *nz = ag_nonzero(ag_reshape(mask, AG_SHAPE(-1)));
    return ag_reshape(nz, AG_SHAPE(-1));
}

ag_tensor *ag_masked_select(ag_tensor *t, ag_tensor *mask) {
    if (!AG_NONNULL("ag_masked_select", t, mask)) return NULL;
    if (!check_mask("ag_masked_select", t, mask)) return NULL;
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes("ag_masked_select", t->shape, t->ndim, mask->shape, mask->ndim, shp, &nd)) return NULL;
    ag_scope_begin();
    ag_tensor *pos = mask_positions(ag_expand(mask, shp, nd));
    ag_tensor *flat = ag_reshape(ag_expand(t, shp, nd), AG_SHAPE(-1));
    ag_tensor *r = ag_keep(index_select_impl("ag_masked_select", flat, 0, pos, false));
    ag_scope_end();
    return ag__ret(r);
}

ag_tensor *ag_masked_fill(ag_tensor *t, ag_tensor *mask, double value) {
    if (!AG_NONNULL("ag_masked_fill", t, mask)) return NULL;
    if (!check_mask("ag_masked_fill", t, mask)) return NULL;
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes("ag_masked_fill", t->shape, t->ndim, mask->shape, mask->ndim, shp, &nd)) return NULL;
    ag_scope_begin();
    ag_tensor *r = ag_keep(ag_where(mask, ag_scalar_like(t, value), t));
    ag_scope_end();
    return ag__ret(r);
}

ag_tensor *ag_mask_assign(ag_tensor *t, ag_tensor *mask, ag_tensor *values) {
    const char *op = "ag_mask_assign";
    if (!AG_NONNULL(op, t, mask, values)) return NULL;
    if (!check_mask(op, t, mask) || !ag__same_device(op, t, values)) return NULL;
    if (values->dtype != t->dtype)
        return ag_fail(AG_ERR_DTYPE, "%s: expected values of dtype %s (as the tensor), given %s", op,
                       ag_dtype_name(t->dtype), ag_dtype_name(values->dtype));
    int k = mask->ndim;
    bool fits = k <= t->ndim;
    for (int i = 0; fits && i < k; i++) fits = mask->shape[i] == t->shape[i];
    if (!fits)
        return ag_fail(AG_ERR_SHAPE, "%s: mask of shape %s does not match the leading dims of the tensor's shape %s",
                       op, AG_SHP(mask), AG_SHP(t));
    int nw = 1 + t->ndim - k;
    if (nw > AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "%s: a 0-d mask cannot index a %d-d tensor", op, t->ndim);
    int64_t nnz = count_nonzero(mask); /* host read: values broadcast to [nnz, ...], a data-dependent shape */
    if (nnz < 0) return NULL;
    int64_t want[AG_MAX_DIMS], rs[AG_MAX_DIMS], ms[AG_MAX_DIMS];
    want[0] = nnz;
    rs[0] = ag__numel(t->shape, k);
    ms[0] = rs[0];
    for (int i = k; i < t->ndim; i++) want[1 + i - k] = rs[1 + i - k] = t->shape[i], ms[1 + i - k] = 1;
    bool bc = values->ndim <= nw;
    for (int i = 0; bc && i < values->ndim; i++) {
        int64_t v = values->shape[values->ndim - 1 - i], w = want[nw - 1 - i];
        bc = v == w || v == 1;
    }
    if (!bc) {
        return ag_fail(AG_ERR_SHAPE, "%s: values of shape %s cannot be broadcast to the %lld selected entries, shape %s",
                       op, AG_SHP(values), (long long)nnz,
                       ag_shape_str(want, nw, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF));
    }
    ag_scope_begin();
    ag_tensor *t2 = ag_reshape(t, rs, nw);
    ag_tensor *m1 = ag_reshape(mask, rs, 1);
    ag_tensor *rows = mask_positions(m1);
    ag_tensor *vals = ag_expand(values, want, nw);
    ag_tensor *placed = index_add_impl(op, t2 ? ag_zeros_like(t2) : NULL, 0, rows, vals, false);
    ag_tensor *r = ag_where(ag_reshape(m1, ms, nw), placed, t2);
    r = ag_keep(ag_reshape(r, t->shape, t->ndim));
    ag_scope_end();
    return ag__ret(r);
}

ag_tensor *ag_masked_scatter(ag_tensor *t, ag_tensor *mask, ag_tensor *src) {
    const char *op = "ag_masked_scatter";
    if (!AG_NONNULL(op, t, mask, src)) return NULL;
    if (!check_mask(op, t, mask) || !ag__same_device(op, t, src)) return NULL;
    if (src->dtype != t->dtype)
        return ag_fail(AG_ERR_DTYPE, "%s: expected src of dtype %s (as the tensor), given %s", op,
                       ag_dtype_name(t->dtype), ag_dtype_name(src->dtype));
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes(op, t->shape, t->ndim, mask->shape, mask->ndim, shp, &nd)) return NULL;
    if (nd != t->ndim || memcmp(shp, t->shape, (size_t)nd * sizeof *shp))
        return ag_fail(AG_ERR_SHAPE, "%s: mask of shape %s does not broadcast to the tensor's shape %s", op,
                       AG_SHP(mask), AG_SHP(t));
    ag_scope_begin();
    ag_tensor *m = ag_contiguous(ag_expand(mask, t->shape, t->ndim));
    /* host read: src's first nnz elements are placed, so the slice length (and the check that src
       holds enough) depend on the data */
    int64_t nnz = m ? count_nonzero(m) : -1;
    ag_tensor *r = NULL;
    if (nnz > ag_numel(src))
        ag_set_error(AG_ERR_SHAPE, "%s: src has %lld elements, fewer than the %lld selected", op,
                     (long long)ag_numel(src), (long long)nnz);
    else if (nnz >= 0)
        r = ag_keep(ag_mask_assign(t, m, ag_slice(ag_reshape(src, AG_SHAPE(-1)), 0, 0, nnz, 1)));
    ag_scope_end();
    return ag__ret(r);
}

/* ---- cat, stack, split, chunk ---------------------------------------------------------- */
int ag__bw_cat(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int d = (int)n->p.i[0];
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t len = n->in_shape[k][d];
        if (n->needs[k]) gin[k] = ag_narrow(g, d, off, len);
        off += len;
    }
    return 0;
}

static int record_cat(ag_tensor *r, ag_tensor *const *in, int n, int d) {
    ag_op_params p = {.i = {d}};
    return ag__record(r, "ag_cat", AG_OP(CAT), in, n, NULL, 0, &p);
}

ag_tensor *ag_cat(ag_tensor *const *tensors, int n, int dim) {
    const char *op = "ag_cat";
    if (n < 1 || !tensors) return ag_fail(AG_ERR_INVALID, "ag_cat: expected at least one tensor, given %d", n);
    for (int i = 0; i < n; i++)
        if (!tensors[i]) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "ag_cat: argument 1 (tensors[%d]) is NULL", i);
    ag_tensor **in = malloc((size_t)n * sizeof *in);
    if (!in) return ag_fail(AG_ERR_NOMEM, "ag_cat: out of memory");
    /* 1-d empty tensors are skipped, as PyTorch (all empty: the first one is the result's model) */
    int m = 0, first = -1;
    bool all_empty = true;
    for (int i = 0; i < n; i++) all_empty = all_empty && tensors[i]->ndim == 1 && tensors[i]->shape[0] == 0;
#define CAT_SKIPPED(i) (tensors[i]->ndim == 1 && tensors[i]->shape[0] == 0 && !(all_empty && (i) == 0))
    for (int i = 0; i < n; i++) {
        if (CAT_SKIPPED(i)) continue;
        if (first < 0) first = i;
        in[m++] = tensors[i];
    }
    ag_tensor *ref = in[0], *r = NULL;
    int d = -1;
    if (ref->ndim == 0) {
        ag_set_error(AG_ERR_SHAPE, "ag_cat: input %d is 0-d; 0-d tensors cannot be concatenated (use ag_stack)", first);
        goto done;
    }
    if ((d = ag__normalize_dim(op, dim, ref->ndim)) < 0) goto done;
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, ref->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        ag_tensor *x = tensors[i];
        if (CAT_SKIPPED(i)) continue;
        if (!ag__same_device(op, ref, x)) goto done;
        if (x->dtype != ref->dtype) {
            ag_set_error(AG_ERR_DTYPE, "ag_cat: expected tensors of one dtype, given %s (input %d) and %s (input %d)",
                         ag_dtype_name(ref->dtype), first, ag_dtype_name(x->dtype), i);
            goto done;
        }
        bool ok = x->ndim == ref->ndim;
        for (int k = 0; ok && k < ref->ndim; k++) ok = k == d || x->shape[k] == ref->shape[k];
        if (!ok) {
            ag_set_error(AG_ERR_SHAPE, "ag_cat: input %d has shape %s, expected %s except along dim %d (input %d)",
                         i, AG_SHP(x), AG_SHP(ref), dim, first);
            goto done;
        }
        shape[d] += x->shape[d];
    }
    if (!ag__kernels(ref)->copy) {
        ag_set_error(AG_ERR_NOTIMPL, "ag_cat: not implemented for %s", ag__kernels(ref)->name);
        goto done;
    }
    r = ag__new(shape, ref->ndim, ref->dtype, ref->storage->dev, op);
    if (!r) goto done;
    int64_t off = 0;
    size_t es = ag_dtype_size(r->dtype);
    for (int i = 0; i < m; i++) {
        ag_kview o = ag__view(r), vi = ag__view(in[i]);
        o.data = (char *)o.data + (size_t)(off * r->strides[d]) * es;
        o.shape[d] = in[i]->shape[d];
        off += in[i]->shape[d];
        if (o.shape[d] && ag__kernels(r)->copy(&o, &vi) < 0) { ag__drop(r); r = NULL; goto done; }
    }
    if (ag__needs_grad(in, m) && record_cat(r, in, m, d) < 0) { ag__drop(r); r = NULL; }
done:
    free(in);
    return r ? ag__ret(r) : NULL;
}

ag_tensor *ag_stack(ag_tensor *const *tensors, int n, int dim) {
    if (n < 1 || !tensors) return ag_fail(AG_ERR_INVALID, "ag_stack: expected at least one tensor, given %d", n);
    for (int i = 0; i < n; i++)
        if (!tensors[i]) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "ag_stack: argument 1 (tensors[%d]) is NULL", i);
    const ag_tensor *ref = tensors[0];
    for (int i = 1; i < n; i++) {
        const ag_tensor *x = tensors[i];
        if (x->ndim != ref->ndim || memcmp(x->shape, ref->shape, sizeof x->shape))
            return ag_fail(AG_ERR_SHAPE, "ag_stack: expected tensors of one shape, given %s (input 0) and %s (input %d)",
                           AG_SHP(ref), AG_SHP(x), i);
    }
    if (ref->ndim >= AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "ag_stack: expected fewer than %d dims, given %d", AG_MAX_DIMS, ref->ndim);
    int d = ag__normalize_dim("ag_stack", dim, ref->ndim + 1);
    if (d < 0) return NULL;
    ag_tensor **u = malloc((size_t)n * sizeof *u);
    if (!u) return ag_fail(AG_ERR_NOMEM, "ag_stack: out of memory");
    ag_scope_begin();
    for (int i = 0; i < n; i++) u[i] = ag_unsqueeze(tensors[i], d);
    ag_tensor *r = NULL;
    bool ok = true;
    for (int i = 0; i < n; i++) ok = ok && u[i];
    if (ok) r = ag_keep(ag_cat(u, n, d));
    ag_scope_end();
    free(u);
    return ag__ret(r);
}

static int pieces(const char *op, ag_tensor *t, int64_t size, int dim, ag_tensor **out, int *count) {
    if (!count) return ag_set_error(AG_ERR_INVALID, "%s: count is NULL", op);
    int cap = *count;
    *count = 0;
    if (!AG_NONNULL(op, t)) return ag_error_code();
    if (t->ndim == 0) return ag_set_error(AG_ERR_SHAPE, "%s: expected a tensor with at least 1 dim, given a 0-d tensor", op);
    int d = ag__normalize_dim(op, dim, t->ndim);
    if (d < 0) return ag_error_code();
    int64_t len = t->shape[d];
    int64_t np = len == 0 ? 1 : (len + size - 1) / size;
    if (np > INT32_MAX) return ag_set_error(AG_ERR_INVALID, "%s: %lld pieces are too many", op, (long long)np);
    if (!out) { *count = (int)np; return 0; }
    if (np > cap)
        return ag_set_error(AG_ERR_INVALID, "%s: %lld pieces do not fit the output array of %d", op, (long long)np, cap);
    for (int64_t i = 0; i < np; i++) {
        int64_t start = i * size, l = len - start < size ? len - start : size;
        out[i] = ag_narrow(t, d, start, l);
        if (!out[i]) {
            for (int64_t j = 0; j < i; j++) { ag_release(out[j]); out[j] = NULL; }
            return ag_error_code();
        }
    }
    *count = (int)np;
    return 0;
}

int ag_split(ag_tensor *t, int64_t size, int dim, ag_tensor **out, int *count) {
    if (t && size <= 0) {
        if (count) *count = 0;
        return ag_set_error(AG_ERR_INVALID, "ag_split: expected size > 0, given %lld", (long long)size);
    }
    return pieces("ag_split", t, size, dim, out, count);
}

int ag_chunk(ag_tensor *t, int chunks, int dim, ag_tensor **out, int *count) {
    if (t && chunks <= 0) {
        if (count) *count = 0;
        return ag_set_error(AG_ERR_INVALID, "ag_chunk: expected chunks > 0, given %d", chunks);
    }
    int64_t size = 1;
    if (t && t->ndim > 0) {
        int d = ag__normalize_dim("ag_chunk", dim, t->ndim);
        if (d < 0) { if (count) *count = 0; return ag_error_code(); }
        int64_t len = t->shape[d];
        size = len == 0 ? 1 : (len + chunks - 1) / chunks;
    }
    return pieces("ag_chunk", t, size, dim, out, count);
}

/* ---- flip, roll, diff ------------------------------------------------------------------- */
static ag_tensor *flip_mask(ag_tensor *t, unsigned mask);

int ag__bw_flip(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = flip_mask(g, (unsigned)n->p.i[0]);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *flip_mask(ag_tensor *t, unsigned mask) {
    NEED_KERNEL("ag_flip", t, copy);
    ag_tensor *a = ag__alias(t); /* reversed view: negative strides, never handed out */
    if (!a) return NULL;
    for (int d = 0; d < t->ndim; d++) {
        if (!(mask >> d & 1) || t->shape[d] == 0) continue;
        a->offset += (t->shape[d] - 1) * t->strides[d];
        a->strides[d] = -t->strides[d];
    }
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, "ag_flip");
    if (r) {
        ag_kview o = ag__view(r), vi = ag__view(a);
        if (ag__kernels(t)->copy(&o, &vi) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(a);
    ag_op_params p = {.i = {mask}};
    return ag__finish(r, "ag_flip", AG_OP(FLIP), AG_IN(t), AG_NONE, &p);
}

ag_tensor *ag_flip(ag_tensor *t, const int *dims, int n) {
    if (!AG_NONNULL("ag_flip", t)) return NULL;
    if (n < 0 || (n > 0 && !dims)) return ag_fail(AG_ERR_INVALID, "ag_flip: invalid dims list (n=%d)", n);
    unsigned mask = 0;
    for (int i = 0; i < n; i++) {
        int d = ag__normalize_dim("ag_flip", dims[i], t->ndim);
        if (d < 0) return NULL;
        if (t->ndim == 0) continue;
        if (mask >> d & 1) return ag_fail(AG_ERR_INVALID, "ag_flip: dim %d appears more than once", dims[i]);
        mask |= 1u << d;
    }
    return flip_mask(t, mask);
}

ag_tensor *ag_roll(ag_tensor *t, const int64_t *shifts, const int *dims, int n) {
    if (!AG_NONNULL("ag_roll", t)) return NULL;
    if (n < 1 || !shifts) return ag_fail(AG_ERR_INVALID, "ag_roll: expected at least one shift, given %d", n);
    if (!dims && n != 1)
        return ag_fail(AG_ERR_INVALID, "ag_roll: without dims, expected exactly one shift, given %d", n);
    for (int i = 0; dims && i < n; i++)
        if (ag__normalize_dim("ag_roll", dims[i], t->ndim) < 0) return NULL;
    ag_scope_begin();
    ag_tensor *x = dims ? t : ag_reshape(t, AG_SHAPE(-1));
    bool moved = false;
    for (int i = 0; i < n && x; i++) {
        int d = dims ? ag__normalize_dim("ag_roll", dims[i], t->ndim) : 0;
        if (x->ndim == 0) continue;
        int64_t len = x->shape[d];
        if (len == 0) continue;
        int64_t s = ((shifts[i] % len) + len) % len;
        if (s == 0) continue;
        ag_tensor *parts[2] = {ag_narrow(x, d, len - s, s), ag_narrow(x, d, 0, len - s)};
        x = parts[0] && parts[1] ? ag_cat(parts, 2, d) : NULL;
        moved = true;
    }
    if (x && !moved) x = ag_clone(x);
    if (x && !dims) x = ag_reshape(x, t->shape, t->ndim);
    ag_tensor *r = ag_keep(x);
    ag_scope_end();
    return ag__ret(r);
}

ag_tensor *ag_diff(ag_tensor *t, int n, int dim) {
    if (!AG_NONNULL("ag_diff", t)) return NULL;
    if (n < 0) return ag_fail(AG_ERR_INVALID, "ag_diff: expected order n >= 0, given %d", n);
    if (t->ndim == 0) return ag_fail(AG_ERR_SHAPE, "ag_diff: expected a tensor with at least 1 dim, given a 0-d tensor");
    int d = ag__normalize_dim("ag_diff", dim, t->ndim);
    if (d < 0) return NULL;
    if (n == 0) return ag__identity(t, "ag_diff");
    ag_scope_begin();
    ag_tensor *x = t;
    for (int i = 0; i < n && x; i++) {
        int64_t len = x->shape[d];
        if (len <= 1) { x = ag_narrow(x, d, 0, 0); break; }
        ag_tensor *hi = ag_narrow(x, d, 1, len - 1), *lo = ag_narrow(x, d, 0, len - 1);
        x = x->dtype == AG_BOOL ? ag_ne(hi, lo) : ag_sub(hi, lo); /* bool: xor, as PyTorch */
    }
    if (x && x->storage == t->storage) x = ag_clone(x); /* an empty narrow of t: a fresh tensor */
    ag_tensor *r = ag_keep(x);
    ag_scope_end();
    return ag__ret(r);
}

/* ---- cumsum ------------------------------------------------------------------------------- */
static ag_tensor *cumsum_impl(ag_tensor *t, int dim, bool reverse);

int ag__bw_cumsum(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = cumsum_impl(g, (int)n->p.i[0], !n->p.i[1]);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *cumsum_impl(ag_tensor *t, int dim, bool reverse) {
    if (!AG_NONNULL("ag_cumsum", t)) return NULL;
    int d = ag__normalize_dim("ag_cumsum", dim, t->ndim);
    if (d < 0) return NULL;
    NEED_KERNEL("ag_cumsum", t, cumsum);
    ag_dtype dt = ag_dtype_is_float(t->dtype) ? t->dtype : AG_I64;
    ag_tensor *c = ag__cast(t, dt);
    ag_tensor *r = c ? ag__new(t->shape, t->ndim, dt, t->storage->dev, "ag_cumsum") : NULL;
    if (r) {
        ag_kview o = ag__view(r), vi = ag__view(c);
        if (ag__kernels(t)->cumsum(&o, &vi, t->ndim ? d : 0, reverse) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(c);
    ag_op_params p = {.i = {d, reverse}};
    return ag__finish(r, "ag_cumsum", AG_OP(CUMSUM), AG_IN(t), AG_NONE, &p);
}

ag_tensor *ag_cumsum(ag_tensor *t, int dim) { return cumsum_impl(t, dim, false); }

/* ---- tril, triu ------------------------------------------------------------------------- */
static ag_tensor *triangle(const char *op, ag_tensor *t, int64_t k, bool lower) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (t->ndim < 2) return ag_fail(AG_ERR_SHAPE, "%s: expected a tensor with at least 2 dims, given shape %s", op, AG_SHP(t));
    int64_t m = t->shape[t->ndim - 2], n = t->shape[t->ndim - 1];
    ag_scope_begin();
    ag_no_grad_begin();
    ag_device dev = ag_device_of(t);
    ag_tensor *rows = ag_reshape(ag_arange_on(0, (double)m, 1, AG_I64, dev), AG_SHAPE(m, 1));
    ag_tensor *cols = ag_reshape(ag_arange_on(0, (double)n, 1, AG_I64, dev), AG_SHAPE(1, n));
    ag_tensor *off = ag_sub(cols, rows), *kk = ag_scalar_on((double)k, AG_I64, dev);
    ag_tensor *keep = lower ? ag_le(off, kk) : ag_ge(off, kk);
    ag_tensor *zero = ag_scalar_like(t, 0);
    ag_no_grad_end();
    ag_tensor *r = ag_keep(ag_where(keep, t, zero));
    ag_scope_end();
    return ag__ret(r);
}

ag_tensor *ag_tril(ag_tensor *t, int64_t k) { return triangle("ag_tril", t, k, true); }
ag_tensor *ag_triu(ag_tensor *t, int64_t k) { return triangle("ag_triu", t, k, false); }

/* ---- diag, trace -------------------------------------------------------------------------- */
/* 1-d v -> [m, m] (m = n + |k|) with v on diagonal k: v scattered into flat zeros at the
 * diagonal's positions; 2-d -> diagonal k as a new 1-d tensor: a stepped slice of the
 * flattened matrix, copied (torch.diag is not a view). Gradients come from scatter_add/slice. */
ag_tensor *ag_diag(ag_tensor *t, int64_t k) {
    if (!AG_NONNULL("ag_diag", t)) return NULL;
    if (t->ndim != 1 && t->ndim != 2)
        return ag_fail(AG_ERR_SHAPE, "ag_diag: expected a 1-d or 2-d tensor, given shape %s", AG_SHP(t));
    ag_device dev = ag_device_of(t);
    ag_scope_begin();
    ag_tensor *x;
    if (t->ndim == 1) {
        int64_t n = t->shape[0], a = k < 0 ? -k : k, m = n + a;
        int64_t start = k >= 0 ? k : a * m;
        ag_tensor *idx = ag_arange_on((double)start, (double)(start + n * (m + 1)), (double)(m + 1), AG_I64, dev);
        ag_tensor *z = ag_zeros_on(AG_SHAPE(m * m), t->dtype, dev);
        x = ag_reshape(ag_scatter_add(z, 0, idx, t), AG_SHAPE(m, m));
    } else {
        int64_t r = t->shape[0], c = t->shape[1];
        int64_t cnt = k >= 0 ? (r < c - k ? r : c - k) : (r + k < c ? r + k : c);
        if (cnt < 0) cnt = 0;
        int64_t start = cnt ? (k >= 0 ? k : -k * c) : 0, end = cnt ? start + (cnt - 1) * (c + 1) + 1 : 0;
        x = ag_clone(ag_slice(ag_reshape(t, AG_SHAPE(r * c)), 0, start, end, c + 1));
    }
    ag_tensor *r = ag_keep(x);
    ag_scope_end();
    return ag__ret(r);
}

ag_tensor *ag_trace(ag_tensor *t) {
    if (!AG_NONNULL("ag_trace", t)) return NULL;
    if (t->ndim != 2) return ag_fail(AG_ERR_SHAPE, "ag_trace: expected a 2-d tensor, given shape %s", AG_SHP(t));
    ag_scope_begin();
    ag_tensor *r = ag_keep(ag_sum(ag_diag(t, 0), AG_ALL_DIMS, false));
    ag_scope_end();
    return ag__ret(r);
}

/* ---- meshgrid ----------------------------------------------------------------------------- */
/* out[i] = tensors[i] reshaped to lie along its dim of the grid, expanded (a view, as PyTorch);
 * "xy" swaps the first two grid dims. */
int ag_meshgrid(ag_tensor *const *tensors, int n, ag_indexing indexing, ag_tensor **out) {
    const char *op = "ag_meshgrid";
    if (n < 1 || n > AG_MAX_DIMS || !tensors)
        return ag_set_error(AG_ERR_INVALID, "ag_meshgrid: expected 1..%d tensors, given %d", AG_MAX_DIMS, n);
    for (int i = 0; i < n; i++)
        if (!tensors[i]) return ag_failed() ? ag_error_code()
                                            : ag_set_error(AG_ERR_INVALID, "ag_meshgrid: argument 1 (tensors[%d]) is NULL", i);
    if (!out) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_meshgrid: argument 4 (out) is NULL");
    if (indexing != AG_INDEXING_IJ && indexing != AG_INDEXING_XY)
        return ag_set_error(AG_ERR_INVALID, "ag_meshgrid: expected AG_INDEXING_IJ or AG_INDEXING_XY, given %d", (int)indexing);
    int64_t shape[AG_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        const ag_tensor *t = tensors[i];
        if (t->ndim > 1)
            return ag_set_error(AG_ERR_SHAPE, "ag_meshgrid: expected 0-d or 1-d tensors, given shape %s at %d", AG_SHP(t), i);
        if (t->dtype != tensors[0]->dtype)
            return ag_set_error(AG_ERR_DTYPE, "ag_meshgrid: expected tensors of one dtype, given %s at 0 and %s at %d",
                                ag_dtype_name(tensors[0]->dtype), ag_dtype_name(t->dtype), i);
        if (!ag__same_device(op, tensors[0], t)) return ag_error_code();
        shape[i] = t->ndim ? t->shape[0] : 1;
    }
    bool swap = indexing == AG_INDEXING_XY && n >= 2;
    if (swap) { int64_t s = shape[0]; shape[0] = shape[1]; shape[1] = s; }
    ag_scope_begin();
    int rc = 0, i;
    for (i = 0; i < n; i++) {
        int d = swap && i < 2 ? 1 - i : i;
        int64_t vs[AG_MAX_DIMS];
        for (int j = 0; j < n; j++) vs[j] = j == d ? shape[d] : 1;
        out[i] = ag_keep(ag_expand(ag_reshape(tensors[i], vs, n), shape, n));
        if (!out[i]) { rc = ag_error_code(); break; }
    }
    ag_scope_end();
    if (rc) {
        for (int j = 0; j < i; j++) ag_release(out[j]);
        return rc;
    }
    for (i = 0; i < n; i++) out[i] = ag__ret(out[i]);
    return 0;
}

/* ---- cumprod ------------------------------------------------------------------------------ */
/* Composed: an inclusive scan in ceil(log2 len) steps (Hillis-Steele), each y[s:] *= y[:-s]
 * along dim, so the gradient is the chain rule through products and slices: exact where the
 * input has zeros (PyTorch's formula needs a special case there), and differentiable again. */
ag_tensor *ag_cumprod(ag_tensor *t, int dim) {
    if (!AG_NONNULL("ag_cumprod", t)) return NULL;
    int d = ag__normalize_dim("ag_cumprod", dim, t->ndim);
    if (d < 0) return NULL;
    ag_scope_begin();
    ag_tensor *y = ag_dtype_is_float(t->dtype) || t->dtype == AG_I64 ? t : ag_to_dtype(t, AG_I64);
    int64_t len = t->ndim ? t->shape[d] : 1;
    for (int64_t s = 1; s < len && y; s *= 2) {
        ag_tensor *head = ag_narrow(y, d, 0, s);
        ag_tensor *tail = ag_mul(ag_narrow(y, d, s, len - s), ag_narrow(y, d, 0, len - s));
        y = ag_cat((ag_tensor *const[]){head, tail}, 2, d);
    }
    if (y && y->storage == t->storage) y = ag_clone(y); /* nothing to scan: a fresh tensor */
    ag_tensor *r = ag_keep(y);
    ag_scope_end();
    return ag__ret(r);
}

/* ---- repeat, tile --------------------------------------------------------------------------- */
static ag_tensor *repeat_impl(const char *op, ag_tensor *t, const int64_t *repeats, int n) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (n < t->ndim || n > AG_MAX_DIMS || (n > 0 && !repeats))
        return ag_fail(AG_ERR_INVALID, "%s: expected %d..%d repeats for a tensor of shape %s, given %d", op,
                       t->ndim, AG_MAX_DIMS, AG_SHP(t), n);
    for (int i = 0; i < n; i++)
        if (repeats[i] < 0) return ag_fail(AG_ERR_INVALID, "%s: expected repeats >= 0, given %lld at %d", op,
                                           (long long)repeats[i], i);
    int64_t shape[AG_MAX_DIMS];
    for (int i = 0; i < n; i++) shape[i] = i < n - t->ndim ? 1 : t->shape[i - (n - t->ndim)];
    ag_scope_begin();
    ag_tensor *x = ag_reshape(t, shape, n);
    bool copied = false;
    for (int d = 0; d < n && x; d++) {
        if (repeats[d] == 1) continue;
        int64_t len = shape[d], r = repeats[d];
        /* index 0..len-1 repeated r times: a gather along d */
        ag_tensor *ar = ag_reshape(ag_arange_on(0, (double)len, 1, AG_I64, ag_device_of(t)), AG_SHAPE(1, len));
        ag_tensor *idx = ag_contiguous(ag_expand(ar, AG_SHAPE(r, len)));
        idx = ag_reshape(idx, AG_SHAPE(r * len));
        x = index_select_impl(op, x, d, idx, false);
        copied = true;
    }
    if (x && !copied) x = ag_clone(x);
    ag_tensor *res = ag_keep(x);
    ag_scope_end();
    return ag__ret(res);
}

ag_tensor *ag_repeat(ag_tensor *t, const int64_t *repeats, int n) { return repeat_impl("ag_repeat", t, repeats, n); }

ag_tensor *ag_tile(ag_tensor *t, const int64_t *reps, int n) {
    if (!AG_NONNULL("ag_tile", t)) return NULL;
    if (n < 0 || n > AG_MAX_DIMS || (n > 0 && !reps))
        return ag_fail(AG_ERR_INVALID, "ag_tile: expected at most %d reps, given %d", AG_MAX_DIMS, n);
    int64_t full[AG_MAX_DIMS];
    int m = n > t->ndim ? n : t->ndim;
    for (int i = 0; i < m; i++) full[i] = i < m - n ? 1 : reps[i - (m - n)];
    return repeat_impl("ag_tile", t, full, m);
}

/* ---- one_hot ------------------------------------------------------------------------------- */
ag_tensor *ag_one_hot(ag_tensor *idx, int64_t num_classes) {
    const char *op = "ag_one_hot";
    if (!AG_NONNULL(op, idx)) return NULL;
    if (idx->dtype != AG_I64)
        return ag_fail(AG_ERR_DTYPE, "%s: expected an i64 index tensor, given %s", op, ag_dtype_name(idx->dtype));
    if (idx->ndim >= AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "%s: expected fewer than %d dims, given %d", op, AG_MAX_DIMS, idx->ndim);
    NEED_KERNEL(op, idx, scatter_add);
    if (num_classes < 0) {
        if (ag_numel(idx) == 0)
            return ag_fail(AG_ERR_INVALID, "%s: cannot infer the number of classes from an empty index", op);
        ag_tensor *mx = ag_amax(idx, AG_ALL_DIMS, false);
        if (!mx) return NULL;
        num_classes = (int64_t)ag_item(mx) + 1; /* host read: the result's shape depends on the data */
        ag_release(mx);
        if (num_classes < 1) num_classes = 1; /* all negative: the kernel names the first bad one */
    }
    int nd = idx->ndim + 1;
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, idx->shape, (size_t)idx->ndim * sizeof *shape);
    shape[nd - 1] = num_classes;
    ag_tensor *r = ag__new(shape, nd, AG_I64, idx->storage->dev, op);
    ag_tensor *one = r ? ag__new(NULL, 0, AG_I64, idx->storage->dev, op) : NULL;
    if (!one) { ag__drop(r); return NULL; }
    const ag_kernels *k = ag__kernels(idx);
    ag_kview o = ag__view(r), vo = ag__view(one), xv = ag__view(idx);
    int rc = k->fill(&o, 0, 0);
    if (rc == 0) rc = k->fill(&vo, 1, 0);
    /* the index as [..., 1] and a broadcast 1 as the source, scattered along the class dim */
    xv.ndim = vo.ndim = nd;
    xv.shape[nd - 1] = 1;
    xv.strides[nd - 1] = 0;
    memcpy(vo.shape, xv.shape, sizeof vo.shape);
    memset(vo.strides, 0, sizeof vo.strides);
    if (rc == 0) rc = k->scatter_add(op, &o, &xv, &vo, nd - 1, false);
    ag__drop(one);
    if (rc < 0) { ag__drop(r); return NULL; }
    return ag__ret(r);
}
