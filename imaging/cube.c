/* imaging/cube.c — BaseCube, ImageCube and FourierCube (MPoL's images.py / fourier.py; the
 * layouts they rely on are the ops of tensor/layout.c). Composed from ag ops, so they are
 * differentiable and run on every device. */
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

/* a float cube (nchan, npix, npix); nchan < 0: any */
static bool check_cube(const char *fn, ag_tensor *t, int64_t nchan, int64_t npix) {
    if (!t) {
        if (!ag_failed()) ag_set_error(AG_ERR_INVALID, "%s: the cube is NULL", fn);
        return false;
    }
    const int64_t *s = ag_shape(t);
    if (ag_ndim(t) != 3 || (nchan >= 0 && s[0] != nchan) || s[1] != npix || s[2] != npix) {
        if (nchan >= 0)
            ag_set_error(AG_ERR_SHAPE, "%s: expected a cube of shape [%lld, %lld, %lld] (nchan, npix, npix), given %s", fn,
                         (long long)nchan, (long long)npix, (long long)npix, AG_SHP(t));
        else
            ag_set_error(AG_ERR_SHAPE, "%s: expected a cube of shape [nchan, %lld, %lld], given %s", fn, (long long)npix,
                         (long long)npix, AG_SHP(t));
        return false;
    }
    if (!ag_dtype_is_float(ag_dtype_of(t)))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a f32, f64, c64 or c128 cube, given %s", fn,
                            ag_dtype_name(ag_dtype_of(t))), false;
    return true;
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
    (void)x;
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
    if (init && !check_cube(fn, init, nchan, gc->npix)) goto fail;
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
} fourier_cube;

/* full FFT2 of a real cube from its half plane: X[k, l] = conj X[(n - k) % n, n - l] for
 * l > n/2, i.e. columns 1 .. n/2-1 reversed, rows reversed and rolled by one, conjugated */
static ag_tensor *rfft2_full(ag_tensor *x) {
    int64_t n = ag_shape(x)[2];
    ag_tensor *h = ag_rfftn(x, AG_DIMS(1, 2), AG_NORM_BACKWARD);
    if (n == 2) return h;
    ag_tensor *mir = ag_conj(ag_roll(ag_flip(ag_narrow(h, 2, 1, n / 2 - 1), AG_DIMS(1, 2)), (int64_t[]){1}, (int[]){1}, 1));
    return ag_cat((ag_tensor *[]){h, mir}, 2, 2);
}

static ag_tensor *fourier_forward(ag_module *m, ag_tensor *x) {
    fourier_cube *s = ag_module_self(m);
    if (!check_cube("ag_fourier_cube (forward)", x, -1, s->gc.npix)) return NULL;
    double a = s->gc.cell_size * s->gc.cell_size;
    ag_tensor *v;
    if (ag_dtype_is_complex(ag_dtype_of(x)))
        v = s->sign < 0 ? ag_fft2(x, AG_NORM_BACKWARD) : ag_ifft2(x, AG_NORM_FORWARD);
    else {
        v = rfft2_full(x);
        if (s->sign > 0) v = ag_conj(v); /* e^{+...} of a real cube: the conjugate */
    }
    return ag_mul_s(v, a);
}
static const ag_module_class fourier_class = {
    .name = "FourierCube", .forward = fourier_forward, .self_size = sizeof(fourier_cube)};

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
