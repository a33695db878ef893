/* tests/test_crossval.c — imaging/crossval.c: MPoL's Dartboard against the formulas of
 * tests/imaginggen/crossval.py (fixture imaging_crossval), the properties of the k-fold splits
 * (the permutation is ours, so folds are checked by what they must satisfy, not bit for bit), and
 * the cross-validation loop with a small RML fit. Runs on ag_device_default() (AG_DEVICE=test:
 * the test device). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

static ag_device DEV;
#define ALL(x) ag_item(ag_all((x), NULL, 0, false))

static ag_gridded_dataset *fixture_dataset(fx_file *f, ag_grid_coords *gc) {
    assert_int_equal(ag_grid_coords_init(gc, 0.01, 32), 0);
    ag_scope_begin();
    ag_tensor *vis = ag_to(fx_get(f, "vis"), DEV), *w = ag_to(fx_get(f, "weight"), DEV), *m = ag_to(fx_get(f, "mask"), DEV);
    ag_gridded_dataset *ds = ag_gridded_dataset_new(gc, vis, w, m);
    ag_scope_end();
    assert_non_null(ds);
    return ds;
}

static void dartboard_matches(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_crossval");
    assert_non_null(f);
    ag_scope_begin();
    double ll[7];
    assert_int_equal(ag_loglinspace(1.0, 10.0, 4, 3, ll), 0);
    fx_expect_close(ag_from_data(ll, AG_SHAPE(7), AG_F64), fx_get(f, "loglin_1_10_4_3"), 1e-15, "loglinspace");
    ag_grid_coords gc;
    ag_gridded_dataset *ds = fixture_dataset(f, &gc);
    ag_dartboard db;
    assert_int_equal(ag_dartboard_init(&db, &gc), 0);
    fx_expect_close(ag_from_data(db.q_edges, AG_SHAPE(13), AG_F64), fx_get(f, "q_edges"), 1e-14, "q_edges");
    fx_expect_close(ag_from_data(db.phi_edges, AG_SHAPE(9), AG_F64), fx_get(f, "phi_edges"), 1e-16, "phi_edges");
    ag_tensor *map = ag_dartboard_cell_map(&db);
    assert_shape(map, 32, 32);
    assert_true(ALL(ag_eq(map, fx_get(f, "cell_of"))));
    ag_tensor *cells, *occ;
    assert_int_equal(ag_dartboard_cells(&db, ds, &cells, &occ), 0);
    ag_tensor *wc = fx_get(f, "cells"), *wo = fx_get(f, "occupied");
    assert_shape(cells, ag_shape(wc)[0], 3);
    assert_shape(occ, ag_shape(wo)[0], 2);
    assert_true(ALL(ag_eq(cells, wc)));
    assert_true(ALL(ag_eq(occ, wo)));
    ag_release(cells), ag_release(occ);
    /* one output is enough */
    assert_int_equal(ag_dartboard_cells(&db, ds, NULL, &occ), 0);
    ag_release(occ);
    ag_scope_end();
    ag_gridded_dataset_free(ds);
    fx_close(f);
}

/* the host copy of a dataset's stacked mask (npix²) */
static void stacked(const ag_gridded_dataset *ds, bool *out) {
    int64_t n2 = ds->coords.npix * ds->coords.npix;
    bool *all = malloc((size_t)(ds->nchan * n2));
    assert_int_equal(ag_copy_to_buffer(ds->mask, all, AG_BOOL), 0);
    memset(out, 0, (size_t)n2);
    for (int64_t c = 0; c < ds->nchan; c++)
        for (int64_t i = 0; i < n2; i++) out[i] |= all[c * n2 + i];
    free(all);
}

static void check_split(const ag_gridded_dataset *ds, ag_cv_method method, int k, uint64_t seed, const int64_t *dbmap) {
    ag_cv_split *s = ag_cv_split_new(ds, method, k, seed);
    assert_non_null(s);
    assert_int_equal(ag_cv_split_k(s), k);
    ag_scope_begin();
    int64_t n2 = 32 * 32, folds[32 * 32];
    assert_int_equal(ag_copy_to_buffer(ag_cv_split_folds(s), folds, AG_I64), 0);
    bool m[32 * 32], tr[32 * 32], te[32 * 32];
    stacked(ds, m);
    int64_t count[16] = { 0 }, units[16] = { 0 }, fold_of_db[96];
    for (int i = 0; i < 96; i++) fold_of_db[i] = -1;
    for (int64_t i = 0; i < n2; i++) {
        assert_int_equal(folds[i] >= 0, m[i]); /* every cell with data is in one fold, no other */
        if (folds[i] < 0) continue;
        assert_true(folds[i] < k);
        count[folds[i]]++;
        if (method == AG_CV_DARTBOARD) { /* a dartboard cell goes whole into one fold */
            int64_t c = dbmap[i];
            if (fold_of_db[c] < 0) fold_of_db[c] = folds[i], units[folds[i]]++;
            assert_int_equal(fold_of_db[c], folds[i]);
        }
    }
    if (method == AG_CV_RANDOM_CELL)
        for (int f = 0; f < k; f++) units[f] = count[f];
    int64_t lo = units[0], hi = units[0];
    for (int f = 0; f < k; f++) lo = units[f] < lo ? units[f] : lo, hi = units[f] > hi ? units[f] : hi;
    assert_true(hi - lo <= 1 && lo >= 1);
    for (int f = 0; f < k; f++) {
        ag_gridded_dataset *train, *test;
        assert_int_equal(ag_cv_split_fold(s, f, &train, &test), 0);
        stacked(train, tr), stacked(test, te);
        for (int64_t i = 0; i < n2; i++) {
            assert_int_equal(te[i], folds[i] == f);
            assert_int_equal(tr[i], folds[i] >= 0 && folds[i] != f);
        }
        assert_true(ag_device_of(test->mask).kind == DEV.kind);
        /* the data are the dataset's on the kept cells */
        assert_true(fx_close_ratio(ag_add(test->vis_gridded, train->vis_gridded), ds->vis_gridded, 0, 1e-300) <= 1);
        ag_gridded_dataset_free(train), ag_gridded_dataset_free(test);
    }
    ag_scope_end();
    ag_cv_split_free(s);
}

static void splits_properties(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_crossval");
    assert_non_null(f);
    ag_grid_coords gc;
    ag_gridded_dataset *ds = fixture_dataset(f, &gc);
    int64_t dbmap[32 * 32];
    ag_tensor *map = fx_get(f, "cell_of");
    assert_int_equal(ag_copy_to_buffer(map, dbmap, AG_I64), 0);
    ag_release(map);
    for (int k = 2; k <= 7; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            check_split(ds, AG_CV_RANDOM_CELL, k, seed, dbmap);
            check_split(ds, AG_CV_DARTBOARD, k, seed, dbmap);
        }
    /* deterministic for a seed, another seed another split */
    ag_cv_split *a = ag_cv_split_new(ds, AG_CV_DARTBOARD, 5, 42), *b = ag_cv_split_new(ds, AG_CV_DARTBOARD, 5, 42),
                *c = ag_cv_split_new(ds, AG_CV_DARTBOARD, 5, 43);
    ag_scope_begin();
    assert_true(ALL(ag_eq(ag_cv_split_folds(a), ag_cv_split_folds(b))));
    assert_false(ALL(ag_eq(ag_cv_split_folds(a), ag_cv_split_folds(c))));
    ag_scope_end();
    ag_cv_split_free(a), ag_cv_split_free(b), ag_cv_split_free(c);
    ag_gridded_dataset_free(ds);
    fx_close(f);
}

static void bad_inputs(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_crossval");
    assert_non_null(f);
    ag_grid_coords gc, bad = { 0 };
    ag_gridded_dataset *ds = fixture_dataset(f, &gc);
    double out[8];
    assert_int_equal(ag_loglinspace(0, 1, 0, 3, out), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_loglinspace", "n_log >= 1", "given 0");
    assert_int_equal(ag_loglinspace(0, -1, 4, 3, out), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_loglinspace", "end > 0");
    ag_dartboard db;
    assert_int_equal(ag_dartboard_init(&db, &bad), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dartboard_init", "not initialised");
    assert_int_equal(ag_dartboard_init(NULL, &gc), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dartboard_init", "db is NULL");
    assert_null(ag_dartboard_cell_map(NULL));
    assert_error(AG_ERR_INVALID, "ag_dartboard_cell_map", "NULL");
    ag_grid_coords gc16;
    assert_int_equal(ag_grid_coords_init(&gc16, 0.01, 16), 0);
    assert_int_equal(ag_dartboard_init(&db, &gc16), 0);
    ag_tensor *cells = (ag_tensor *)1;
    assert_int_equal(ag_dartboard_cells(&db, ds, &cells, NULL), AG_ERR_INVALID);
    assert_null(cells);
    assert_error(AG_ERR_INVALID, "ag_dartboard_cells", "npix 16", "npix 32");
    assert_int_equal(ag_dartboard_cells(&db, NULL, &cells, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_dartboard_cells", "dataset is NULL");

    assert_null(ag_cv_split_new(ds, AG_CV_RANDOM_CELL, 1, 0));
    assert_error(AG_ERR_INVALID, "ag_cv_split_new", "k in [2, ", "packed cells holding data", "given 1");
    assert_null(ag_cv_split_new(ds, AG_CV_RANDOM_CELL, 100000, 0));
    assert_error(AG_ERR_INVALID, "ag_cv_split_new", "given 100000");
    assert_null(ag_cv_split_new(ds, AG_CV_DARTBOARD, 97, 0));
    assert_error(AG_ERR_INVALID, "ag_cv_split_new", "occupied dartboard cells", "given 97");
    assert_null(ag_cv_split_new(ds, (ag_cv_method)7, 3, 0));
    assert_error(AG_ERR_INVALID, "ag_cv_split_new", "unknown method 7");
    assert_null(ag_cv_split_new(NULL, AG_CV_DARTBOARD, 3, 0));
    assert_error(AG_ERR_INVALID, "ag_cv_split_new", "dataset is NULL");
    ag_cv_split *s = ag_cv_split_new(ds, AG_CV_RANDOM_CELL, 3, 0);
    assert_non_null(s);
    ag_gridded_dataset *tr, *te;
    assert_int_equal(ag_cv_split_fold(s, 3, &tr, &te), AG_ERR_INDEX);
    assert_error(AG_ERR_INDEX, "ag_cv_split_fold", "[0, 3)", "given 3");
    assert_int_equal(ag_cv_split_fold(s, -1, &tr, &te), AG_ERR_INDEX);
    assert_error(AG_ERR_INDEX, "ag_cv_split_fold", "given -1");
    assert_int_equal(ag_cv_split_fold(s, 0, NULL, &te), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_cv_split_fold", "NULL");
    assert_int_equal(ag_cross_validate(s, NULL, NULL, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_cross_validate", "fn is NULL");
    assert_int_equal(ag_cross_validate(NULL, NULL, NULL, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_cross_validate", "split is NULL");
    assert_null(ag_cv_split_folds(NULL));
    assert_error(AG_ERR_INVALID, "ag_cv_split_folds");
    assert_int_equal(ag_cv_split_k(NULL), 0);
    ag_cv_split_free(NULL);
    ag_cv_split_free(s);
    ag_gridded_dataset_free(ds);
    fx_close(f);
}

/* ---- the loop ---- */

static int fail_on_1(const ag_gridded_dataset *train, const ag_gridded_dataset *test, int fold, void *user, double *score) {
    (void)train, (void)test, (void)user;
    *score = fold;
    return fold == 1 ? ag_dartboard_init(NULL, NULL) : 0;
}
static int silent_fail(const ag_gridded_dataset *train, const ag_gridded_dataset *test, int fold, void *user, double *score) {
    (void)train, (void)test, (void)user, (void)fold, (void)score;
    return -1;
}
static int nan_score(const ag_gridded_dataset *train, const ag_gridded_dataset *test, int fold, void *user, double *score) {
    (void)train, (void)test, (void)user;
    *score = fold == 2 ? NAN : 1.0;
    return 0;
}
static int count_cells(const ag_gridded_dataset *train, const ag_gridded_dataset *test, int fold, void *user, double *score) {
    (void)train, (void)user, (void)fold;
    *score = (double)test->nmask;
    return 0;
}

static void loop_errors(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_crossval");
    assert_non_null(f);
    ag_grid_coords gc;
    ag_gridded_dataset *ds = fixture_dataset(f, &gc);
    ag_cv_split *s = ag_cv_split_new(ds, AG_CV_RANDOM_CELL, 3, 9);
    double scores[3] = { -1, -1, -1 }, mean = -1;
    assert_int_equal(ag_cross_validate(s, fail_on_1, NULL, scores, &mean), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_cross_validate: fold 1 of 3: ag_dartboard_init: db is NULL");
    assert_true(scores[0] == 0 && scores[1] == -1 && mean == -1);
    assert_int_equal(ag_cross_validate(s, silent_fail, NULL, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_cross_validate: fold 0 of 3: no error message");
    assert_int_equal(ag_cross_validate(s, nan_score, NULL, NULL, NULL), AG_ERR_NUMERIC);
    assert_error(AG_ERR_NUMERIC, "fold 2 of 3", "finite");
    /* the test sets together hold every masked (channel, cell) once */
    assert_int_equal(ag_cross_validate(s, count_cells, NULL, scores, &mean), 0);
    assert_true(scores[0] + scores[1] + scores[2] == (double)ds->nmask);
    assert_true(fabs(mean - ds->nmask / 3.0) < 1e-12);
    ag_cv_split_free(s);
    ag_gridded_dataset_free(ds);
    fx_close(f);
}

/* An RML fit per fold, as MPoL's TrainTest: BaseCube -> FourierCube, loss = nll(train) +
 * lambda · entropy, Adam; the score is the nll on the test cells. */
typedef struct { double lambda; int steps; } rml_opts;
static int rml_fold(const ag_gridded_dataset *train, const ag_gridded_dataset *test, int fold, void *user, double *score) {
    (void)fold;
    const rml_opts *o = user;
    ag_module *sky = ag_base_cube(&train->coords, 1, AG_PIXEL_SOFTPLUS, NULL, NULL, NULL);
    ag_module *fc = ag_fourier_cube(&train->coords, (ag_fourier_opts){ 0 });
    if (!sky || !fc || ag_module_to(sky, DEV) < 0 || ag_module_to(fc, DEV) < 0) goto out;
    ag_optim *opt = ag_adam(ag_module_params(sky), (ag_adam_opts){ .lr = 0.3 });
    for (int it = 0; opt && it < o->steps; it++) {
        ag_scope_begin();
        ag_tensor *img = ag_forward(sky, NULL), *vis = ag_forward(fc, img);
        ag_tensor *loss = ag_add(ag_gridded_dataset_nll(train, vis), ag_mul_s(ag_entropy_s(img, 0.01, 1.0), o->lambda));
        ag_backward(loss);
        ag_optim_step(opt);
        ag_optim_zero_grad(opt);
        ag_scope_end();
        if (ag_failed()) break;
    }
    if (!ag_failed()) {
        ag_scope_begin();
        ag_no_grad_begin();
        ag_tensor *nll = ag_gridded_dataset_nll(test, ag_forward(fc, ag_forward(sky, NULL)));
        ag_no_grad_end();
        if (nll) *score = ag_item(nll);
        ag_scope_end();
    }
    ag_optim_free(opt);
out:
    ag_module_free(sky), ag_module_free(fc);
    return ag_failed() ? ag_error_code() : 0;
}

static void rml_cross_validation(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, 32), 0);
    int64_t n = 32, n2 = n * n;
    /* two compact Gaussians (50 and 30 mJy, σ = 0.03"), packed */
    double *img = malloc((size_t)n2 * sizeof *img), sig = 0.03;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) {
            double x = (i < n / 2 ? i : i - n) * gc.cell_size, y = (j < n / 2 ? j : j - n) * gc.cell_size;
            double r1 = (x - 0.06) * (x - 0.06) + (y + 0.04) * (y + 0.04), r2 = (x + 0.1) * (x + 0.1) + (y - 0.08) * (y - 0.08);
            img[j * n + i] = (0.05 * exp(-r1 / (2 * sig * sig)) + 0.03 * exp(-r2 / (2 * sig * sig))) / (2 * M_PI * sig * sig);
        }
    ag_scope_begin();
    ag_module *fc = ag_fourier_cube(&gc, (ag_fourier_opts){ 0 });
    ag_tensor *vis = ag_forward(fc, ag_from_data(img, AG_SHAPE(1, n, n), AG_F64));
    double complex *v = tu_cvalues(vis);
    double *w = malloc((size_t)n2 * sizeof *w);
    bool *m = malloc((size_t)n2);
    uint64_t rs = 77;
    double sigma = 0.002;
    for (int64_t i = 0; i < n2; i++) {
        double a = (tu_xorshift(&rs) >> 11) * 0x1p-53, b = (tu_xorshift(&rs) >> 11) * 0x1p-53 + 1e-300,
               c = (tu_xorshift(&rs) >> 11) * 0x1p-53;
        double r = sigma * sqrt(-2 * log(b));
        m[i] = c < 0.3, w[i] = m[i] ? 1 / (sigma * sigma) : 0;
        v[i] = m[i] ? v[i] + r * cos(2 * M_PI * a) + I * r * sin(2 * M_PI * a) : 0;
    }
    ag_gridded_dataset *ds = ag_gridded_dataset_new(&gc, ag_from_data_on(v, AG_SHAPE(1, n, n), AG_C128, DEV),
                                                    ag_from_data_on(w, AG_SHAPE(1, n, n), AG_F64, DEV),
                                                    ag_from_data_on(m, AG_SHAPE(1, n, n), AG_BOOL, DEV));
    ag_scope_end();
    ag_module_free(fc);
    free(img), free(v), free(w), free(m);
    assert_non_null(ds);
    ag_cv_split *s = ag_cv_split_new(ds, AG_CV_DARTBOARD, 3, 2026);
    assert_non_null(s);
    double good[3], bad[3], again[3], mg, mb, ma;
    rml_opts og = { .lambda = 1e-3, .steps = 80 }, ob = { .lambda = 1e4, .steps = 80 };
    assert_int_equal(ag_cross_validate(s, rml_fold, &og, good, &mg), 0);
    assert_int_equal(ag_cross_validate(s, rml_fold, &ob, bad, &mb), 0);
    assert_int_equal(ag_cross_validate(s, rml_fold, &og, again, &ma), 0);
    print_message("held-out nll: lambda 1e-3: %.4g (%.4g %.4g %.4g), lambda 1e4: %.4g\n", mg, good[0], good[1], good[2], mb);
    assert_true(mg < mb);
    for (int f = 0; f < 3; f++) assert_true(good[f] == again[f]); /* same seed, same bits */
    assert_true(mg == ma);
    ag_cv_split_free(s);
    ag_gridded_dataset_free(ds);
}

int main(void) {
    DEV = ag_device_default();
    const struct CMUnitTest tests[] = {
        TEST(dartboard_matches), TEST(splits_properties), TEST(bad_inputs), TEST(loop_errors), TEST(rml_cross_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
