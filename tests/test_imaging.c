/* tests/test_imaging.c — GridCoords and visibility sets against MPoL's definitions
 * (fixtures: tests/imaginggen/coords.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

static void expect_close(ag_tensor *got, ag_tensor *want, const char *what) {
    if (!got || !want) fail_msg("%s: missing (%s)", what, ag_last_error());
    double r = fx_close_ratio(got, want, 1e-12, 1e-300);
    if (!(r <= 1)) fail_msg("%s: off by %g of the tolerance", what, r);
}

static void coords_match_mpol(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_coords");
    assert_non_null(f);
    const double cells[] = {0.005, 0.0123, 1.5e-6};
    const int64_t npixs[] = {8, 10, 64};
    for (int k = 0; k < 3; k++) {
        int64_t n = npixs[k];
        ag_grid_coords gc;
        assert_int_equal(ag_grid_coords_init(&gc, cells[k], n), 0);
        const double got[] = {gc.cell_size, (double)gc.npix, gc.dl, gc.dm, gc.du, gc.dv, gc.u_bin_min, gc.u_bin_max,
                              gc.v_bin_min, gc.v_bin_max, gc.max_uv_grid_value, gc.img_ext[0], gc.img_ext[1],
                              gc.img_ext[2], gc.img_ext[3]};
        ag_tensor *gs = ag_from_data(got, AG_SHAPE(15), AG_F64), *ws = fx_get(f, "g%lld.scalars", (long long)n);
        expect_close(gs, ws, "scalars");
        ag_release(gs), ag_release(ws);
        assert_true(gc.vis_ext[0] == gc.u_bin_min && gc.vis_ext[3] == gc.v_bin_max);
        struct { ag_grid_axis a; const char *nm; } axes[] = {
            {AG_GRID_L_CENTERS, "l_centers"}, {AG_GRID_M_CENTERS, "l_centers"}, {AG_GRID_U_CENTERS, "u_centers"},
            {AG_GRID_V_CENTERS, "u_centers"}, {AG_GRID_U_EDGES, "u_edges"}, {AG_GRID_V_EDGES, "u_edges"}};
        for (size_t i = 0; i < sizeof axes / sizeof *axes; i++) {
            ag_tensor *g = ag_grid_axis_values(&gc, axes[i].a), *w = fx_get(f, "g%lld.%s", (long long)n, axes[i].nm);
            expect_close(g, w, axes[i].nm);
            ag_release(g), ag_release(w);
        }
        if (n > 16) continue;
        struct { ag_grid_field fl; ag_grid_layout ly; const char *nm; } fs[] = {
            {AG_GRID_X, AG_LAYOUT_PACKED, "packed_x"}, {AG_GRID_Y, AG_LAYOUT_PACKED, "packed_y"},
            {AG_GRID_X, AG_LAYOUT_SKY, "sky_x"}, {AG_GRID_Y, AG_LAYOUT_SKY, "sky_y"},
            {AG_GRID_U, AG_LAYOUT_PACKED, "packed_u"}, {AG_GRID_V, AG_LAYOUT_PACKED, "packed_v"},
            {AG_GRID_Q, AG_LAYOUT_PACKED, "packed_q"}, {AG_GRID_PHI, AG_LAYOUT_PACKED, "packed_phi"},
            {AG_GRID_U, AG_LAYOUT_SKY, "sky_u"}, {AG_GRID_V, AG_LAYOUT_SKY, "sky_v"},
            {AG_GRID_Q, AG_LAYOUT_SKY, "sky_q"}, {AG_GRID_PHI, AG_LAYOUT_SKY, "sky_phi"}};
        for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) {
            ag_tensor *g = ag_grid_centers_2d(&gc, fs[i].fl, fs[i].ly), *w = fx_get(f, "g%lld.%s", (long long)n, fs[i].nm);
            expect_close(g, w, fs[i].nm);
            ag_release(g), ag_release(w);
        }
    }
    fx_close(f);
}

static void coords_bad_input(void **state) {
    (void)state;
    ag_grid_coords gc = {0};
    assert_true(ag_grid_coords_init(&gc, 0.01, 7) < 0);
    assert_error(AG_ERR_INVALID, "ag_grid_coords_init", "even npix", "7");
    assert_true(gc.npix == 0); /* untouched */
    assert_true(ag_grid_coords_init(&gc, -1, 8) < 0);
    assert_error(AG_ERR_INVALID, "positive finite cell_size");
    assert_true(ag_grid_coords_init(&gc, NAN, 8) < 0);
    assert_error(AG_ERR_INVALID, "cell_size");
    assert_null(ag_grid_axis_values(&gc, AG_GRID_U_EDGES));
    assert_error(AG_ERR_INVALID, "not initialised");
}

static void coords_check_data_fit(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.005, 256), 0);
    double lim = gc.max_uv_grid_value;
    ag_tensor *u = ag_from_data((double[]){-lim, 0.5 * lim, lim}, AG_SHAPE(3), AG_F64);
    ag_tensor *v = ag_from_data((double[]){0, -lim, 0.1}, AG_SHAPE(3), AG_F64);
    assert_int_equal(ag_grid_check_data_fit(&gc, u, v), 0);
    ag_tensor *v2 = ag_from_data((double[]){0, -1.5 * lim, 0.1}, AG_SHAPE(3), AG_F64);
    assert_true(ag_grid_check_data_fit(&gc, u, v2) < 0);
    /* the cell size it names makes the data fit */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ag_last_error());
    assert_error(AG_ERR_INVALID, "ag_grid_check_data_fit", "max |v|", "use cell_size <=");
    double fit = atof(strstr(msg, "use cell_size <= ") + strlen("use cell_size <= "));
    ag_grid_coords g2;
    assert_int_equal(ag_grid_coords_init(&g2, fit * (1 - 1e-5), 256), 0);
    assert_int_equal(ag_grid_check_data_fit(&g2, u, v2), 0);
    ag_tensor *ci = ag_from_data((int64_t[]){1, 2, 3}, AG_SHAPE(3), AG_I64);
    assert_true(ag_grid_check_data_fit(&gc, ci, v) < 0);
    assert_error(AG_ERR_DTYPE, "real floating u");
    ag_release(u), ag_release(v), ag_release(v2), ag_release(ci);
}

static void vis_set_checks(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *u = ag_linspace(-1e5, 1e5, 6, AG_F64), *v = ag_linspace(1e4, 2e4, 6, AG_F64);
    ag_tensor *d = ag_complex(ag_ones(AG_SHAPE(6), AG_F64), ag_zeros(AG_SHAPE(6), AG_F64));
    ag_tensor *w = ag_full(AG_SHAPE(6), 2.0, AG_F64);
    ag_vis *vis = ag_vis_new(u, v, d, w);
    ag_scope_end(); /* the set took the references out of the scope */
    assert_non_null(vis);
    assert_int_equal(vis->nchan, 1);
    assert_int_equal(vis->nvis, 6);
    assert_shape(vis->data, 1, 6);
    ag_vis_free(vis);

    /* each bad input: a clear error, and nothing leaks */
    struct { double wv, dv; ag_dtype ddt; const char *want; } bad[] = {
        {0.0, 1.0, AG_C128, "weights > 0"}, {-1.0, 1.0, AG_C128, "weights > 0"},
        {1.0, NAN, AG_C128, "data contains NaN"}, {1.0, 1.0, AG_C64, "expected c128 data"}};
    ag_scope_begin();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ag_tensor *dd = ag_to_dtype(ag_full(AG_SHAPE(2, 3), bad[i].dv, AG_F64), bad[i].ddt);
        ag_tensor *ww = ag_from_data((double[]){1, 1, bad[i].wv, 1, 1, 1}, AG_SHAPE(2, 3), AG_F64);
        assert_null(ag_vis_new(ag_zeros(AG_SHAPE(2, 3), AG_F64), ag_zeros(AG_SHAPE(2, 3), AG_F64), dd, ww));
        assert_error(ag_error_code(), "ag_vis_new", bad[i].want);
    }
    ag_scope_end();
    assert_null(ag_vis_new(ag_zeros(AG_SHAPE(2, 3), AG_F64), ag_zeros(AG_SHAPE(3), AG_F64),
                           ag_zeros(AG_SHAPE(2, 3), AG_C128), ag_ones(AG_SHAPE(2, 3), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_vis_new", "v of u's shape [2,3], given [3]");
    assert_null(ag_vis_new(NULL, NULL, NULL, NULL));
    assert_error(AG_ERR_INVALID, "ag_vis_new", "u is NULL");
    ag_vis_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(coords_match_mpol), TEST(coords_bad_input), TEST(coords_check_data_fit), TEST(vis_set_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
