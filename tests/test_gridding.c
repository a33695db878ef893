/* tests/test_gridding.c — MPoL's DataAverager / GriddedDataset and DirtyImager (imaging/gridding.c,
 * imaging/dirty.c) against tests/imaginggen/gridding.py (MPoL's formulas in NumPy/PyTorch, checked
 * once against MPoL 0.2 itself by tests/imaginggen/mpol_check/gridding_vs_mpol.py): gridded cubes,
 * the forward gather and nll with their gradients (and gradchecks), dirty images, beams and beam
 * areas for four weighting/taper/unit cases; bad inputs. Runs on AG_DEVICE (device_gridding). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

static ag_device DEV;

/* the fixture's loose set <p> on DEV (made in a scope: the vis takes the references over) */
static ag_vis *fixture_vis(fx_file *f, const char *p) {
    ag_scope_begin();
    ag_vis *vis = ag_vis_new(ag_to(fx_get(f, "%s.u", p), DEV), ag_to(fx_get(f, "%s.v", p), DEV),
                             ag_to(fx_get(f, "%s.data", p), DEV), ag_to(fx_get(f, "%s.weight", p), DEV));
    ag_scope_end();
    assert_non_null(vis);
    return vis;
}

static void average_matches(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_gridding");
    assert_non_null(f);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.05, 16), 0);
    ag_vis *vis = fixture_vis(f, "avg");
    for (int conj = 0; conj < 2; conj++) {
        ag_gridded_dataset *ds = ag_data_average(&gc, vis, conj);
        assert_non_null(ds);
        ag_scope_begin();
        assert_true(ag_device_of(ds->vis_gridded).kind == DEV.kind);
        fx_expect_close(ds->vis_gridded, fx_get(f, "avg.conj%d.vis_gridded", conj), 1e-12, "gridded visibilities");
        fx_expect_close(ds->weight_gridded, fx_get(f, "avg.conj%d.weight_gridded", conj), 1e-12, "gridded weights");
        ag_tensor *m = fx_get(f, "avg.conj%d.mask", conj);
        fx_expect_close(ds->mask, m, 0, "mask");
        assert_int_equal(ds->nmask, (int64_t)ag_item(ag_sum(m, AG_ALL_DIMS, false)));
        fx_expect_close(ds->vis_indexed, ag_masked_select(fx_get(f, "avg.conj%d.vis_gridded", conj), m), 1e-12, "vis_indexed");
        fx_expect_close(ds->weight_indexed, ag_masked_select(fx_get(f, "avg.conj%d.weight_gridded", conj), m), 1e-12,
                        "weight_indexed");
        ag_scope_end();
        ag_gridded_dataset_free(ds);
    }
    ag_vis_free(vis);
    fx_close(f);
}

/* c64/f32 visibilities give a dataset and images in single precision (computed in f64) */
static void single_precision(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_gridding");
    assert_non_null(f);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.08, 32), 0);
    ag_scope_begin();
    ag_vis *vis = ag_vis_new(ag_to(ag_to_dtype(fx_get(f, "dirty.u"), AG_F32), DEV), ag_to(ag_to_dtype(fx_get(f, "dirty.v"), AG_F32), DEV),
                             ag_to(ag_to_dtype(fx_get(f, "dirty.data"), AG_C64), DEV),
                             ag_to(ag_to_dtype(fx_get(f, "dirty.weight"), AG_F32), DEV));
    ag_scope_end();
    assert_non_null(vis);
    ag_gridded_dataset *ds = ag_data_average(&gc, vis, true);
    assert_non_null(ds);
    assert_int_equal(ag_dtype_of(ds->vis_gridded), AG_C64);
    assert_int_equal(ag_dtype_of(ds->weight_indexed), AG_F32);
    ag_tensor *img = NULL, *area = NULL;
    assert_int_equal(ag_dirty_image(&gc, vis, NULL, &img, NULL, &area), 0);
    assert_int_equal(ag_dtype_of(img), AG_F32);
    ag_scope_begin();
    fx_expect_close(img, ag_to_dtype(fx_get(f, "dirty.uniform.image"), AG_F32), 1e-4, "f32 image");
    fx_expect_close(area, ag_to_dtype(fx_get(f, "dirty.uniform.area"), AG_F32), 1e-4, "f32 beam area");
    ag_scope_end();
    ag_release(img), ag_release(area);
    ag_gridded_dataset_free(ds);
    ag_vis_free(vis);
    fx_close(f);
}

typedef struct { const ag_gridded_dataset *ds; bool nll; } fw_ctx;
static ag_tensor *fw_fn(ag_tensor *const *in, int n, void *user) {
    (void)n;
    fw_ctx *c = user;
    return c->nll ? ag_gridded_dataset_nll(c->ds, in[0]) : ag_gridded_dataset_forward(c->ds, in[0]);
}

static void forward_and_nll(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_gridding");
    assert_non_null(f);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.05, 16), 0);
    ag_vis *vis = fixture_vis(f, "avg");
    ag_gridded_dataset *ds = ag_data_average(&gc, vis, false);
    assert_non_null(ds);
    ag_scope_begin();
    ag_tensor *model = ag_to(fx_get(f, "avg.model"), DEV);
    ag_set_requires_grad(model, true);
    ag_tensor *sel = ag_gridded_dataset_forward(ds, model);
    fx_expect_close(sel, fx_get(f, "avg.forward"), 0, "model at the masked cells");
    ag_tensor *nll = ag_gridded_dataset_nll(ds, model);
    fx_expect_close(nll, fx_get(f, "avg.nll"), 1e-12, "nll_gridded");
    assert_int_equal(ag_backward(nll), 0);
    fx_expect_close(ag_grad_of(model), fx_get(f, "avg.nll_grad"), 1e-12, "d nll / d model (PyTorch's)");
    /* gradchecks in c128 (ag_gradcheck runs on the CPU; the CPU run covers them) */
    ag_tensor *x = ag_detach(model);
    ag_set_requires_grad(x, true);
    ag_gradcheck_report rep;
    for (int k = 0; DEV.kind == AG_DEV_CPU && k < 2; k++) {
        fw_ctx c = {ds, k == 1};
        int ok = ag_gradcheck(fw_fn, &c, &x, 1, NULL, &rep);
        if (ok != 1) fail_msg("gradcheck of %s: %s", k ? "nll" : "forward", rep.message);
    }
    ag_scope_end();
    /* MPoL's add_mask, on a copy */
    ag_scope_begin();
    ag_tensor *m2 = ag_to(fx_get(f, "avg.sub.mask2d"), DEV);
    ag_gridded_dataset *sub = ag_gridded_dataset_masked(ds, m2);
    assert_non_null(sub);
    fx_expect_close(sub->mask, fx_get(f, "avg.sub.mask"), 0, "and-ed mask");
    fx_expect_close(sub->vis_gridded, fx_get(f, "avg.sub.vis_gridded"), 0, "masked vis_gridded");
    fx_expect_close(sub->weight_gridded, fx_get(f, "avg.sub.weight_gridded"), 0, "masked weight_gridded");
    fx_expect_close(sub->vis_indexed, ag_masked_select(fx_get(f, "avg.sub.vis_gridded"), fx_get(f, "avg.sub.mask")), 0,
                    "masked vis_indexed");
    assert_true(sub->nmask < ds->nmask && sub->nmask > 0);
    ag_gridded_dataset_free(sub);
    fx_expect_close(ds->vis_gridded, fx_get(f, "avg.conj0.vis_gridded"), 1e-12, "ds unchanged");
    assert_null(ag_gridded_dataset_masked(ds, ag_select(m2, 0, 0)));
    assert_error(AG_ERR_SHAPE, "ag_gridded_dataset_masked", "(16, 16)");
    assert_null(ag_gridded_dataset_masked(ds, ag_to_dtype(m2, AG_F64)));
    assert_error(AG_ERR_DTYPE, "ag_gridded_dataset_masked", "bool mask2d");
    assert_null(ag_gridded_dataset_masked(NULL, m2));
    assert_error(AG_ERR_INVALID, "ag_gridded_dataset_masked", "ds is NULL");
    ag_scope_end();
    /* the dataset survives a round trip through ag_gridded_dataset_to */
    assert_int_equal(ag_gridded_dataset_to(ds, AG_CPU), 0);
    assert_true(ag_device_of(ds->index).kind == AG_DEV_CPU);
    assert_int_equal(ag_gridded_dataset_to(ds, DEV), 0);
    ag_gridded_dataset_free(ds);
    ag_vis_free(vis);
    fx_close(f);
}

static void dataset_new_checks(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_gridding");
    assert_non_null(f);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.05, 16), 0);
    ag_scope_begin();
    /* the dataset takes each reference over, also on failure: fresh tensors for every call */
#define VG fx_get(f, "avg.conj1.vis_gridded")
#define WG fx_get(f, "avg.conj1.weight_gridded")
#define MK fx_get(f, "avg.conj1.mask")
    /* one channel from 2-d cubes */
    ag_gridded_dataset *ds = ag_gridded_dataset_new(&gc, ag_select(VG, 0, 1), ag_select(WG, 0, 1), ag_select(MK, 0, 1));
    assert_non_null(ds);
    assert_int_equal(ds->nchan, 1);
    assert_int_equal(ds->nmask, (int64_t)ag_item(ag_sum(ag_select(MK, 0, 1), AG_ALL_DIMS, false)));
    ag_gridded_dataset_free(ds);
    /* a masked cell without weight */
    assert_null(ag_gridded_dataset_new(&gc, VG, ag_zeros_like(WG), MK));
    assert_error(AG_ERR_INVALID, "ag_gridded_dataset_new", "> 0 in masked cells");
    assert_null(ag_gridded_dataset_new(&gc, VG, ag_to_dtype(WG, AG_F32), MK));
    assert_error(AG_ERR_DTYPE, "ag_gridded_dataset_new", "f64 weight_gridded");
    assert_null(ag_gridded_dataset_new(&gc, VG, WG, ag_select(MK, 0, 0)));
    assert_error(AG_ERR_SHAPE, "ag_gridded_dataset_new", "mask of vis_gridded's shape");
    ag_grid_coords g8;
    assert_int_equal(ag_grid_coords_init(&g8, 0.05, 8), 0);
    assert_null(ag_gridded_dataset_new(&g8, VG, WG, MK));
    assert_error(AG_ERR_SHAPE, "ag_gridded_dataset_new", "(nchan, 8, 8)");
    assert_null(ag_gridded_dataset_new(&gc, NULL, WG, MK));
    assert_error(AG_ERR_INVALID, "ag_gridded_dataset_new", "vis_gridded is NULL");
    /* the same tensor in two slots: one reference per slot */
    ag_tensor *w = WG;
    assert_null(ag_gridded_dataset_new(&gc, VG, w, w));
    assert_error(AG_ERR_DTYPE, "ag_gridded_dataset_new", "bool mask");
#undef VG
#undef WG
#undef MK
    ag_scope_end();
    fx_close(f);
}

static void dirty_matches(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_gridding");
    assert_non_null(f);
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.08, 32), 0);
    ag_vis *vis = fixture_vis(f, "dirty");
    struct { const char *name; ag_dirty_opts o; } cases[] = {
        {"uniform", {0}},
        {"natural", {.weighting = AG_WEIGHT_NATURAL}},
        {"briggs0", {.weighting = AG_WEIGHT_BRIGGS, .robust = 0.0, .unit = AG_UNIT_JY_ARCSEC2}},
        {"briggs_taper", {.weighting = AG_WEIGHT_BRIGGS, .robust = -1.3, .taper_fwhm = 0.3, .unit = AG_UNIT_JY_ARCSEC2,
                          .ntheta = 16, .area_per_channel = true}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ag_tensor *img = NULL, *beam = NULL, *area = NULL;
        assert_int_equal(ag_dirty_image(&gc, vis, &cases[i].o, &img, &beam, &area), 0);
        ag_scope_begin();
        fx_expect_close(img, fx_get(f, "dirty.%s.image", cases[i].name), 1e-10, cases[i].name);
        fx_expect_close(area, fx_get(f, "dirty.%s.area", cases[i].name), 1e-10, "beam area");
        if (fx_has(f, "dirty.%s.beam", cases[i].name))
            fx_expect_close(beam, fx_get(f, "dirty.%s.beam", cases[i].name), 1e-10, "beam");
        ag_scope_end();
        ag_release(img), ag_release(beam), ag_release(area);
    }
    /* outputs not wanted are not made; NULL opts are MPoL's defaults (uniform, Jy/beam) */
    ag_tensor *img = NULL;
    assert_int_equal(ag_dirty_image(&gc, vis, NULL, &img, NULL, NULL), 0);
    ag_scope_begin();
    fx_expect_close(img, fx_get(f, "dirty.uniform.image"), 1e-10, "default image");
    ag_scope_end();
    ag_release(img);
    ag_vis_free(vis);
    fx_close(f);
}

/* a two-point set on DEV: (u0, v0) and (u1, v1), data 1 + i, 2 - i, weights 1, 2 */
static ag_vis *two_points(double u0, double v0, double u1, double v1) {
    double u[2] = {u0, u1}, v[2] = {v0, v1}, w[2] = {1, 2}, d[4] = {1, 1, 2, -1};
    ag_scope_begin();
    ag_vis *vis = ag_vis_new(ag_from_data_on(u, AG_SHAPE(2), AG_F64, DEV), ag_from_data_on(v, AG_SHAPE(2), AG_F64, DEV),
                             ag_from_data_on(d, AG_SHAPE(2), AG_C128, DEV), ag_from_data_on(w, AG_SHAPE(2), AG_F64, DEV));
    ag_scope_end();
    assert_non_null(vis);
    return vis;
}

static void edges_and_bad_inputs(void **state) {
    (void)state;
    ag_grid_coords gc, bad = {0};
    assert_int_equal(ag_grid_coords_init(&gc, 0.05, 16), 0);
    /* on the upper outer edge: inside check_data_fit's reach, outside the histogram: dropped */
    ag_vis *vis = two_points(gc.u_bin_max, 0.0, 0.3 * gc.du, 0.1 * gc.du);
    ag_gridded_dataset *ds = ag_data_average(&gc, vis, false);
    assert_non_null(ds);
    assert_int_equal(ds->nmask, 1);
    ag_scope_begin();
    double re, im;
    assert_int_equal(ag_item_complex(ag_take(ds->vis_indexed, ag_scalar_on(0, AG_I64, DEV)), &re, &im), 0);
    assert_true(re == 2 && im == -1);
    ag_scope_end();
    ag_gridded_dataset_free(ds);
    /* two points in the u = v = 0 cell with their conjugates: one cell, the weighted mean
     * (1·(1+i) + 2·(2-i) + 1·(1-i) + 2·(2+i)) / 6 = 10/6, weight 6 */
    ag_vis_free(vis);
    vis = two_points(0.3 * gc.du, 0.1 * gc.du, 0.2 * gc.du, -0.3 * gc.du);
    ds = ag_data_average(&gc, vis, true);
    assert_non_null(ds);
    assert_int_equal(ds->nmask, 1);
    ag_scope_begin();
    ag_tensor *i0 = ag_scalar_on(0, AG_I64, DEV);
    assert_int_equal(ag_item_complex(ag_take(ds->vis_indexed, i0), &re, &im), 0);
    assert_true(fabs(re - 10.0 / 6.0) < 1e-15 && fabs(im) < 1e-15);
    assert_true(ag_item(ag_take(ds->weight_indexed, i0)) == 6.0);
    assert_int_equal(ag_item_complex(ag_take(ag_reshape(ds->vis_gridded, AG_SHAPE(-1)), i0), &re, &im), 0); /* packed [0, 0] */
    assert_true(fabs(re - 10.0 / 6.0) < 1e-15);
    ag_scope_end();
    ag_gridded_dataset_free(ds);

    /* bad inputs: each names the function */
    assert_null(ag_data_average(NULL, vis, false));
    assert_error(AG_ERR_INVALID, "ag_data_average", "NULL");
    assert_null(ag_data_average(&bad, vis, false));
    assert_error(AG_ERR_INVALID, "ag_data_average", "not initialised");
    assert_null(ag_data_average(&gc, NULL, false));
    assert_error(AG_ERR_INVALID, "ag_data_average", "vis is NULL");
    vis->nchan = 3; /* a hand-made set whose sizes disagree with its tensors */
    assert_null(ag_data_average(&gc, vis, false));
    assert_error(AG_ERR_SHAPE, "ag_data_average", "(nchan, nvis) = (3, 2)", "[1,2]");
    vis->nchan = 1;
    ag_vis_free(vis);
    vis = two_points(9 * gc.du, 0.0, 0.0, -3 * gc.du);
    assert_null(ag_data_average(&gc, vis, false));
    assert_error(AG_ERR_INVALID, "ag_data_average", "beyond the grid", "max |u| =", "use cell_size <=");
    assert_int_equal(ag_dirty_image(&gc, vis, NULL, NULL, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "beyond the grid");
    ag_vis_free(vis);
    /* a Hermitian pair: (u, v, 1 + i) and (-u, -v, 1 - i) */
    double u[2] = {1000, -1000}, v[2] = {500, -500}, w[2] = {1, 1}, d[4] = {1, 1, 1, -1};
    ag_scope_begin();
    vis = ag_vis_new(ag_from_data_on(u, AG_SHAPE(2), AG_F64, DEV), ag_from_data_on(v, AG_SHAPE(2), AG_F64, DEV),
                     ag_from_data_on(d, AG_SHAPE(2), AG_C128, DEV), ag_from_data_on(w, AG_SHAPE(2), AG_F64, DEV));
    ag_scope_end();
    assert_null(ag_data_average(&gc, vis, false));
    assert_error(AG_ERR_INVALID, "ag_data_average", "Hermitian pairs");
    ag_vis_free(vis);

    vis = two_points(0.3 * gc.du, 0.1 * gc.du, 2.2 * gc.du, -1.4 * gc.du);
    ag_tensor *img = NULL;
    assert_int_equal(ag_dirty_image(&gc, vis, &(ag_dirty_opts){.weighting = (ag_weighting)7}, &img, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "unknown weighting 7");
    assert_int_equal(ag_dirty_image(&gc, vis, &(ag_dirty_opts){.weighting = AG_WEIGHT_BRIGGS, .robust = 2.5}, &img, NULL, NULL),
                     AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "robust in [-2, 2]", "2.5");
    assert_int_equal(ag_dirty_image(&gc, vis, &(ag_dirty_opts){.unit = (ag_image_unit)3}, &img, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "unknown unit 3");
    assert_int_equal(ag_dirty_image(&gc, vis, &(ag_dirty_opts){.taper_fwhm = -1}, &img, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "taper_fwhm");
    assert_int_equal(ag_dirty_image(&gc, NULL, NULL, &img, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "vis is NULL");
    /* two baselines cannot make a beam with a null in every wedge */
    ag_tensor *area = NULL;
    assert_int_equal(ag_dirty_image(&gc, vis, NULL, &img, NULL, &area), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dirty_image", "no negative pixel in the wedge", "first null");
    assert_null(img), assert_null(area);

    /* model cubes that do not fit the dataset */
    ds = ag_data_average(&gc, vis, false);
    assert_non_null(ds);
    ag_scope_begin();
    assert_null(ag_gridded_dataset_forward(ds, ag_zeros_on(AG_SHAPE(2, 16, 16), AG_C128, DEV)));
    assert_error(AG_ERR_SHAPE, "ag_gridded_dataset_forward", "[1,16,16]", "[2,16,16]");
    assert_null(ag_gridded_dataset_nll(ds, ag_zeros_on(AG_SHAPE(1, 16, 16), AG_F64, DEV)));
    assert_error(AG_ERR_DTYPE, "ag_gridded_dataset_nll", "c128 model_vis");
    assert_null(ag_gridded_dataset_forward(NULL, ag_zeros_on(AG_SHAPE(1, 16, 16), AG_C128, DEV)));
    assert_error(AG_ERR_INVALID, "ag_gridded_dataset_forward", "ds is NULL");
    ag_scope_end();
    ag_gridded_dataset_free(ds);
    ag_vis_free(vis);
}

int main(void) {
    DEV = ag_device_default();
    const struct CMUnitTest tests[] = {
        TEST(average_matches), TEST(forward_and_nll), TEST(dataset_new_checks), TEST(dirty_matches), TEST(single_precision),
        TEST(edges_and_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
