/* tests/test_nufft_layer.c — the NuFFT layer (imaging/nufft_layer.c): the module against the
 * exact ag_dft (f64 at eps 1e-12, f32 at 1e-6), against FourierCube at cell centres, shared and
 * per-channel points, sign +1; gradients in the image, u and v by gradcheck (the plan rebuilt
 * for every evaluation), against an exact DFT composed from ag ops and against PyTorch's autograd of
 * the direct sum (tests/imaginggen/nufft_layer.py); bad inputs. Runs again
 * with AG_DEVICE=test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

static ag_device DEV;

static double rel_err(ag_tensor *a, ag_tensor *b) {
    ag_scope_begin();
    double num = ag_item(ag_sqrt(ag_sum(ag_square(ag_abs(ag_sub(a, b))), NULL, 0, false)));
    double den = ag_item(ag_sqrt(ag_sum(ag_square(ag_abs(b)), NULL, 0, false)));
    ag_scope_end();
    return num / den;
}

/* points uniform over the grid's whole (u, v) range: (nvis) for nsets 0, else (nsets, nvis) */
static void points(const ag_grid_coords *gc, int64_t nsets, int64_t nvis, ag_tensor **u, ag_tensor **v) {
    double m = gc->max_uv_grid_value;
    int64_t shp[2] = {nsets, nvis};
    int nd = nsets ? 2 : 1;
    const int64_t *s = nsets ? shp : shp + 1;
    *u = ag_to(ag_mul_s(ag_sub_s(ag_rand(s, nd, AG_F64), 0.5), 2 * m), DEV);
    *v = ag_to(ag_mul_s(ag_sub_s(ag_rand(s, nd, AG_F64), 0.5), 2 * m), DEV);
}

static void module_matches_dft(void **state) {
    (void)state;
    ag_manual_seed(11);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 32), 0);
    for (int sg = -1; sg <= 1; sg += 2) {
        ag_scope_begin();
        ag_tensor *u, *v;
        points(&gc, 0, 300, &u, &v);
        ag_tensor *cube = ag_to(ag_rand(AG_SHAPE(2, 32, 32), AG_F64), DEV);
        ag_tensor *ref = ag_dft(cube, u, v, &gc, sg);
        ag_module *m = ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){1e-12, sg});
        assert_non_null(m);
        ag_tensor *V = ag_forward(m, cube);
        assert_non_null(V);
        assert_int_equal(ag_dtype_of(V), AG_C128);
        assert_int_equal(ag_shape(V)[0], 2);
        assert_int_equal(ag_shape(V)[1], 300);
        double e64 = rel_err(V, ref);
        /* a complex cube through the same plan */
        ag_tensor *cc = ag_complex(cube, ag_to(ag_rand(AG_SHAPE(2, 32, 32), AG_F64), DEV));
        double ec = rel_err(ag_forward(m, cc), ag_dft(cc, u, v, &gc, sg));
        /* f32: the module converted, an f32 cube against the f64 DFT of the same values */
        assert_int_equal(ag_module_to_dtype(m, AG_F32), 0);
        ag_tensor *c32 = ag_to_dtype(cube, AG_F32);
        ag_tensor *V32 = ag_forward(m, c32);
        assert_non_null(V32);
        assert_int_equal(ag_dtype_of(V32), AG_C64);
        double e32 = rel_err(ag_to_dtype(V32, AG_C128), ag_dft(ag_to_dtype(c32, AG_F64), u, v, &gc, sg));
        print_message("sign %+d: f64 eps 1e-12 %.2e (complex cube %.2e), f32 eps 1e-6 %.2e\n", sg, e64, ec, e32);
        assert_true(e64 < 1e-10);
        assert_true(ec < 1e-10);
        assert_true(e32 < 1e-5);
        ag_module_free(m);
        assert_no_error();
        ag_scope_end();
    }
}

/* at cell centres (u, v multiples of du, dv) the NuFFT is FourierCube's FFT */
static void module_matches_fourier_cube(void **state) {
    (void)state;
    ag_manual_seed(12);
    ag_grid_coords gc;
    const int64_t n = 16, K = 40;
    assert_int_equal(ag_grid_coords_init(&gc, 0.03, n), 0);
    ag_scope_begin();
    /* integer cells in [-(n/2 - 1), n/2 - 1] (-n/2 lies beyond max_uv_grid_value), and their
     * packed flat index: row (v) mod n, column (u) mod n */
    double uh[40], vh[40];
    int64_t fh[40];
    for (int64_t k = 0; k < K; k++) {
        int64_t i = (k * 7) % (n - 1) - (n / 2 - 1), j = (k * 11 + 3) % (n - 1) - (n / 2 - 1);
        uh[k] = (double)i * gc.du, vh[k] = (double)j * gc.dv, fh[k] = ((j + n) % n) * n + (i + n) % n;
    }
    ag_tensor *u = ag_from_data_on(uh, AG_SHAPE(K), AG_F64, DEV), *v = ag_from_data_on(vh, AG_SHAPE(K), AG_F64, DEV);
    ag_tensor *flat = ag_from_data_on(fh, AG_SHAPE(K), AG_I64, DEV);
    ag_tensor *cube = ag_to(ag_rand(AG_SHAPE(3, n, n), AG_F64), DEV);
    for (int sg = -1; sg <= 1; sg += 2) {
        ag_module *fc = ag_fourier_cube(&gc, (ag_fourier_opts){sg});
        ag_module *nu = ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){1e-12, sg});
        assert_non_null(fc);
        assert_non_null(nu);
        assert_int_equal(ag_module_to(fc, DEV), 0);
        ag_tensor *grid = ag_reshape(ag_forward(fc, cube), AG_SHAPE(3, n * n));
        double err = rel_err(ag_forward(nu, cube), ag_index_select(grid, 1, flat));
        print_message("sign %+d: NuFFT vs FourierCube at %lld cell centres: %.2e\n", sg, (long long)K, err);
        assert_true(err < 1e-10);
        ag_module_free(fc), ag_module_free(nu);
    }
    assert_no_error();
    ag_scope_end();
}

static void per_channel_points(void **state) {
    (void)state;
    ag_manual_seed(13);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.005, 16), 0);
    ag_scope_begin();
    ag_tensor *u, *v;
    points(&gc, 3, 200, &u, &v);
    ag_tensor *cube = ag_to(ag_rand(AG_SHAPE(3, 16, 16), AG_F64), DEV);
    ag_module *m = ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){1e-12, -1});
    assert_non_null(m);
    double err = rel_err(ag_forward(m, cube), ag_dft(cube, u, v, &gc, -1));
    print_message("per-channel points (3 x 200): %.2e\n", err);
    assert_true(err < 1e-10);
    /* a cube with another nchan */
    assert_null(ag_forward(m, ag_to(ag_rand(AG_SHAPE(2, 16, 16), AG_F64), DEV)));
    assert_error(AG_ERR_SHAPE, "ag_nufft_module (forward)", "3 channels", "[2,16,16]");
    ag_module_free(m);
    assert_no_error();
    ag_scope_end();
}

/* the op under gradcheck: u, v in Mλ (so their gradients are of order 1 and the finite
 * difference step of 1e-6 is one λ); ag_nufft_vis plans for the points of each evaluation */
typedef struct { const ag_grid_coords *gc; int sign; } vis_case;
static ag_tensor *vis_fn(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    vis_case *c = ud;
    return ag_nufft_vis(c->gc, in[0], ag_mul_s(in[1], 1e6), ag_mul_s(in[2], 1e6), (ag_nufft_opts){1e-12, c->sign});
}

static void gradcheck_image_u_v(void **state) {
    (void)state;
    ag_manual_seed(14);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 8), 0);
    /* under valgrind (AG_UNDER_VALGRIND, as test_memory) the random-projection mode, which
     * needs one backward instead of one per output, and the two cases that differ most */
    bool quick = getenv("AG_UNDER_VALGRIND") != NULL;
    ag_scope_begin();
    for (int k = quick ? 1 : 0; k < 3; k++) {
        /* 0: real cube, shared points, sign -1; 1: complex cube, per-channel points, sign +1;
         * 2: a 2-d real cube, sign +1 */
        int64_t nsets = k == 1 ? 2 : 0;
        ag_tensor *u, *v;
        points(&gc, nsets, 12, &u, &v);
        /* ag_gradcheck runs on the CPU */
        u = ag_set_requires_grad(ag_to(ag_mul_s(u, 1e-6), AG_CPU), true);
        v = ag_set_requires_grad(ag_to(ag_mul_s(v, 1e-6), AG_CPU), true);
        ag_tensor *cube = k == 2 ? ag_rand(AG_SHAPE(8, 8), AG_F64) : ag_rand(AG_SHAPE(2, 8, 8), AG_F64);
        if (k == 1) cube = ag_complex(cube, ag_rand(AG_SHAPE(2, 8, 8), AG_F64));
        cube = ag_set_requires_grad(cube, true);
        vis_case c = {&gc, k ? 1 : -1};
        ag_gradcheck_report rep;
        ag_gradcheck_opts o = {.eps = 1e-6, .atol = 1e-8, .rtol = 1e-6, .full_jacobian = !quick};
        int ok = ag_gradcheck(vis_fn, &c, AG_INPUTS(cube, u, v), &o, &rep);
        print_message("case %d: gradcheck max abs err %.2e (input %d)\n", k, rep.max_abs_err, rep.worst_input);
        if (ok != 1) print_message("%s\n", rep.message);
        assert_int_equal(ok, 1);
    }
    assert_no_error();
    ag_scope_end();
}

/* The exact DFT written with ag ops, differentiable in cube, u and v:
 * V = c² Σ_p P_p (cos θ + i s sin θ), θ = 2π(u l_p + v m_p) */
static ag_tensor *composed_dft(const ag_grid_coords *gc, ag_tensor *cube, ag_tensor *u, ag_tensor *v, int sign) {
    int64_t n = gc->npix, nchan = ag_shape(cube)[0];
    ag_tensor *l = ag_fftfreq_on(n, 1 / (n * gc->dl), AG_F64, DEV), *mm = ag_fftfreq_on(n, 1 / (n * gc->dm), AG_F64, DEV);
    ag_tensor *L = ag_flatten(ag_mul(ag_ones_on(AG_SHAPE(n, 1), AG_F64, DEV), l));          /* columns */
    ag_tensor *M = ag_flatten(ag_mul(ag_reshape(mm, AG_SHAPE(n, 1)), ag_ones_on(AG_SHAPE(n), AG_F64, DEV)));
    ag_tensor *th = ag_mul_s(ag_add(ag_outer(u, L), ag_outer(v, M)), 2 * M_PI); /* (nvis, n²) */
    ag_tensor *P = ag_reshape(cube, AG_SHAPE(nchan, n * n));
    double a = gc->cell_size * gc->cell_size;
    ag_tensor *re = ag_matmul(P, ag_transpose(ag_cos(th), 0, 1));
    ag_tensor *im = ag_matmul(P, ag_transpose(ag_sin(th), 0, 1));
    return ag_mul_s(ag_complex(re, ag_mul_s(im, sign)), a);
}

static void uv_gradient_vs_composed_dft(void **state) {
    (void)state;
    ag_manual_seed(15);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 16), 0);
    ag_scope_begin();
    for (int sg = -1; sg <= 1; sg += 2) {
        ag_tensor *u, *v;
        points(&gc, 0, 100, &u, &v);
        u = ag_set_requires_grad(u, true), v = ag_set_requires_grad(v, true);
        ag_tensor *cube = ag_set_requires_grad(ag_to(ag_rand(AG_SHAPE(2, 16, 16), AG_F64), DEV), true);
        ag_tensor *y = ag_to(ag_complex(ag_randn(AG_SHAPE(2, 100), AG_F64), ag_randn(AG_SHAPE(2, 100), AG_F64)), DEV);
        ag_tensor *w = ag_to(ag_rand(AG_SHAPE(2, 100), AG_F64), DEV);
        ag_tensor *g[2][3];
        for (int k = 0; k < 2; k++) {
            ag_tensor *V = k ? composed_dft(&gc, cube, u, v, sg) : ag_nufft_vis(&gc, cube, u, v, (ag_nufft_opts){1e-12, sg});
            assert_non_null(V);
            ag_tensor *Lo = ag_sum(ag_mul(w, ag_square(ag_abs(ag_sub(V, y)))), NULL, 0, false);
            assert_int_equal(ag_grad(&Lo, 1, AG_INPUTS(cube, u, v), NULL, false, g[k]), 0);
        }
        double ec = rel_err(g[0][0], g[1][0]), eu = rel_err(g[0][1], g[1][1]), ev = rel_err(g[0][2], g[1][2]);
        print_message("sign %+d vs the composed DFT: image %.2e, u %.2e, v %.2e\n", sg, ec, eu, ev);
        assert_true(ec < 1e-10 && eu < 1e-9 && ev < 1e-9);
        assert_int_equal(ag_dtype_of(g[0][1]), AG_F64);
        assert_int_equal(ag_ndim(g[0][1]), 1);
    }
    assert_no_error();
    ag_scope_end();
}

/* the module made on the CPU, its forward given a cube on DEV (the test device when
 * AG_DEVICE=test): it plans there once and agrees with the DFT; a backward through it */
static void module_other_device_and_backward(void **state) {
    (void)state;
    ag_manual_seed(16);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 16), 0);
    ag_scope_begin();
    ag_tensor *u = ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(50), AG_F64), 0.5), 2 * gc.max_uv_grid_value);
    ag_tensor *v = ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(50), AG_F64), 0.5), 2 * gc.max_uv_grid_value);
    ag_module *m = ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){1e-12, 0});
    assert_non_null(m);
    ag_tensor *cube = ag_set_requires_grad(ag_to(ag_rand(AG_SHAPE(1, 16, 16), AG_F64), DEV), true);
    for (int rep = 0; rep < 2; rep++) {
        ag_tensor *V = ag_forward(m, cube);
        assert_non_null(V);
        assert_true(ag_device_eq(ag_device_of(V), DEV));
        assert_true(rel_err(V, ag_dft(cube, ag_to(u, DEV), ag_to(v, DEV), &gc, -1)) < 1e-10);
        ag_tensor *g = NULL, *Lo = ag_sum(ag_square(ag_abs(V)), NULL, 0, false);
        assert_int_equal(ag_grad(&Lo, 1, &cube, 1, NULL, false, &g), 0);
        ag_tensor *Vd = ag_dft(cube, ag_to(u, DEV), ag_to(v, DEV), &gc, -1), *gd = NULL;
        ag_tensor *Ld = ag_sum(ag_square(ag_abs(Vd)), NULL, 0, false);
        assert_int_equal(ag_grad(&Ld, 1, &cube, 1, NULL, false, &gd), 0);
        assert_true(rel_err(g, gd) < 1e-10);
    }
    ag_module_free(m);
    assert_no_error();
    ag_scope_end();
}

/* values and gradients against PyTorch's autograd of the direct sum (imaginggen/nufft_layer.py) */
static void matches_torch_fixture(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_nufft_layer");
    assert_non_null(f);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 8), 0);
    const char *cases[] = {"shared", "perchan"};
    for (int k = 0; k < 2; k++) {
        ag_scope_begin();
        const char *c = cases[k];
        ag_tensor *cube = ag_set_requires_grad(ag_to(fx_get(f, "%s/cube", c), DEV), true);
        ag_tensor *u = ag_set_requires_grad(ag_to(fx_get(f, "%s/u", c), DEV), true);
        ag_tensor *v = ag_set_requires_grad(ag_to(fx_get(f, "%s/v", c), DEV), true);
        ag_tensor *y = ag_to(fx_get(f, "%s/y", c), DEV), *w = ag_to(fx_get(f, "%s/w", c), DEV);
        ag_tensor *V = ag_nufft_vis(&gc, cube, u, v, (ag_nufft_opts){1e-12, k ? 1 : -1});
        assert_non_null(V);
        ag_tensor *Lo = ag_sum(ag_mul(w, ag_square(ag_abs(ag_sub(V, y)))), NULL, 0, false), *g[3];
        assert_int_equal(ag_grad(&Lo, 1, AG_INPUTS(cube, u, v), NULL, false, g), 0);
        double r[4] = {fx_close_ratio(V, fx_get(f, "%s/vis", c), 1e-10, 1e-14),
                       fx_close_ratio(g[0], fx_get(f, "%s/grad_cube", c), 1e-10, 1e-14),
                       fx_close_ratio(g[1], fx_get(f, "%s/grad_u", c), 1e-10, 1e-16),
                       fx_close_ratio(g[2], fx_get(f, "%s/grad_v", c), 1e-10, 1e-16)};
        print_message("%s: close ratios vis %.2g, grad cube %.2g, u %.2g, v %.2g\n", c, r[0], r[1], r[2], r[3]);
        for (int i = 0; i < 4; i++) assert_true(r[i] <= 1);
        assert_no_error();
        ag_scope_end();
    }
    fx_close(f);
}

static void bad_inputs(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 16), 0);
    ag_scope_begin();
    ag_tensor *u = ag_to(ag_zeros(AG_SHAPE(5), AG_F64), DEV), *v = ag_to(ag_zeros(AG_SHAPE(5), AG_F64), DEV);
    ag_tensor *cube = ag_to(ag_zeros(AG_SHAPE(1, 16, 16), AG_F64), DEV);
    /* the module: beyond the grid, shapes, dtypes, options, NULL (u and v taken over each time) */
    ag_tensor *far = ag_to(ag_full(AG_SHAPE(5), 2 * gc.max_uv_grid_value, AG_F64), DEV);
    assert_null(ag_nufft_module(&gc, ag_clone(far), ag_clone(v), (ag_nufft_opts){0}));
    assert_error(AG_ERR_INVALID, "ag_grid_check_data_fit", "beyond the grid", "use cell_size <=");
    assert_null(ag_nufft_module(&gc, ag_clone(u), ag_to(ag_zeros(AG_SHAPE(4), AG_F64), DEV), (ag_nufft_opts){0}));
    assert_error(AG_ERR_SHAPE, "ag_nufft_module", "one shape", "[5]", "[4]");
    assert_null(ag_nufft_module(&gc, ag_to_dtype(u, AG_F32), ag_clone(v), (ag_nufft_opts){0}));
    assert_error(AG_ERR_DTYPE, "ag_nufft_module", "f32", "f64");
    assert_null(ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){1e-6, 2}));
    assert_error(AG_ERR_INVALID, "ag_nufft_module", "sign", "2");
    assert_null(ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){1e-20, -1}));
    assert_error(AG_ERR_INVALID, "ag_nufft_module", "tolerance", "1e-20");
    assert_null(ag_nufft_module(NULL, ag_clone(u), ag_clone(v), (ag_nufft_opts){0}));
    assert_error(AG_ERR_INVALID, "ag_nufft_module", "NULL");
    /* the forward: wrong npix, integer cube */
    ag_module *m = ag_nufft_module(&gc, ag_clone(u), ag_clone(v), (ag_nufft_opts){0});
    assert_non_null(m);
    assert_null(ag_forward(m, ag_to(ag_zeros(AG_SHAPE(1, 8, 8), AG_F64), DEV)));
    assert_error(AG_ERR_SHAPE, "ag_nufft_module (forward)", "(nchan, 16, 16)", "[1,8,8]");
    assert_null(ag_forward(m, ag_to(ag_zeros(AG_SHAPE(1, 16, 16), AG_I64), DEV)));
    assert_error(AG_ERR_SHAPE, "ag_nufft_module (forward)", "i64");
    ag_module_free(m);
    /* ag_nufft_vis */
    assert_null(ag_nufft_vis(&gc, cube, ag_to_dtype(u, AG_F32), ag_to_dtype(v, AG_F32), (ag_nufft_opts){0}));
    assert_error(AG_ERR_DTYPE, "ag_nufft_vis", "f64 cube", "f32 u");
    assert_null(ag_nufft_vis(&gc, cube, ag_to(ag_zeros(AG_SHAPE(2, 5), AG_F64), DEV), ag_to(ag_zeros(AG_SHAPE(2, 5), AG_F64), DEV),
                             (ag_nufft_opts){0}));
    assert_error(AG_ERR_SHAPE, "ag_nufft_vis", "nchan 1", "[2,5]");
    assert_null(ag_nufft_vis(&gc, cube, u, ag_to(ag_zeros(AG_SHAPE(6), AG_F64), DEV), (ag_nufft_opts){0}));
    assert_error(AG_ERR_SHAPE, "ag_nufft_vis", "one shape");
    assert_null(ag_nufft_vis(&gc, cube, far, v, (ag_nufft_opts){0}));
    assert_error(AG_ERR_INVALID, "ag_grid_check_data_fit", "beyond the grid");
    assert_null(ag_nufft_vis(&gc, cube, u, ag_full_like(v, NAN), (ag_nufft_opts){0}));
    assert_error(AG_ERR_INVALID, "NaN");
    assert_null(ag_nufft_vis(NULL, cube, u, v, (ag_nufft_opts){0}));
    assert_error(AG_ERR_INVALID, "ag_nufft_vis", "NULL");
    assert_null(ag_nufft_vis(&gc, ag_to(ag_zeros(AG_SHAPE(1, 8, 8), AG_F64), DEV), u, v, (ag_nufft_opts){0}));
    assert_error(AG_ERR_SHAPE, "ag_nufft");
    /* second derivatives in u, v: refused, not silently wrong */
    ag_tensor *ug = ag_set_requires_grad(ag_clone(u), true);
    ag_tensor *V = ag_nufft_vis(&gc, ag_to(ag_ones(AG_SHAPE(1, 16, 16), AG_F64), DEV), ug, v, (ag_nufft_opts){0});
    ag_tensor *Lo = ag_sum(ag_square(ag_abs(V)), NULL, 0, false), *g = NULL;
    assert_true(ag_grad_ex(&Lo, 1, &ug, 1, (ag_grad_opts){.create_graph = true}, &g) < 0);
    assert_error(AG_ERR_NOTIMPL, "ag_nufft_vis", "second derivatives");
    ag_scope_end();
}

int main(void) {
    DEV = ag_device_default();
    print_message("tensors on %s\n", ag_device_kind_name(DEV.kind));
    const struct CMUnitTest tests[] = {
        TEST(module_matches_dft),       TEST(module_matches_fourier_cube), TEST(per_channel_points),
        TEST(gradcheck_image_u_v),      TEST(uv_gradient_vs_composed_dft), TEST(module_other_device_and_backward),
        TEST(matches_torch_fixture), TEST(bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
