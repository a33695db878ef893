/* tests/test_closure.c — closure phases, log closure amplitudes and the EHT χ² losses
 * (imaging/closure.c) against tests/imaginggen/closure.py: the selected closures, their
 * observed values and σ, the model's products, the three χ² and their gradients; gradchecks;
 * invariance under station gains; bad inputs; ag_vis_scan_average against numpy. The model checks run again on AG_DEVICE. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

static ag_device DEV;

/* the fixture's array as the UVFITS reader will give it (in a scope: the vis takes over) */
static ag_vis *fixture_vis(fx_file *f, ag_device dev) {
    ag_vis *vis = ag_vis_new(ag_to(fx_get(f, "u"), dev), ag_to(fx_get(f, "v"), dev), ag_to(fx_get(f, "data"), dev),
                             ag_to(ag_rsqrt(ag_square(fx_get(f, "sigma"))), dev));
    assert_non_null(vis);
    vis->time = ag_keep(ag_to(fx_get(f, "time"), dev));
    vis->ant1 = ag_keep(ag_to(fx_get(f, "ant1"), dev));
    vis->ant2 = ag_keep(ag_to(fx_get(f, "ant2"), dev));
    vis->sigma = ag_keep(ag_to(fx_get(f, "sigma"), dev));
    vis->nstations = 6;
    return vis;
}

static void check_set_matches(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_closure");
    assert_non_null(f);
    ag_scope_begin();
    ag_vis *vis = fixture_vis(f, AG_CPU);
    ag_closure_set *set = ag_closure_set_new(vis, NULL);
    assert_non_null(set);
    /* 2 bands × (9 + 8 + 5) triangles: 15 baselines less the short (2, 3), less (1, 4) at t1,
     * 5 stations at t2; log closure amplitudes: baselines − stations per time */
    assert_int_equal(set->ncp, 44);
    assert_int_equal(set->nlca, 58);
    fx_expect_close(set->cp_index, fx_get(f, "cp_index"), 0, "triangle positions");
    fx_expect_close(set->cp_sign, fx_get(f, "cp_sign"), 0, "triangle orientations");
    fx_expect_close(set->cp_stations, fx_get(f, "cp_stations"), 0, "triangle stations");
    fx_expect_close(set->lca_index, fx_get(f, "lca_index"), 0, "quadrangle positions");
    fx_expect_close(set->lca_stations, fx_get(f, "lca_stations"), 0, "quadrangle stations");
    fx_expect_close(set->cp_obs, fx_get(f, "cp_obs"), 1e-10, "observed closure phases");
    fx_expect_close(set->cp_sigma, fx_get(f, "cp_sigma"), 1e-10, "closure phase σ");
    fx_expect_close(set->lca_obs, fx_get(f, "lca_obs"), 1e-10, "observed log closure amplitudes");
    fx_expect_close(set->lca_sigma, fx_get(f, "lca_sigma"), 1e-10, "log closure amplitude σ");
    ag_scope_end();
    ag_closure_set_free(set);
    ag_vis_free(vis);
    fx_close(f);
}

/* model products, χ² and gradients on dev in the complex dtype cdt */
static void check_model(fx_file *f, ag_device dev, ag_dtype cdt) {
    double rtol = cdt == AG_C64 ? 1e-4 : 1e-10;
    ag_scope_begin();
    ag_vis *vis = fixture_vis(f, dev);
    ag_closure_set *set = ag_closure_set_new(vis, NULL);
    assert_non_null(set);
    if (cdt == AG_C64) {
        ag_vis *v32 = ag_vis_new(ag_to_dtype(vis->u, AG_F32), ag_to_dtype(vis->v, AG_F32), ag_to_dtype(vis->data, AG_C64),
                                 ag_to_dtype(vis->weight, AG_F32));
        assert_non_null(v32);
        v32->sigma = ag_keep(ag_to_dtype(vis->sigma, AG_F32));
        ag_vis_free(vis);
        vis = v32;
    }
    ag_tensor *m = ag_to_dtype(ag_to(fx_get(f, "model"), dev), cdt);
    fx_expect_close(ag_closure_phases(m, set), fx_get(f, "model_cp"), rtol, "model closure phases");
    fx_expect_close(ag_log_closure_amps(m, set), fx_get(f, "model_lca"), rtol, "model log closure amplitudes");
    const char *names[3] = {"chi2_cp", "chi2_lca", "chi2_amp"};
    for (int i = 0; i < 3; i++) {
        ag_tensor *x = ag_set_requires_grad(ag_clone(m), true);
        ag_tensor *l = i == 0 ? ag_chi2_cp(x, set) : i == 1 ? ag_chi2_lca(x, set) : ag_chi2_amp(x, vis);
        assert_non_null(l);
        assert_int_equal(ag_ndim(l), 0);
        assert_int_equal(ag_dtype_of(l), ag_dtype_to_real(cdt));
        fx_expect_close(l, fx_get(f, "%s", names[i]), rtol, names[i]);
        assert_int_equal(ag_backward(l), 0);
        fx_expect_close(ag_grad_of(x), fx_get(f, "%s_grad", names[i]), cdt == AG_C64 ? 1e-3 : 1e-10, names[i]);
    }
    ag_scope_end();
    ag_closure_set_free(set);
    ag_vis_free(vis);
}

static void model_matches(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_closure");
    assert_non_null(f);
    check_model(f, AG_CPU, AG_C128);
    check_model(f, AG_CPU, AG_C64);
    if (DEV.kind != AG_DEV_CPU) check_model(f, DEV, AG_C128), check_model(f, DEV, AG_C64);
    fx_close(f);
}

typedef struct gc_ctx { ag_closure_set *set; ag_vis *vis; int which; } gc_ctx;
static ag_tensor *loss_fn(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    gc_ctx *c = ud;
    return c->which == 0 ? ag_chi2_cp(in[0], c->set) : c->which == 1 ? ag_chi2_lca(in[0], c->set) : ag_chi2_amp(in[0], c->vis);
}

static void losses_gradcheck(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_closure");
    assert_non_null(f);
    ag_scope_begin();
    gc_ctx c = {.vis = fixture_vis(f, AG_CPU)};
    c.set = ag_closure_set_new(c.vis, NULL);
    assert_non_null(c.set);
    ag_tensor *m = ag_set_requires_grad(fx_get(f, "model"), true);
    ag_gradcheck_report rep;
    for (c.which = 0; c.which < 3; c.which++) {
        int ok = ag_gradcheck(loss_fn, &c, &m, 1, NULL, &rep);
        if (ok != 1) fail_msg("gradcheck of loss %d: %d %s (%s)", c.which, ok, rep.message, ag_last_error());
    }
    ag_scope_end();
    ag_closure_set_free(c.set);
    ag_vis_free(c.vis);
    fx_close(f);
}

/* V_ab g_a conj(g_b): |g| = 1 leaves closure phases, any g leaves log closure amplitudes */
static void gains_invariance(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_closure");
    assert_non_null(f);
    ag_scope_begin();
    ag_vis *vis = fixture_vis(f, AG_CPU);
    ag_closure_set *set = ag_closure_set_new(vis, NULL);
    assert_non_null(set);
    ag_manual_seed(7);
    ag_tensor *m = fx_get(f, "model");
    ag_tensor *ph = ag_mul_s(ag_rand(AG_SHAPE(2, 6), AG_F64), 2 * M_PI), *amp = ag_add_s(ag_rand(AG_SHAPE(2, 6), AG_F64), 0.5);
    ag_tensor *gp = ag_polar(ag_ones_like(ph), ph), *ga = ag_polar(amp, ph);
    ag_tensor *g[2] = {gp, ga};
    ag_tensor *out[2];
    for (int i = 0; i < 2; i++) {
        ag_tensor *g1 = ag_index_select(g[i], 1, vis->ant1), *g2 = ag_conj(ag_index_select(g[i], 1, vis->ant2));
        out[i] = ag_mul(ag_mul(m, g1), g2);
    }
    ag_tensor *cp0 = ag_closure_phases(m, set), *cp1 = ag_closure_phases(out[0], set);
    /* the same angle mod 2π: compare e^{iψ} */
    ag_tensor *d = ag_abs(ag_sub(ag_polar(ag_ones_like(cp0), cp0), ag_polar(ag_ones_like(cp1), cp1)));
    assert_true(ag_item(ag_amax(d, AG_ALL_DIMS, false)) < 1e-12);
    ag_tensor *l0 = ag_log_closure_amps(m, set), *l1 = ag_log_closure_amps(out[1], set);
    assert_true(ag_item(ag_amax(ag_abs(ag_sub(l0, l1)), AG_ALL_DIMS, false)) < 1e-12);
    /* and the gains do change the visibilities themselves */
    assert_true(ag_item(ag_amax(ag_abs(ag_sub(m, out[1])), AG_ALL_DIMS, false)) > 0.1);
    ag_scope_end();
    ag_closure_set_free(set);
    ag_vis_free(vis);
    fx_close(f);
}

static void bad_inputs(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_closure");
    assert_non_null(f);
    ag_scope_begin();
    ag_vis *vis = fixture_vis(f, AG_CPU);
    assert_null(ag_closure_set_new(NULL, NULL));
    assert_error(AG_ERR_INVALID, "ag_closure_set_new", "vis is NULL");
    ag_tensor *keep[4] = {vis->time, vis->ant1, vis->ant2, vis->sigma};
    ag_tensor **slot[4] = {&vis->time, &vis->ant1, &vis->ant2, &vis->sigma};
    const char *nm[4] = {"time", "ant1", "ant2", "sigma"};
    for (int i = 0; i < 4; i++) {
        *slot[i] = NULL;
        assert_null(ag_closure_set_new(vis, NULL));
        assert_error(AG_ERR_INVALID, "ag_closure_set_new", "without", nm[i]);
        *slot[i] = keep[i];
    }
    assert_null(ag_closure_set_new(vis, &(ag_closure_opts){.min_baseline_lambda = -1}));
    assert_error(AG_ERR_INVALID, "ag_closure_set_new", "min_baseline_lambda");
    ag_closure_set *set = ag_closure_set_new(vis, NULL);
    assert_non_null(set);
    assert_null(ag_chi2_cp(NULL, set));
    assert_error(AG_ERR_INVALID, "ag_chi2_cp", "model is NULL");
    assert_null(ag_chi2_lca(fx_get(f, "model"), NULL));
    assert_error(AG_ERR_INVALID, "ag_chi2_lca", "closure set is NULL");
    assert_null(ag_closure_phases(ag_abs(fx_get(f, "model")), set));
    assert_error(AG_ERR_DTYPE, "ag_closure_phases", "complex", "f64");
    assert_null(ag_log_closure_amps(ag_zeros(AG_SHAPE(2, 5), AG_C128), set));
    assert_error(AG_ERR_SHAPE, "ag_log_closure_amps", "(2, 39)");
    assert_null(ag_chi2_amp(fx_get(f, "model"), NULL));
    assert_error(AG_ERR_INVALID, "ag_chi2_amp", "vis is NULL");
    /* nothing survives a cut longer than every baseline: no closures, and no χ² over them */
    ag_closure_set *none = ag_closure_set_new(vis, &(ag_closure_opts){.min_baseline_lambda = 1e12});
    assert_non_null(none);
    assert_int_equal(none->ncp, 0);
    assert_int_equal(none->nlca, 0);
    assert_shape(ag_closure_phases(fx_get(f, "model"), none), 0);
    assert_shape(ag_log_closure_amps(fx_get(f, "model"), none), 0);
    assert_null(ag_chi2_cp(fx_get(f, "model"), none));
    assert_error(AG_ERR_INVALID, "ag_chi2_cp", "no closure phases");
    ag_scope_end();
    ag_closure_set_free(none);
    ag_closure_set_free(set);
    ag_vis_free(vis);
    fx_close(f);
}

static void scan_average_matches(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_closure");
    assert_non_null(f);
    ag_scope_begin();
    ag_vis *vis = ag_vis_new(ag_to(fx_get(f, "sa.in_u"), DEV), ag_to(fx_get(f, "sa.in_v"), DEV),
                             ag_to(fx_get(f, "sa.in_data"), DEV), ag_to(fx_get(f, "sa.in_weight"), DEV));
    assert_non_null(vis);
    assert_null(ag_vis_scan_average(vis, 60));
    assert_error(AG_ERR_INVALID, "ag_vis_scan_average", "without time");
    vis->time = ag_keep(ag_to(fx_get(f, "sa.in_time"), DEV));
    vis->ant1 = ag_keep(ag_to(fx_get(f, "sa.in_ant1"), DEV));
    vis->ant2 = ag_keep(ag_to(fx_get(f, "sa.in_ant2"), DEV));
    assert_null(ag_vis_scan_average(vis, NAN));
    assert_error(AG_ERR_INVALID, "ag_vis_scan_average", "gap_s");
    assert_null(ag_vis_scan_average(NULL, 60));
    assert_error(AG_ERR_INVALID, "ag_vis_scan_average", "vis is NULL");
    ag_vis *a = ag_vis_scan_average(vis, 60);
    assert_non_null(a);
    /* 3 scans × 4 ordered pairs */
    assert_int_equal(a->nvis, 12);
    assert_int_equal(a->nchan, 2);
    const char *nm[8] = {"time", "ant1", "ant2", "u", "v", "data", "weight", "sigma"};
    ag_tensor *got[8] = {a->time, a->ant1, a->ant2, a->u, a->v, a->data, a->weight, a->sigma};
    for (int i = 0; i < 8; i++) {
        assert_true(ag_device_of(got[i]).kind == DEV.kind);
        fx_expect_close(got[i], fx_get(f, "sa.%s", nm[i]), 1e-12, nm[i]);
    }
    ag_scope_end();
    ag_vis_free(a);
    ag_vis_free(vis);
    fx_close(f);
}

int main(void) {
    DEV = ag_device_default();
    const struct CMUnitTest tests[] = {
        TEST(check_set_matches), TEST(model_matches), TEST(losses_gradcheck), TEST(gains_invariance), TEST(bad_inputs), TEST(scan_average_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
