/* tests/test_nufft.c — the NuFFT (imaging/nufft.c) against the direct DFT (ag_dft,
 * ag_dft_adjoint, exact) at random points over the whole grid, edges included: the relative
 * error at each tolerance, both signs, real and complex cubes, shared and per-channel points,
 * f32; the adjoint identity; gradients (autograd through the composition against ag_dft's);
 * bad inputs. Runs again with AG_DEVICE=test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "test_util.h"

static ag_device DEV;

/* ‖a − b‖ / ‖b‖ over complex or real tensors */
static double rel_err(ag_tensor *a, ag_tensor *b) {
    ag_scope_begin();
    double num = ag_item(ag_sqrt(ag_sum(ag_square(ag_abs(ag_sub(a, b))), NULL, 0, false)));
    double den = ag_item(ag_sqrt(ag_sum(ag_square(ag_abs(b)), NULL, 0, false)));
    ag_scope_end();
    return num / den;
}

/* points uniform over the grid's whole (u, v) range, in dtype */
static void points(const ag_grid_coords *gc, int64_t nsets, int64_t nvis, ag_dtype dt, ag_tensor **u, ag_tensor **v) {
    double m = gc->max_uv_grid_value;
    int64_t shp[2] = {nsets, nvis};
    int nd = nsets ? 2 : 1;
    const int64_t *s = nsets ? shp : shp + 1;
    *u = ag_to(ag_to_dtype(ag_mul_s(ag_sub_s(ag_rand(s, nd, AG_F64), 0.5), 2 * m), dt), DEV);
    *v = ag_to(ag_to_dtype(ag_mul_s(ag_sub_s(ag_rand(s, nd, AG_F64), 0.5), 2 * m), dt), DEV);
}

static void matches_dft(void **state) {
    (void)state;
    ag_manual_seed(3);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 32), 0);
    const double eps[] = {1e-2, 1e-4, 1e-6, 1e-9, 1e-12};
    for (int sg = -1; sg <= 1; sg += 2)
        for (size_t e = 0; e < sizeof eps / sizeof *eps; e++) {
            ag_scope_begin();
            ag_tensor *u, *v;
            points(&gc, 0, 300, AG_F64, &u, &v);
            ag_tensor *cube = ag_to(ag_rand(AG_SHAPE(2, 32, 32), AG_F64), DEV);
            ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, eps[e], sg);
            assert_non_null(p);
            double err = rel_err(ag_nufft(p, cube), ag_dft(cube, u, v, &gc, sg));
            ag_tensor *vis = ag_to(ag_complex(ag_randn(AG_SHAPE(2, 300), AG_F64), ag_randn(AG_SHAPE(2, 300), AG_F64)), DEV);
            double err_adj = rel_err(ag_nufft_adjoint(p, vis), ag_dft_adjoint(vis, u, v, &gc, sg));
            print_message("sign %+d eps %.0e (w %d): type 2 %.2e, type 1 %.2e\n", sg, eps[e], ag_nufft_plan_width(p), err, err_adj);
            assert_true(err < 10 * eps[e]);
            assert_true(err_adj < 10 * eps[e]);
            ag_nufft_plan_free(p);
            assert_no_error();
            ag_scope_end();
        }
}

static void complex_per_channel_f32(void **state) {
    (void)state;
    ag_manual_seed(4);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.005, 16), 0);
    ag_scope_begin();
    ag_tensor *u, *v;
    points(&gc, 3, 200, AG_F64, &u, &v);
    ag_tensor *cube = ag_to(ag_complex(ag_rand(AG_SHAPE(3, 16, 16), AG_F64), ag_rand(AG_SHAPE(3, 16, 16), AG_F64)), DEV);
    ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, 1e-8, 0);
    assert_non_null(p);
    double err = rel_err(ag_nufft(p, cube), ag_dft(cube, u, v, &gc, -1));
    ag_tensor *vis = ag_to(ag_complex(ag_randn(AG_SHAPE(3, 200), AG_F64), ag_randn(AG_SHAPE(3, 200), AG_F64)), DEV);
    double err_adj = rel_err(ag_nufft_adjoint(p, vis), ag_dft_adjoint(vis, u, v, &gc, -1));
    print_message("complex cube, per-channel points, eps 1e-8: %.2e, adjoint %.2e\n", err, err_adj);
    assert_true(err < 1e-7 && err_adj < 1e-7);
    ag_nufft_plan_free(p);

    /* f32 points: c64 results at f32 accuracy */
    ag_tensor *u32 = ag_to_dtype(u, AG_F32), *v32 = ag_to_dtype(v, AG_F32);
    ag_tensor *c32 = ag_to_dtype(ag_real(cube), AG_F32);
    p = ag_nufft_plan_new(&gc, u32, v32, 1e-5, 0);
    assert_non_null(p);
    ag_tensor *V = ag_nufft(p, c32);
    assert_int_equal(ag_dtype_of(V), AG_C64);
    err = rel_err(ag_to_dtype(V, AG_C128), ag_dft(ag_to_dtype(c32, AG_F64), u, v, &gc, -1));
    print_message("f32, eps 1e-5: %.2e\n", err);
    assert_true(err < 1e-4);
    ag_nufft_plan_free(p);
    assert_no_error();
    ag_scope_end();
}

/* <A x, y> = <x, A^H y> for the NuFFT's own pair, and the image gradient of a loss against
 * the exact DFT's */
static void adjoint_and_gradient(void **state) {
    (void)state;
    ag_manual_seed(5);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 16), 0);
    ag_scope_begin();
    ag_tensor *u, *v;
    points(&gc, 0, 150, AG_F64, &u, &v);
    ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, 1e-12, 1);
    assert_non_null(p);
    ag_tensor *x = ag_to(ag_complex(ag_randn(AG_SHAPE(1, 16, 16), AG_F64), ag_randn(AG_SHAPE(1, 16, 16), AG_F64)), DEV);
    ag_tensor *y = ag_to(ag_complex(ag_randn(AG_SHAPE(1, 150), AG_F64), ag_randn(AG_SHAPE(1, 150), AG_F64)), DEV);
    double ar, ai, br, bi;
    ag_item_complex(ag_sum(ag_mul(ag_conj(y), ag_nufft(p, x)), NULL, 0, false), &ar, &ai);
    ag_item_complex(ag_sum(ag_mul(ag_conj(ag_nufft_adjoint(p, y)), x), NULL, 0, false), &br, &bi);
    print_message("<Ax, y> %.15g%+.15gi, <x, A^H y> %.15g%+.15gi\n", ar, ai, br, bi);
    assert_true(hypot(ar - br, ai - bi) < 1e-12 * hypot(ar, ai));

    ag_tensor *img = ag_set_requires_grad(ag_to(ag_rand(AG_SHAPE(16, 16), AG_F64), DEV), true);
    ag_tensor *w = ag_to(ag_rand(AG_SHAPE(1, 150), AG_F64), DEV);
    ag_tensor *g1 = NULL, *g2 = NULL;
    for (int k = 0; k < 2; k++) {
        ag_tensor *V = k ? ag_dft(img, u, v, &gc, 1) : ag_nufft(p, img);
        ag_tensor *L = ag_sum(ag_mul(w, ag_square(ag_abs(ag_sub(V, y)))), NULL, 0, false);
        ag_tensor *g = NULL;
        assert_int_equal(ag_grad(&L, 1, &img, 1, NULL, false, &g), 0);
        if (k) g2 = g;
        else g1 = g;
    }
    double err = rel_err(g1, g2);
    print_message("image gradient vs the exact DFT's: %.2e\n", err);
    assert_true(err < 1e-10);
    assert_int_equal(ag_dtype_of(g1), AG_F64);
    ag_nufft_plan_free(p);
    assert_no_error();
    ag_scope_end();
}

static void bad_inputs(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 16), 0);
    ag_scope_begin();
    ag_tensor *u = ag_to(ag_zeros(AG_SHAPE(5), AG_F64), DEV), *v = ag_to(ag_zeros(AG_SHAPE(5), AG_F64), DEV);
    assert_null(ag_nufft_plan_new(NULL, u, v, 1e-6, -1));
    assert_error(AG_ERR_INVALID, "ag_nufft_plan_new", "NULL");
    assert_null(ag_nufft_plan_new(&gc, u, v, 1e-6, 2));
    assert_error(AG_ERR_INVALID, "ag_nufft_plan_new", "sign");
    assert_null(ag_nufft_plan_new(&gc, u, v, 1e-20, -1));
    assert_error(AG_ERR_INVALID, "ag_nufft_plan_new", "tolerance");
    assert_null(ag_nufft_plan_new(&gc, ag_to_dtype(u, AG_F32), v, 1e-6, -1));
    assert_error(AG_ERR_DTYPE, "ag_nufft_plan_new", "f32");
    assert_null(ag_nufft_plan_new(&gc, u, ag_to(ag_zeros(AG_SHAPE(4), AG_F64), DEV), 1e-6, -1));
    assert_error(AG_ERR_SHAPE, "ag_nufft_plan_new", "[5]");
    assert_null(ag_nufft_plan_new(&gc, ag_add_s(u, 10 * gc.max_uv_grid_value), v, 1e-6, -1));
    assert_error(AG_ERR_INVALID, "ag_grid_check_data_fit");
    ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, 1e-6, -1);
    assert_non_null(p);
    assert_null(ag_nufft(p, ag_to(ag_zeros(AG_SHAPE(2, 8, 8), AG_F64), DEV)));
    assert_error(AG_ERR_SHAPE, "ag_nufft", "(nchan, 16, 16)");
    assert_null(ag_nufft(p, ag_to(ag_zeros(AG_SHAPE(16, 16), AG_F32), DEV)));
    assert_error(AG_ERR_DTYPE, "ag_nufft", "f32");
    assert_null(ag_nufft(p, NULL));
    assert_error(AG_ERR_INVALID, "ag_nufft", "NULL");
    assert_null(ag_nufft_adjoint(p, ag_to(ag_zeros(AG_SHAPE(1, 5), AG_F64), DEV)));
    assert_error(AG_ERR_DTYPE, "ag_nufft_adjoint", "c128");
    assert_null(ag_nufft_adjoint(p, ag_to(ag_zeros(AG_SHAPE(1, 6), AG_C128), DEV)));
    assert_error(AG_ERR_SHAPE, "ag_nufft_adjoint", "(nchan, 5)");
    ag_nufft_plan_free(p);
    ag_nufft_plan_free(NULL);
    ag_scope_end();
}

/* type 2 and type 1 against the DFT at the points (u, v) (host values, f64) on the 64² grid,
 * whose 128² fine grid the plan cuts into 4 × 4 bins of 32 cells: returns the larger error */
static double check_points(const double *uh, const double *vh, int64_t m, double eps) {
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 64), 0);
    ag_scope_begin();
    ag_tensor *u = ag_from_data_on(uh, AG_SHAPE(m), AG_F64, DEV), *v = ag_from_data_on(vh, AG_SHAPE(m), AG_F64, DEV);
    ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, eps, -1);
    assert_non_null(p);
    ag_tensor *cube = ag_to(ag_randn(AG_SHAPE(1, 64, 64), AG_F64), DEV);
    ag_tensor *vis = ag_to(ag_complex(ag_randn(AG_SHAPE(1, m), AG_F64), ag_randn(AG_SHAPE(1, m), AG_F64)), DEV);
    double e2 = rel_err(ag_nufft(p, cube), ag_dft(cube, u, v, &gc, -1));
    double e1 = rel_err(ag_nufft_adjoint(p, vis), ag_dft_adjoint(vis, u, v, &gc, -1));
    ag_nufft_plan_free(p);
    assert_no_error();
    ag_scope_end();
    return fmax(e1, e2);
}

/* points exactly on bin edges (fine cells 0, 32 and 96 = -32, and just below them), across the
 * fine grid's seam (-1e-12 wraps to 128), at the largest |u| (63 cells), with x − w/2 an integer
 * (a weight at the kernel's end: w is odd here), all in one bin, and a single point */
static void bin_edges(void **state) {
    (void)state;
    ag_manual_seed(6);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 64), 0);
    double cell = 1 / (gc.dl * 128); /* λ per fine cell */
    const double xs[] = {0, 1, 31, 32, 62.9999999, 63, -32, -31.5, -33, -63, 5.5, 32 - 1e-9, -32 - 1e-9, -1e-12, 0.5, -0.5};
    enum { NX = sizeof xs / sizeof *xs };
    double uh[NX * NX], vh[NX * NX];
    for (int i = 0; i < NX; i++)
        for (int j = 0; j < NX; j++) uh[i * NX + j] = xs[i] * cell, vh[i * NX + j] = xs[j] * cell;
    for (int e = 0; e < 2; e++) {
        double eps = e ? 1e-10 : 1e-4, err = check_points(uh, vh, NX * NX, eps);
        print_message("edges (%d points), eps %.0e: %.2e\n", NX * NX, eps, err);
        assert_true(err < 10 * eps);
    }
    /* clustered: 500 points within one fine cell of bin (1, 2) */
    double cu[500], cv[500];
    for (int k = 0; k < 500; k++) cu[k] = (40 + (k % 23) / 23.0) * cell, cv[k] = (-50 + (k % 7) / 7.0) * cell;
    double err = check_points(cu, cv, 500, 1e-8);
    print_message("500 points in one bin: %.2e\n", err);
    assert_true(err < 1e-7);
    double one_u = 17.25 * cell, one_v = -3.75 * cell;
    err = check_points(&one_u, &one_v, 1, 1e-8);
    print_message("one point: %.2e\n", err);
    assert_true(err < 1e-7);
}

/* no points: type 2 gives an empty result, type 1 a zero image */
static void no_points(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 16), 0);
    ag_scope_begin();
    ag_tensor *u = ag_to(ag_zeros(AG_SHAPE(0), AG_F64), DEV), *v = ag_to(ag_zeros(AG_SHAPE(0), AG_F64), DEV);
    ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, 1e-6, -1);
    assert_non_null(p);
    ag_tensor *V = ag_nufft(p, ag_to(ag_rand(AG_SHAPE(16, 16), AG_F64), DEV));
    assert_non_null(V);
    assert_int_equal(ag_numel(V), 0);
    ag_tensor *A = ag_nufft_adjoint(p, ag_to(ag_zeros(AG_SHAPE(1, 0), AG_C128), DEV));
    assert_non_null(A);
    assert_true(ag_item(ag_sum(ag_abs(A), NULL, 0, false)) == 0);
    ag_nufft_plan_free(p);
    assert_no_error();
    ag_scope_end();
}

/* the same bits with 1 and 2 threads (spreading runs its bins in parallel), shared and
 * per-channel points, f64 and f32; f32 type 1 against the DFT */
static void deterministic_threads(void **state) {
    (void)state;
    ag_manual_seed(7);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.005, 128), 0);
    int before = ag_get_num_threads();
    for (int f = 0; f < 2; f++)
        for (int sets = 0; sets <= 2; sets += 2) {
            ag_dtype dt = f ? AG_F32 : AG_F64, ct = f ? AG_C64 : AG_C128;
            ag_scope_begin();
            ag_tensor *u, *v;
            points(&gc, sets, 20000, dt, &u, &v);
            ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, f ? 1e-5 : 1e-9, -1);
            assert_non_null(p);
            ag_tensor *cube = ag_to(ag_to_dtype(ag_randn(AG_SHAPE(2, 128, 128), AG_F64), dt), DEV);
            ag_tensor *vis = ag_to(ag_to_dtype(ag_complex(ag_randn(AG_SHAPE(2, 20000), AG_F64),
                                                          ag_randn(AG_SHAPE(2, 20000), AG_F64)), ct), DEV);
            ag_tensor *r[2][2];
            for (int t = 0; t < 2; t++) {
                ag_set_num_threads(t + 1);
                r[t][0] = ag_nufft(p, cube), r[t][1] = ag_nufft_adjoint(p, vis);
            }
            ag_set_num_threads(before);
            for (int k = 0; k < 2; k++) {
                double d = ag_item(ag_amax(ag_abs(ag_sub(r[0][k], r[1][k])), NULL, 0, false));
                assert_true(d == 0);
            }
            if (f) {
                ag_tensor *u64 = ag_to_dtype(u, AG_F64), *v64 = ag_to_dtype(v, AG_F64);
                double e1 = rel_err(ag_to_dtype(r[0][1], AG_C128), ag_dft_adjoint(ag_to_dtype(vis, AG_C128), u64, v64, &gc, -1));
                double e2 = rel_err(ag_to_dtype(r[0][0], AG_C128), ag_dft(ag_to_dtype(cube, AG_F64), u64, v64, &gc, -1));
                print_message("f32 %s points, eps 1e-5: type 2 %.2e, type 1 %.2e\n", sets ? "per-channel" : "shared", e2, e1);
                assert_true(e1 < 1e-4 && e2 < 1e-4);
            }
            ag_nufft_plan_free(p);
            assert_no_error();
            ag_scope_end();
        }
}

static ag_tensor *nufft_fn(ag_tensor *const *in, int n, void *p) { (void)n; return ag_nufft(p, in[0]); }
static ag_tensor *nufft_adj_fn(ag_tensor *const *in, int n, void *p) { (void)n; return ag_nufft_adjoint(p, in[0]); }

/* ag_gradcheck and ag_gradgradcheck (f64) of both transforms: a real and a complex cube, complex
 * visibilities (a 16² image: one bin; bin_edges and deterministic_threads cover many) */
static void gradchecks(void **state) {
    (void)state;
    if (DEV.kind != AG_DEV_CPU) { print_message("skipped: ag_gradcheck takes CPU inputs\n"); return; }
    ag_manual_seed(8);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 16), 0);
    ag_scope_begin();
    ag_tensor *u, *v;
    points(&gc, 0, 20, AG_F64, &u, &v);
    ag_nufft_plan *p = ag_nufft_plan_new(&gc, u, v, 1e-6, -1);
    assert_non_null(p);
    ag_tensor *x[] = {ag_set_requires_grad(ag_to(ag_randn(AG_SHAPE(1, 16, 16), AG_F64), DEV), true),
                      ag_set_requires_grad(ag_to(ag_randn(AG_SHAPE(16, 16), AG_C128), DEV), true),
                      ag_set_requires_grad(ag_to(ag_randn(AG_SHAPE(1, 20), AG_C128), DEV), true)};
    ag_gradcheck_report rep;
    for (int i = 0; i < 3; i++) {
        ag_gradcheck_fn fn = i < 2 ? nufft_fn : nufft_adj_fn;
        if (ag_gradcheck(fn, p, &x[i], 1, NULL, &rep) != 1) fail_msg("gradcheck input %d: %s", i, rep.message);
        if (ag_gradgradcheck(fn, p, &x[i], 1, NULL, &rep) != 1) fail_msg("gradgradcheck input %d: %s", i, rep.message);
    }
    ag_nufft_plan_free(p);
    assert_no_error();
    ag_scope_end();
}

int main(void) {
    DEV = ag_device_default();
    const struct CMUnitTest tests[] = {
        TEST(matches_dft), TEST(complex_per_channel_f32), TEST(adjoint_and_gradient), TEST(bad_inputs),
        TEST(bin_edges), TEST(no_points), TEST(deterministic_threads), TEST(gradchecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
