/* tests/test_surrogate.c — neurosynchro's loop (nn/surrogate.c): column transforms against NumPy
 * (tests/imaginggen/surrogate.py) and their inverses, text and HDF5 tables (written by us and,
 * for the 2-d layout, as h5py writes it) and their bad files, and surrogates trained, saved and
 * loaded (queries equal bit for bit, and equal the transforms and network composed by hand). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <astrograd.h>
#include "ag_config.h"
#include "fixture.h"
#include "test_util.h"
#ifdef AG_TEST_HDF5
#include <hdf5.h>
#endif

static char dir[256];
static ag_device DEV; /* AG_DEVICE ("cpu", "test"), the CPU when unset */

static const char *path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_text(const char *p, const char *text) {
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static double max_rel(const double *a, const double *b, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300));
    return w;
}

/* ---- transforms ---- */

static void test_transforms_vs_numpy(void **st) {
    (void)st;
    const char *maps[] = {"identity", "log10", "logit", "signlog"}, *norms[] = {"none", "minmax", "standard"};
    fx_file *fx = fx_open("imaging_surrogate");
    assert_non_null(fx);
    double worst_z = 0, worst_rt = 0;
    for (int m = 0; m < 4; m++) {
        ag_tensor *xt = fx_get(fx, "x_%s", maps[m]);
        assert_non_null(xt);
        int64_t n = ag_numel(xt);
        double *x = tu_values(xt), *z = malloc(sizeof(double) * n), *back = malloc(sizeof(double) * n);
        for (int k = 0; k < 3; k++) {
            ag_col_transform tr = {.map = (ag_col_map)m, .norm = (ag_col_norm)k};
            assert_int_equal(ag_col_fit(&tr, x, n), 0);
            ag_tensor *ft = fx_get(fx, "fit_%s_%s", maps[m], norms[k]), *zt = fx_get(fx, "z_%s_%s", maps[m], norms[k]);
            double *fit = tu_values(ft), *zw = tu_values(zt);
            double got[2] = {tr.offset, tr.scale};
            assert_true(max_rel(got, fit, 2) < 1e-13);
            assert_int_equal(ag_col_apply(&tr, x, z, n), 0);
            /* an absolute floor: a standardised value near 0 has no relative precision to keep */
            for (int64_t i = 0; i < n; i++) worst_z = fmax(worst_z, fabs(z[i] - zw[i]) / fmax(fabs(zw[i]), 1.0));
            assert_int_equal(ag_col_invert(&tr, z, back, n), 0);
            /* an affine normalisation keeps relative precision in the mapped space: near x = 0 the
             * identity and sign-log maps keep it only to the column's scale (1; sign-log: linthresh) */
            double floor_ = k == AG_NORM_NONE ? 0 : m == AG_MAP_IDENTITY ? 1 : m == AG_MAP_SIGNLOG ? tr.linthresh : 0;
            for (int64_t i = 0; i < n; i++) worst_rt = fmax(worst_rt, fabs(back[i] - x[i]) / fmax(fabs(x[i]), floor_));
            free(fit), free(zw);
            ag_release(ft), ag_release(zt);
        }
        free(x), free(z), free(back);
        ag_release(xt);
    }
    fx_close(fx);
    print_message("transforms: worst |z - numpy| %.2e, worst round-trip relative error %.2e\n", worst_z, worst_rt);
    assert_true(worst_z < 1e-13);
    assert_true(worst_rt < 1e-12);
}

static void test_transform_errors(void **st) {
    (void)st;
    double neg[] = {1, -2, 3}, one[] = {0.5, 1.0}, nan_[] = {1, NAN}, flat[] = {4, 4, 4}, z[3];
    ag_col_transform lg = {.map = AG_MAP_LOG10, .norm = AG_NORM_STANDARD}, lt = {.map = AG_MAP_LOGIT, .norm = AG_NORM_NONE};
    assert_true(ag_col_fit(&lg, neg, 3) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_fit", "element 1", "-2", "> 0", "log10");
    assert_true(ag_col_fit(&lt, one, 2) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_fit", "element 1", "in (0, 1)", "logit");
    ag_col_transform id = {.map = AG_MAP_IDENTITY, .norm = AG_NORM_MINMAX};
    assert_true(ag_col_fit(&id, nan_, 2) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_fit", "element 1", "finite");
    assert_true(ag_col_fit(&id, flat, 3) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_fit", "constant", "AG_NORM_NONE");
    assert_true(ag_col_fit(&id, flat, 0) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_fit", "at least one");
    ag_col_transform bad = {.map = (ag_col_map)9, .norm = AG_NORM_NONE, .scale = 1};
    assert_true(ag_col_apply(&bad, flat, z, 3) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_apply", "unknown map 9");
    lg = (ag_col_transform){.map = AG_MAP_LOG10, .norm = AG_NORM_NONE, .scale = 1};
    assert_true(ag_col_apply(&lg, neg, z, 3) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_apply", "element 1");
    ag_col_transform sl = {.map = AG_MAP_SIGNLOG, .scale = 1};
    assert_true(ag_col_invert(&sl, flat, z, 3) < 0);
    assert_error(AG_ERR_INVALID, "ag_col_invert", "signlog", "linthresh 0", "ag_col_fit sets them");
    double span[] = {-1e20, -3e-20, 0, 2e-20, 5e5, 1e20};
    assert_int_equal(ag_col_fit(&sl, span, 6), 0);
    assert_true(sl.linthresh == 2e-20); /* the smallest non-zero |x| */
    double zs[6];
    assert_int_equal(ag_col_apply(&sl, span, zs, 6), 0);
    assert_true(fabs(zs[5] - 40.0 - log10(0.5)) < 1e-12 && zs[2] == 0 && zs[0] == -zs[5]); /* 40 decades kept */
    /* logit saturates rather than failing on a network output far outside the training range */
    double big[] = {-800, 800}, xb[2];
    lt = (ag_col_transform){.map = AG_MAP_LOGIT, .norm = AG_NORM_NONE, .scale = 1};
    assert_int_equal(ag_col_invert(&lt, big, xb, 2), 0);
    assert_true(xb[0] == 0 && xb[1] == 1);
}

/* ---- text tables ---- */

static void test_text_tables(void **st) {
    (void)st;
    const char *p = path("t.txt");
    write_text(p, "# made by a slow code\n\n  a, b\tc\n1, 2 3\n# a comment row\n-4.5e-300,1e300 ,  7\n");
    ag_table *t = ag_table_read_text(p);
    assert_non_null(t);
    assert_int_equal(t->ncols, 3);
    assert_int_equal(t->nrows, 2);
    assert_string_equal(t->names[1], "b");
    assert_int_equal(ag_table_col(t, "c"), 2);
    assert_true(t->col[0][1] == -4.5e-300 && t->col[1][1] == 1e300 && t->col[2][0] == 3);
    /* write and read back: %.17g round-trips every double */
    ag_table *u = ag_table_new(2, (const char *[]){"x", "y"}, 5);
    assert_non_null(u);
    for (int i = 0; i < 5; i++) u->col[0][i] = 1.0 / (i + 3), u->col[1][i] = -exp(37.0 * i);
    assert_int_equal(ag_table_write_text(u, path("u.txt")), 0);
    ag_table *v = ag_table_read_text(path("u.txt"));
    assert_non_null(v);
    assert_int_equal(v->nrows, 5);
    assert_memory_equal(v->col[0], u->col[0], 5 * sizeof(double));
    assert_memory_equal(v->col[1], u->col[1], 5 * sizeof(double));
    ag_table_free(t), ag_table_free(u), ag_table_free(v);
}

static void test_bad_text_tables(void **st) {
    (void)st;
    const char *p = path("bad.txt");
    struct { const char *text; const char *parts[4]; } cases[] = {
        {"", {"is empty", "header"}},
        {"# only a comment\n\n", {"is empty"}},
        {"a b\n", {"no rows"}},
        {"a b c\n1 2 3\n4 x 6\n", {"line 3 column 3 (b)", "'x' is not a number"}},
        {"a b\n1 2\n3\n", {"line 3 has 1 field", "expected 2"}},
        {"a b\n1 2 3\n", {"line 2 has 3 fields", "expected 2"}},
        {"a,b\n1,,2\n", {"line 2 has 3 fields"}},
        {"a,b\n1,\n", {"line 2 column 2 (b)", "'' is not a number"}},
        {"a b a\n1 2 3\n", {"line 1", "columns 1 and 3 are both named 'a'"}},
        {"a b\n1 2e\n", {"line 2 column 3", "'2e'"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_text(p, cases[k].text);
        assert_null(ag_table_read_text(p));
        tu_assert_error(__FILE__, __LINE__, AG_ERR_FORMAT, (const char *[]){"ag_table_read_text", p, cases[k].parts[0],
                        cases[k].parts[1], NULL});
    }
    assert_null(ag_table_read_text(path("absent.txt")));
    assert_error(AG_ERR_IO, "ag_table_read_text", "absent.txt", "cannot open");
    write_text(p, "a b\n1 2\n");
    ag_table *t = ag_table_read_text(p);
    assert_int_equal(ag_table_col(t, "z"), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_table_col", "no column 'z'", "bad.txt", "columns: a, b");
    ag_table_free(t);
    assert_null(ag_table_new(2, (const char *[]){"a", "b c"}, 1));
    assert_error(AG_ERR_INVALID, "ag_table_new", "column 2", "'b c'");
    assert_null(ag_table_read_text(NULL));
    assert_error(AG_ERR_INVALID, "ag_table_read_text", "NULL path");
    ag_table *u = ag_table_new(1, (const char *[]){"a"}, 1);
    assert_true(ag_table_write_text(u, path("no/such/dir.txt")) < 0);
    assert_error(AG_ERR_IO, "ag_table_write_text");
    assert_true(ag_table_write_text(NULL, path("x.txt")) < 0);
    assert_error(AG_ERR_INVALID, "ag_table_write_text", "NULL table");
    ag_table_free(u);
}

/* ---- HDF5 tables ---- */

#ifdef AG_TEST_HDF5
/* the 2-d layout, as h5py writes it: names as an array of variable-length strings, or (vl false)
 * as one fixed-length string */
static void write_2d(const char *p, int nrows, int ncols, const char *const *names, int nnames, bool vl, bool with_names) {
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {(hsize_t)nrows, (hsize_t)ncols};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "table", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float *v = malloc(sizeof(float) * nrows * ncols);
    for (int i = 0; i < nrows * ncols; i++) v[i] = (float)(i * 0.5);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
    if (with_names) {
        hid_t t = H5Tcopy(H5T_C_S1);
        if (vl) {
            H5Tset_size(t, H5T_VARIABLE);
            hsize_t n = (hsize_t)nnames;
            hid_t asp = H5Screate_simple(1, &n, NULL);
            hid_t a = H5Acreate2(d, "names", t, asp, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, t, names);
            H5Aclose(a), H5Sclose(asp);
        } else {
            H5Tset_size(t, strlen(names[0]));
            hid_t asp = H5Screate(H5S_SCALAR);
            hid_t a = H5Acreate2(d, "names", t, asp, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, t, names[0]);
            H5Aclose(a), H5Sclose(asp);
        }
        H5Tclose(t);
    }
    H5Dclose(d), H5Sclose(sp), H5Fclose(f);
}

static void test_h5_tables(void **state) {
    (void)state;
    hid_t f, sp, d;
    ag_table *u = ag_table_new(3, (const char *[]){"nu", "theta", "j_I"}, 7);
    for (int i = 0; i < 7; i++) u->col[0][i] = pow(10, i), u->col[1][i] = 0.1 * i, u->col[2][i] = -1e-30 * i;
    assert_int_equal(ag_table_write_h5(u, path("u.h5")), 0);
    ag_table *v = ag_table_read_h5(path("u.h5"));
    assert_non_null(v);
    assert_int_equal(v->nrows, 7);
    for (int j = 0; j < 3; j++) {
        int k = ag_table_col(v, u->names[j]);
        assert_true(k >= 0);
        assert_memory_equal(v->col[k], u->col[j], 7 * sizeof(double));
    }
    ag_table_free(v);

    write_2d(path("vl.h5"), 4, 3, (const char *[]){"a", "b", "c"}, 3, true, true);
    v = ag_table_read_h5(path("vl.h5"));
    assert_non_null(v);
    assert_int_equal(v->ncols, 3);
    assert_int_equal(v->nrows, 4);
    assert_string_equal(v->names[2], "c");
    assert_true(v->col[1][2] == 3.5); /* row 2, column 1: element 7 of the row-major array */
    ag_table_free(v);
    write_2d(path("str.h5"), 2, 2, (const char *[]){"p, q"}, 1, false, true);
    v = ag_table_read_h5(path("str.h5"));
    assert_non_null(v);
    assert_string_equal(v->names[1], "q");
    ag_table_free(v);

    /* an integer column, as a slow code may write a count, and a string dataset (not a column) */
    f = H5Fcreate(path("int.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t two = 2;
    int iv[2] = {3, -7};
    sp = H5Screate_simple(1, &two, NULL);
    d = H5Dcreate2(f, "count", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv);
    H5Dclose(d), H5Sclose(sp), H5Fclose(f);
    v = ag_table_read_h5(path("int.h5"));
    assert_non_null(v);
    assert_true(v->col[0][0] == 3 && v->col[0][1] == -7);
    ag_table_free(v);
    f = H5Fopen(path("int.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    sp = H5Screate_simple(1, &two, NULL);
    d = H5Dcreate2(f, "label", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Sclose(sp), H5Tclose(st), H5Fclose(f);
    assert_null(ag_table_read_h5(path("int.h5")));
    assert_error(AG_ERR_FORMAT, "ag_table_read_h5", "int.h5", "dataset 'label' is not a 1-d or 2-d array of numbers");

    /* bad files */
    write_2d(path("nonames.h5"), 2, 2, NULL, 0, false, false);
    assert_null(ag_table_read_h5(path("nonames.h5")));
    assert_error(AG_ERR_FORMAT, "ag_table_read_h5", "nonames.h5", "no \"names\" attribute");
    write_2d(path("few.h5"), 2, 3, (const char *[]){"a", "b"}, 2, true, true);
    assert_null(ag_table_read_h5(path("few.h5")));
    assert_error(AG_ERR_FORMAT, "ag_table_read_h5", "holds 2 names, expected 3");
    ag_table *r = ag_table_new(1, (const char *[]){"short"}, 3);
    assert_int_equal(ag_table_write_h5(r, path("short.h5")), 0);
    ag_table_free(r);
    f = H5Fopen(path("u.h5"), H5F_ACC_RDWR, H5P_DEFAULT); /* a ragged table: one more column of 3 rows */
    hsize_t three = 3;
    sp = H5Screate_simple(1, &three, NULL), d = H5Dcreate2(f, "zz", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Sclose(sp), H5Fclose(f);
    assert_null(ag_table_read_h5(path("u.h5")));
    assert_error(AG_ERR_FORMAT, "ag_table_read_h5", "dataset 'zz' has 3 rows", "same length");
    /* truncated: half of a good file */
    assert_int_equal(ag_table_write_h5(u, path("good.h5")), 0);
    long size;
    unsigned char *bytes = tu_read_file(path("good.h5"), &size);
    tu_write_file(path("trunc.h5"), bytes, size / 2);
    free(bytes);
    assert_null(ag_table_read_h5(path("trunc.h5")));
    assert_error(AG_ERR_FORMAT, "ag_table_read_h5", "trunc.h5", "corrupt or truncated");
    write_text(path("text.h5"), "a b\n1 2\n");
    assert_null(ag_table_read_h5(path("text.h5")));
    assert_error(AG_ERR_FORMAT, "ag_table_read_h5", "text.h5", "not an HDF5 file");
    assert_null(ag_table_read_h5(path("absent.h5")));
    assert_error(AG_ERR_IO, "ag_table_read_h5", "absent.h5");
    ag_table_free(u);
}
#endif

/* ---- surrogates ---- */

/* a small slow function's table: a coefficient over 8 decades, a fraction, a signed quantity */
static ag_table *make_table(int n) {
    ag_table *t = ag_table_new(5, (const char *[]){"a", "b", "coef", "frac", "signed"}, n);
    ag_tensor *u = ag_rand(AG_SHAPE(n, 2), AG_F64);
    const double *ud = ag_data(u);
    for (int i = 0; i < n; i++) {
        double a = ud[2 * i], b = 0.5 + ud[2 * i + 1];
        t->col[0][i] = a, t->col[1][i] = b;
        t->col[2][i] = pow(10.0, 8 * a - 2) * b;
        t->col[3][i] = 1 / (1 + exp(-(6 * a - 3) * b));
        t->col[4][i] = (a - 0.4) * pow(10.0, 3 * b);
    }
    ag_release(u);
    return t;
}

static const char *IN[] = {"a", "b"}, *OUT[] = {"coef", "frac", "signed"};
static const ag_col_transform IN_TR[] = {{.map = AG_MAP_IDENTITY, .norm = AG_NORM_MINMAX}, {.map = AG_MAP_IDENTITY, .norm = AG_NORM_MINMAX}};
static const ag_col_transform OUT_TR[] = {{.map = AG_MAP_LOG10, .norm = AG_NORM_STANDARD}, {.map = AG_MAP_LOGIT, .norm = AG_NORM_STANDARD},
                                          {.map = AG_MAP_SIGNLOG, .norm = AG_NORM_STANDARD}};

static void test_surrogate_round_trip(void **st) {
    (void)st;
    ag_manual_seed(5);
    ag_table *t = make_table(512);
    ag_surrogate_opts o = {.hidden = 32, .steps = 400, .batch = 128, .dtype = AG_F64, .device = DEV};
    ag_surrogate *s = ag_surrogate_train(t, 2, IN, IN_TR, 3, OUT, OUT_TR, o);
    assert_non_null(s);
    assert_int_equal(ag_surrogate_num_inputs(s), 2);
    assert_string_equal(ag_surrogate_output_name(s, 2), "signed");
    assert_null(ag_surrogate_output_name(s, 3));
    enum { NQ = 64 };
    double x[NQ * 2], y[NQ * 3], y2[NQ * 3], yc[NQ * 3];
    for (int i = 0; i < NQ; i++) x[2 * i] = t->col[0][i], x[2 * i + 1] = t->col[1][i];
    assert_int_equal(ag_surrogate_query(s, x, NQ, y), 0);
    /* trained: log10 of the coefficient within 0.3 dex of the truth, in rms */
    double se = 0;
    for (int i = 0; i < NQ; i++) se += pow(log10(y[3 * i]) - log10(t->col[2][i]), 2);
    print_message("surrogate: rms error of log10(coef) after 400 steps: %.3f dex\n", sqrt(se / NQ));
    assert_true(sqrt(se / NQ) < 0.3);
    for (int i = 0; i < NQ; i++) assert_true(y[3 * i + 1] > 0 && y[3 * i + 1] < 1);

    /* the same numbers composed by hand: transforms, the network, the inverse transforms */
    double zin[NQ * 2], col[NQ];
    ag_col_transform fitted[2] = {IN_TR[0], IN_TR[1]}, ofit[3] = {OUT_TR[0], OUT_TR[1], OUT_TR[2]};
    for (int j = 0; j < 2; j++) assert_int_equal(ag_col_fit(&fitted[j], t->col[j], 512), 0);
    for (int j = 0; j < 3; j++) assert_int_equal(ag_col_fit(&ofit[j], t->col[2 + j], 512), 0);
    for (int j = 0; j < 2; j++) {
        for (int i = 0; i < NQ; i++) col[i] = x[2 * i + j];
        assert_int_equal(ag_col_apply(&fitted[j], col, col, NQ), 0);
        for (int i = 0; i < NQ; i++) zin[2 * i + j] = col[i];
    }
    ag_no_grad_begin();
    ag_tensor *zt = ag_from_data_on(zin, AG_SHAPE(NQ, 2), AG_F64, DEV), *out = ag_forward(ag_surrogate_net(s), zt);
    ag_no_grad_end();
    ag_tensor *oc = ag_to(out, AG_CPU);
    assert_non_null(oc);
    const double *od = ag_data(oc);
    for (int j = 0; j < 3; j++) {
        for (int i = 0; i < NQ; i++) col[i] = od[3 * i + j];
        assert_int_equal(ag_col_invert(&ofit[j], col, col, NQ), 0);
        for (int i = 0; i < NQ; i++) yc[3 * i + j] = col[i];
    }
    ag_release(zt), ag_release(out), ag_release(oc);
    assert_memory_equal(yc, y, sizeof y);

    /* saved and loaded: bit for bit */
    assert_int_equal(ag_surrogate_save(s, path("s.h5")), 0);
    ag_surrogate *l = ag_surrogate_load(path("s.h5"), DEV);
    assert_non_null(l);
    assert_string_equal(ag_surrogate_input_name(l, 1), "b");
    assert_int_equal(ag_surrogate_query(l, x, NQ, y2), 0);
    assert_memory_equal(y2, y, sizeof y);
    ag_surrogate_free(l);

    /* bad queries and files */
    x[3] = NAN;
    assert_int_equal(ag_surrogate_query(s, x, NQ, y), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_surrogate_query", "row 1, input 'b'", "finite");
    long size;
    unsigned char *bytes = tu_read_file(path("s.h5"), &size);
    tu_write_file(path("s_trunc.h5"), bytes, size * 2 / 3);
    free(bytes);
    assert_null(ag_surrogate_load(path("s_trunc.h5"), DEV));
    assert_error(AG_ERR_FORMAT, "ag_surrogate_load", "s_trunc.h5");
    assert_int_equal(ag_table_write_h5(t, path("table.h5")), 0);
    assert_null(ag_surrogate_load(path("table.h5"), DEV));
    assert_error(AG_ERR_FORMAT, "ag_surrogate_load", "table.h5", "not an astrograd surrogate");
    assert_null(ag_surrogate_load(path("absent.h5"), DEV));
    assert_error(AG_ERR_IO, "ag_surrogate_load", "absent.h5");
    assert_true(ag_surrogate_save(NULL, path("n.h5")) < 0);
    assert_error(AG_ERR_INVALID, "ag_surrogate_save", "NULL surrogate");
    assert_true(ag_surrogate_query(NULL, x, 1, y) < 0);
    assert_error(AG_ERR_INVALID, "ag_surrogate_query", "NULL");
    ag_surrogate_free(s);
    ag_table_free(t);
}

static void test_surrogate_bad_training(void **st) {
    (void)st;
    ag_manual_seed(1);
    ag_table *t = make_table(16);
    free(t->path);
    t->path = strdup("slow_code.txt");
    ag_surrogate_opts o = {.steps = 1};
    assert_null(ag_surrogate_train(t, 2, (const char *[]){"a", "nu"}, IN_TR, 3, OUT, OUT_TR, o));
    assert_error(AG_ERR_INVALID, "ag_surrogate_train", "no column 'nu'", "'slow_code.txt'", "columns: a, b, coef");
    ag_col_transform logs[2] = {{.map = AG_MAP_LOG10, .norm = AG_NORM_NONE}, {.map = AG_MAP_IDENTITY, .norm = AG_NORM_NONE}};
    t->col[0][5] = 0;
    assert_null(ag_surrogate_train(t, 2, IN, logs, 3, OUT, OUT_TR, o));
    assert_error(AG_ERR_INVALID, "ag_surrogate_train", "row 6 of column 'a' in 'slow_code.txt'", "> 0");
    assert_null(ag_surrogate_train(t, 0, IN, IN_TR, 3, OUT, OUT_TR, o));
    assert_error(AG_ERR_INVALID, "ag_surrogate_train", "n_in 0");
    assert_null(ag_surrogate_train(t, 2, IN, IN_TR, 3, OUT, OUT_TR, (ag_surrogate_opts){.dtype = AG_I64}));
    assert_error(AG_ERR_INVALID, "ag_surrogate_train", "dtype");
    ag_table_free(t);
}

int main(void) {
    DEV = ag_device_default();
    snprintf(dir, sizeof dir, "/tmp/ag_surrogate_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    const struct CMUnitTest tests[] = {
        TEST(test_transforms_vs_numpy),
        TEST(test_transform_errors),
        TEST(test_text_tables),
        TEST(test_bad_text_tables),
        TEST(test_surrogate_bad_training),
#ifdef AG_TEST_HDF5
        TEST(test_h5_tables),
        TEST(test_surrogate_round_trip),
#endif
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_surrogate: could not remove %s\n", dir);
    return rc;
}
