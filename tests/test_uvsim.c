/* tests/test_uvsim.c — simulated observations (imaging/uvsim.c): the antenna configuration
 * reader, u, v of ALMA C43-7 against tests/imaginggen/uvsim.py (NumPy, from the formula), the
 * counts, the longest baseline at transit through the zenith, ITRF input against local, model
 * visibilities (DFT and NuFFT) of point sources against the analytic phase, the noise's mean and
 * spread within Monte Carlo error, and bad inputs. The models run on AG_DEVICE (device_uvsim). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

#define C7 AG_TEST_SOURCE_DIR "/data/alma/alma.cycle7.7.cfg"
#define NANT 43
#define NPAIR (NANT * (NANT - 1) / 2)

static ag_device DEV;
static char tmpdir[] = "/tmp/ag_uvsim_XXXXXX";

static const char *tmp_file(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void cfg_reader(void **state) {
    (void)state;
    ag_array_config *c = ag_array_config_read(C7);
    assert_non_null(c);
    assert_int_equal(c->nant, NANT);
    assert_false(c->itrf);
    assert_string_equal(c->pad[0], "A007");
    assert_string_equal(c->pad[NANT - 1], "A132");
    assert_true(c->x[0] == 15.93453511 && c->y[0] == -700.6757482 && c->z[0] == -2.32967552 && c->diam[0] == 12);
    ag_array_config_free(c);
    /* comments, a missing pad, CASA's coordsys comment */
    c = ag_array_config_read(tmp_file("ok.cfg", "# observatory=ALMA\n# coordsys=XYZ\n1 2 3 12 P1 # here\n\n4 5 6 7\n"));
    assert_non_null(c);
    assert_int_equal(c->nant, 2);
    assert_true(c->itrf);
    assert_string_equal(c->pad[1], "A5");
    assert_true(c->z[1] == 6 && c->diam[1] == 7);
    ag_array_config_free(c);
    ag_array_config_free(NULL);
}

static void cfg_bad_input(void **state) {
    (void)state;
    assert_null(ag_array_config_read(AG_TEST_SOURCE_DIR "/data/alma/no_such.cfg"));
    assert_error(AG_ERR_IO, "ag_array_config_read", "cannot open", "no_such.cfg");
    assert_null(ag_array_config_read(tmp_file("bad.cfg", "x y z diam pad\n1 2 3 12 A\n1 2 zz 12 B\n")));
    assert_error(AG_ERR_FORMAT, "ag_array_config_read", "bad.cfg line 3", "x y z diam [pad]");
    assert_null(ag_array_config_read(tmp_file("few.cfg", "1 2 3\n")));
    assert_error(AG_ERR_FORMAT, "line 1", "given 3 fields");
    assert_null(ag_array_config_read(tmp_file("diam.cfg", "1 2 3 0 A\n")));
    assert_error(AG_ERR_FORMAT, "line 1", "diam > 0");
    assert_null(ag_array_config_read(tmp_file("empty.cfg", "x y z diam pad\n# nothing\n")));
    assert_error(AG_ERR_FORMAT, "empty.cfg", "expected antenna lines, given none");
    assert_null(ag_array_config_read(tmp_file("utm.cfg", "# coordsys=UTM\n1 2 3 12 A\n")));
    assert_error(AG_ERR_NOTIMPL, "utm.cfg line 1", "coordsys LOC or XYZ", "UTM");
    assert_null(ag_array_config_read(NULL));
    assert_error(AG_ERR_INVALID, "ag_array_config_read", "NULL");
}

/* u, v of C43-7 against the NumPy fixture; counts and ordering */
static void uv_against_fixture(void **state) {
    (void)state;
    struct { const char *name; double dec, lat, h0, h1, step, freq; int ntimes; } cs[] = {
        {"c7_dec-35", -35, -23.029, -1, 1, 1800, 230e9, 5},
        {"c7_dec+10", 10, -23.029, 2, 3, 1800, 345e9, 3},
    };
    fx_file *fx = fx_open("imaging_uvsim");
    assert_non_null(fx);
    ag_array_config *c = ag_array_config_read(C7);
    for (int i = 0; i < 2; i++) {
        ag_uvsim_opts o = ag_uvsim_default_opts();
        o.dec_deg = cs[i].dec, o.lat_deg = cs[i].lat, o.ha_start_h = cs[i].h0, o.ha_end_h = cs[i].h1;
        o.step_s = cs[i].step, o.freq_hz = cs[i].freq;
        ag_vis *vis = ag_uvsim(c, NULL, NULL, &o);
        assert_non_null(vis);
        assert_int_equal(vis->nchan, 1);
        assert_int_equal(vis->nvis, (int64_t)NPAIR * cs[i].ntimes);
        ag_tensor *u = fx_get(fx, "%s.u", cs[i].name), *v = fx_get(fx, "%s.v", cs[i].name);
        ag_tensor *ur = ag_reshape(vis->u, AG_SHAPE(vis->nvis)), *vr = ag_reshape(vis->v, AG_SHAPE(vis->nvis));
        /* |u| reaches 4e6 λ; 1e-6 λ absolute is far below any rounding that would matter */
        assert_true(fx_close_ratio(ur, u, 1e-12, 1e-6) <= 1);
        assert_true(fx_close_ratio(vr, v, 1e-12, 1e-6) <= 1);
        int64_t *a1 = malloc(vis->nvis * sizeof *a1), *a2 = malloc(vis->nvis * sizeof *a2);
        double *t = tu_values(vis->time);
        ag_copy_to_buffer(vis->ant1, a1, AG_I64), ag_copy_to_buffer(vis->ant2, a2, AG_I64);
        assert_true(a1[0] == 0 && a2[0] == 1 && a1[NPAIR - 1] == NANT - 2 && a2[NPAIR - 1] == NANT - 1);
        assert_true(a1[NPAIR] == 0 && a2[NPAIR] == 1);
        assert_true(t[0] == cs[i].h0 * 3600 && t[NPAIR] == cs[i].h0 * 3600 + cs[i].step);
        assert_true(vis->ref_freq == cs[i].freq && vis->dec == cs[i].dec && vis->fourier_sign == -1);
        assert_int_equal(vis->nstations, NANT);
        assert_string_equal(vis->stations[2], "A042");
        assert_values(vis->freq, cs[i].freq);
        assert_null(vis->sigma);
        free(a1), free(a2), free(t);
        ag_release(u), ag_release(v), ag_release(ur), ag_release(vr);
        ag_vis_free(vis);
    }
    ag_array_config_free(c);
    fx_close(fx);
}

/* A source at the zenith (dec = latitude, H = 0) sees every baseline's horizontal length; over a
 * track no projection exceeds the 3-d length. C43-7's longest baseline is 3.64 km. */
static void longest_baseline(void **state) {
    (void)state;
    ag_array_config *c = ag_array_config_read(C7);
    double hor = 0, full = 0;
    for (int i = 0; i < NANT; i++)
        for (int j = i + 1; j < NANT; j++) {
            double dx = c->x[j] - c->x[i], dy = c->y[j] - c->y[i], dz = c->z[j] - c->z[i];
            hor = fmax(hor, hypot(dx, dy)), full = fmax(full, sqrt(dx * dx + dy * dy + dz * dz));
        }
    assert_true(full > 3600 && full < 3700);
    ag_uvsim_opts o = ag_uvsim_default_opts();
    o.ha_start_h = o.ha_end_h = 0;
    double lambda = 299792458.0 / o.freq_hz;
    for (int track = 0; track < 2; track++) {
        if (track) o.dec_deg = -50, o.ha_start_h = -4, o.ha_end_h = 4, o.step_s = 600;
        ag_vis *vis = ag_uvsim(c, NULL, NULL, &o);
        assert_non_null(vis);
        double *u = tu_values(vis->u), *v = tu_values(vis->v), qmax = 0;
        for (int64_t k = 0; k < vis->nvis; k++) qmax = fmax(qmax, hypot(u[k], v[k]));
        if (!track) assert_true(fabs(qmax * lambda / hor - 1) < 1e-12);
        else assert_true(qmax * lambda <= full * (1 + 1e-12) && qmax * lambda > 0.8 * full);
        free(u), free(v);
        ag_vis_free(vis);
    }
    ag_array_config_free(c);
}

/* The same array given in ITRF (ENU offsets centred on their mean, so that the mean position's
 * longitude is the frame's) gives the local frame's u, v up to the cancellation in
 * differences of 6.4e6 m coordinates (~1e-9 m). */
static void itrf_matches_local(void **state) {
    (void)state;
    ag_array_config *c = ag_array_config_read(C7);
    double lat = -23.029 * M_PI / 180, lon = -67.755 * M_PI / 180, R = 6378137.0, me = 0, mn = 0, mu = 0;
    for (int i = 0; i < NANT; i++) me += c->x[i] / NANT, mn += c->y[i] / NANT, mu += c->z[i] / NANT;
    size_t cap = 128 * NANT;
    char *text = malloc(cap), *p = text;
    p += snprintf(p, cap, "# coordsys=XYZ\n");
    for (int i = 0; i < NANT; i++) {
        double e = c->x[i] - me, n = c->y[i] - mn, up = c->z[i] - mu;
        double X = (R + up) * cos(lat) * cos(lon) - e * sin(lon) - n * sin(lat) * cos(lon);
        double Y = (R + up) * cos(lat) * sin(lon) + e * cos(lon) - n * sin(lat) * sin(lon);
        double Z = (R + up) * sin(lat) + n * cos(lat);
        p += snprintf(p, cap - (size_t)(p - text), "%.17g %.17g %.17g 12 %s\n", X, Y, Z, c->pad[i]);
    }
    ag_array_config *ci = ag_array_config_read(tmp_file("itrf.cfg", text));
    free(text);
    assert_non_null(ci);
    assert_true(ci->itrf);
    ag_uvsim_opts o = ag_uvsim_default_opts();
    o.dec_deg = -40, o.step_s = 1800;
    ag_vis *a = ag_uvsim(c, NULL, NULL, &o);
    o.lat_deg = 0; /* not used for ITRF positions */
    ag_vis *b = ag_uvsim(ci, NULL, NULL, &o);
    assert_non_null(a), assert_non_null(b);
    assert_true(fx_close_ratio(b->u, a->u, 1e-9, 1e-3) <= 1);
    assert_true(fx_close_ratio(b->v, a->v, 1e-9, 1e-3) <= 1);
    ag_vis_free(a), ag_vis_free(b);
    ag_array_config_free(c), ag_array_config_free(ci);
}

/* Point sources F at packed pixels: V = Σ F e^{-2πi(u l + v m)} exactly (DFT) and to the NuFFT's
 * tolerance; the data come back on the model's device. */
static void model_point_sources(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.03, 64), 0); /* reach 3.4 Mλ > C43-7's 2.8 Mλ at 230 GHz */
    double *img = calloc(64 * 64, sizeof *img), F[2] = {0.7, 0.2};
    int jr[2] = {3, 60}, ic[2] = {5, 50}; /* (row, column) packed: m = 3 dm, l = 5 dl; m = -4 dm, l = -14 dl */
    for (int s = 0; s < 2; s++) img[jr[s] * 64 + ic[s]] = F[s] / (gc.cell_size * gc.cell_size);
    ag_tensor *cube = ag_from_data_on(img, AG_SHAPE(1, 64, 64), AG_F64, DEV);
    free(img);
    ag_array_config *c = ag_array_config_read(C7);
    ag_uvsim_opts o = ag_uvsim_default_opts();
    o.dec_deg = -30, o.step_s = 1200;
    for (int pass = 0; pass < 2; pass++) {
        o.nufft_eps = pass ? 1e-10 : 0;
        ag_vis *vis = ag_uvsim(c, cube, &gc, &o);
        assert_non_null(vis);
        assert_true(ag_device_of(vis->data).kind == DEV.kind && ag_device_of(vis->u).kind == DEV.kind);
        double *u = tu_values(vis->u), *v = tu_values(vis->v), err = 0;
        double complex *d = tu_cvalues(vis->data);
        for (int64_t k = 0; k < vis->nvis; k++) {
            double complex want = 0;
            for (int s = 0; s < 2; s++) {
                double l = (ic[s] < 32 ? ic[s] : ic[s] - 64) * gc.dl, m = (jr[s] < 32 ? jr[s] : jr[s] - 64) * gc.dm;
                want += F[s] * cexp(-2 * M_PI * I * (u[k] * l + v[k] * m));
            }
            err = fmax(err, cabs(d[k] - want));
        }
        assert_true(err < (pass ? 1e-8 : 1e-11));
        double *w = tu_values(vis->weight);
        for (int64_t k = 0; k < vis->nvis; k++) assert_true(w[k] == 1);
        free(w);
        free(u), free(v), free(d);
        ag_vis_free(vis);
    }
    ag_release(cube);
    ag_array_config_free(c);
}

/* Noise on a zero sky: Re and Im each N(0, σ²), independent, over 903 × 121 visibilities: the
 * mean within 5 standard errors (5σ/√N), the spread within 5 standard errors of a standard
 * deviation (σ/√(2N)), the Re-Im correlation within 5/√N; seeded and reproducible. */
static void noise_statistics(void **state) {
    (void)state;
    ag_array_config *c = ag_array_config_read(C7);
    ag_uvsim_opts o = ag_uvsim_default_opts();
    o.sigma = 0.25, o.seed = 42;
    ag_grid_coords gc;
    ag_grid_coords_init(&gc, 0.03, 64);
    ag_tensor *zero = ag_zeros_on(AG_SHAPE(64, 64), AG_F64, DEV);
    ag_vis *a = ag_uvsim(c, zero, &gc, &o), *b = ag_uvsim(c, zero, &gc, &o);
    o.seed = 43;
    ag_vis *d = ag_uvsim(c, zero, &gc, &o);
    assert_non_null(a), assert_non_null(b), assert_non_null(d);
    int64_t n = a->nvis;
    assert_int_equal(n, (int64_t)NPAIR * 121);
    double complex *x = tu_cvalues(a->data), *y = tu_cvalues(b->data), *z = tu_cvalues(d->data);
    double mr = 0, mi = 0, sr = 0, si = 0, ri = 0;
    bool same = true, differ = false;
    for (int64_t k = 0; k < n; k++) {
        mr += creal(x[k]) / n, mi += cimag(x[k]) / n;
        same = same && x[k] == y[k], differ = differ || x[k] != z[k];
    }
    for (int64_t k = 0; k < n; k++) {
        double re = creal(x[k]) - mr, im = cimag(x[k]) - mi;
        sr += re * re / (n - 1), si += im * im / (n - 1), ri += re * im / (n - 1);
    }
    sr = sqrt(sr), si = sqrt(si);
    assert_true(same && differ);
    assert_true(fabs(mr) < 5 * o.sigma / sqrt(n) && fabs(mi) < 5 * o.sigma / sqrt(n));
    assert_true(fabs(sr / o.sigma - 1) < 5 / sqrt(2.0 * n) && fabs(si / o.sigma - 1) < 5 / sqrt(2.0 * n));
    assert_true(fabs(ri / (sr * si)) < 5 / sqrt((double)n));
    double *w = tu_values(a->weight), *s = tu_values(a->sigma);
    assert_true(w[0] == 16 && w[n - 1] == 16 && s[0] == 0.25 && s[n - 1] == 0.25);
    free(x), free(y), free(z), free(w), free(s);
    ag_vis_free(a), ag_vis_free(b), ag_vis_free(d);
    ag_release(zero);
    ag_array_config_free(c);
}

static void uvsim_bad_input(void **state) {
    (void)state;
    ag_array_config *c = ag_array_config_read(C7), *one = ag_array_config_read(tmp_file("one.cfg", "0 0 0 12 A\n"));
    assert_non_null(one);
    ag_uvsim_opts o = ag_uvsim_default_opts();
    assert_null(ag_uvsim(NULL, NULL, NULL, &o));
    assert_error(AG_ERR_INVALID, "ag_uvsim", "cfg is NULL");
    assert_null(ag_uvsim(c, NULL, NULL, NULL));
    assert_error(AG_ERR_INVALID, "ag_uvsim", "opts is NULL");
    assert_null(ag_uvsim(one, NULL, NULL, &o));
    assert_error(AG_ERR_INVALID, "ag_uvsim", "at least 2 antennas, given 1");
    struct { double *field, value; const char *msg; } bad[] = {
        {&o.dec_deg, 95, "dec_deg in [-90, 90], given 95"}, {&o.dec_deg, NAN, "dec_deg"},
        {&o.lat_deg, -91, "lat_deg in [-90, 90]"}, {&o.ha_start_h, 2, "ha_end_h >= ha_start_h"},
        {&o.ha_end_h, 13, "ha_end_h in [-12, 12]"}, {&o.step_s, 0, "step_s > 0"},
        {&o.freq_hz, -1, "freq_hz > 0"}, {&o.sigma, -0.1, "sigma >= 0"}, {&o.sigma, INFINITY, "sigma >= 0 and finite"},
        {&o.nufft_eps, 0.5, "nufft_eps 0 or in (0, 0.1]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = ag_uvsim_default_opts();
        *bad[i].field = bad[i].value; /* the field of o, which keeps its address */
        assert_null(ag_uvsim(c, NULL, NULL, &o));
        assert_error(AG_ERR_INVALID, "ag_uvsim", bad[i].msg);
    }
    o = ag_uvsim_default_opts();
    o.step_s = 1e-6;
    assert_null(ag_uvsim(c, NULL, NULL, &o));
    assert_error(AG_ERR_INVALID, "at most 2^31 visibilities");
    ag_grid_coords gc;
    ag_grid_coords_init(&gc, 0.03, 16);
    o = ag_uvsim_default_opts();
    ag_tensor *f32 = ag_zeros_on(AG_SHAPE(16, 16), AG_F32, DEV), *sq = ag_zeros_on(AG_SHAPE(2, 16, 16), AG_F64, DEV);
    assert_null(ag_uvsim(c, f32, &gc, &o));
    assert_error(AG_ERR_DTYPE, "ag_uvsim", "f64 model", "f32");
    assert_null(ag_uvsim(c, sq, &gc, &o));
    assert_error(AG_ERR_SHAPE, "ag_uvsim", "(1, 16, 16)", "[2,16,16]");
    assert_null(ag_uvsim(c, f32, NULL, &o));
    assert_error(AG_ERR_INVALID, "ag_uvsim", "gc is NULL");
    /* NuFFT points must fit the grid: 16 cells of 0.03" reach 3.2 Mλ, not ALMA at 900 GHz */
    ag_tensor *m16 = ag_zeros_on(AG_SHAPE(16, 16), AG_F64, DEV);
    o.nufft_eps = 1e-6, o.freq_hz = 900e9;
    assert_null(ag_uvsim(c, m16, &gc, &o));
    assert_error(AG_ERR_INVALID, "ag_uvsim", "NuFFT", "beyond the grid", "use cell_size <=");
    ag_release(f32), ag_release(sq), ag_release(m16);
    ag_array_config_free(c), ag_array_config_free(one);
}

/* within a caller's scope the returned set is still the caller's after the scope ends */
static void uvsim_in_scope(void **state) {
    (void)state;
    ag_array_config *c = ag_array_config_read(C7);
    ag_uvsim_opts o = ag_uvsim_default_opts();
    o.sigma = 1;
    ag_scope_begin();
    ag_vis *vis = ag_uvsim(c, NULL, NULL, &o);
    ag_scope_end();
    assert_non_null(vis);
    assert_true(ag_numel(vis->sigma) == vis->nvis && ag_numel(vis->time) == vis->nvis && ag_numel(vis->u) == vis->nvis);
    ag_vis_free(vis);
    ag_array_config_free(c);
}

static int setup(void **state) {
    (void)state;
    DEV = ag_device_default();
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(cfg_reader), TEST(cfg_bad_input), TEST(uv_against_fixture), TEST(longest_baseline),
        TEST(itrf_matches_local), TEST(model_point_sources), TEST(noise_statistics), TEST(uvsim_bad_input),
        TEST(uvsim_in_scope),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
