/* tensor/view.c — views that share storage (reshape/view, permute, transpose, squeeze,
 * unsqueeze, slice, narrow, select, expand, real/imag, view_as_real/view_as_complex) and their
 * backward rules. */
#include <string.h>

#include "tensor/internal.h"

/* Finish a view: record its node when needed and register it in the scope. */
static ag_tensor *finish(ag_tensor *r, ag_tensor *src, const char *op, const ag_opdef *bw, const ag_op_params *p) {
    if (!r) return NULL;
    if (ag__needs_grad(AG_IN(src)) && ag__record(r, op, bw, AG_IN(src), AG_NONE, p) < 0) {
        ag__drop(r);
        return NULL;
    }
    return ag__ret(r);
}

int ag__bw_identity(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    gin[0] = ag_retain(g);
    return 0;
}

/* A new tensor struct over t's storage, linked to t in the graph. Ops that would return their
 * input unchanged return this instead, so every result is a fresh reference of its own (a
 * second reference to a scope-owned struct could not be told apart from the scope's). */
ag_tensor *ag__identity(ag_tensor *t, const char *op) {
    return finish(ag__alias(t), t, op, AG_OP(ALIAS), NULL);
}

int ag__bw_reshape(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = ag_reshape(g, n->in_shape[0], n->in_ndim[0]);
    return 0;
}

/* Resolve one -1 and check the element count. */
static bool infer_shape(const char *op, const ag_tensor *t, const int64_t *shape, int ndim, int64_t *out) {
    if (ndim < 0 || ndim > AG_MAX_DIMS) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected 0 to %d dims, given %d", op, AG_MAX_DIMS, ndim);
        return false;
    }
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) { ag_set_error(AG_ERR_SHAPE, "%s: only one dim can be -1", op); return false; }
            infer = i;
        } else if (shape[i] < 0) {
            ag_set_error(AG_ERR_SHAPE, "%s: invalid size %lld", op, (long long)shape[i]);
            return false;
        } else {
            known *= shape[i];
        }
        out[i] = shape[i];
    }
    int64_t n = ag_numel(t);
    if (infer >= 0) {
        if (known == 0 || n % known) goto bad;
        out[infer] = n / known;
    } else if (known != n) {
        goto bad;
    }
    return true;
bad:
    ag_set_error(AG_ERR_SHAPE, "%s: shape %s is invalid for a tensor of %lld elements (shape %s)", op,
                 ag_shape_str(shape, ndim, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF), (long long)n, AG_SHP(t));
    return false;
}

/* Strides for viewing t as shape without a copy, as PyTorch's computeStride; false if impossible. */
static bool view_strides(const ag_tensor *t, const int64_t *shape, int ndim, int64_t *strides) {
    if (ag_numel(t) == 0 || t->ndim == 0) { ag__contiguous_strides(shape, ndim, strides); return true; }
    int view_d = ndim - 1;
    int64_t chunk_base = t->strides[t->ndim - 1], tensor_numel = 1, view_numel = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tensor_numel *= t->shape[d];
        if (d == 0 || (t->shape[d - 1] != 1 && t->strides[d - 1] != tensor_numel * chunk_base)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                strides[view_d] = view_numel * chunk_base;
                view_numel *= shape[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base = t->strides[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

static ag_tensor *make_view(ag_tensor *t, const int64_t *shape, int ndim, const int64_t *strides) {
    ag_tensor *r = ag__alias(t);
    if (!r) return NULL;
    r->ndim = ndim;
    memset(r->shape, 0, sizeof r->shape);
    memset(r->strides, 0, sizeof r->strides);
    memcpy(r->shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(r->strides, strides, (size_t)ndim * sizeof *strides);
    return r;
}

ag_tensor *ag_view(ag_tensor *t, const int64_t *shape, int ndim) {
    if (!AG_NONNULL("ag_view", t)) return NULL;
    int64_t s[AG_MAX_DIMS], st[AG_MAX_DIMS];
    if (!infer_shape("ag_view", t, shape, ndim, s)) return NULL;
    if (!view_strides(t, s, ndim, st))
        return ag_fail(AG_ERR_SHAPE, "ag_view: a tensor of shape %s with these strides cannot be viewed "
                       "as %s without a copy; use ag_reshape", AG_SHP(t),
                       ag_shape_str(s, ndim, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF));
    return finish(make_view(t, s, ndim, st), t, "ag_view", AG_OP(RESHAPE), NULL);
}

ag_tensor *ag_reshape(ag_tensor *t, const int64_t *shape, int ndim) {
    if (!AG_NONNULL("ag_reshape", t)) return NULL;
    int64_t s[AG_MAX_DIMS], st[AG_MAX_DIMS];
    if (!infer_shape("ag_reshape", t, shape, ndim, s)) return NULL;
    if (view_strides(t, s, ndim, st)) return finish(make_view(t, s, ndim, st), t, "ag_reshape", AG_OP(RESHAPE), NULL);
    ag_tensor *c = ag_contiguous(t);
    if (!c) return NULL;
    ag__contiguous_strides(s, ndim, st);
    ag_tensor *r = finish(make_view(c, s, ndim, st), c, "ag_reshape", AG_OP(RESHAPE), NULL);
    ag_release(c);
    return r;
}

ag_tensor *ag_flatten(ag_tensor *t) {
    if (!AG_NONNULL("ag_flatten", t)) return NULL;
    int64_t n = ag_numel(t);
    return ag_reshape(t, &n, 1);
}

int ag__bw_permute(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int inv[AG_MAX_DIMS];
    for (int i = 0; i < n->out_ndim; i++) inv[n->p.i[i]] = i;
    gin[0] = ag_permute(g, inv, n->out_ndim);
    return 0;
}

ag_tensor *ag_permute(ag_tensor *t, const int *dims, int ndim) {
    if (!AG_NONNULL("ag_permute", t)) return NULL;
    if (ndim != t->ndim || (ndim && !dims))
        return ag_fail(AG_ERR_SHAPE, "ag_permute: expected %d dims for a tensor of shape %s, given %d",
                       t->ndim, AG_SHP(t), ndim);
    bool seen[AG_MAX_DIMS] = {0};
    int64_t s[AG_MAX_DIMS], st[AG_MAX_DIMS];
    ag_op_params p = {0};
    for (int i = 0; i < ndim; i++) {
        int d = ag__normalize_dim("ag_permute", dims[i], ndim);
        if (d < 0) return NULL;
        if (seen[d]) return ag_fail(AG_ERR_INVALID, "ag_permute: dim %d repeated", dims[i]);
        seen[d] = true;
        s[i] = t->shape[d];
        st[i] = t->strides[d];
        p.i[i] = d;
    }
    return finish(make_view(t, s, ndim, st), t, "ag_permute", AG_OP(PERMUTE), &p);
}

ag_tensor *ag_transpose(ag_tensor *t, int d0, int d1) {
    if (!AG_NONNULL("ag_transpose", t)) return NULL;
    int a = ag__normalize_dim("ag_transpose", d0, t->ndim), b = ag__normalize_dim("ag_transpose", d1, t->ndim);
    if (a < 0 || b < 0) return NULL;
    int dims[AG_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) dims[i] = i;
    if (t->ndim == 0) return ag_permute(t, dims, 0);
    dims[a] = b;
    dims[b] = a;
    return ag_permute(t, dims, t->ndim);
}

ag_tensor *ag_squeeze(ag_tensor *t, int dim) {
    if (!AG_NONNULL("ag_squeeze", t)) return NULL;
    int64_t s[AG_MAX_DIMS], st[AG_MAX_DIMS];
    int nd = 0, only = -1;
    if (dim != AG_SQUEEZE_ALL) {
        only = ag__normalize_dim("ag_squeeze", dim, t->ndim);
        if (only < 0) return NULL;
    }
    for (int i = 0; i < t->ndim; i++) {
        bool drop = t->shape[i] == 1 && (only < 0 || only == i);
        if (drop) continue;
        s[nd] = t->shape[i];
        st[nd++] = t->strides[i];
    }
    return finish(make_view(t, s, nd, st), t, "ag_squeeze", AG_OP(RESHAPE), NULL);
}

ag_tensor *ag_unsqueeze(ag_tensor *t, int dim) {
    if (!AG_NONNULL("ag_unsqueeze", t)) return NULL;
    if (t->ndim >= AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "ag_unsqueeze: expected fewer than %d dims, given %d", AG_MAX_DIMS, t->ndim);
    int d = ag__normalize_dim("ag_unsqueeze", dim, t->ndim + 1);
    if (d < 0) return NULL;
    int64_t s[AG_MAX_DIMS], st[AG_MAX_DIMS];
    for (int i = 0, j = 0; i <= t->ndim; i++) {
        if (i == d) {
            s[i] = 1;
            st[i] = j < t->ndim ? t->strides[j] * t->shape[j] : 1;
        } else {
            s[i] = t->shape[j];
            st[i] = t->strides[j];
            j++;
        }
    }
    return finish(make_view(t, s, t->ndim + 1, st), t, "ag_unsqueeze", AG_OP(RESHAPE), NULL);
}

/* gradient of a strided sub-view: zeros of the input shape with g written into the same view */
/* g written into zeros of the sliced tensor's shape: an op of its own (linear in g; its backward
 * slices again), so a gradient through a slice can be differentiated (create_graph). p: the
 * slice's params, shape: the input's. */
static ag_tensor *slice_backward(ag_tensor *g, const ag_op_params *p, const int64_t *shape, int ndim) {
    ag_tensor *z = ag_zeros_on(shape, ndim, g->dtype, ag_device_of(g));
    if (!z) return NULL;
    ag__unscope(z); /* a fresh result: ag__finish registers it */
    ag_no_grad_begin(); /* the write is this op's forward, recorded below */
    ag_tensor *v = p->i[4] ? ag_select(z, (int)p->i[0], p->i[1]) : ag_slice(z, (int)p->i[0], p->i[1], p->i[2], p->i[3]);
    int rc = v ? ag_copy_(v, g) : ag_error_code();
    ag_no_grad_end();
    ag_release(v);
    if (rc < 0) { ag__drop(z); return NULL; }
    return ag__finish(z, "ag_slice_backward", AG_OP(SLICE_BACKWARD), AG_IN(g), AG_NONE, p);
}
int ag__bw_slice(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = slice_backward(g, &n->p, n->in_shape[0], n->in_ndim[0]);
    return gin[0] ? 0 : ag_error_code();
}
int ag__bw_slice_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    const ag_op_params *p = &n->p;
    gin[0] = p->i[4] ? ag_select(g, (int)p->i[0], p->i[1]) : ag_slice(g, (int)p->i[0], p->i[1], p->i[2], p->i[3]);
    return gin[0] ? 0 : ag_error_code();
}

ag_tensor *ag_slice(ag_tensor *t, int dim, int64_t start, int64_t end, int64_t step) {
    if (!AG_NONNULL("ag_slice", t)) return NULL;
    if (t->ndim == 0) return ag_fail(AG_ERR_SHAPE, "ag_slice: cannot slice a 0-d tensor");
    int d = ag__normalize_dim("ag_slice", dim, t->ndim);
    if (d < 0) return NULL;
    if (step <= 0) return ag_fail(AG_ERR_INVALID, "ag_slice: expected step > 0, given %lld", (long long)step);
    int64_t n = t->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = start < 0 ? 0 : start > n ? n : start;
    end = end < start ? start : end > n ? n : end;
    ag_tensor *r = ag__alias(t);
    if (!r) return NULL;
    r->offset += start * t->strides[d];
    r->shape[d] = (end - start + step - 1) / step;
    r->strides[d] = t->strides[d] * step;
    ag_op_params p = {.i = {d, start, end, step, 0}};
    return finish(r, t, "ag_slice", AG_OP(SLICE), &p);
}

ag_tensor *ag_narrow(ag_tensor *t, int dim, int64_t start, int64_t length) {
    if (!AG_NONNULL("ag_narrow", t)) return NULL;
    int d = ag__normalize_dim("ag_narrow", dim, t->ndim);
    if (d < 0) return NULL;
    if (start < 0) start += t->shape[d];
    if (start < 0 || length < 0 || start + length > t->shape[d])
        return ag_fail(AG_ERR_INDEX, "ag_narrow: range [%lld, %lld) out of bounds for dim %d of size %lld",
                       (long long)start, (long long)(start + length), dim, (long long)t->shape[d]);
    return ag_slice(t, d, start, start + length, 1);
}

ag_tensor *ag_select(ag_tensor *t, int dim, int64_t index) {
    if (!AG_NONNULL("ag_select", t)) return NULL;
    if (t->ndim == 0) return ag_fail(AG_ERR_SHAPE, "ag_select: cannot index a 0-d tensor");
    int d = ag__normalize_dim("ag_select", dim, t->ndim);
    if (d < 0) return NULL;
    int64_t n = t->shape[d];
    if (index < -n || index >= n)
        return ag_fail(AG_ERR_INDEX, "ag_select: index %lld out of range for dim %d of size %lld",
                       (long long)index, dim, (long long)n);
    if (index < 0) index += n;
    ag_tensor *r = ag__alias(t);
    if (!r) return NULL;
    r->offset += index * t->strides[d];
    for (int i = d; i < t->ndim - 1; i++) {
        r->shape[i] = t->shape[i + 1];
        r->strides[i] = t->strides[i + 1];
    }
    r->ndim--;
    r->shape[r->ndim] = 0;
    r->strides[r->ndim] = 0;
    ag_op_params p = {.i = {d, index, 0, 0, 1}};
    return finish(r, t, "ag_select", AG_OP(SLICE), &p);
}

int ag__bw_expand(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    gin[0] = ag_retain(g); /* the engine sums over the expanded dims */
    return 0;
}

ag_tensor *ag_expand(ag_tensor *t, const int64_t *shape, int ndim) {
    if (!AG_NONNULL("ag_expand", t)) return NULL;
    if (ndim < t->ndim || ndim > AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "ag_expand: cannot expand shape %s to %d dims", AG_SHP(t), ndim);
    int64_t s[AG_MAX_DIMS], st[AG_MAX_DIMS];
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        int64_t want = shape[i];
        if (want < -1)
            return ag_fail(AG_ERR_SHAPE, "ag_expand: expected sizes >= 0 (or -1 to keep one), given %lld at dim %d",
                           (long long)want, i);
        if (j < 0) {
            if (want < 0) return ag_fail(AG_ERR_SHAPE, "ag_expand: -1 is not allowed for a new leading dim");
            s[i] = want;
            st[i] = 0;
        } else if (want == -1 || want == t->shape[j]) {
            s[i] = t->shape[j];
            st[i] = t->strides[j];
        } else if (t->shape[j] == 1) {
            s[i] = want;
            st[i] = 0;
        } else {
            return ag_fail(AG_ERR_SHAPE, "ag_expand: cannot expand shape %s to %s (dim %d: %lld vs %lld)",
                           AG_SHP(t), ag_shape_str(shape, ndim, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF), i,
                           (long long)t->shape[j], (long long)want);
        }
    }
    return finish(make_view(t, s, ndim, st), t, "ag_expand", AG_OP(EXPAND), NULL);
}

int ag__bw_real(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    gin[0] = ag_retain(g); /* the engine casts a real gradient to the complex input: g + 0i */
    return 0;
}

int ag__bw_imag(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    ag_tensor *z = ag_zeros_like(g);
    gin[0] = ag_complex(z, g);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *part(ag_tensor *t, int which, const char *op, const ag_opdef *bw) {
    ag_tensor *r = ag__alias(t);
    if (!r) return NULL;
    r->dtype = ag_dtype_to_real(t->dtype);
    r->offset = t->offset * 2 + which;
    for (int i = 0; i < t->ndim; i++) r->strides[i] = t->strides[i] * 2;
    return finish(r, t, op, bw, NULL);
}

ag_tensor *ag_real(ag_tensor *t) {
    if (!AG_NONNULL("ag_real", t)) return NULL;
    if (!ag_dtype_is_complex(t->dtype)) return ag__identity(t, "ag_real");
    return part(t, 0, "ag_real", AG_OP(REAL));
}

ag_tensor *ag_imag(ag_tensor *t) {
    if (!AG_NONNULL("ag_imag", t)) return NULL;
    if (!ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_imag: expected a complex tensor, given %s", ag_dtype_name(t->dtype));
    return part(t, 1, "ag_imag", AG_OP(IMAG));
}

/* view_as_real: complex [...] -> real [..., 2] over the same storage (re, im interleaved);
 * view_as_complex: the inverse, for a real tensor whose last dim has size 2 and stride 1, whose
 * other strides are even and whose offset is even (PyTorch's conditions). Each one's gradient
 * is the other applied to the gradient (made contiguous first when it does not qualify). */
static bool complex_viewable(const ag_tensor *t) {
    if (t->ndim < 1 || t->shape[t->ndim - 1] != 2 || t->strides[t->ndim - 1] != 1 || t->offset % 2) return false;
    for (int i = 0; i < t->ndim - 1; i++)
        if (t->strides[i] % 2) return false;
    return true;
}

int ag__bw_view_as_real(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    ag_tensor *c = complex_viewable(g) ? ag_retain(g) : ag_clone(g);
    gin[0] = c ? ag_view_as_complex(c) : NULL;
    ag__drop(c);
    return gin[0] ? 0 : ag_error_code();
}

int ag__bw_view_as_complex(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    gin[0] = ag_view_as_real(g);
    return gin[0] ? 0 : ag_error_code();
}

ag_tensor *ag_view_as_real(ag_tensor *t) {
    if (!AG_NONNULL("ag_view_as_real", t)) return NULL;
    if (!ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_view_as_real: expected a complex tensor, given %s", ag_dtype_name(t->dtype));
    if (t->ndim >= AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "ag_view_as_real: the result would have more than %d dims", AG_MAX_DIMS);
    ag_tensor *r = ag__alias(t);
    if (!r) return NULL;
    r->dtype = ag_dtype_to_real(t->dtype);
    r->offset = t->offset * 2;
    for (int i = 0; i < t->ndim; i++) r->strides[i] = t->strides[i] * 2;
    r->shape[t->ndim] = 2;
    r->strides[t->ndim] = 1;
    r->ndim = t->ndim + 1;
    return finish(r, t, "ag_view_as_real", AG_OP(VIEW_AS_REAL), NULL);
}

ag_tensor *ag_view_as_complex(ag_tensor *t) {
    if (!AG_NONNULL("ag_view_as_complex", t)) return NULL;
    if (t->dtype != AG_F32 && t->dtype != AG_F64)
        return ag_fail(AG_ERR_DTYPE, "ag_view_as_complex: expected an f32 or f64 tensor, given %s",
                       ag_dtype_name(t->dtype));
    if (t->ndim < 1 || t->shape[t->ndim - 1] != 2)
        return ag_fail(AG_ERR_SHAPE, "ag_view_as_complex: expected a last dim of size 2, given shape %s", AG_SHP(t));
    if (!complex_viewable(t))
        return ag_fail(AG_ERR_SHAPE, "ag_view_as_complex: expected a last dim of stride 1, even strides elsewhere "
                       "and an even storage offset; call ag_contiguous first");
    ag_tensor *r = ag__alias(t);
    if (!r) return NULL;
    r->dtype = ag_dtype_to_complex(t->dtype);
    r->offset = t->offset / 2;
    r->ndim = t->ndim - 1;
    for (int i = 0; i < r->ndim; i++) r->strides[i] = t->strides[i] / 2;
    r->shape[r->ndim] = 0;
    r->strides[r->ndim] = 0;
    return finish(r, t, "ag_view_as_complex", AG_OP(VIEW_AS_COMPLEX), NULL);
}
