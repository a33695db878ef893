/* tensor/fft.c — FFT front ends (torch.fft semantics): fft/ifft, fft2/ifft2, fftn/ifftn,
 * rfft/irfft, rfftn/irfftn, fftshift/ifftshift, fftfreq/rfftfreq, with backward rules
 * written with ag ops.
 *
 * Every transform is one recorded primitive, `xform` (kind c2c-forward/inverse, r2c or c2r,
 * over a set of dims, with a scale folded in), preceded by differentiable zero-padding or
 * truncation (ag_narrow) to the requested lengths. Backward rules (PyTorch's convention,
 * gin = A^H g for a linear map A):
 *  - c2c with sign s and scale a: c2c with sign -s and the same scale a (F^H = conj F);
 *  - r2c: zero-pad g along the halved dim back to the full length, c2c inverse, same scale
 *    (the engine keeps the real part for the real input);
 *  - c2r: r2c of g with the same scale, then bins 1 .. n - (n/2+1) along the halved dim
 *    doubled: each stands for itself and its Hermitian mirror (bin 0, and bin n/2 for even
 *    n, have no mirror in the half spectrum).
 * Since the rules call xform itself, higher derivatives work too. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

static ag_tensor *finish(ag_tensor *r, const char *op, const ag_opdef *bw, ag_tensor *t, const ag_op_params *p) {
    return ag__finish(r, op, bw, AG_IN(t), AG_NONE, p);
}

/* ---- the transform primitive --------------------------------------------------------- */
/* params: i[0] dim mask, i[1] halved dim (r2c/c2r), i[2] logical length along it,
 *         i[3] kind; d[4] scale */


/* dims (distinct, normalised; for r2c/c2r the halved dim last), n_half: logical length of
 * the halved dim (c2r output length; ignored otherwise) */
static ag_tensor *xform(const char *op, ag_fft_kind kind, ag_tensor *x, const int *dims, int nd, int64_t n_half,
                        double scale) {
    if (!AG_NONNULL(op, x)) return NULL;
    const ag_kernels *k = ag__kernels(x);
    if (!k->fft_plan || !k->fft_exec || !k->plan_release)
        return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    int h = dims[nd - 1];
    int64_t shp[AG_MAX_DIMS];
    memcpy(shp, x->shape, sizeof shp);
    ag_dtype dt = x->dtype;
    if (kind == AG_FFT_R2C) { n_half = x->shape[h]; shp[h] = n_half / 2 + 1; dt = ag_dtype_to_complex(dt); }
    if (kind == AG_FFT_C2R) { shp[h] = n_half; dt = ag_dtype_to_real(dt); }
    ag_tensor *r = ag__new(shp, x->ndim, dt, x->storage->dev, op);
    if (!r) return NULL;
    ag_kview vo = ag__view(r), vi = ag__view(x);
    /* the backend's cached plan for this geometry: a handle that stays valid across calls */
    ag_kplan *plan = k->fft_plan(kind, &vo, &vi, dims, nd);
    int rc = plan ? k->fft_exec(plan, &vo, &vi, scale) : -1;
    k->plan_release(plan);
    if (rc < 0) { ag__drop(r); return NULL; }
    ag_op_params p = {0};
    int64_t mask = 0;
    for (int i = 0; i < nd; i++) mask |= (int64_t)1 << dims[i];
    p.i[0] = mask;
    p.i[1] = h;
    p.i[2] = n_half;
    p.i[3] = kind;
    p.d[4] = scale;
    return finish(r, op, AG_OP(FFT), x, &p);
}

/* zero-pad x along dim to length n (n > size), differentiable */
int ag__bw_fft_pad(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = ag_narrow(g, (int)n->p.i[0], 0, n->p.i[1]);
    return 0;
}
static ag_tensor *pad_dim(const char *op, ag_tensor *x, int dim, int64_t len) {
    if (!AG_NONNULL(op, x)) return NULL;
    int64_t shp[AG_MAX_DIMS];
    memcpy(shp, x->shape, sizeof shp);
    shp[dim] = len;
    ag_tensor *r = ag__new(shp, x->ndim, x->dtype, x->storage->dev, op);
    if (!r) return NULL;
    const ag_kernels *k = ag__kernels(x);
    ag_kview vo = ag__view(r), vi = ag__view(x);
    if (k->fill(&vo, 0, 0) < 0) { ag__drop(r); return NULL; }
    vo.shape[dim] = x->shape[dim];
    if (k->copy(&vo, &vi) < 0) { ag__drop(r); return NULL; }
    ag_op_params p = {.i = {dim, x->shape[dim]}};
    return finish(r, op, AG_OP(FFT_PAD), x, &p);
}

/* x padded with zeros or truncated along dim to len (x itself when it fits); scoped result */
static ag_tensor *resize_dim(const char *op, ag_tensor *x, int dim, int64_t len) {
    if (!AG_NONNULL(op, x)) return NULL;
    if (x->shape[dim] == len) return x;
    if (x->shape[dim] > len) return ag_narrow(x, dim, 0, len);
    return pad_dim(op, x, dim, len);
}

static void unpack_dims(const ag_node *n, int *dims, int *nd) {
    int h = (int)n->p.i[1], c = 0;
    for (int d = 0; d < AG_MAX_DIMS; d++)
        if ((n->p.i[0] >> d & 1) && d != h) dims[c++] = d;
    dims[c++] = h;
    *nd = c;
}

int ag__bw_xform(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int dims[AG_MAX_DIMS], nd;
    unpack_dims(n, dims, &nd);
    int h = (int)n->p.i[1];
    int64_t len = n->p.i[2];
    double scale = n->p.d[4];
    switch ((ag_fft_kind)n->p.i[3]) {
    case AG_FFT_C2C_FWD: gin[0] = xform("ag_fft_backward", AG_FFT_C2C_INV, g, dims, nd, 0, scale); break;
    case AG_FFT_C2C_INV: gin[0] = xform("ag_ifft_backward", AG_FFT_C2C_FWD, g, dims, nd, 0, scale); break;
    case AG_FFT_R2C:
        gin[0] = xform("ag_rfft_backward", AG_FFT_C2C_INV, pad_dim("ag_rfft_backward", g, h, len), dims, nd, 0, scale);
        break;
    case AG_FFT_C2R: {
        ag_tensor *gi = xform("ag_irfft_backward", AG_FFT_R2C, g, dims, nd, 0, scale);
        if (!gi) return ag_error_code();
        int64_t m = gi->shape[h], dbl = len - m;
        if (dbl > 0) {
            /* weight 2 on the bins whose conjugate twins the half spectrum dropped, built on
             * the gradient's device: w[i] = 1 + (1 <= i <= dbl) */
            ag_dtype rdt = ag_dtype_to_real(gi->dtype);
            ag_tensor *ar = ag_arange_on(0, (double)m, 1, rdt, gi->storage->dev);
            ag_tensor *in_band = ag_mul(ag_to_dtype(ag_ge(ar, ag_scalar_like(ar, 1)), rdt),
                                        ag_to_dtype(ag_le(ar, ag_scalar_like(ar, (double)dbl)), rdt));
            int64_t ws[AG_MAX_DIMS];
            for (int d = 0; d < gi->ndim; d++) ws[d] = d == h ? m : 1;
            ag_tensor *wt = ag_reshape(ag_add_s(in_band, 1.0), ws, gi->ndim);
            gi = ag_mul(gi, wt);
        }
        gin[0] = gi;
        break;
    }
    }
    return gin[0] ? 0 : ag_error_code();
}

/* ---- argument checks ------------------------------------------------------------------- */
static bool check_input(const char *op, const ag_tensor *t) {
    if (!ag_dtype_is_float(t->dtype)) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected a floating-point or complex tensor, given %s", op,
                     ag_dtype_name(t->dtype));
        return false;
    }
    return true;
}

static bool check_norm(const char *op, ag_fft_norm norm) {
    if ((unsigned)norm > AG_NORM_FORWARD) {
        ag_set_error(AG_ERR_INVALID, "%s: invalid norm %d (expected AG_NORM_BACKWARD, AG_NORM_ORTHO or AG_NORM_FORWARD)",
                     op, (int)norm);
        return false;
    }
    return true;
}

/* normalise dims into out (distinct). ndims == 0 or dims NULL: all dims when `all_ok`. */
static int norm_dims(const char *op, const ag_tensor *t, const int *dims, int ndims, int *out) {
    if (ndims < 0 || (ndims > 0 && !dims) || ndims > AG_MAX_DIMS) {
        ag_set_error(AG_ERR_INVALID, "%s: invalid dims list (n=%d)", op, ndims);
        return -1;
    }
    if (ndims == 0) {
        for (int d = 0; d < t->ndim; d++) out[d] = d;
        return t->ndim;
    }
    if (t->ndim == 0) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected a tensor with at least 1 dim, given a 0-d tensor", op);
        return -1;
    }
    bool seen[AG_MAX_DIMS] = {0};
    for (int i = 0; i < ndims; i++) {
        int d = ag__normalize_dim(op, dims[i], t->ndim);
        if (d < 0) return -1;
        if (seen[d]) {
            ag_set_error(AG_ERR_INVALID, "%s: dim %d appears more than once", op, dims[i]);
            return -1;
        }
        seen[d] = true;
        out[i] = d;
    }
    return ndims;
}

/* the length n asks for along a dim of size `size`; -1 on error (set) */
static int64_t want_len(const char *op, int64_t n, int64_t size) {
    if (n == -1) n = size;
    else if (n <= 0) {
        ag_set_error(AG_ERR_INVALID, "%s: expected n >= 1 (or -1 for the input's size), given %lld", op, (long long)n);
        return -1;
    }
    if (n < 1) {
        ag_set_error(AG_ERR_SHAPE, "%s: invalid number of data points (%lld) along the transformed dim", op,
                     (long long)n);
        return -1;
    }
    return n;
}

static double norm_scale(ag_fft_norm norm, bool inverse, double n) {
    if (norm == AG_NORM_ORTHO) return 1.0 / sqrt(n);
    if ((norm == AG_NORM_BACKWARD) == inverse) return 1.0 / n;
    return 1.0;
}

/* ---- c2c front ends --------------------------------------------------------------------- */
/* lens[i]: requested length along dims[i] (-1 keeps) or NULL for all -1 */
static ag_tensor *c2c(const char *op, ag_tensor *t, const int64_t *lens, const int *dims_in, int ndims, bool all_ok,
                      ag_fft_norm norm, bool inverse) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (!check_input(op, t) || !check_norm(op, norm)) return NULL;
    if (!all_ok && ndims == 0) return ag_fail(AG_ERR_INVALID, "%s: expected at least one dim", op);
    int dims[AG_MAX_DIMS];
    int nd = norm_dims(op, t, dims_in, ndims, dims);
    if (nd < 0) return NULL;
    int64_t len[AG_MAX_DIMS];
    double total = 1;
    for (int i = 0; i < nd; i++) {
        len[i] = want_len(op, lens ? lens[i] : -1, t->shape[dims[i]]);
        if (len[i] < 0) return NULL;
        total *= (double)len[i];
    }
    ag_dtype cdt = ag_dtype_to_complex(t->dtype);
    ag_scope_begin();
    ag_tensor *x = t->dtype == cdt ? t : ag_to_dtype(t, cdt);
    for (int i = 0; i < nd; i++) x = resize_dim(op, x, dims[i], len[i]);
    ag_tensor *r;
    if (nd == 0) r = x == t ? ag_clone(t) : x; /* 0-d tensor, all dims: nothing to transform */
    else r = xform(op, inverse ? AG_FFT_C2C_INV : AG_FFT_C2C_FWD, x, dims, nd, 0, norm_scale(norm, inverse, total));
    ag_keep(r);
    ag_scope_end();
    return r;
}

ag_tensor *ag_fft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm) {
    return c2c("ag_fft", t, &n, &dim, 1, false, norm, false);
}
ag_tensor *ag_ifft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm) {
    return c2c("ag_ifft", t, &n, &dim, 1, false, norm, true);
}
ag_tensor *ag_fft2(ag_tensor *t, ag_fft_norm norm) {
    return c2c("ag_fft2", t, NULL, (const int[]){-2, -1}, 2, false, norm, false);
}
ag_tensor *ag_ifft2(ag_tensor *t, ag_fft_norm norm) {
    return c2c("ag_ifft2", t, NULL, (const int[]){-2, -1}, 2, false, norm, true);
}
ag_tensor *ag_fftn(ag_tensor *t, const int *dims, int ndims, ag_fft_norm norm) {
    return c2c("ag_fftn", t, NULL, dims, ndims, true, norm, false);
}
ag_tensor *ag_ifftn(ag_tensor *t, const int *dims, int ndims, ag_fft_norm norm) {
    return c2c("ag_ifftn", t, NULL, dims, ndims, true, norm, true);
}

/* ---- real front ends ------------------------------------------------------------------- */
static ag_tensor *r2c(const char *op, ag_tensor *t, int64_t n, const int *dims_in, int ndims, ag_fft_norm norm) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (!check_input(op, t) || !check_norm(op, norm)) return NULL;
    if (ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a real tensor, given %s (use ag_fft for complex input)", op,
                       ag_dtype_name(t->dtype));
    int dims[AG_MAX_DIMS];
    int nd = norm_dims(op, t, dims_in, ndims, dims);
    if (nd < 0) return NULL;
    if (nd == 0) return ag_fail(AG_ERR_SHAPE, "%s: expected a tensor with at least 1 dim, given a 0-d tensor", op);
    double total = 1;
    int64_t len[AG_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        len[i] = want_len(op, i == nd - 1 ? n : -1, t->shape[dims[i]]);
        if (len[i] < 0) return NULL;
        total *= (double)len[i];
    }
    ag_scope_begin();
    ag_tensor *x = t;
    for (int i = 0; i < nd; i++) x = resize_dim(op, x, dims[i], len[i]);
    ag_tensor *r = xform(op, AG_FFT_R2C, x, dims, nd, 0, norm_scale(norm, false, total));
    ag_keep(r);
    ag_scope_end();
    return r;
}

static ag_tensor *c2r(const char *op, ag_tensor *t, int64_t n, const int *dims_in, int ndims, ag_fft_norm norm) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (!check_input(op, t) || !check_norm(op, norm)) return NULL;
    if (!ag_dtype_is_complex(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a complex (half-spectrum) tensor, given %s", op,
                       ag_dtype_name(t->dtype));
    int dims[AG_MAX_DIMS];
    int nd = norm_dims(op, t, dims_in, ndims, dims);
    if (nd < 0) return NULL;
    if (nd == 0) return ag_fail(AG_ERR_SHAPE, "%s: expected a tensor with at least 1 dim, given a 0-d tensor", op);
    int h = dims[nd - 1];
    int64_t m = t->shape[h];
    if (n == -1) {
        n = 2 * (m - 1);
        if (n < 1)
            return ag_fail(AG_ERR_SHAPE, "%s: invalid number of data points (%lld): the input has %lld bins along dim %d; pass n",
                           op, (long long)n, (long long)m, h);
    } else if (n <= 0) {
        return ag_fail(AG_ERR_INVALID, "%s: expected n >= 1 (or -1 for 2*(m-1)), given %lld", op, (long long)n);
    }
    double total = (double)n;
    for (int i = 0; i < nd - 1; i++) {
        if (t->shape[dims[i]] < 1)
            return ag_fail(AG_ERR_SHAPE, "%s: invalid number of data points (0) along dim %d", op, dims[i]);
        total *= (double)t->shape[dims[i]];
    }
    ag_scope_begin();
    ag_tensor *x = resize_dim(op, t, h, n / 2 + 1);
    ag_tensor *r = xform(op, AG_FFT_C2R, x, dims, nd, n, norm_scale(norm, true, total));
    ag_keep(r);
    ag_scope_end();
    return r;
}

ag_tensor *ag_rfft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm) { return r2c("ag_rfft", t, n, &dim, 1, norm); }
ag_tensor *ag_irfft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm) { return c2r("ag_irfft", t, n, &dim, 1, norm); }
ag_tensor *ag_rfftn(ag_tensor *t, const int *dims, int ndims, ag_fft_norm norm) {
    return r2c("ag_rfftn", t, -1, dims, ndims, norm);
}
ag_tensor *ag_irfftn(ag_tensor *t, const int *dims, int ndims, int64_t n_last, ag_fft_norm norm) {
    return c2r("ag_irfftn", t, n_last, dims, ndims, norm);
}

/* ---- fftshift / ifftshift ----------------------------------------------------------------- */
/* params: red.dims/ndims = normalised dims, red.keepdim = inverse (ifftshift) */
static ag_tensor *shift_op(const char *op, ag_tensor *t, const int *dims, int ndims, bool inverse);

int ag__bw_shift(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = shift_op(n->p.red.keepdim ? "ag_ifftshift_backward" : "ag_fftshift_backward", g, n->p.red.dims,
                      n->p.red.ndims, !n->p.red.keepdim);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *shift_op(const char *op, ag_tensor *t, const int *dims_in, int ndims, bool inverse) {
    if (!AG_NONNULL(op, t)) return NULL;
    int dims[AG_MAX_DIMS];
    int nd = norm_dims(op, t, dims_in, ndims, dims);
    if (nd < 0) return NULL;
    int64_t shift[AG_MAX_DIMS] = {0};
    for (int i = 0; i < nd; i++) {
        int64_t n = t->shape[dims[i]];
        shift[dims[i]] = n ? (inverse ? (n - n / 2) % n : n / 2) : 0; /* roll by n/2 or -(n/2) */
    }
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    const ag_kernels *k = ag__kernels(t);
    int rolled[AG_MAX_DIMS], nr = 0;
    for (int d = 0; d < t->ndim; d++)
        if (shift[d]) rolled[nr++] = d;
    size_t es = ag_dtype_size(t->dtype);
    /* 2^nr blocks: along each rolled dim, src [0, n-s) -> dst [s, n) and src [n-s, n) -> dst [0, s) */
    for (int b = 0; b < (1 << nr); b++) {
        ag_kview vo = ag__view(r), vi = ag__view(t);
        for (int j = 0; j < nr; j++) {
            int d = rolled[j];
            int64_t n = t->shape[d], s = shift[d];
            if (b >> j & 1) {
                vi.data = (char *)vi.data + (n - s) * vi.strides[d] * (int64_t)es;
                vi.shape[d] = vo.shape[d] = s;
            } else {
                vo.data = (char *)vo.data + s * vo.strides[d] * (int64_t)es;
                vi.shape[d] = vo.shape[d] = n - s;
            }
        }
        if (k->copy(&vo, &vi) < 0) { ag__drop(r); return NULL; }
    }
    ag_op_params p = {0};
    for (int i = 0; i < nd; i++) p.red.dims[i] = dims[i];
    p.red.ndims = nd;
    p.red.keepdim = inverse;
    bool diff = ag_dtype_is_float(t->dtype);
    return finish(r, op, diff ? AG_OP(FFTSHIFT) : NULL, t, &p);
}

ag_tensor *ag_fftshift(ag_tensor *t, const int *dims, int ndims) { return shift_op("ag_fftshift", t, dims, ndims, false); }
ag_tensor *ag_ifftshift(ag_tensor *t, const int *dims, int ndims) { return shift_op("ag_ifftshift", t, dims, ndims, true); }

/* ---- sample frequencies ------------------------------------------------------------------- */
static ag_tensor *freqs(const char *op, int64_t n, double d, ag_dtype dt, bool half, ag_device dev) {
    if (n < 1) return ag_fail(AG_ERR_INVALID, "%s: expected n >= 1, given %lld", op, (long long)n);
    if (!(d != 0) || !isfinite(d)) return ag_fail(AG_ERR_INVALID, "%s: expected a finite, nonzero spacing d, given %g", op, d);
    if (dt != AG_F32 && dt != AG_F64)
        return ag_fail(AG_ERR_DTYPE, "%s: expected dtype f32 or f64, given %s", op,
                       (unsigned)dt < AG_NUM_DTYPES ? ag_dtype_name(dt) : "an invalid dtype");
    int64_t m = half ? n / 2 + 1 : n;
    double *v = malloc((size_t)m * sizeof *v);
    if (!v) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", op);
    double step = 1.0 / ((double)n * d);
    for (int64_t i = 0; i < m; i++) {
        int64_t kf = (half || i < (n + 1) / 2) ? i : i - n; /* numpy: 0..(n-1)/2, then -(n/2)..-1 */
        v[i] = (double)kf * step;
    }
    ag_tensor *r;
    if (dt == AG_F32) {
        float *f = malloc((size_t)m * sizeof *f);
        if (!f) { free(v); return ag_fail(AG_ERR_NOMEM, "%s: out of memory", op); }
        for (int64_t i = 0; i < m; i++) f[i] = (float)v[i];
        r = ag_from_data_on(f, &m, 1, AG_F32, dev);
        free(f);
    } else {
        r = ag_from_data_on(v, &m, 1, AG_F64, dev);
    }
    free(v);
    return r;
}

ag_tensor *ag_fftfreq_on(int64_t n, double d, ag_dtype dt, ag_device dev) {
    return freqs("ag_fftfreq", n, d, dt, false, dev);
}
ag_tensor *ag_rfftfreq_on(int64_t n, double d, ag_dtype dt, ag_device dev) {
    return freqs("ag_rfftfreq", n, d, dt, true, dev);
}
ag_tensor *ag_fftfreq(int64_t n, double d, ag_dtype dt) { return ag_fftfreq_on(n, d, dt, AG_CPU); }
ag_tensor *ag_rfftfreq(int64_t n, double d, ag_dtype dt) { return ag_rfftfreq_on(n, d, dt, AG_CPU); }

/* ---- FFTW wisdom ------------------------------------------------------------------------ */

static int write_text(void *ctx, const char *tmp) {
    FILE *f = fopen(tmp, "w");
    if (!f) return ag_set_error(AG_ERR_IO, "ag_fft_save_wisdom: cannot open '%s': %s", tmp, strerror(errno));
    bool ok = fputs(ctx, f) >= 0;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : ag_set_error(AG_ERR_IO, "ag_fft_save_wisdom: writing '%s' failed: %s", tmp, strerror(errno));
}

int ag_fft_save_wisdom(const char *path) {
    if (!path) return ag_set_error(AG_ERR_INVALID, "ag_fft_save_wisdom: NULL path");
    char *text = ag_cpu_kernels.fft_wisdom_export();
    if (!text) return ag_error_code();
    int rc = ag__write_file_atomic("ag_fft_save_wisdom", path, write_text, text);
    free(text);
    return rc;
}

int ag_fft_load_wisdom(const char *path) {
    if (!path) return ag_set_error(AG_ERR_INVALID, "ag_fft_load_wisdom: NULL path");
    FILE *f = fopen(path, "r");
    if (!f) return ag_set_error(AG_ERR_IO, "ag_fft_load_wisdom: cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    int rc = 0;
    while (text) {
        n += fread(text + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *bigger = realloc(text, cap * 2);
        if (!bigger) { free(text); text = NULL; break; }
        text = bigger;
        cap *= 2;
    }
    if (!text) rc = ag_set_error(AG_ERR_NOMEM, "ag_fft_load_wisdom: out of memory reading '%s'", path);
    else if (ferror(f)) rc = ag_set_error(AG_ERR_IO, "ag_fft_load_wisdom: reading '%s' failed", path);
    fclose(f);
    if (!rc) {
        text[n] = 0;
        /* The backend does not know the file, so its message is reworded here to name it. The
         * first error of a thread sticks: an error pending before this call is kept as it is (the
         * import then records nothing), so only an error the import itself recorded is replaced. */
        bool pending = ag_failed();
        rc = ag_cpu_kernels.fft_wisdom_import(text);
        if (rc && !pending) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            ag_status code = ag_error_code();
            ag_clear_error();
            rc = ag_set_error(code, "%s ('%s')", msg, path);
        }
    }
    free(text);
    return rc;
}

/* ---- the plan cache ---------------------------------------------------------------------- */

static const ag_kernels *cache_backend(const char *op, ag_device dev) {
    const ag_kernels *k = ag_kernels_for(dev);
    if (!k)
        ag_set_error(AG_ERR_DEVICE, "%s: device %s:%d is not available in this build", op,
                     dev.kind == AG_DEV_CUDA ? "cuda" : "cpu", dev.index);
    return k;
}

int ag_fft_plan_cache_stats(ag_device dev, ag_fft_cache_stats *s) {
    if (s) memset(s, 0, sizeof *s);
    const ag_kernels *k = cache_backend("ag_fft_plan_cache_stats", dev);
    if (!k) return AG_ERR_DEVICE;
    if (!s) return ag_set_error(AG_ERR_INVALID, "ag_fft_plan_cache_stats: NULL stats");
    if (!k->fft_cache_stats)
        return ag_set_error(AG_ERR_NOTIMPL, "ag_fft_plan_cache_stats: not implemented for %s", k->name);
    return k->fft_cache_stats(s);
}

int ag_fft_plan_cache_clear(ag_device dev) {
    const ag_kernels *k = cache_backend("ag_fft_plan_cache_clear", dev);
    if (!k) return AG_ERR_DEVICE;
    if (!k->fft_cache_clear)
        return ag_set_error(AG_ERR_NOTIMPL, "ag_fft_plan_cache_clear: not implemented for %s", k->name);
    return k->fft_cache_clear();
}
