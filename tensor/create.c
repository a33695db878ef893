/* tensor/create.c — creation functions, copies, casts, in-place fills and in-place arithmetic. */
#include <math.h>
#include <string.h>

#include "astrograd/cuda.h"
#include "tensor/internal.h"

ag_tensor *ag_empty_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev) {
    return ag__ret(ag__new(shape, ndim, dt, dev, "ag_empty"));
}

static ag_tensor *filled(const char *op, const int64_t *shape, int ndim, ag_dtype dt, double re, double im,
                         ag_device dev) {
    ag_tensor *t = ag__new(shape, ndim, dt, dev, op);
    if (!t) return NULL;
    ag_kview v = ag__view(t);
    if (ag__kernels(t)->fill(&v, re, im) < 0) { ag__drop(t); return NULL; }
    return ag__ret(t);
}

ag_tensor *ag_zeros_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev) {
    return filled("ag_zeros", shape, ndim, dt, 0, 0, dev);
}
ag_tensor *ag_ones_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev) {
    return filled("ag_ones", shape, ndim, dt, 1, 0, dev);
}
ag_tensor *ag_full_on(const int64_t *shape, int ndim, double value, ag_dtype dt, ag_device dev) {
    return filled("ag_full", shape, ndim, dt, value, 0, dev);
}
ag_tensor *ag_full_complex_on(const int64_t *shape, int ndim, double re, double im, ag_dtype dt, ag_device dev) {
    if (!ag_dtype_is_complex(dt))
        return ag_fail(AG_ERR_DTYPE, "ag_full_complex: expected c64 or c128, given %s", ag_dtype_name(dt));
    return filled("ag_full_complex", shape, ndim, dt, re, im, dev);
}
ag_tensor *ag_scalar_on(double value, ag_dtype dt, ag_device dev) { return filled("ag_scalar", NULL, 0, dt, value, 0, dev); }
ag_tensor *ag_scalar_like(const ag_tensor *t, double value) {
    return t ? filled("ag_scalar_like", NULL, 0, t->dtype, value, 0, t->storage->dev) : NULL;
}

ag_tensor *ag_empty(const int64_t *shape, int ndim, ag_dtype dt) { return ag_empty_on(shape, ndim, dt, AG_CPU); }
ag_tensor *ag_zeros(const int64_t *shape, int ndim, ag_dtype dt) { return ag_zeros_on(shape, ndim, dt, AG_CPU); }
ag_tensor *ag_ones(const int64_t *shape, int ndim, ag_dtype dt) { return ag_ones_on(shape, ndim, dt, AG_CPU); }
ag_tensor *ag_full(const int64_t *shape, int ndim, double value, ag_dtype dt) {
    return ag_full_on(shape, ndim, value, dt, AG_CPU);
}
ag_tensor *ag_full_complex(const int64_t *shape, int ndim, double re, double im, ag_dtype dt) {
    return ag_full_complex_on(shape, ndim, re, im, dt, AG_CPU);
}
ag_tensor *ag_scalar(double value, ag_dtype dt) { return ag_scalar_on(value, dt, AG_CPU); }

static ag_tensor *like(const char *op, const ag_tensor *t, bool fill, double v) {
    if (!AG_NONNULL(op, t)) return NULL;
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    if (fill) {
        ag_kview vv = ag__view(r);
        if (ag__kernels(r)->fill(&vv, v, 0) < 0) { ag__drop(r); return NULL; }
    }
    return ag__ret(r);
}
ag_tensor *ag_empty_like(const ag_tensor *t) { return like("ag_empty_like", t, false, 0); }
ag_tensor *ag_zeros_like(const ag_tensor *t) { return like("ag_zeros_like", t, true, 0); }
ag_tensor *ag_ones_like(const ag_tensor *t) { return like("ag_ones_like", t, true, 1); }
ag_tensor *ag_full_like(const ag_tensor *t, double value) { return like("ag_full_like", t, true, value); }

/* A host-computed f64 sequence, cast on the host and moved to dev: creation is host I/O, and
 * these sequences are made once (grids, index ranges), not per step. */
static ag_tensor *host_sequence(ag_tensor *t, ag_dtype dt, ag_device dev) {
    ag_tensor *c = ag__cast(t, dt);
    ag__drop(t);
    if (!c || dev.kind == AG_DEV_CPU) return ag__ret(c);
    ag_tensor *r = ag_to(c, dev); /* not recorded: c does not require grad */
    ag__drop(c);
    return r;
}

ag_tensor *ag_arange_on(double start, double end, double step, ag_dtype dt, ag_device dev) {
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step))
        return ag_fail(AG_ERR_INVALID, "ag_arange: expected finite start/end and a non-zero step, given "
                       "start=%g end=%g step=%g", start, end, step);
    if ((end - start) / step < 0)
        return ag_fail(AG_ERR_INVALID, "ag_arange: step %g moves away from end (start=%g, end=%g)", step, start, end);
    double len = ceil((end - start) / step);
    if (!(len < (double)(INT64_MAX / 16)))
        return ag_fail(AG_ERR_NOMEM, "ag_arange: expected a representable length, given start=%g end=%g step=%g "
                       "(%g elements)", start, end, step, len);
    int64_t n = (int64_t)len;
    ag_tensor *t = ag__new(&n, 1, AG_F64, AG_CPU, "ag_arange");
    if (!t) return NULL;
    double *d = t->storage->data;
    /* start + i step rounded once (as PyTorch's build, which contracts it to an fma) */
    for (int64_t i = 0; i < n; i++) d[i] = fma((double)i, step, start);
    return host_sequence(t, dt, dev);
}

ag_tensor *ag_linspace_on(double start, double end, int64_t steps, ag_dtype dt, ag_device dev) {
    if (steps < 0) return ag_fail(AG_ERR_INVALID, "ag_linspace: expected steps >= 0, given %lld", (long long)steps);
    ag_tensor *t = ag__new(&steps, 1, AG_F64, AG_CPU, "ag_linspace");
    if (!t) return NULL;
    double *d = t->storage->data;
    double h = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    /* PyTorch fills the first half from start and the second half from end (symmetric rounding) */
    int64_t half = steps == 1 ? 1 : steps / 2; /* one step: start, as torch */
    for (int64_t i = 0; i < steps; i++) d[i] = i < half ? fma(h, (double)i, start) : fma(-h, (double)(steps - 1 - i), end);
    return host_sequence(t, dt, dev);
}

ag_tensor *ag_eye_on(int64_t n, int64_t m, ag_dtype dt, ag_device dev) {
    if (m == -1) m = n;
    if (n < 0 || m < 0)
        return ag_fail(AG_ERR_SHAPE, "ag_eye: expected n >= 0 and m >= 0 (or -1 for m = n), given n=%lld m=%lld",
                       (long long)n, (long long)m);
    ag_tensor *t = ag_zeros_on((int64_t[]){n, m}, 2, dt, dev);
    if (!t) return NULL;
    ag_kview v = ag__view(t);
    v.ndim = 1;
    v.shape[0] = n < m ? n : m;
    v.strides[0] = m + 1;
    if (ag__kernels(t)->fill(&v, 1, 0) < 0) { ag_release(t); return NULL; }
    return t;
}

ag_tensor *ag_from_data_on(const void *data, const int64_t *shape, int ndim, ag_dtype dt, ag_device dev) {
    ag_tensor *t = ag__new(shape, ndim, dt, dev, "ag_from_data"); /* checks ndim before reading shape */
    if (!t) return NULL;
    if (!data && t->storage->nbytes) {
        ag__drop(t);
        return ag_fail(AG_ERR_INVALID, "ag_from_data: data is NULL");
    }
    if (t->storage->nbytes) {
        if (dev.kind == AG_DEV_CPU) {
            memcpy(t->storage->data, data, t->storage->nbytes);
        } else if (!ag__kernels(t)->transfer) {
            ag__drop(t);
            return ag_fail(AG_ERR_NOTIMPL, "ag_from_data: transfer is not implemented for %s", ag__kernels(t)->name);
        } else if (ag__kernels(t)->transfer(t->storage->data, data, t->storage->nbytes, false) < 0) {
            ag__drop(t);
            return NULL;
        }
    }
    return ag__ret(t);
}

ag_tensor *ag_arange(double start, double end, double step, ag_dtype dt) {
    return ag_arange_on(start, end, step, dt, AG_CPU);
}
ag_tensor *ag_linspace(double start, double end, int64_t steps, ag_dtype dt) {
    return ag_linspace_on(start, end, steps, dt, AG_CPU);
}
ag_tensor *ag_eye(int64_t n, int64_t m, ag_dtype dt) { return ag_eye_on(n, m, dt, AG_CPU); }
ag_tensor *ag_from_data(const void *data, const int64_t *shape, int ndim, ag_dtype dt) {
    return ag_from_data_on(data, shape, ndim, dt, AG_CPU);
}

/* ---- copies and casts ----------------------------------------------------------- */
int ag__bw_clone(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    (void)n;
    gin[0] = ag_retain(g);
    return 0;
}

static ag_tensor *copy_into_new(const char *op, ag_tensor *t, ag_dtype dt) {
    ag_tensor *r = ag__new(t->shape, t->ndim, dt, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview dv = ag__view(r), sv = ag__view(t);
    if (ag__kernels(t)->copy(&dv, &sv) < 0) { ag__drop(r); return NULL; }
    if (ag__needs_grad(AG_IN(t)) && ag_dtype_is_float(dt) &&
        ag__record(r, op, AG_OP(CLONE), AG_IN(t), AG_NONE, NULL) < 0) {
        ag__drop(r);
        return NULL;
    }
    return ag__ret(r);
}

ag_tensor *ag_clone(const ag_tensor *t) {
    if (!AG_NONNULL("ag_clone", t)) return NULL;
    return copy_into_new("ag_clone", (ag_tensor *)t, t->dtype);
}

ag_tensor *ag_contiguous(ag_tensor *t) {
    if (!AG_NONNULL("ag_contiguous", t)) return NULL;
    if (ag_is_contiguous(t)) return ag__identity(t, "ag_contiguous");
    return copy_into_new("ag_contiguous", t, t->dtype);
}

ag_tensor *ag_to_dtype(ag_tensor *t, ag_dtype dt) {
    if (!AG_NONNULL("ag_to_dtype", t)) return NULL;
    if ((unsigned)dt >= AG_NUM_DTYPES) return ag_fail(AG_ERR_DTYPE, "ag_to_dtype: invalid dtype %d", (int)dt);
    if (t->dtype == dt) return ag__identity(t, "ag_to_dtype");
    return copy_into_new("ag_to_dtype", t, dt);
}

int ag__bw_to(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = ag_to(g, (ag_device){(ag_device_kind)n->p.i[0], (int)n->p.i[1]});
    return gin[0] ? 0 : ag_error_code();
}

/* Cross-device copy: the source is made contiguous on its own device (same dtype), then its
 * bytes move in one transfer done by the non-CPU side's backend. Differentiable for floats
 * (the gradient moves back). */
ag_tensor *ag_to(ag_tensor *t, ag_device dev) {
    if (!AG_NONNULL("ag_to", t)) return NULL;
    ag_device src = t->storage->dev;
    if (src.kind == dev.kind && src.index == dev.index) return ag__identity(t, "ag_to");
    if ((unsigned)dev.kind >= AG_NUM_DEVICE_KINDS)
        return ag_fail(AG_ERR_DEVICE, "ag_to: expected a device kind, given %d", (int)dev.kind);
    const char *dn = ag_device_kind_name(dev.kind);
    if (!ag_kernels_for(dev))
        return dev.kind == AG_DEV_CUDA
                   ? ag_fail(AG_ERR_DEVICE, "ag_to: device cuda:%d is not available: %s", dev.index,
                             ag_cuda_unavailable_reason())
                   : ag_fail(AG_ERR_DEVICE, "ag_to: device %s:%d is not available in this build", dn, dev.index);
    if (dev.kind == AG_DEV_CUDA && (dev.index < 0 || dev.index >= ag_cuda_device_count()))
        return ag_fail(AG_ERR_DEVICE, "ag_to: device cuda:%d does not exist (%d cuda devices: %s)", dev.index,
                       ag_cuda_device_count(), ag_cuda_unavailable_reason());
    if (dev.index != 0)
        return ag_fail(AG_ERR_NOTIMPL, "ag_to: only %s:0 is supported, given %s:%d", dn, dn, dev.index);
    if (src.kind != AG_DEV_CPU && dev.kind != AG_DEV_CPU)
        return ag_fail(AG_ERR_NOTIMPL, "ag_to: copies between two non-cpu devices (%s, %s) are not implemented",
                       ag_device_kind_name(src.kind), dn);
    const ag_kernels *xk = src.kind == AG_DEV_CPU ? ag_kernels_for(dev) : ag__kernels(t);
    if (!xk->transfer) return ag_fail(AG_ERR_NOTIMPL, "ag_to: transfer is not implemented for %s", xk->name);
    ag_tensor *s = ag_retain(t);
    if (!ag_is_contiguous(t)) { /* staging copy on the source device */
        ag__drop(s);
        s = ag__new(t->shape, t->ndim, t->dtype, src, "ag_to");
        if (!s) return NULL;
        ag_kview dv = ag__view(s), sv = ag__view(t);
        if (ag__kernels(t)->copy(&dv, &sv) < 0) { ag__drop(s); return NULL; }
    }
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, dev, "ag_to");
    if (!r) { ag__drop(s); return NULL; }
    size_t nbytes = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
    int rc = xk->transfer(ag__view(r).data, ag__view(s).data, nbytes, dev.kind == AG_DEV_CPU);
    ag__drop(s);
    if (rc < 0) { ag__drop(r); return NULL; }
    if (ag__needs_grad(AG_IN(t)) && ag_dtype_is_float(t->dtype)) {
        ag_op_params p = {.i = {src.kind, src.index}};
        if (ag__record(r, "ag_to", AG_OP(TO), AG_IN(t), AG_NONE, &p) < 0) { ag__drop(r); return NULL; }
    }
    return ag__ret(r);
}

/* In-place writes are not recorded in the graph, so with grad mode on a write that touches a
 * tensor requiring grad would leave its gradients silently wrong (issue 12): the part that was
 * overwritten would still pass gradient to its old history, and the source would get none.
 * Refuse, as PyTorch does for leaves, saying what to do instead. Any view of a tensor that
 * requires grad requires grad itself, so one flag covers views. With grad mode off writes are
 * the caller's business (optimizers, initialisers); the version counter still catches an edit
 * of a saved tensor at backward. Writing into an expanded view would store several results in
 * one element: refused in every mode. src may be NULL (fills). */
static int check_inplace(const char *op, const ag_tensor *dst, const ag_tensor *src) {
    for (int d = 0; d < dst->ndim; d++)
        if (dst->strides[d] == 0 && dst->shape[d] > 1)
            return ag_set_error(AG_ERR_INVALID, "%s: the destination has overlapping memory (an expanded view); "
                                "clone it first", op);
    if (!ag__grad_enabled()) return 0;
    if (dst->requires_grad && !dst->grad_fn)
        return ag_set_error(AG_ERR_AUTOGRAD, "%s: in-place write into a leaf that requires grad; "
                            "wrap it in ag_no_grad_begin/end", op);
    for (const ag_node *n = dst->grad_fn; dst->requires_grad && n && n->n_in == 1; n = n->in_node[0])
        if (n->in_leaf[0] && n->in_leaf[0]->storage == dst->storage)
            return ag_set_error(AG_ERR_AUTOGRAD, "%s: in-place write into a view of a leaf that requires grad; "
                                "wrap it in ag_no_grad_begin/end", op);
    if (dst->requires_grad)
        return ag_set_error(AG_ERR_AUTOGRAD, "%s: in-place write into a tensor that requires grad (part of a graph) "
                            "with grad mode on, which autograd does not record, so its gradients would be wrong; "
                            "build the result out of place (ag_cat, ag_stack, ag_where, ag_masked_fill, "
                            "ag_masked_scatter), or write under ag_no_grad_begin/end if no gradient should flow", op);
    if (src && src->requires_grad)
        return ag_set_error(AG_ERR_AUTOGRAD, "%s: the source requires grad and grad mode is on; autograd does not "
                            "record in-place writes, so the source would get no gradient: build the result out of "
                            "place (ag_cat, ag_stack, ag_where, ag_masked_scatter), or copy ag_detach(src) if no "
                            "gradient should flow", op);
    return 0;
}

int ag_copy_(ag_tensor *dst, const ag_tensor *src) {
    if (!AG_NONNULL("ag_copy_", dst, src)) return ag_error_code();
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes("ag_copy_", dst->shape, dst->ndim, src->shape, src->ndim, shp, &nd)) return ag_error_code();
    if (nd != dst->ndim || memcmp(shp, dst->shape, (size_t)nd * sizeof *shp))
        return ag_set_error(AG_ERR_SHAPE, "ag_copy_: source of shape %s cannot be broadcast to destination %s",
                            AG_SHP(src), AG_SHP(dst));
    if (!ag__same_device("ag_copy_", dst, src)) return ag_error_code();
    if (check_inplace("ag_copy_", dst, src)) return ag_error_code();
    ag_kview dv = ag__view(dst), sv = ag__view_bcast(src, dst->shape, dst->ndim);
    int rc = ag__kernels(dst)->copy(&dv, &sv);
    ag__bump_version(dst);
    return rc;
}

static int fill(const char *op, ag_tensor *t, double value) {
    if (!AG_NONNULL(op, t)) return ag_error_code();
    if (check_inplace(op, t, NULL)) return ag_error_code();
    ag_kview v = ag__view(t);
    int rc = ag__kernels(t)->fill(&v, value, 0);
    ag__bump_version(t);
    return rc;
}

int ag_fill_(ag_tensor *t, double value) { return fill("ag_fill_", t, value); }
int ag_zero_(ag_tensor *t) { return fill("ag_zero_", t, 0.0); }

/* In-place arithmetic: the out-of-place op computes into a temporary (so dst may alias src),
 * which is then written over dst in dst's dtype. PyTorch's casting rule: the result's category
 * (bool < integer < float < complex) may not exceed dst's (f32 += f64 is allowed, i64 /= 2 and
 * f64 *= c128 are not). Same refusals as ag_copy_ (check_inplace). */
static int dtype_category(ag_dtype dt) {
    return ag_dtype_is_complex(dt) ? 3 : ag_dtype_is_float(dt) ? 2 : dt == AG_BOOL ? 0 : 1;
}

static int write_result(const char *op, ag_tensor *dst, ag_tensor *r) {
    if (!r) return ag_error_code();
    if (dtype_category(r->dtype) > dtype_category(dst->dtype))
        return ag_set_error(AG_ERR_DTYPE, "%s: result type %s can't be cast to the destination's dtype %s", op,
                            ag_dtype_name(r->dtype), ag_dtype_name(dst->dtype));
    ag_kview dv = ag__view(dst), rv = ag__view_bcast(r, dst->shape, dst->ndim);
    int rc = ag__kernels(dst)->copy(&dv, &rv);
    ag__bump_version(dst);
    return rc;
}

static int broadcasts_to(const char *op, const ag_tensor *dst, const ag_tensor *src, const char *what) {
    int64_t shp[AG_MAX_DIMS];
    int nd;
    if (!ag__broadcast_shapes(op, dst->shape, dst->ndim, src->shape, src->ndim, shp, &nd)) return 0;
    if (nd != dst->ndim || memcmp(shp, dst->shape, (size_t)nd * sizeof *shp)) {
        ag_set_error(AG_ERR_SHAPE, "%s: %s of shape %s cannot be broadcast to destination %s", op, what, AG_SHP(src),
                     AG_SHP(dst));
        return 0;
    }
    return ag__same_device(op, dst, src);
}

static int inplace_binary(const char *op, ag_tensor *dst, ag_tensor *src, ag_tensor *(*f)(ag_tensor *, ag_tensor *)) {
    if (!AG_NONNULL(op, dst, src)) return ag_error_code();
    if (!broadcasts_to(op, dst, src, "source")) return ag_error_code();
    if (check_inplace(op, dst, src)) return ag_error_code();
    ag_scope_begin();
    int rc = write_result(op, dst, f(dst, src));
    ag_scope_end();
    return rc;
}

int ag_add_(ag_tensor *dst, ag_tensor *src) { return inplace_binary("ag_add_", dst, src, ag_add); }
int ag_sub_(ag_tensor *dst, ag_tensor *src) { return inplace_binary("ag_sub_", dst, src, ag_sub); }
int ag_mul_(ag_tensor *dst, ag_tensor *src) { return inplace_binary("ag_mul_", dst, src, ag_mul); }
int ag_div_(ag_tensor *dst, ag_tensor *src) { return inplace_binary("ag_div_", dst, src, ag_div); }

int ag_clamp_(ag_tensor *t, double min, double max) {
    if (!AG_NONNULL("ag_clamp_", t)) return ag_error_code();
    if (isnan(min) || isnan(max) || min > max)
        return ag_set_error(AG_ERR_INVALID, "ag_clamp_: expected min <= max, given min=%g max=%g", min, max);
    if (check_inplace("ag_clamp_", t, NULL)) return ag_error_code();
    ag_scope_begin();
    int rc = write_result("ag_clamp_", t, ag_clamp(t, min, max));
    ag_scope_end();
    return rc;
}

int ag_masked_fill_(ag_tensor *t, ag_tensor *mask, double value) {
    if (!AG_NONNULL("ag_masked_fill_", t, mask)) return ag_error_code();
    if (mask->dtype != AG_BOOL)
        return ag_set_error(AG_ERR_DTYPE, "ag_masked_fill_: expected a bool mask, given %s", ag_dtype_name(mask->dtype));
    if (!broadcasts_to("ag_masked_fill_", t, mask, "mask")) return ag_error_code();
    if (check_inplace("ag_masked_fill_", t, NULL)) return ag_error_code();
    ag_scope_begin();
    int rc = write_result("ag_masked_fill_", t, ag_masked_fill(t, mask, value));
    ag_scope_end();
    return rc;
}

/* ---- host copies and items ------------------------------------------------------ */
int ag_copy_to_buffer(const ag_tensor *t, void *out, ag_dtype dt) {
    if (!t || !out) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_copy_to_buffer: NULL argument");
    if ((unsigned)dt >= AG_NUM_DTYPES) return ag_set_error(AG_ERR_DTYPE, "ag_copy_to_buffer: invalid dtype %d", (int)dt);
    ag_kview dv = {.data = out, .dtype = dt, .ndim = t->ndim};
    memcpy(dv.shape, t->shape, sizeof dv.shape);
    ag__contiguous_strides(t->shape, t->ndim, dv.strides);
    ag_kview sv = ag__view(t);
    if (ag__is_cpu(t)) return ag__kernels(t)->copy(&dv, &sv);
    /* convert and make contiguous on the device, then one transfer */
    const ag_kernels *k = ag__kernels(t);
    if (!k->transfer) return ag_set_error(AG_ERR_NOTIMPL, "ag_copy_to_buffer: transfer is not implemented for %s", k->name);
    ag_tensor *c = ag__new(t->shape, t->ndim, dt, t->storage->dev, "ag_copy_to_buffer");
    if (!c) return ag_error_code();
    ag_kview cv = ag__view(c);
    int rc = k->copy(&cv, &sv);
    if (!rc) rc = k->transfer(out, cv.data, (size_t)ag_numel(t) * ag_dtype_size(dt), true);
    ag__drop(c);
    return rc;
}

int ag_item_complex(const ag_tensor *t, double *re, double *im) {
    if (!t) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_item: NULL tensor");
    if (ag_numel(t) != 1)
        return ag_set_error(AG_ERR_SHAPE, "ag_item: expected a tensor with one element, given shape %s", AG_SHP(t));
    double v[2];
    int rc = ag_copy_to_buffer(t, v, AG_C128);
    if (rc) return rc;
    if (re) *re = v[0];
    if (im) *im = v[1];
    return 0;
}

double ag_item(const ag_tensor *t) {
    double re = NAN;
    if (ag_item_complex(t, &re, NULL)) return NAN;
    return re;
}
