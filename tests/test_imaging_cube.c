/* tests/test_imaging_cube.c — BaseCube, ImageCube, FourierCube and the convolution layers
 * (HannConvCube, GaussConvImage, GaussConvFourier) against MPoL's formulas
 * (fixtures: tests/imaginggen/cube.py), gradchecks, a point source at a known offset, bad
 * inputs; the fixture checks run again on the device AG_DEVICE names. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

/* the second device the tests run on as well: AG_DEVICE (meson's device_imaging_cube sets
 * "test"); unset, the CPU only, so valgrind, which cannot map the test device's arena, runs
 * the CPU half */
static ag_device DEV;

/* every module output against the fixture case tag (npix, nchan), on dev, in dtype dt */
static void check_case(fx_file *f, const char *tag, double cell, int64_t npix, int64_t nchan, ag_device dev, ag_dtype dt) {
    double rtol = dt == AG_F32 ? 2e-5 : 1e-10;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, cell, npix), 0);
    ag_scope_begin();
    ag_module *base = ag_base_cube(&gc, nchan, AG_PIXEL_SOFTPLUS, NULL, NULL, fx_get(f, "%s.b", tag));
    ag_module *img = ag_image_cube(&gc, nchan), *fm = ag_fourier_cube(&gc, (ag_fourier_opts){0}),
              *fp = ag_fourier_cube(&gc, (ag_fourier_opts){.sign = +1});
    assert_non_null(base), assert_non_null(img), assert_non_null(fm), assert_non_null(fp);
    assert_int_equal(ag_module_to(base, dev), 0);
    if (dt != AG_F64) assert_int_equal(ag_module_to_dtype(base, dt), 0);
    ag_tensor *im = ag_forward(img, ag_forward(base, NULL));
    fx_expect_close(im, fx_get(f, "%s.img", tag), rtol, "softplus image");
    fx_expect_close(ag_image_cube_sky(img), fx_get(f, "%s.sky", tag), rtol, "sky cube");
    fx_expect_close(ag_image_cube_flux(img), fx_get(f, "%s.flux", tag), rtol, "flux");
    ag_tensor *vm = ag_forward(fm, im), *vp = ag_forward(fp, im);
    assert_int_equal(ag_dtype_of(vm), dt == AG_F32 ? AG_C64 : AG_C128);
    fx_expect_close(vm, fx_get(f, "%s.vis_m", tag), rtol, "vis, sign -1");
    fx_expect_close(vp, fx_get(f, "%s.vis_p", tag), rtol, "vis, sign +1");
    /* the fixture's loss: sum |vis|² w + Re(cell² npix² ifft2(I)).sum(), the latter = Re sum vp */
    ag_tensor *w = ag_to_dtype(ag_to(fx_get(f, "%s.w", tag), dev), dt);
    ag_tensor *loss = ag_add(ag_sum(ag_mul(ag_square(ag_abs(vm)), w), NULL, 0, false), ag_sum(ag_real(vp), NULL, 0, false));
    fx_expect_close(loss, fx_get(f, "%s.loss", tag), rtol, "loss");
    assert_int_equal(ag_backward(loss), 0);
    fx_expect_close(ag_grad_of(ag_module_param(base, "base_cube")), fx_get(f, "%s.grad", tag), dt == AG_F32 ? 1e-4 : 1e-10,
                 "gradient of the loss w.r.t. the base cube");
    ag_dtype cdt = dt == AG_F32 ? AG_C64 : AG_C128;
    ag_tensor *z = ag_to_dtype(ag_to(fx_get(f, "%s.z", tag), dev), cdt);
    fx_expect_close(ag_forward(fm, z), fx_get(f, "%s.zvis_m", tag), rtol, "complex cube, sign -1");
    fx_expect_close(ag_forward(fp, z), fx_get(f, "%s.zvis_p", tag), rtol, "complex cube, sign +1");
    ag_scope_end();
    ag_module_free(base), ag_module_free(img), ag_module_free(fm), ag_module_free(fp);
}

static void cubes_match_mpol(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_cube");
    assert_non_null(f);
    check_case(f, "n8", 0.005, 8, 2, AG_CPU, AG_F64);
    check_case(f, "n10", 0.0123, 10, 3, AG_CPU, AG_F64);
    check_case(f, "n8", 0.005, 8, 2, AG_CPU, AG_F32);
    if (!ag_device_eq(DEV, AG_CPU)) {
        check_case(f, "n8", 0.005, 8, 2, DEV, AG_F64);
        check_case(f, "n10", 0.0123, 10, 3, DEV, AG_F32);
    }
    fx_close(f);
}

static ag_tensor *fourier_fn(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    return ag_forward(ud, in[0]);
}
static ag_tensor *base_fn(ag_tensor *const *in, int n, void *ud) {
    (void)n, (void)ud;
    return ag_softplus(in[0], 1.0, 20.0);
}

/* the Hermitian fill composed from primitive ops (the first FourierCube's real path): columns
 * n/2+1 … n-1 are columns n/2-1 … 1 of the half plane reversed, rows reversed and rolled by one,
 * conjugated */
static ag_tensor *rfft2_full_composed(ag_tensor *x, double scale, bool conjugate) {
    int64_t n = ag_shape(x)[2];
    ag_tensor *h = ag_rfftn(x, AG_DIMS(1, 2), AG_NORM_BACKWARD);
    ag_tensor *mir = ag_conj(ag_roll(ag_flip(ag_narrow(h, 2, 1, n / 2 - 1), AG_DIMS(1, 2)), (int64_t[]){1}, (int[]){1}, 1));
    ag_tensor *full = ag_mul_s(ag_cat((ag_tensor *[]){h, mir}, 2, 2), scale);
    return conjugate ? ag_conj(full) : full;
}

/* FourierCube's fused real path (ag_hermitian_fill) against the composition, forward and the
 * gradient of a loss that weighs every visibility differently */
static void hermitian_fill_matches_composition(void **state) {
    (void)state;
    ag_scope_begin();
    ag_manual_seed(11);
    for (int cj = 0; cj < 2; cj++) {
        ag_tensor *x0 = ag_to(ag_randn(AG_SHAPE(3, 10, 10), AG_F64), DEV);
        ag_tensor *xa = ag_set_requires_grad(ag_clone(x0), true), *xb = ag_set_requires_grad(ag_clone(x0), true);
        ag_tensor *w = ag_to(ag_randn(AG_SHAPE(3, 10, 10), AG_C128), DEV);
        ag_tensor *a = ag_hermitian_fill(ag_rfftn(xa, AG_DIMS(1, 2), AG_NORM_BACKWARD), 10, 0.7, cj);
        ag_tensor *b = rfft2_full_composed(xb, 0.7, cj);
        fx_expect_close(a, ag_to(b, AG_CPU), 1e-12, "fused vs composed forward");
        assert_int_equal(ag_backward(ag_sum(ag_real(ag_mul(a, w)), NULL, 0, false)), 0);
        assert_int_equal(ag_backward(ag_sum(ag_real(ag_mul(b, w)), NULL, 0, false)), 0);
        ag_tensor *ga = ag_grad_of(xa), *gb = ag_grad_of(xb);
        fx_expect_close(ga, ag_to(gb, AG_CPU), 1e-12, "fused vs composed gradient");
    }
    ag_scope_end();
}

/* sizes above the CPU kernels' threading threshold (the op table's rows are small): the layout
 * passes and the fill against the plain compositions, with OMP_NUM_THREADS as meson sets it */
static void layouts_large(void **state) {
    (void)state;
    ag_scope_begin();
    ag_manual_seed(13);
    ag_tensor *x = ag_to(ag_randn(AG_SHAPE(3, 130, 128), AG_C128), DEV);
    ag_tensor *sh = ag_fftshift(x, AG_DIMS(1, 2));
    fx_expect_close(ag_packed_to_sky(x), ag_to(ag_flip(sh, AG_DIMS(2)), AG_CPU), 1e-15, "packed_to_sky, large");
    fx_expect_close(ag_packed_to_ground(x), ag_to(sh, AG_CPU), 1e-15, "packed_to_ground, large");
    fx_expect_close(ag_sky_to_packed(ag_packed_to_sky(x)), ag_to(x, AG_CPU), 1e-15, "sky round trip, large");
    ag_tensor *r = ag_to(ag_randn(AG_SHAPE(3, 130, 128), AG_F64), DEV);
    fx_expect_close(ag_hermitian_fill(ag_rfftn(r, AG_DIMS(1, 2), AG_NORM_BACKWARD), 128, 1.0, false),
                 ag_to(rfft2_full_composed(r, 1.0, false), AG_CPU), 1e-15, "hermitian_fill, large");
    ag_scope_end();
}

typedef struct image_probe { ag_module *m; int flux; } image_probe;
static ag_tensor *image_fn(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    image_probe *p = ud;
    ag_tensor *c = ag_forward(p->m, in[0]);
    return c ? (p->flux ? ag_image_cube_flux(p->m) : ag_image_cube_sky(p->m)) : NULL;
}

static void cubes_gradcheck(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    ag_gradcheck_report rep;
    for (int sign = -1; sign <= 1; sign += 2) {
        ag_module *fm = ag_fourier_cube(&gc, (ag_fourier_opts){.sign = sign});
        ag_scope_begin();
        ag_manual_seed(3);
        ag_tensor *x[] = {ag_set_requires_grad(ag_randn(AG_SHAPE(2, 8, 8), AG_F64), true),
                          ag_set_requires_grad(ag_randn(AG_SHAPE(2, 8, 8), AG_C128), true)};
        for (int i = 0; i < 2; i++) {
            int ok = ag_gradcheck(fourier_fn, fm, &x[i], 1, NULL, &rep);
            if (ok != 1) fail_msg("FourierCube sign %d input %d: %s", sign, i, rep.message);
        }
        ag_scope_end();
        ag_module_free(fm);
    }
    /* BaseCube's map as the module applies it (the gradient of its parameter is checked
     * against torch in cubes_match_mpol) */
    ag_scope_begin();
    ag_tensor *b = ag_set_requires_grad(ag_mul_s(ag_randn(AG_SHAPE(2, 8, 8), AG_F64), 3.0), true);
    assert_int_equal(ag_gradcheck(base_fn, NULL, &b, 1, NULL, &rep), 1);
    /* ImageCube's sky view and flux */
    ag_module *img = ag_image_cube(&gc, 2);
    for (int which = 0; which < 2; which++) {
        image_probe p = {img, which};
        int ok = ag_gradcheck(image_fn, &p, &b, 1, NULL, &rep);
        if (ok != 1) fail_msg("ImageCube %s: %s", which ? "flux" : "sky", rep.message);
    }
    ag_scope_end();
    ag_module_free(img);
}

static ag_tensor *exp_map(ag_tensor *b, void *ctx) {
    (*(int *)ctx)++;
    return ag_exp(b);
}

/* the identity and user pixel maps, and the default b = -3 through softplus */
static void base_cube_maps(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    int calls = 0;
    ag_module *id = ag_base_cube(&gc, 2, AG_PIXEL_IDENTITY, NULL, NULL, NULL);
    ag_module *user = ag_base_cube(&gc, 2, AG_PIXEL_USER, exp_map, &calls, NULL);
    ag_module *sp = ag_base_cube(&gc, 3, AG_PIXEL_SOFTPLUS, NULL, NULL, NULL);
    assert_non_null(id), assert_non_null(user), assert_non_null(sp);
    assert_int_equal(ag_module_to(user, DEV), 0);
    ag_scope_begin();
    ag_tensor *b = ag_full(AG_SHAPE(2, 8, 8), -3.0, AG_F64);
    fx_expect_close(ag_forward(id, NULL), b, 1e-15, "identity map");
    fx_expect_close(ag_forward(user, NULL), ag_exp(b), 1e-15, "user map exp(b)");
    assert_int_equal(calls, 1);
    fx_expect_close(ag_forward(sp, NULL), ag_full(AG_SHAPE(3, 8, 8), log1p(exp(-3.0)), AG_F64), 1e-15, "softplus(-3)");
    assert_int_equal(ag_dtype_of(ag_module_param(sp, "base_cube")), AG_F64);
    assert_null(ag_forward(sp, b));
    assert_error(AG_ERR_INVALID, "ag_base_cube (forward)", "expected no input", "given a tensor of shape [2,8,8]");
    ag_scope_end();
    assert_null(ag_base_cube(&gc, 2, AG_PIXEL_SOFTPLUS, NULL, NULL, ag_zeros(AG_SHAPE(2, 8, 8), AG_C128)));
    assert_error(AG_ERR_DTYPE, "ag_base_cube", "f32 or f64", "given c128");
    ag_module_free(id), ag_module_free(user), ag_module_free(sp);
}

/* one unit of flux density at sky pixel (r, c): the packed visibilities are
 * cell² e^{-2πi(ul + vm)} with (l, m) from GridCoords' sky_x/sky_y, (u, v) its packed centres */
static void point_source(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 10), 0);
    const int r = 7, c = 2;
    ag_scope_begin();
    ag_tensor *sky = ag_zeros(AG_SHAPE(1, 10, 10), AG_F64);
    double one = 1.0;
    ag_tensor *pix = ag_from_data(&one, AG_SHAPE(1, 1, 1), AG_F64);
    ag_tensor *sky1 = ag_index_put(sky, (ag_tensor *[]){ag_zeros(AG_SHAPE(1), AG_I64), ag_full(AG_SHAPE(1), r, AG_I64),
                                                        ag_full(AG_SHAPE(1), c, AG_I64)}, 3, ag_reshape(pix, AG_SHAPE(1)), false);
    assert_non_null(sky1);
    ag_tensor *packed = ag_sky_to_packed(sky1);
    /* the source is where the packed x/y arrays say */
    ag_tensor *sx = ag_grid_centers_2d(&gc, AG_GRID_X, AG_LAYOUT_SKY), *sy = ag_grid_centers_2d(&gc, AG_GRID_Y, AG_LAYOUT_SKY);
    ag_tensor *px = ag_grid_centers_2d(&gc, AG_GRID_X, AG_LAYOUT_PACKED), *py = ag_grid_centers_2d(&gc, AG_GRID_Y, AG_LAYOUT_PACKED);
    double l = ag_item(ag_narrow(ag_narrow(sx, 0, r, 1), 1, c, 1)), m = ag_item(ag_narrow(ag_narrow(sy, 0, r, 1), 1, c, 1));
    assert_true(l > 0 && m > 0); /* row 7 > npix/2: north; column 2 < npix/2 - 1: east */
    double at_x = ag_item(ag_sum(ag_mul(ag_squeeze(packed, 0), px), NULL, 0, false));
    double at_y = ag_item(ag_sum(ag_mul(ag_squeeze(packed, 0), py), NULL, 0, false));
    assert_true(fabs(at_x - l) < 1e-15 && fabs(at_y - m) < 1e-15);
    ag_module *fm = ag_fourier_cube(&gc, (ag_fourier_opts){0});
    assert_null(ag_fourier_cube_ground_vis(fm));
    assert_error(AG_ERR_INVALID, "ag_fourier_cube_ground_vis", "call ag_forward first");
    ag_tensor *vis = ag_squeeze(ag_forward(fm, packed), 0);
    /* ground layout: u increasing with column, v with row, u = v = 0 at [npix/2, npix/2] */
    ag_tensor *gvis = ag_squeeze(ag_fourier_cube_ground_vis(fm), 0);
    ag_tensor *gu = ag_grid_centers_2d(&gc, AG_GRID_U, AG_LAYOUT_SKY), *gv = ag_grid_centers_2d(&gc, AG_GRID_V, AG_LAYOUT_SKY);
    ag_tensor *gphase = ag_mul_s(ag_add(ag_mul_s(gu, l * AG_ARCSEC), ag_mul_s(gv, m * AG_ARCSEC)), -2 * M_PI);
    fx_expect_close(gvis, ag_polar(ag_full_like(gphase, gc.cell_size * gc.cell_size), gphase), 1e-10,
                 "point source visibilities, ground layout");
    ag_tensor *u = ag_grid_centers_2d(&gc, AG_GRID_U, AG_LAYOUT_PACKED), *v = ag_grid_centers_2d(&gc, AG_GRID_V, AG_LAYOUT_PACKED);
    ag_tensor *phase = ag_mul_s(ag_add(ag_mul_s(u, l * AG_ARCSEC), ag_mul_s(v, m * AG_ARCSEC)), -2 * M_PI);
    ag_tensor *want = ag_polar(ag_full_like(phase, gc.cell_size * gc.cell_size), phase);
    fx_expect_close(vis, want, 1e-10, "point source visibilities");
    ag_scope_end();
    ag_module_free(fm);
}

static void cubes_bad_input(void **state) {
    (void)state;
    ag_grid_coords gc, odd;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    odd = gc;
    odd.npix = 7;
    assert_null(ag_base_cube(&odd, 1, AG_PIXEL_SOFTPLUS, NULL, NULL, NULL));
    assert_error(AG_ERR_INVALID, "ag_base_cube", "even npix", "given npix 7");
    assert_null(ag_fourier_cube(&odd, (ag_fourier_opts){0}));
    assert_error(AG_ERR_INVALID, "ag_fourier_cube", "given npix 7");
    assert_null(ag_image_cube(&gc, 0));
    assert_error(AG_ERR_INVALID, "ag_image_cube", "nchan >= 1, given 0");
    assert_null(ag_fourier_cube(&gc, (ag_fourier_opts){.sign = 2}));
    assert_error(AG_ERR_INVALID, "ag_fourier_cube", "given 2");
    assert_null(ag_base_cube(&gc, 2, AG_PIXEL_SOFTPLUS, NULL, NULL, ag_zeros(AG_SHAPE(3, 8, 8), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_base_cube", "[2, 8, 8]", "given [3,8,8]");
    assert_null(ag_base_cube(&gc, 1, AG_PIXEL_USER, NULL, NULL, NULL));
    assert_error(AG_ERR_INVALID, "ag_base_cube", "needs user_fn");
    ag_module *img = ag_image_cube(&gc, 2), *fm = ag_fourier_cube(&gc, (ag_fourier_opts){0});
    assert_null(ag_image_cube_sky(img));
    assert_error(AG_ERR_INVALID, "ag_image_cube_sky", "call ag_forward first");
    ag_scope_begin();
    assert_null(ag_forward(img, ag_zeros(AG_SHAPE(3, 8, 8), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_image_cube", "[2, 8, 8]", "given [3,8,8]");
    assert_null(ag_forward(fm, ag_zeros(AG_SHAPE(2, 8, 6), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_fourier_cube", "[nchan, 8, 8]", "given [2,8,6]");
    assert_null(ag_forward(fm, ag_zeros(AG_SHAPE(2, 8, 8), AG_I64)));
    assert_error(AG_ERR_DTYPE, "ag_fourier_cube", "given i64");
    assert_null(ag_packed_to_sky(ag_zeros(AG_SHAPE(8), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_packed_to_sky", "at least 2 dims", "given shape [8]");
    assert_null(ag_ground_to_packed(ag_zeros(AG_SHAPE(4, 4), AG_I64)));
    assert_error(AG_ERR_DTYPE, "ag_ground_to_packed", "given i64");
    ag_scope_end();
    ag_module_free(img), ag_module_free(fm);
}

/* the convolution layers against the fixture case tag: forward, MPoL's kernel and taper, and
 * the gradient of sum(out² w) w.r.t. the input cube */
typedef struct conv_geo { const char *tag; double cell; int64_t npix, nchan; double fmaj, fmin, omega; } conv_geo;
static const conv_geo C8 = {"c8", 0.005, 8, 2, 0.011, 0.007, 30.0}, C10 = {"c10", 0.0123, 10, 3, 0.03, 0.02, -50.0};

static void check_conv(fx_file *f, const conv_geo *g, ag_device dev, ag_dtype dt) {
    double rtol = dt == AG_F32 ? 2e-5 : 1e-10;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, g->cell, g->npix), 0);
    ag_module *mods[3] = {ag_hann_conv_cube(g->nchan, false),
                          ag_gauss_conv_image(&gc, g->nchan, g->fmaj, g->fmin, g->omega, false),
                          ag_gauss_conv_fourier(&gc, g->fmaj, g->fmin, g->omega)};
    const char *names[3] = {"hann", "gimg", "gfou"};
    ag_scope_begin();
    for (int i = 0; i < 3; i++) {
        if (!mods[i]) fail_msg("%s: %s", names[i], ag_last_error());
        assert_int_equal(ag_module_to(mods[i], dev), 0);
        if (dt != AG_F64) assert_int_equal(ag_module_to_dtype(mods[i], dt), 0);
        ag_tensor *x = ag_set_requires_grad(ag_clone(ag_to_dtype(ag_to(fx_get(f, "%s.x", g->tag), dev), dt)), true);
        ag_tensor *w = ag_to_dtype(ag_to(fx_get(f, "%s.w", g->tag), dev), dt);
        ag_tensor *y = ag_forward(mods[i], x);
        char what[64];
        snprintf(what, sizeof what, "%s %s %s forward", g->tag, names[i], ag_dtype_name(dt));
        fx_expect_close(y, fx_get(f, "%s.%s", g->tag, names[i]), rtol, what);
        assert_int_equal(ag_backward(ag_sum(ag_mul(ag_square(y), w), NULL, 0, false)), 0);
        snprintf(what, sizeof what, "%s %s %s input gradient", g->tag, names[i], ag_dtype_name(dt));
        fx_expect_close(ag_grad_of(x), fx_get(f, "%s.%s_grad", g->tag, names[i]), dt == AG_F32 ? 3e-4 : 1e-10, what);
    }
    fx_expect_close(ag_squeeze(ag_squeeze(ag_narrow(ag_module_buffer(mods[1], "weight"), 0, 1, 1), 0), 0),
                 fx_get(f, "%s.gauss_kernel", g->tag), rtol, "GaussConvImage kernel");
    fx_expect_close(ag_module_buffer(mods[2], "taper_2D"), fx_get(f, "%s.taper", g->tag), rtol, "GaussConvFourier taper_2D");
    ag_scope_end();
    for (int i = 0; i < 3; i++) ag_module_free(mods[i]);
}

static void conv_layers_match_mpol(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_cube");
    assert_non_null(f);
    check_conv(f, &C8, AG_CPU, AG_F64);
    check_conv(f, &C10, AG_CPU, AG_F64);
    check_conv(f, &C10, AG_CPU, AG_F32);
    if (!ag_device_eq(DEV, AG_CPU)) {
        check_conv(f, &C8, DEV, AG_F64);
        check_conv(f, &C10, DEV, AG_F32);
    }
    fx_close(f);
}

static void conv_layers_gradcheck(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    ag_module *mods[3] = {ag_hann_conv_cube(2, false), ag_gauss_conv_image(&gc, 2, 0.025, 0.015, 20.0, false),
                          ag_gauss_conv_fourier(&gc, 0.025, 0.015, 20.0)};
    ag_gradcheck_report rep;
    ag_scope_begin();
    ag_manual_seed(5);
    ag_tensor *x = ag_set_requires_grad(ag_randn(AG_SHAPE(2, 8, 8), AG_F64), true); /* gradcheck: CPU only */
    for (int i = 0; i < 3; i++) {
        assert_non_null(mods[i]);
        int ok = ag_gradcheck(fourier_fn, mods[i], &x, 1, NULL, &rep);
        if (ok != 1) fail_msg("%s: %s", ag_module_type(mods[i]), rep.message);
    }
    /* a trainable Hann kernel is a parameter and gets a gradient */
    ag_module *h = ag_hann_conv_cube(2, true);
    assert_int_equal(ag_module_to(h, DEV), 0);
    assert_int_equal(ag_backward(ag_sum(ag_forward(h, ag_to(x, DEV)), NULL, 0, false)), 0);
    assert_non_null(ag_grad_of(ag_module_param(h, "weight")));
    assert_non_null(ag_grad_of(ag_module_param(h, "bias")));
    ag_scope_end();
    ag_module_free(h);
    for (int i = 0; i < 3; i++) ag_module_free(mods[i]);
}

static void conv_layers_bad_input(void **state) {
    (void)state;
    ag_grid_coords gc, odd;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    odd = gc;
    odd.npix = 9;
    assert_null(ag_hann_conv_cube(0, false));
    assert_error(AG_ERR_INVALID, "ag_hann_conv_cube", "nchan >= 1, given 0");
    assert_null(ag_gauss_conv_image(&odd, 1, 0.02, 0.02, 0, false));
    assert_error(AG_ERR_INVALID, "ag_gauss_conv_image", "even npix", "given npix 9");
    assert_null(ag_gauss_conv_image(&gc, 1, -0.02, 0.02, 0, false));
    assert_error(AG_ERR_INVALID, "ag_gauss_conv_image", "FWHM_maj > 0", "given -0.02");
    assert_null(ag_gauss_conv_image(&gc, 1, 1.0, 0.02, 0, false));
    assert_error(AG_ERR_INVALID, "ag_gauss_conv_image", "at most 4 npix + 1 pixels", "given 1");
    assert_null(ag_gauss_conv_fourier(&gc, 0.02, NAN, 0));
    assert_error(AG_ERR_INVALID, "ag_gauss_conv_fourier", "FWHM_min > 0", "given 0.02, nan, 0");
    ag_module *h = ag_hann_conv_cube(2, false), *gi = ag_gauss_conv_image(&gc, 2, 0.02, 0.02, 0, false),
              *gf = ag_gauss_conv_fourier(&gc, 0.02, 0.02, 0);
    ag_scope_begin();
    assert_null(ag_forward(h, ag_zeros(AG_SHAPE(3, 8, 8), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_hann_conv_cube (forward)", "[2, rows, columns]", "given [3,8,8]");
    assert_null(ag_forward(gi, ag_zeros(AG_SHAPE(2, 8, 6), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_gauss_conv_image (forward)", "[2, 8, 8]", "given [2,8,6]");
    assert_null(ag_forward(gf, ag_zeros(AG_SHAPE(2, 8, 8), AG_C128)));
    assert_error(AG_ERR_DTYPE, "ag_gauss_conv_fourier (forward)", "f32 or f64", "given c128");
    assert_null(ag_forward(gi, ag_zeros(AG_SHAPE(2, 8, 8), AG_F32)));
    assert_error(AG_ERR_DTYPE, "ag_gauss_conv_image (forward)", "expected a f64 cube", "given f32");
    assert_null(ag_forward(gf, ag_zeros(AG_SHAPE(8, 8), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_gauss_conv_fourier (forward)", "[nchan, 8, 8]", "given [8,8]");
    ag_scope_end();
    ag_module_free(h), ag_module_free(gi), ag_module_free(gf);
}

int main(void) {
    DEV = ag_device_default();
    if (ag_failed()) return fprintf(stderr, "%s\n", ag_last_error()), 1;
    const struct CMUnitTest tests[] = {
        TEST(cubes_match_mpol), TEST(hermitian_fill_matches_composition), TEST(layouts_large), TEST(cubes_gradcheck), TEST(base_cube_maps), TEST(point_source), TEST(cubes_bad_input),
        TEST(conv_layers_match_mpol), TEST(conv_layers_gradcheck), TEST(conv_layers_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
