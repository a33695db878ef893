/* tests/test_ms.c — ag_read_ms (imaging/ms.cc) on the Measurement Sets tests/imaginggen/make_ms.py
 * writes with python-casacore: the first 200 groups of the shipped EHT low-band UVFITS copied
 * as importuvfits does (the reader must give ag_read_uvfits' visibilities for those rows), a
 * synthetic XX/YY MS with 2 channels, WEIGHT_SPECTRUM, CORRECTED_DATA and flags against the
 * script's expected Stokes I, channel selection, and bad paths, options and tables (damaged
 * copies made here). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_util.h"

#define LO AG_TEST_SOURCE_DIR "/data/eht/SR1_M87_2017_095_lo_hops_netcal_StokesI.uvfits"
#define MS_DIR AG_TEST_SOURCE_DIR "/tests/fixtures/ms/"

static bool close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(fabs(a), fabs(b)); }

static void reads_eht_as_uvfits(void **state) {
    (void)state;
    ag_vis *uv = ag_read_uvfits(LO), *ms = ag_read_ms(MS_DIR "eht_lo.ms", NULL);
    assert_no_error();
    assert_non_null(uv);
    assert_non_null(ms);
    int64_t n = ag_numel(ms->u);
    assert_int_equal(n, 200); /* 200 rows, one channel, none flagged in the file */
    assert_true(ag_numel(uv->u) >= n);
    assert_int_equal(ms->nchan, 1);
    assert_int_equal(ms->fourier_sign, -1); /* the MS label; the numbers are the UVFITS file's (+1) */
    assert_int_equal(uv->fourier_sign, 1);
    assert_true(ms->ref_freq == uv->ref_freq && ag_item(ms->freq) == uv->ref_freq);
    assert_string_equal(ms->source, "M87");
    assert_null(ms->date_obs);
    assert_true(fabs(ms->ra - uv->ra) < 1e-9 && fabs(ms->dec - uv->dec) < 1e-9);
    const double *u1 = ag_data(uv->u), *v1 = ag_data(uv->v), *d1 = ag_data(uv->data), *s1 = ag_data(uv->sigma);
    const double *w1 = ag_data(uv->weight), *t1 = ag_data(uv->time);
    const double *u2 = ag_data(ms->u), *v2 = ag_data(ms->v), *d2 = ag_data(ms->data), *s2 = ag_data(ms->sigma);
    const double *w2 = ag_data(ms->weight), *t2 = ag_data(ms->time);
    const int64_t *a1 = ag_data(uv->ant1), *b1 = ag_data(uv->ant2), *a2 = ag_data(ms->ant1), *b2 = ag_data(ms->ant2);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        /* u, v: seconds · c [m] · ν / c against seconds · ν, one rounding apart */
        worst = fmax(worst, fabs(u1[i] - u2[i]) / fabs(u1[i]));
        assert_true(close_rel(u1[i], u2[i], 1e-12) && close_rel(v1[i], v2[i], 1e-12));
        assert_true(d1[2 * i] == d2[2 * i] && d1[2 * i + 1] == d2[2 * i + 1]);
        assert_true(w1[i] == w2[i] && s1[i] == s2[i] && t1[i] == t2[i]);
        assert_string_equal(uv->stations[a1[i]], ms->stations[a2[i]]);
        assert_string_equal(uv->stations[b1[i]], ms->stations[b2[i]]);
    }
    print_message("eht_lo.ms: %lld visibilities, largest relative u difference to the UVFITS %.2g\n", (long long)n, worst);
    ag_vis_free(uv);
    ag_vis_free(ms);
}

/* the block `name` of xy_expected.txt: n rows of u v re im weight time ant1 ant2 */
static double *expected(const char *name, int64_t *n) {
    FILE *fp = fopen(MS_DIR "xy_expected.txt", "r");
    assert_non_null(fp);
    char line[512], want[64];
    snprintf(want, sizeof want, "# %s %%lld", name);
    double *e = NULL;
    long long cnt = -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, want, &cnt) == 1) break;
    assert_true(cnt > 0);
    e = malloc((size_t)cnt * 8 * sizeof *e);
    for (long long i = 0; i < cnt; i++) {
        assert_non_null(fgets(line, sizeof line, fp));
        double *r = e + 8 * i;
        assert_int_equal(sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf", r, r + 1, r + 2, r + 3, r + 4, r + 5, r + 6, r + 7), 8);
    }
    fclose(fp);
    *n = cnt;
    return e;
}

static void check_xy(const ag_ms_opts *opts, const char *block) {
    ag_vis *vis = ag_read_ms(MS_DIR "xy.ms", opts);
    assert_no_error();
    assert_non_null(vis);
    int64_t n = 0;
    double *e = expected(block, &n);
    assert_int_equal(ag_numel(vis->u), n);
    assert_int_equal(vis->nchan, 1);
    assert_int_equal(vis->nstations, 4);
    assert_int_equal(vis->fourier_sign, -1);
    assert_string_equal(vis->source, "SYN");
    assert_true(fabs(vis->ra - 10) < 1e-12 && fabs(vis->dec + 30) < 1e-12);
    assert_true(vis->ref_freq == (opts && opts->first_chan == 1 ? 100.5e9 : 100.0e9));
    const double *u = ag_data(vis->u), *v = ag_data(vis->v), *d = ag_data(vis->data), *w = ag_data(vis->weight);
    const double *s = ag_data(vis->sigma), *t = ag_data(vis->time);
    const int64_t *a1 = ag_data(vis->ant1), *a2 = ag_data(vis->ant2);
    for (int64_t i = 0; i < n; i++) {
        const double *r = e + 8 * i;
        assert_true(close_rel(u[i], r[0], 1e-12) && close_rel(v[i], r[1], 1e-12));
        assert_true(close_rel(d[2 * i], r[2], 1e-12) && close_rel(d[2 * i + 1], r[3], 1e-12));
        assert_true(close_rel(w[i], r[4], 1e-12) && close_rel(w[i] * s[i] * s[i], 1, 1e-12));
        assert_true(t[i] == r[5]);
        char n1[8], n2[8];
        snprintf(n1, sizeof n1, "N%d", (int)r[6]), snprintf(n2, sizeof n2, "N%d", (int)r[7]);
        assert_string_equal(vis->stations[a1[i]], n1);
        assert_string_equal(vis->stations[a2[i]], n2);
    }
    free(e);
    ag_vis_free(vis);
}

/* XX/YY, WEIGHT_SPECTRUM over WEIGHT, FLAG_ROW, one flagged hand, the auto-correlations dropped */
static void reads_xx_yy_two_channels(void **state) {
    (void)state;
    check_xy(NULL, "data");
    check_xy(&(ag_ms_opts){0}, "data");
    check_xy(&(ag_ms_opts){.nchan = 2}, "data");
}

static void reads_corrected_data(void **state) {
    (void)state;
    check_xy(&(ag_ms_opts){.corrected = true}, "corrected");
}

static void selects_channels(void **state) {
    (void)state;
    check_xy(&(ag_ms_opts){.first_chan = 1}, "chan1");
    check_xy(&(ag_ms_opts){.first_chan = 1, .nchan = 1}, "chan1");
    /* channel 0 alone: the "data" block less its channel-1 samples */
    ag_vis *all = ag_read_ms(MS_DIR "xy.ms", NULL), *c0 = ag_read_ms(MS_DIR "xy.ms", &(ag_ms_opts){.nchan = 1});
    ag_vis *c1 = ag_read_ms(MS_DIR "xy.ms", &(ag_ms_opts){.first_chan = 1});
    assert_no_error();
    assert_int_equal(ag_numel(c0->u) + ag_numel(c1->u), ag_numel(all->u));
    ag_vis_free(all), ag_vis_free(c0), ag_vis_free(c1);
}

static void bad_inputs(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    assert_null(ag_read_ms(NULL, NULL));
    assert_error(AG_ERR_INVALID, "ag_read_ms", "path", "NULL");
    assert_null(ag_read_ms(MS_DIR "no_such.ms", NULL));
    assert_error(AG_ERR_IO, "ag_read_ms", "no_such.ms", "cannot open");
    char dir[] = "/tmp/ag_test_ms_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_null(ag_read_ms(dir, NULL));
    assert_error(AG_ERR_FORMAT, "ag_read_ms", dir, "not a casacore table");
    assert_int_equal(rmdir(dir), 0);
    assert_null(ag_read_ms(LO, NULL)); /* a file, not a table directory */
    assert_error(AG_ERR_FORMAT, "ag_read_ms", "not a casacore table");
    assert_null(ag_read_ms(MS_DIR "nodata.ms", NULL));
    assert_error(AG_ERR_FORMAT, "ag_read_ms", "nodata.ms", "no DATA column");
    assert_null(ag_read_ms(MS_DIR "eht_lo.ms", &(ag_ms_opts){.corrected = true}));
    assert_error(AG_ERR_FORMAT, "ag_read_ms", "eht_lo.ms", "no CORRECTED_DATA column");
    assert_null(ag_read_ms(MS_DIR "xy.ms", &(ag_ms_opts){.first_chan = 2}));
    assert_error(AG_ERR_FORMAT, "ag_read_ms", "first_chan 2", "out of range", "has 2 channels");
    assert_null(ag_read_ms(MS_DIR "xy.ms", &(ag_ms_opts){.first_chan = 1, .nchan = 2}));
    assert_error(AG_ERR_FORMAT, "ag_read_ms", "first_chan 1, nchan 2", "out of range");
    assert_null(ag_read_ms(MS_DIR "xy.ms", &(ag_ms_opts){.first_chan = -1}));
    assert_error(AG_ERR_INVALID, "ag_read_ms", "first_chan >= 0", "-1");
    assert_null(ag_read_ms(MS_DIR "xy.ms", &(ag_ms_opts){.nchan = -3}));
    assert_error(AG_ERR_INVALID, "ag_read_ms", "nchan >= 0", "-3");
    assert_int_equal(ag_live_tensors(), live);
}

/* damaged copies of xy.ms: casacore's exceptions become errors naming the file */
static void damaged_tables(void **state) {
    (void)state;
    char dir[] = "/tmp/ag_test_ms_XXXXXX", cmd[512], path[300];
    assert_non_null(mkdtemp(dir));
    const char *damage[][2] = {
        {"rm -r %s/d.ms/SPECTRAL_WINDOW", "SPECTRAL_WINDOW"},      /* a subtable gone */
        {"truncate -s 100 %s/d.ms/table.f0", "casacore"},          /* the main table's data cut short */
        {"head -c 200 /dev/urandom > %s/d.ms/table.dat", "not a casacore table"},
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        snprintf(cmd, sizeof cmd, "rm -rf %s/d.ms && cp -r " MS_DIR "xy.ms %s/d.ms", dir, dir);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof cmd, damage[i][0], dir);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof path, "%s/d.ms", dir);
        assert_null(ag_read_ms(path, NULL));
        assert_error(AG_ERR_FORMAT, "ag_read_ms", path, damage[i][1]);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(reads_eht_as_uvfits), TEST(reads_xx_yy_two_channels), TEST(reads_corrected_data), TEST(selects_channels),
        TEST(bad_inputs), TEST(damaged_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
