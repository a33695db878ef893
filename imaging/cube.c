/* imaging/cube.c — BaseCube, ImageCube, FourierCube and the convolution layers HannConvCube,
 * GaussConvImage, GaussConvFourier (MPoL's images.py / fourier.py; the layouts they rely on are
 * the ops of tensor/layout.c). Composed from ag ops, so they are differentiable and run on
 * every device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

static bool check_gc(const char *fn, const ag_grid_coords *gc, int64_t nchan, bool need_nchan) {
    if (!gc) return ag_set_error(AG_ERR_INVALID, "%s: argument 1 (gc) is NULL", fn), false;
    if (gc->npix < 2 || gc->npix % 2 || !(gc->dl > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: expected grid coordinates from ag_grid_coords_init (even npix >= 2), "
                            "given npix %lld", fn, (long long)gc->npix), false;
    if (need_nchan && nchan < 1)
        return ag_set_error(AG_ERR_INVALID, "%s: expected nchan >= 1, given %lld", fn, (long long)nchan), false;
    return true;
}

/* a float cube (nchan, rows, columns); nchan < 0: any; npix < 0: any rows and columns, else
 * npix × npix; real: f32/f64 only (the image-plane layers) */
static bool check_cube_of(const char *fn, ag_tensor *t, int64_t nchan, int64_t npix, bool real) {
    if (!t) {
        if (!ag_failed()) ag_set_error(AG_ERR_INVALID, "%s: the cube is NULL", fn);
        return false;
    }
    const int64_t *s = ag_shape(t);
    if (ag_ndim(t) != 3 || (nchan >= 0 && s[0] != nchan) || (npix >= 0 && (s[1] != npix || s[2] != npix))) {
        char c[32] = "nchan", n[32] = "npix";
        if (nchan >= 0) snprintf(c, sizeof c, "%lld", (long long)nchan);
        if (npix >= 0) snprintf(n, sizeof n, "%lld", (long long)npix);
        ag_set_error(AG_ERR_SHAPE, "%s: expected a cube of shape [%s, %s, %s]%s, given %s", fn, c, npix >= 0 ? n : "rows",
                     npix >= 0 ? n : "columns", nchan >= 0 && npix >= 0 ? " (nchan, npix, npix)" : "", AG_SHP(t));
        return false;
    }
    ag_dtype dt = ag_dtype_of(t);
    if (!ag_dtype_is_float(dt) || (real && ag_dtype_is_complex(dt)))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a %s cube, given %s", fn, real ? "f32 or f64" : "f32, f64, c64 or c128",
                            ag_dtype_name(dt)), false;
    return true;
}
static bool check_cube(const char *fn, ag_tensor *t, int64_t nchan, int64_t npix) {
    return check_cube_of(fn, t, nchan, npix, false);
}

/* ---- BaseCube ---- */
typedef struct base_cube {
    ag_grid_coords gc;
    int64_t nchan;
    ag_pixel_map map;
    ag_tensor *(*user_fn)(ag_tensor *, void *);
    void *ctx;
} base_cube;

static ag_tensor *base_forward(ag_module *m, ag_tensor *x) {
    if (x) return ag_fail(AG_ERR_INVALID, "ag_base_cube (forward): expected no input (NULL; the cube is the parameter), "
                          "given a tensor of shape %s", AG_SHP(x));
    base_cube *s = ag_module_self(m);
    ag_tensor *b = ag_module_param(m, "base_cube");
    switch (s->map) {
    case AG_PIXEL_SOFTPLUS: return ag_softplus(b, 1.0, 20.0);
    case AG_PIXEL_IDENTITY: return ag_module_value(m, "base_cube");
    default: {
        ag_tensor *r = s->user_fn(b, s->ctx);
        if (!r && !ag_failed()) ag_set_error(AG_ERR_INVALID, "ag_base_cube (forward): user_fn returned NULL without an error");
        return r;
    }
    }
}
static const ag_module_class base_class = {.name = "BaseCube", .forward = base_forward, .self_size = sizeof(base_cube)};

ag_module *ag_base_cube(const ag_grid_coords *gc, int64_t nchan, ag_pixel_map map,
                        ag_tensor *(*user_fn)(ag_tensor *b, void *ctx), void *ctx, ag_tensor *init) {
    const char *fn = "ag_base_cube";
    if (init) ag__unscope(init);
    ag_module *m = NULL;
    if (!check_gc(fn, gc, nchan, true)) goto fail;
    if ((unsigned)map > AG_PIXEL_USER) {
        ag_set_error(AG_ERR_INVALID, "%s: expected AG_PIXEL_SOFTPLUS, AG_PIXEL_IDENTITY or AG_PIXEL_USER, given %d", fn, (int)map);
        goto fail;
    }
    if ((map == AG_PIXEL_USER) != (user_fn != NULL)) {
        ag_set_error(AG_ERR_INVALID, "%s: %s", fn, user_fn ? "user_fn given, but map is not AG_PIXEL_USER"
                                                            : "map AG_PIXEL_USER needs user_fn, given NULL");
        goto fail;
    }
    if (init && !check_cube_of(fn, init, nchan, gc->npix, true)) goto fail;
    /* constructors build on the CPU as nn/layers.c does; ag_module_to moves the module */
    if (!init && !(init = ag_full(AG_SHAPE(nchan, gc->npix, gc->npix), -3.0, ag_get_default_dtype()))) /* host */
        goto fail;
    ag__unscope(init); /* ours now, so the fail path may drop it */
    if (!(m = ag_module_new(&base_class))) goto fail;
    base_cube *s = ag_module_self(m);
    *s = (base_cube){*gc, nchan, map, user_fn, ctx};
    ag_tensor *p = init;
    init = NULL;
    if (ag_module_add_param(m, "base_cube", p) < 0) goto fail; /* takes p over, also on failure */
    ag_module_set_extra_repr(m, "nchan=%lld, npix=%lld, cell_size=%g", (long long)nchan, (long long)gc->npix, gc->cell_size);
    return m;
fail:
    if (init) ag__drop(init);
    ag_module_free(m);
    return NULL;
}

/* ---- ImageCube ---- */
typedef struct image_cube {
    ag_grid_coords gc;
    int64_t nchan;
    ag_tensor *cube; /* the last forward's output (our reference) */
} image_cube;

static ag_tensor *image_forward(ag_module *m, ag_tensor *x) {
    image_cube *s = ag_module_self(m);
    if (!check_cube("ag_image_cube (forward)", x, s->nchan, s->gc.npix)) return NULL;
    ag_tensor *r = ag__identity(x, "ag_image_cube");
    if (!r) return NULL;
    if (s->cube) ag__drop(s->cube);
    s->cube = ag_retain(r);
    return r;
}
static void image_free(ag_module *m) {
    image_cube *s = ag_module_self(m);
    if (s->cube) ag__drop(s->cube);
}
static const ag_module_class image_class = {
    .name = "ImageCube", .forward = image_forward, .free = image_free, .self_size = sizeof(image_cube)};

ag_module *ag_image_cube(const ag_grid_coords *gc, int64_t nchan) {
    if (!check_gc("ag_image_cube", gc, nchan, true)) return NULL;
    ag_module *m = ag_module_new(&image_class);
    if (!m) return NULL;
    image_cube *s = ag_module_self(m);
    s->gc = *gc;
    s->nchan = nchan;
    ag_module_set_extra_repr(m, "nchan=%lld, npix=%lld, cell_size=%g", (long long)nchan, (long long)gc->npix, gc->cell_size);
    return m;
}

static image_cube *image_state(const char *fn, ag_module *m) {
    if (!m) return ag_failed() ? NULL : (ag_set_error(AG_ERR_INVALID, "%s: the module is NULL", fn), NULL);
    if (ag_module_type(m) != image_class.name && strcmp(ag_module_type(m), image_class.name))
        return ag_set_error(AG_ERR_INVALID, "%s: expected an ImageCube, given a %s", fn, ag_module_type(m)), NULL;
    image_cube *s = ag_module_self(m);
    if (!s->cube) return ag_set_error(AG_ERR_INVALID, "%s: no cube yet (call ag_forward first)", fn), NULL;
    return s;
}

ag_tensor *ag_image_cube_sky(ag_module *m) {
    image_cube *s = image_state("ag_image_cube_sky", m);
    return s ? ag_packed_to_sky(s->cube) : NULL;
}

ag_tensor *ag_image_cube_flux(ag_module *m) {
    image_cube *s = image_state("ag_image_cube_flux", m);
    if (!s) return NULL;
    ag_scope_begin();
    ag_tensor *r = ag_keep(ag_mul_s(ag_sum(s->cube, AG_DIMS(1, 2), false), s->gc.cell_size * s->gc.cell_size));
    ag_scope_end();
    return r;
}

/* ---- FourierCube ---- */
typedef struct fourier_cube {
    ag_grid_coords gc;
    int sign;
    ag_tensor *vis; /* the last forward's output (our reference), as MPoL's self.vis */
} fourier_cube;

static ag_tensor *fourier_forward(ag_module *m, ag_tensor *x) {
    fourier_cube *s = ag_module_self(m);
    if (!check_cube("ag_fourier_cube (forward)", x, -1, s->gc.npix)) return NULL;
    double a = s->gc.cell_size * s->gc.cell_size;
    ag_tensor *v;
    if (ag_dtype_is_complex(ag_dtype_of(x)))
        v = ag_mul_s(s->sign < 0 ? ag_fft2(x, AG_NORM_BACKWARD) : ag_ifft2(x, AG_NORM_FORWARD), a);
    else /* r2c, then one pass for the other half, the scale and, for e^{+...}, the conjugate */
        v = ag_hermitian_fill(ag_rfftn(x, AG_DIMS(1, 2), AG_NORM_BACKWARD), s->gc.npix, a, s->sign > 0);
    if (!v) return NULL;
    if (s->vis) ag__drop(s->vis);
    s->vis = ag_retain(v);
    return v;
}
static void fourier_free(ag_module *m) {
    fourier_cube *s = ag_module_self(m);
    if (s->vis) ag__drop(s->vis);
}
static const ag_module_class fourier_class = {
    .name = "FourierCube", .forward = fourier_forward, .free = fourier_free, .self_size = sizeof(fourier_cube)};

ag_tensor *ag_fourier_cube_ground_vis(ag_module *m) {
    const char *fn = "ag_fourier_cube_ground_vis";
    if (!m) return ag_failed() ? NULL : (ag_set_error(AG_ERR_INVALID, "%s: the module is NULL", fn), NULL);
    if (strcmp(ag_module_type(m), fourier_class.name))
        return ag_set_error(AG_ERR_INVALID, "%s: expected a FourierCube, given a %s", fn, ag_module_type(m)), NULL;
    fourier_cube *s = ag_module_self(m);
    if (!s->vis) return ag_set_error(AG_ERR_INVALID, "%s: no visibilities yet (call ag_forward first)", fn), NULL;
    return ag_packed_to_ground(s->vis);
}

ag_module *ag_fourier_cube(const ag_grid_coords *gc, ag_fourier_opts opts) {
    if (!check_gc("ag_fourier_cube", gc, 1, false)) return NULL;
    if (opts.sign != 0 && opts.sign != -1 && opts.sign != 1)
        return ag_set_error(AG_ERR_INVALID, "ag_fourier_cube: expected sign -1 (MPoL) or +1 (VLBI), given %d", opts.sign),
               NULL;
    ag_module *m = ag_module_new(&fourier_class);
    if (!m) return NULL;
    fourier_cube *s = ag_module_self(m);
    s->gc = *gc;
    s->sign = opts.sign > 0 ? 1 : -1;
    ag_module_set_extra_repr(m, "npix=%lld, cell_size=%g, sign=%+d", (long long)gc->npix, gc->cell_size, s->sign);
    return m;
}

/* ---- convolution layers ---- */

/* HannConvCube and GaussConvImage: one depthwise convolution (groups = nchan) with "weight"
 * (nchan, 1, k, k) and a zero "bias" (nchan), parameters when trainable, buffers otherwise (so
 * both follow ag_module_to and ag_module_to_dtype). */
typedef struct dwconv {
    const char *fn;  /* forward's name in messages */
    int64_t nchan, npix; /* npix < 0: any size */
    int64_t pad;
    bool packed;     /* Hann: packed in and out, convolved as the sky cube */
    bool trainable;  /* weight and bias are parameters (else buffers) */
} dwconv;

static ag_tensor *dwconv_forward(ag_module *m, ag_tensor *x) {
    dwconv *s = ag_module_self(m);
    if (!check_cube_of(s->fn, x, s->nchan, s->npix, true)) return NULL;
    /* parameters as values (new references, released by forward's scope), buffers borrowed */
    ag_tensor *w = s->trainable ? ag_module_value(m, "weight") : ag_module_buffer(m, "weight");
    ag_tensor *b = s->trainable ? ag_module_value(m, "bias") : ag_module_buffer(m, "bias");
    if (!w || !b) return NULL;
    if (ag_dtype_of(x) != ag_dtype_of(w))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a %s cube (the module's dtype; ag_module_to_dtype converts it), given %s",
                       s->fn, ag_dtype_name(ag_dtype_of(w)), ag_dtype_name(ag_dtype_of(x)));
    ag_conv_opts o = {.stride = {1, 1}, .padding = {s->pad, s->pad}, .dilation = {1, 1}, .groups = (int)s->nchan};
    ag_tensor *sky = s->packed ? ag_packed_to_sky(x) : x;
    ag_tensor *y = ag_squeeze(ag_conv2d(ag_unsqueeze(sky, 0), w, b, &o), 0);
    return s->packed ? ag_sky_to_packed(y) : y;
}
static const ag_module_class hann_class = {.name = "HannConvCube", .forward = dwconv_forward, .self_size = sizeof(dwconv)};
static const ag_module_class gauss_image_class = {
    .name = "GaussConvImage", .forward = dwconv_forward, .self_size = sizeof(dwconv)};

/* k × k kernel (row-major, host) repeated over nchan as the module's weight, zero bias */
static ag_module *dwconv_new(const ag_module_class *cls, const char *fn, int64_t nchan, int64_t npix, const double *kern,
                             int64_t k, bool requires_grad, bool packed) {
    ag_module *m = ag_module_new(cls);
    if (!m) return NULL;
    dwconv *s = ag_module_self(m);
    *s = (dwconv){fn, nchan, npix, k / 2, packed, requires_grad};
    ag_dtype dt = ag_get_default_dtype();
    ag_scope_begin();
    /* constructors build on the CPU as nn/layers.c does; ag_module_to moves the module */
    ag_tensor *k1 = ag_from_data(kern, AG_SHAPE(1, 1, k, k), AG_F64); /* host */
    ag_tensor *w = ag_keep(ag_contiguous(ag_to_dtype(ag_expand(k1, AG_SHAPE(nchan, 1, k, k)), dt)));
    ag_tensor *b = ag_keep(ag_zeros(AG_SHAPE(nchan), dt)); /* host */
    ag_scope_end();
    int (*add)(ag_module *, const char *, ag_tensor *) = requires_grad ? ag_module_add_param : ag_module_add_buffer;
    if (!w || !b) {
        if (w) ag__drop(w);
        if (b) ag__drop(b);
        ag_module_free(m);
        return NULL;
    }
    int rc = add(m, "weight", w);
    if (add(m, "bias", b) < 0 || rc < 0) {
        ag_module_free(m);
        return NULL;
    }
    ag_module_set_extra_repr(m, "nchan=%lld, kernel=%lldx%lld, requires_grad=%s", (long long)nchan, (long long)k,
                             (long long)k, requires_grad ? "true" : "false");
    return m;
}

ag_module *ag_hann_conv_cube(int64_t nchan, bool requires_grad) {
    if (nchan < 1) return ag_set_error(AG_ERR_INVALID, "ag_hann_conv_cube: expected nchan >= 1, given %lld", (long long)nchan), NULL;
    double k[9];
    const double h[3] = {0.25, 0.5, 0.25};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) k[3 * i + j] = h[i] * h[j];
    return dwconv_new(&hann_class, "ag_hann_conv_cube (forward)", nchan, -1, k, 3, requires_grad, true);
}

#define FWHM2SIGMA 0.42466090014400953 /* 1 / (2 sqrt(2 ln 2)) */
#define PI 3.14159265358979323846
#define DEG (PI / 180.0)

static bool check_beam(const char *fn, double fwhm_maj, double fwhm_min, double omega) {
    if (!(fwhm_maj > 0 && fwhm_min > 0 && isfinite(fwhm_maj) && isfinite(fwhm_min) && isfinite(omega)))
        return ag_set_error(AG_ERR_INVALID, "%s: expected finite FWHM_maj > 0, FWHM_min > 0 [arcsec] and Omega [deg], given "
                            "%g, %g, %g", fn, fwhm_maj, fwhm_min, omega), false;
    return true;
}

ag_module *ag_gauss_conv_image(const ag_grid_coords *gc, int64_t nchan, double fwhm_maj, double fwhm_min, double omega,
                               bool requires_grad) {
    const char *fn = "ag_gauss_conv_image";
    if (!check_gc(fn, gc, nchan, true) || !check_beam(fn, fwhm_maj, fwhm_min, omega)) return NULL;
    /* MPoL's kernel: major axis north-south at Omega 0, sampled out to 3 σ_maj on an odd grid
     * of linspace(-limit, limit) (a spacing of limit / ceil(limit / cell), at most the cell) */
    double sy = fwhm_maj * FWHM2SIGMA, sx = fwhm_min * FWHM2SIGMA, limit = 3.0 * sy, half = ceil(limit / gc->cell_size);
    if (half > 2.0 * (double)gc->npix) /* a bound of ours (MPoL has none): far wider than the image */
        return ag_set_error(AG_ERR_INVALID, "%s: expected FWHM_maj <= %g arcsec (a kernel of at most 4 npix + 1 pixels), "
                            "given %g", fn, 2.0 * (double)gc->npix * gc->cell_size / (3.0 * FWHM2SIGMA), fwhm_maj), NULL;
    int64_t k = 1 + 2 * (int64_t)half;
    double *kern = malloc((size_t)(k * k) * sizeof *kern), sum = 0;
    if (!kern) return ag_set_error(AG_ERR_NOMEM, "%s: cannot allocate a %lld x %lld kernel", fn, (long long)k, (long long)k), NULL;
    double c = cos(omega * DEG), sn = sin(omega * DEG);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            /* row i: m = y_i; column j: l = -x_j (the sky's east-left columns), in radians */
            double y = (-limit + 2 * limit * (double)i / (double)(k - 1)) * AG_ARCSEC;
            double x = -(-limit + 2 * limit * (double)j / (double)(k - 1)) * AG_ARCSEC;
            double lp = x * c - y * sn, mp = x * sn + y * c;
            double a = lp / (sx * AG_ARCSEC), b = mp / (sy * AG_ARCSEC);
            sum += kern[i * k + j] = exp(-0.5 * (a * a + b * b));
        }
    for (int64_t i = 0; i < k * k; i++) kern[i] /= sum;
    ag_module *m = dwconv_new(&gauss_image_class, "ag_gauss_conv_image (forward)", nchan, gc->npix, kern, k, requires_grad,
                              false);
    free(kern);
    return m;
}

/* GaussConvFourier: buffers "taper_2D" (MPoL's packed uv taper, npix × npix) and "taper_rfft",
 * what forward multiplies the rfft2 half plane by: columns 0 … npix/2 of the taper's part even
 * under (u, v) -> (-u, -v) on the grid, so that irfft2 gives exactly Re ifft2(fft2(x) · taper).
 * The two differ in the Nyquist row and column, where a rotated taper is not symmetric. */
typedef struct gauss_fourier { int64_t npix; } gauss_fourier;

static ag_tensor *gauss_fourier_forward(ag_module *m, ag_tensor *x) {
    gauss_fourier *s = ag_module_self(m);
    const char *fn = "ag_gauss_conv_fourier (forward)";
    if (!check_cube_of(fn, x, -1, s->npix, true)) return NULL;
    ag_tensor *t = ag_module_buffer(m, "taper_rfft");
    if (!t) return NULL;
    if (ag_dtype_of(x) != ag_dtype_of(t))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a %s cube (the module's dtype; ag_module_to_dtype converts it), given %s", fn,
                       ag_dtype_name(ag_dtype_of(t)), ag_dtype_name(ag_dtype_of(x)));
    return ag_irfftn(ag_mul(ag_rfftn(x, AG_DIMS(1, 2), AG_NORM_BACKWARD), t), AG_DIMS(1, 2), s->npix, AG_NORM_BACKWARD);
}
static const ag_module_class gauss_fourier_class = {
    .name = "GaussConvFourier", .forward = gauss_fourier_forward, .self_size = sizeof(gauss_fourier)};

ag_module *ag_gauss_conv_fourier(const ag_grid_coords *gc, double fwhm_maj, double fwhm_min, double omega) {
    const char *fn = "ag_gauss_conv_fourier";
    if (!check_gc(fn, gc, 1, false) || !check_beam(fn, fwhm_maj, fwhm_min, omega)) return NULL;
    int64_t n = gc->npix;
    double sl = fwhm_maj * FWHM2SIGMA * AG_ARCSEC, sm = fwhm_min * FWHM2SIGMA * AG_ARCSEC, c = cos(omega * DEG),
           sn = sin(omega * DEG);
    ag_scope_begin();
    ag_tensor *u = ag_grid_centers_2d(gc, AG_GRID_U, AG_LAYOUT_PACKED), *v = ag_grid_centers_2d(gc, AG_GRID_V, AG_LAYOUT_PACKED);
    ag_tensor *up = ag_sub(ag_mul_s(u, c), ag_mul_s(v, sn)), *vp = ag_add(ag_mul_s(u, sn), ag_mul_s(v, c));
    ag_tensor *arg = ag_add(ag_mul_s(ag_square(up), sl * sl), ag_mul_s(ag_square(vp), sm * sm));
    ag_tensor *taper = ag_exp(ag_mul_s(arg, -2 * PI * PI));
    /* taper[(n - i) % n, (n - j) % n]: flip, then roll by one */
    ag_tensor *mirror = ag_roll(ag_flip(taper, AG_DIMS(0, 1)), (const int64_t[]){1, 1}, (const int[]){0, 1}, 2);
    ag_tensor *half = ag_contiguous(ag_narrow(ag_mul_s(ag_add(taper, mirror), 0.5), 1, 0, n / 2 + 1));
    ag_dtype dt = ag_get_default_dtype();
    ag_tensor *t2 = ag_keep(ag_to_dtype(taper, dt)), *th = ag_keep(ag_contiguous(ag_to_dtype(half, dt)));
    ag_scope_end();
    ag_module *m = t2 && th ? ag_module_new(&gauss_fourier_class) : NULL;
    if (!m) {
        if (t2) ag__drop(t2);
        if (th) ag__drop(th);
        return NULL;
    }
    ((gauss_fourier *)ag_module_self(m))->npix = n;
    int rc = ag_module_add_buffer(m, "taper_2D", t2);
    if (ag_module_add_buffer(m, "taper_rfft", th) < 0 || rc < 0) {
        ag_module_free(m);
        return NULL;
    }
    ag_module_set_extra_repr(m, "npix=%lld, FWHM_maj=%g, FWHM_min=%g, Omega=%g", (long long)n, fwhm_maj, fwhm_min, omega);
    return m;
}
