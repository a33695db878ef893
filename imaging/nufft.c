/* imaging/nufft.c — a 2-D non-uniform FFT between packed image cubes and visibilities at fixed
 * (u, v): the type 2 (grid -> points) is  deconvolve · zero-pad ×2 · FFT · interpolate, the type
 * 1 (points -> grid) its adjoint  spread · inverse FFT · crop · deconvolve. Deconvolution, padding
 * and FFT are tensor ops (differentiated by autograd); interpolation and spreading are the fused
 * nufft_interp / nufft_spread kernels (tensor/layer.h), made differentiable here with the
 * op-author API: each is linear with real weights, so the backward of one is the other.
 *
 * The plan, made once for the points on the host and moved to their device: the points in fine
 * cells, sorted into cache-sized square bins (counting sort, stable, so the order is fixed), the
 * permutation back to the user's order, the bin offsets, and the kernel as one polynomial per
 * fine cell of its support (fitted here; its degree the smallest whose error is below ε/10).
 *
 * Kernel: the "exponential of semicircle" φ(z) = exp(β(√(1 − z²) − 1)), |z| < 1, of FINUFFT
 * (Barnett, Magland, af Klinteberg 2019), w = ⌈log10(10/ε)⌉ fine cells wide with β = 2.30 w at
 * upsampling σ = 2. Its Fourier transform, for the deconvolution, by the midpoint rule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "astrograd/op.h"
#include "tensor/layer.h"

#define MAXW 16
#define MAXD 32
#define NQUAD 2000
#define TILE 32 /* bin side in fine cells: a subgrid of (32 + w + 2)² c128 stays in L2 */

/* what the interpolation and spreading ops need, shared by the plan and the graph nodes that
 * use it (a payload), so a plan freed before a backward leaves the nodes working */
typedef struct kplan {
    ag_tensor *pts, *perm, *bins, *coef; /* (S, M, 2) f64, (S, M) i64, (S, ntile² + 1) i64, (D, w) f64 */
    int w, ntile;
    int64_t n;
    ag_payload *self;
} kplan;

static void kplan_free(void *q) {
    kplan *k = q;
    if (!k) return;
    ag__drop(k->pts), ag__drop(k->perm), ag__drop(k->bins), ag__drop(k->coef);
    free(k);
}

struct ag_nufft_plan {
    ag_grid_coords gc;
    int sign, w;
    int64_t nfine, nvis, nsets;   /* nsets: 1 (points shared by every channel) or nchan */
    double eps;
    ag_dtype real;
    ag_device dev;
    ag_tensor *corr;              /* (npix, npix) packed: 1/(ψ̂(p/N) ψ̂(q/N)) */
    ag_payload *k;                /* a kplan */
};

void ag_nufft_plan_free(ag_nufft_plan *p) {
    if (!p) return;
    ag__drop(p->corr);
    ag_payload_release(p->k);
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

/* the weight of cell j of the support at z in [-1, 1] (backends/kernels.h, nufft_interp) */
static double piece(int j, double z, int w, double beta) {
    double a = 2 * ((z + 1) / 2 + 0.5 * w - 1 - j) / w;
    return exp(beta * (sqrt(fmax(0, 1 - a * a)) - 1));
}

/* coef (D, w), Horner order, of the degree D - 1 interpolants of the w pieces at Chebyshev
 * points; returns D, the smallest whose error (evaluated as the kernel evaluates it) is below
 * tol, or MAXD */
static int fit_kernel(int w, double beta, double tol, double *coef) {
    int D = w < 4 ? 4 : w;
    for (;; D++) {
        for (int j = 0; j < w; j++) {
            long double c[MAXD] = {0}, m[MAXD] = {0}, t0[MAXD], t1[MAXD], t2[MAXD];
            for (int i = 0; i < D; i++) { /* Chebyshev coefficients c_i from the D nodes */
                long double s = 0;
                for (int q = 0; q < D; q++) {
                    long double th = M_PI * (q + 0.5L) / D;
                    s += piece(j, (double)cosl(th), w, beta) * cosl(i * th);
                }
                c[i] = (i ? 2 : 1) * s / D;
            }
            /* monomials: T_0 = 1, T_1 = z, T_{i+1} = 2 z T_i - T_{i-1} */
            memset(t0, 0, sizeof t0), memset(t1, 0, sizeof t1);
            t0[0] = 1, t1[1] = 1;
            for (int d = 0; d < D; d++) m[d] += c[0] * t0[d] + (D > 1 ? c[1] * t1[d] : 0);
            for (int i = 2; i < D; i++) {
                for (int d = 0; d < D; d++) t2[d] = (d ? 2 * t1[d - 1] : 0) - t0[d];
                for (int d = 0; d < D; d++) m[d] += c[i] * t2[d], t0[d] = t1[d], t1[d] = t2[d];
            }
            for (int d = 0; d < D; d++) coef[d * w + j] = (double)m[D - 1 - d];
        }
        double err = 0;
        for (int i = 0; i <= 400; i++) {
            double z = -1 + i / 200.0;
            for (int j = 0; j < w; j++) {
                double y = coef[j];
                for (int d = 1; d < D; d++) y = y * z + coef[d * w + j];
                err = fmax(err, fabs(y - piece(j, z, w, beta)));
            }
        }
        if (err <= tol || D == MAXD) return D;
    }
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

/* tiles per side: about TILE cells each, an even count (the spreader's colouring) of tiles of at
 * least w + 2 cells, or one */
static int tiles(int64_t n, int w) {
    int64_t t = n / TILE;
    if (t % 2) t--;
    while (t >= 2 && n / t < w + 2) t -= 2;
    return t >= 2 ? (int)t : 1;
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
    int nt = tiles(N, w);
    int64_t nb = (int64_t)nt * nt, tot = nsets * nvis;
    ag_nufft_plan *p = calloc(1, sizeof *p);
    kplan *k = calloc(1, sizeof *k);
    double *uh = malloc((size_t)(tot + 1) * sizeof *uh), *vh = malloc((size_t)(tot + 1) * sizeof *vh);
    double *corr = malloc((size_t)(npix * npix) * sizeof *corr), *hat = malloc((size_t)npix * sizeof *hat);
    double *pts = malloc((size_t)(2 * tot + 1) * sizeof *pts), coef[MAXD * MAXW];
    int64_t *perm = malloc((size_t)(tot + 1) * sizeof *perm), *bins = malloc((size_t)(nsets * (nb + 1)) * sizeof *bins);
    int64_t *bin_of = malloc((size_t)(nvis + 1) * sizeof *bin_of);
    ag_payload *pl = NULL;
    if (!p || !k || !uh || !vh || !corr || !hat || !pts || !perm || !bins || !bin_of) {
        free(k);
        ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    if (!(pl = ag_payload_new(k, kplan_free))) goto fail; /* frees k on failure */
    p->k = pl, k->self = pl;
    p->gc = *gc, p->sign = sign > 0 ? 1 : -1, p->w = w, p->nfine = N, p->nvis = nvis, p->nsets = nsets;
    p->eps = eps, p->real = dt, p->dev = ag_device_of(u);
    k->w = w, k->ntile = nt, k->n = N;
    if (ag_copy_to_buffer(u, uh, AG_F64) < 0 || ag_copy_to_buffer(v, vh, AG_F64) < 0) goto fail;
    for (int64_t i = 0; i < npix; i++) {
        int64_t q = i < npix / 2 ? i : i - npix; /* packed (FFT-order) pixel index */
        hat[i] = es_hat((double)q / N, w, beta);
    }
    for (int64_t r = 0; r < npix; r++)
        for (int64_t c = 0; c < npix; c++) corr[r * npix + c] = 1 / (hat[r] * hat[c]);
    if (!(p->corr = plan_tensor(corr, AG_SHAPE(npix, npix), AG_F64, dt, p->dev))) goto fail;
    int D = fit_kernel(w, beta, fmax(eps / 10, 1e-15), coef);
    for (int64_t s = 0; s < nsets; s++) {
        int64_t *bo = bins + s * (nb + 1);
        memset(bo, 0, (size_t)(nb + 1) * sizeof *bo);
        for (int64_t j = 0; j < nvis; j++) {
            /* the point's position in fine cells, u l_p = (u dl N) (p / N), wrapped into [0, N) */
            double x = uh[s * nvis + j] * gc->dl * N, y = vh[s * nvis + j] * gc->dm * N;
            x -= N * floor(x / N), y -= N * floor(y / N);
            if (x >= N) x = 0; /* -tiny + N rounds to N */
            if (y >= N) y = 0;
            uh[s * nvis + j] = x, vh[s * nvis + j] = y;
            int64_t tx = (int64_t)x * nt / N, ty = (int64_t)y * nt / N;
            /* the bin whose integer-division bounds hold floor(x) (tx * N / nt <= floor(x)) */
            while (tx > 0 && tx * N / nt > (int64_t)x) tx--;
            while (tx + 1 < nt && (tx + 1) * N / nt <= (int64_t)x) tx++;
            while (ty > 0 && ty * N / nt > (int64_t)y) ty--;
            while (ty + 1 < nt && (ty + 1) * N / nt <= (int64_t)y) ty++;
            bin_of[j] = ty * nt + tx;
            bo[bin_of[j] + 1]++;
        }
        for (int64_t b = 0; b < nb; b++) bo[b + 1] += bo[b];
        int64_t *next = malloc((size_t)(nb + 1) * sizeof *next);
        if (!next) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
        memcpy(next, bo, (size_t)nb * sizeof *next);
        for (int64_t j = 0; j < nvis; j++) {
            int64_t q = s * nvis + next[bin_of[j]]++;
            perm[q] = j, pts[2 * q] = uh[s * nvis + j], pts[2 * q + 1] = vh[s * nvis + j];
        }
        free(next);
    }
    if (!(k->pts = plan_tensor(pts, AG_SHAPE(nsets, nvis, 2), AG_F64, AG_F64, p->dev)) ||
        !(k->perm = plan_tensor(perm, AG_SHAPE(nsets, nvis), AG_I64, AG_I64, p->dev)) ||
        !(k->bins = plan_tensor(bins, AG_SHAPE(nsets, nb + 1), AG_I64, AG_I64, p->dev)) ||
        !(k->coef = plan_tensor(coef, AG_SHAPE(D, w), AG_F64, AG_F64, p->dev)))
        goto fail;
    free(uh), free(vh), free(corr), free(hat), free(pts), free(perm), free(bins), free(bin_of);
    return p;
fail:
    free(uh), free(vh), free(corr), free(hat), free(pts), free(perm), free(bins), free(bin_of);
    if (p && !p->k && pl) ag_payload_release(pl);
    ag_nufft_plan_free(p);
    return NULL;
}

/* Interpolation F (nchan, N, N) -> (nchan, M) and spreading back, each the other's backward
 * (the weights are real, so the adjoint is the transpose). The node's payload is the kplan;
 * k->self is that payload (not a counted reference: whoever reaches k holds one). */
static ag_tensor *interp(const char *fn, kplan *k, ag_tensor *F);
static ag_tensor *spread(const char *fn, kplan *k, ag_tensor *V);
static int interp_bw(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = spread(ag_node_name(n), ag_node_payload(n), g);
    return gin[0] ? 0 : ag_error_code();
}
static int spread_bw(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = interp(ag_node_name(n), ag_node_payload(n), g);
    return gin[0] ? 0 : ag_error_code();
}
static const ag_opdef interp_op = {"ag_nufft (interpolation)", interp_bw, AG_DIFF(0)};
static const ag_opdef spread_op = {"ag_nufft_adjoint (spreading)", spread_bw, AG_DIFF(0)};

static ag_tensor *interp(const char *fn, kplan *k, ag_tensor *F) {
    ag_no_grad_begin();
    ag_tensor *r = ag__nufft_interp(fn, F, k->pts, k->perm, k->coef, k->w);
    ag_no_grad_end();
    r = ag_op_finish(r, &interp_op, AG_INPUTS(F), NULL, 0, k->self);
    return r;
}
static ag_tensor *spread(const char *fn, kplan *k, ag_tensor *V) {
    ag_no_grad_begin();
    ag_tensor *r = ag__nufft_spread(fn, V, k->pts, k->perm, k->bins, k->coef, k->w, k->ntile, k->n);
    ag_no_grad_end();
    r = ag_op_finish(r, &spread_op, AG_INPUTS(V), NULL, 0, k->self);
    return r;
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
    ag_tensor *out = F ? interp(fn, ag_payload_data(p->k), F) : NULL;
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
    int64_t nchan = nd == 2 ? ag_shape(vis)[0] : 1, npix = p->gc.npix, N = p->nfine;
    ag_scope_begin();
    ag_tensor *F = spread(fn, ag_payload_data(p->k), ag_reshape(vis, AG_SHAPE(nchan, p->nvis)));
    ag_tensor *A = !F ? NULL : p->sign < 0 ? ag_ifft2(F, AG_NORM_FORWARD) : ag_fft2(F, AG_NORM_BACKWARD);
    A = ag_mul(crop_packed(A, N, npix), p->corr);
    A = ag_keep(ag_mul_s(A, p->gc.cell_size * p->gc.cell_size));
    ag_scope_end();
    return A;
}

int ag_nufft_plan_width(const ag_nufft_plan *p) { return p ? p->w : 0; }
