/* imaging/nufft.c — a 2-D non-uniform FFT between packed image cubes and visibilities at fixed
 * (u, v), composed from tensor ops so it runs on any device and differentiates through
 * autograd: the type 2 (grid -> points) is  deconvolve · zero-pad ×2 · FFT · interpolate, the
 * interpolation a gather of each point's w × w fine-grid neighbours times the kernel weights,
 * whose backward (a scatter-add) is exactly the type 1 spread. The plan (indices, weights,
 * deconvolution) is built once for the points, on the host, and moved to their device.
 *
 * Kernel: the "exponential of semicircle" φ(z) = exp(β(√(1 − z²) − 1)), |z| < 1, of FINUFFT
 * (Barnett, Magland, af Klinteberg 2019), w = ⌈log10(10/ε)⌉ fine cells wide with β = 2.30 w at
 * upsampling σ = 2. Its Fourier transform, for the deconvolution, by the midpoint rule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#define MAXW 16
#define NQUAD 2000

struct ag_nufft_plan {
    ag_grid_coords gc;
    int sign, w;
    int64_t nfine, nvis, nsets;   /* nsets: 1 (points shared by every channel) or nchan */
    double eps;
    ag_dtype real;
    ag_device dev;
    ag_tensor *corr;              /* (npix, npix) packed: 1/(ψ̂(p/N) ψ̂(q/N)) */
    ag_tensor **idx, **wgt;       /* per set: (nvis·w²) i64 flat fine-grid cells, (nvis, w²) weights */
};

void ag_nufft_plan_free(ag_nufft_plan *p) {
    if (!p) return;
    ag__drop(p->corr);
    for (int64_t s = 0; p->idx && s < p->nsets; s++) ag__drop(p->idx[s]), ag__drop(p->wgt[s]);
    free(p->idx), free(p->wgt);
    free(p);
}

static double es(double z, double beta) { return fabs(z) < 1 ? exp(beta * (sqrt(1 - z * z) - 1)) : 0; }

/* ψ̂(ξ) = ∫ φ(2t/w) e^{-2πiξt} dt over t in fine cells (even, so a cosine transform) */
static double es_hat(double xi, int w, double beta) {
    double h = 0.5 * w / NQUAD, s = 0;
    for (int i = 0; i < NQUAD; i++) {
        double t = (i + 0.5) * h;
        s += es(2 * t / w, beta) * cos(2 * M_PI * xi * t);
    }
    return 2 * h * s;
}

/* a plan tensor from host values, in dtype dt on dev, owned by the plan (not by a scope) */
static ag_tensor *plan_tensor(const void *h, const int64_t *shape, int nd, ag_dtype host_dt, ag_dtype dt, ag_device dev) {
    ag_tensor *t = ag_from_data_on(h, shape, nd, host_dt, dev);
    if (!t) return NULL;
    ag__unscope(t);
    if (dt == host_dt) return t;
    ag_tensor *c = ag_to_dtype(t, dt);
    ag__drop(t);
    if (c) ag__unscope(c);
    return c;
}

ag_nufft_plan *ag_nufft_plan_new(const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v, double eps, int sign) {
    const char *fn = "ag_nufft_plan_new";
    if (!gc || !u || !v) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: expected gc, u and v, given NULL", fn);
    if (gc->npix < 2 || gc->npix % 2 || !(gc->dl > 0) || !isfinite(gc->dl) || gc->dm != gc->dl)
        return ag_fail(AG_ERR_INVALID, "%s: expected grid coordinates from ag_grid_coords_init, given npix %lld, dl %g",
                       fn, (long long)gc->npix, gc->dl);
    if (sign < -1 || sign > 1) return ag_fail(AG_ERR_INVALID, "%s: expected sign -1 (MPoL) or +1 (VLBI), given %d", fn, sign);
    ag_dtype dt = ag_dtype_of(u);
    if ((dt != AG_F64 && dt != AG_F32) || ag_dtype_of(v) != dt)
        return ag_fail(AG_ERR_DTYPE, "%s: expected u and v both f64 or both f32, given %s and %s", fn,
                       ag_dtype_name(dt), ag_dtype_name(ag_dtype_of(v)));
    int nd = ag_ndim(u);
    if (nd < 1 || nd > 2 || ag_ndim(v) != nd || ag_shape(v)[0] != ag_shape(u)[0] || ag_shape(v)[nd - 1] != ag_shape(u)[nd - 1])
        return ag_fail(AG_ERR_SHAPE, "%s: expected u and v of one shape, (nvis) or (nchan, nvis), given %s and %s", fn,
                       AG_SHP(u), AG_SHP(v));
    if (!ag_device_eq(ag_device_of(u), ag_device_of(v)))
        return ag_fail(AG_ERR_DEVICE, "%s: expected u and v on one device", fn);
    double emin = dt == AG_F64 ? 1e-14 : 1e-6;
    if (!(eps >= emin && eps <= 1e-1))
        return ag_fail(AG_ERR_INVALID, "%s: expected a tolerance in [%g, 0.1] for %s points, given %g", fn, emin,
                       ag_dtype_name(dt), eps);
    if (ag_grid_check_data_fit(gc, u, v) < 0) return NULL;

    int w = (int)ceil(log10(10 / eps));
    if (w < 2) w = 2;
    if (w > MAXW) w = MAXW;
    double beta = 2.30 * w;
    int64_t npix = gc->npix, N = 2 * npix, nsets = nd == 2 ? ag_shape(u)[0] : 1, nvis = ag_shape(u)[nd - 1];
    ag_nufft_plan *p = calloc(1, sizeof *p);
    double *uh = malloc((size_t)(nsets * nvis + 1) * sizeof *uh), *vh = malloc((size_t)(nsets * nvis + 1) * sizeof *vh);
    double *corr = malloc((size_t)(npix * npix) * sizeof *corr), *hat = malloc((size_t)npix * sizeof *hat);
    int64_t *ix = malloc((size_t)(nvis * w * w + 1) * sizeof *ix);
    double *wt = malloc((size_t)(nvis * w * w + 1) * sizeof *wt);
    if (p) p->idx = calloc((size_t)nsets, sizeof *p->idx), p->wgt = calloc((size_t)nsets, sizeof *p->wgt);
    if (!p || !uh || !vh || !corr || !hat || !ix || !wt || !p->idx || !p->wgt) {
        ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    p->gc = *gc, p->sign = sign > 0 ? 1 : -1, p->w = w, p->nfine = N, p->nvis = nvis, p->nsets = nsets;
    p->eps = eps, p->real = dt, p->dev = ag_device_of(u);
    if (ag_copy_to_buffer(u, uh, AG_F64) < 0 || ag_copy_to_buffer(v, vh, AG_F64) < 0) goto fail;
    for (int64_t i = 0; i < npix; i++) {
        int64_t k = i < npix / 2 ? i : i - npix; /* packed (FFT-order) pixel index */
        hat[i] = es_hat((double)k / N, w, beta);
    }
    for (int64_t r = 0; r < npix; r++)
        for (int64_t c = 0; c < npix; c++) corr[r * npix + c] = 1 / (hat[r] * hat[c]);
    if (!(p->corr = plan_tensor(corr, AG_SHAPE(npix, npix), AG_F64, dt, p->dev))) goto fail;
    for (int64_t s = 0; s < nsets; s++) {
        for (int64_t k = 0; k < nvis; k++) {
            /* the point's position in fine cells: u l_p = (u dl N) (p / N) */
            double x = uh[s * nvis + k] * gc->dl * N, y = vh[s * nvis + k] * gc->dm * N;
            int64_t x0 = (int64_t)ceil(x - 0.5 * w), y0 = (int64_t)ceil(y - 0.5 * w);
            double wx[MAXW], wy[MAXW];
            for (int j = 0; j < w; j++) wx[j] = es(2 * (x - (double)(x0 + j)) / w, beta), wy[j] = es(2 * (y - (double)(y0 + j)) / w, beta);
            for (int a = 0; a < w; a++)
                for (int b = 0; b < w; b++) {
                    int64_t row = ((y0 + a) % N + N) % N, col = ((x0 + b) % N + N) % N, q = (k * w + a) * w + b;
                    ix[q] = row * N + col, wt[q] = wy[a] * wx[b];
                }
        }
        p->idx[s] = plan_tensor(ix, AG_SHAPE(nvis * w * w), AG_I64, AG_I64, p->dev);
        p->wgt[s] = plan_tensor(wt, AG_SHAPE(nvis, w * w), AG_F64, dt, p->dev);
        if (!p->idx[s] || !p->wgt[s]) goto fail;
    }
    free(uh), free(vh), free(corr), free(hat), free(ix), free(wt);
    return p;
fail:
    free(uh), free(vh), free(corr), free(hat), free(ix), free(wt);
    ag_nufft_plan_free(p);
    return NULL;
}

/* packed (…, n, n) <-> packed (…, m, m), m > n: zero-padding / cropping around the origin in
 * FFT order (through the centred layout, where it is a plain pad / narrow) */
static ag_tensor *pad_packed(ag_tensor *t, int64_t n, int64_t m) {
    int d[2] = {-2, -1};
    int64_t e = (m - n) / 2, pads[4] = {e, e, e, e};
    return ag_ifftshift(ag_pad(ag_fftshift(t, d, 2), pads, 4, AG_PAD_CONSTANT, 0), d, 2);
}
static ag_tensor *crop_packed(ag_tensor *t, int64_t m, int64_t n) {
    int d[2] = {-2, -1};
    ag_tensor *c = ag_fftshift(t, d, 2);
    int64_t e = (m - n) / 2;
    c = ag_narrow(ag_narrow(c, -2, e, n), -1, e, n);
    return ag_ifftshift(c, d, 2);
}

static int check_plan(const char *fn, const ag_nufft_plan *p, ag_tensor *t) {
    if (!p || !t) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: expected a plan and a tensor, given NULL", fn);
    if (!ag_device_eq(ag_device_of(t), p->dev))
        return ag_set_error(AG_ERR_DEVICE, "%s: expected the tensor on the plan's device", fn);
    return 0;
}

ag_tensor *ag_nufft(const ag_nufft_plan *p, ag_tensor *cube) {
    const char *fn = "ag_nufft";
    if (check_plan(fn, p, cube) < 0) return NULL;
    int64_t npix = p->gc.npix, N = p->nfine, nd = ag_ndim(cube);
    ag_dtype dt = ag_dtype_of(cube), want_c = p->real == AG_F64 ? AG_C128 : AG_C64;
    if (dt != p->real && dt != want_c)
        return ag_fail(AG_ERR_DTYPE, "%s: expected a %s or %s cube (the points' precision), given %s", fn,
                       ag_dtype_name(p->real), ag_dtype_name(want_c), ag_dtype_name(dt));
    if ((nd != 2 && nd != 3) || ag_shape(cube)[nd - 1] != npix || ag_shape(cube)[nd - 2] != npix)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a packed cube (nchan, %lld, %lld) or (%lld, %lld), given %s", fn,
                       (long long)npix, (long long)npix, (long long)npix, (long long)npix, AG_SHP(cube));
    int64_t nchan = nd == 3 ? ag_shape(cube)[0] : 1;
    if (p->nsets > 1 && p->nsets != nchan)
        return ag_fail(AG_ERR_SHAPE, "%s: the plan has points for %lld channels, the cube %lld", fn,
                       (long long)p->nsets, (long long)nchan);
    ag_scope_begin();
    ag_tensor *x = ag_mul(ag_reshape(cube, AG_SHAPE(nchan, npix, npix)), p->corr);
    x = pad_packed(x, npix, N);
    ag_tensor *F = p->sign < 0 ? ag_fft2(x, AG_NORM_BACKWARD) : ag_ifft2(x, AG_NORM_FORWARD);
    F = ag_reshape(F, AG_SHAPE(nchan, N * N));
    int64_t w2 = (int64_t)p->w * p->w;
    ag_tensor *out;
    if (p->nsets == 1) {
        ag_tensor *g = ag_reshape(ag_index_select(F, 1, p->idx[0]), AG_SHAPE(nchan, p->nvis, w2));
        out = ag_sum(ag_mul(g, p->wgt[0]), (const int[]){2}, 1, false);
    } else {
        ag_tensor **rows = malloc((size_t)nchan * sizeof *rows);
        if (!rows) { ag_scope_end(); return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn); }
        for (int64_t c = 0; c < nchan; c++) {
            ag_tensor *g = ag_reshape(ag_index_select(ag_select(F, 0, c), 0, p->idx[c]), AG_SHAPE(p->nvis, w2));
            rows[c] = ag_sum(ag_mul(g, p->wgt[c]), (const int[]){1}, 1, false);
        }
        out = ag_stack(rows, (int)nchan, 0);
        free(rows);
    }
    out = ag_keep(ag_mul_s(out, p->gc.cell_size * p->gc.cell_size));
    ag_scope_end();
    return out;
}

ag_tensor *ag_nufft_adjoint(const ag_nufft_plan *p, ag_tensor *vis) {
    const char *fn = "ag_nufft_adjoint";
    if (check_plan(fn, p, vis) < 0) return NULL;
    ag_dtype want = p->real == AG_F64 ? AG_C128 : AG_C64;
    int nd = ag_ndim(vis);
    if (ag_dtype_of(vis) != want)
        return ag_fail(AG_ERR_DTYPE, "%s: expected %s visibilities (the points' precision), given %s", fn,
                       ag_dtype_name(want), ag_dtype_name(ag_dtype_of(vis)));
    if ((nd != 1 && nd != 2) || ag_shape(vis)[nd - 1] != p->nvis || (p->nsets > 1 && (nd != 2 || ag_shape(vis)[0] != p->nsets)))
        return ag_fail(AG_ERR_SHAPE, "%s: expected visibilities (nchan, %lld)%s, given %s", fn, (long long)p->nvis,
                       p->nsets > 1 ? " with the plan's nchan" : " or (nvis)", AG_SHP(vis));
    int64_t nchan = nd == 2 ? ag_shape(vis)[0] : 1, npix = p->gc.npix, N = p->nfine, w2 = (int64_t)p->w * p->w;
    ag_scope_begin();
    ag_tensor *V = ag_reshape(vis, AG_SHAPE(nchan, p->nvis, 1));
    ag_tensor *F;
    if (p->nsets == 1) {
        ag_tensor *src = ag_reshape(ag_mul(V, p->wgt[0]), AG_SHAPE(nchan, p->nvis * w2));
        F = ag_index_add(ag_zeros_on(AG_SHAPE(nchan, N * N), want, p->dev), 1, p->idx[0], src, 1.0);
    } else {
        ag_tensor **rows = malloc((size_t)nchan * sizeof *rows);
        if (!rows) { ag_scope_end(); return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn); }
        for (int64_t c = 0; c < nchan; c++) {
            ag_tensor *src = ag_reshape(ag_mul(ag_select(V, 0, c), p->wgt[c]), AG_SHAPE(p->nvis * w2));
            rows[c] = ag_index_add(ag_zeros_on(AG_SHAPE(N * N), want, p->dev), 0, p->idx[c], src, 1.0);
        }
        F = ag_stack(rows, (int)nchan, 0);
        free(rows);
    }
    F = ag_reshape(F, AG_SHAPE(nchan, N, N));
    ag_tensor *A = p->sign < 0 ? ag_ifft2(F, AG_NORM_FORWARD) : ag_fft2(F, AG_NORM_BACKWARD);
    A = ag_mul(crop_packed(A, N, npix), p->corr);
    A = ag_keep(ag_mul_s(A, p->gc.cell_size * p->gc.cell_size));
    ag_scope_end();
    return A;
}

int ag_nufft_plan_width(const ag_nufft_plan *p) { return p ? p->w : 0; }
