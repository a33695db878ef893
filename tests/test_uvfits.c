/* tests/test_uvfits.c — ag_read_uvfits (imaging/uvfits.c): the shipped EHT files against the
 * first 50 rows of their CSV export, a small file written here with cfitsio that exercises what
 * the EHT files lack (RR+LL, flags, several IFs and channels, the 2048-based baseline code, no AN
 * table), bad files, and fuzzing: the shipped file truncated at every KiB and with bytes flipped. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fitsio.h>

#include "test_util.h"

#define EHT_DIR AG_TEST_SOURCE_DIR "/data/eht/"
#define LO EHT_DIR "SR1_M87_2017_095_lo_hops_netcal_StokesI.uvfits"
#define HI EHT_DIR "SR1_M87_2017_095_hi_hops_netcal_StokesI.uvfits"
#define CSV_DIR AG_TEST_SOURCE_DIR "/tests/fixtures/eht/"

static char tmpdir[256];
static void tmp_path(char *out, size_t n, const char *name) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/ag_test_uvfits_XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
    }
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* the CSV's rows: time [h], T1, T2, U [λ], V [λ], |V| [Jy], arg V [deg], σ [Jy] */
static void check_against_csv(const char *uvfits, const char *csv, int64_t nvis) {
    ag_vis *vis = ag_read_uvfits(uvfits);
    assert_no_error();
    assert_non_null(vis);
    assert_int_equal(ag_numel(vis->u), nvis);
    assert_int_equal(vis->nchan, 1);
    assert_int_equal(vis->nstations, 7);
    assert_int_equal(vis->fourier_sign, 1);
    assert_string_equal(vis->source, "M87");
    assert_string_equal(vis->date_obs, "2017-04-05");
    assert_true(fabs(vis->ra - 187.7059307575226) < 1e-12 && fabs(vis->dec - 12.39112323919932) < 1e-12);
    const char *want[] = {"AA", "AP", "AZ", "JC", "LM", "PV", "SM"};
    for (int i = 0; i < 7; i++) {
        bool found = false;
        for (int j = 0; j < vis->nstations; j++) found |= !strcmp(vis->stations[j], want[i]);
        assert_true(found);
    }
    const double *u = ag_data(vis->u), *v = ag_data(vis->v), *d = ag_data(vis->data), *s = ag_data(vis->sigma);
    const double *w = ag_data(vis->weight), *t = ag_data(vis->time);
    const int64_t *a1 = ag_data(vis->ant1), *a2 = ag_data(vis->ant2);
    FILE *fp = fopen(csv, "r");
    assert_non_null(fp);
    char line[512];
    int row = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        double th, uu, vv, amp, ph, sig;
        char s1[8], s2[8];
        assert_int_equal(sscanf(line, "%lf,%7[^,],%7[^,],%lf,%lf,%lf,%lf,%lf", &th, s1, s2, &uu, &vv, &amp, &ph, &sig), 8);
        assert_string_equal(vis->stations[a1[row]], s1);
        assert_string_equal(vis->stations[a2[row]], s2);
        /* the CSV prints f32 parameters scaled to λ with 4 decimals and hours with 8 */
        assert_true(fabs(u[row] - uu) <= 1e-7 * fabs(uu) + 1e-3);
        assert_true(fabs(v[row] - vv) <= 1e-7 * fabs(vv) + 1e-3);
        double hours = fmod(t[row] / 3600.0, 24.0);
        assert_true(fabs(hours - th) < 1e-6);
        assert_true(fabs(hypot(d[2 * row], d[2 * row + 1]) - amp) < 1e-7 * amp + 1e-8);
        double dph = remainder(atan2(d[2 * row + 1], d[2 * row]) * 180 / M_PI - ph, 360.0);
        assert_true(fabs(dph) < 1e-3);
        assert_true(fabs(s[row] - sig) < 1e-7 * sig + 1e-8);
        assert_true(fabs(w[row] * s[row] * s[row] - 1) < 1e-12);
        row++;
    }
    fclose(fp);
    assert_int_equal(row, 48); /* 50 lines, 2 of them comments */
    ag_vis_free(vis);
}

static void reads_eht_low_band(void **state) {
    (void)state;
    check_against_csv(LO, CSV_DIR "SR1_M87_2017_095_lo_head50.csv", 6453);
    ag_vis *vis = ag_read_uvfits(LO);
    assert_non_null(vis);
    assert_true(fabs(vis->ref_freq - 227070703125.0) < 1e-3);
    assert_true(fabs(*(double *)ag_data(vis->freq) - vis->ref_freq) < 1e-3);
    /* 2017-04-05 is MJD 57848; the track runs ~0.7 h .. 8 h UT */
    const double *t = ag_data(vis->time);
    int64_t n = ag_numel(vis->time);
    for (int64_t i = 0; i < n; i++) assert_true(t[i] >= 57848 * 86400.0 && t[i] < 57849 * 86400.0);
    ag_vis_free(vis);
}

/* On the real data, per scan: B baselines above 0.1 Gλ among N stations give B − N + 1 independent
 * closure phases and B − N log closure amplitudes (a connected graph with triangles). */
static void eht_closure_counts(void **state) {
    (void)state;
    ag_vis *raw = ag_read_uvfits(LO);
    ag_vis *avg = ag_vis_scan_average(raw, 60);
    ag_closure_set *set = ag_closure_set_new(avg, NULL);
    assert_non_null(set);
    const double *t = ag_data(avg->time), *u = ag_data(avg->u), *v = ag_data(avg->v);
    const int64_t *a1 = ag_data(avg->ant1), *a2 = ag_data(avg->ant2);
    int64_t n = avg->nvis, want_cp = 0, want_lca = 0;
    for (int64_t k0 = 0; k0 < n;) {
        int64_t k1 = k0;
        while (k1 < n && t[k1] == t[k0]) k1++;
        bool pair[64][64] = {{false}}, seen[64] = {false};
        int nb = 0, ns = 0;
        for (int64_t k = k0; k < k1; k++) {
            if (!(hypot(u[k], v[k]) > 1e8)) continue;
            int64_t lo = a1[k] < a2[k] ? a1[k] : a2[k], hi = a1[k] < a2[k] ? a2[k] : a1[k];
            if (!pair[lo][hi]) pair[lo][hi] = true, nb++;
            if (!seen[lo]) seen[lo] = true, ns++;
            if (!seen[hi]) seen[hi] = true, ns++;
        }
        if (ns >= 3) want_cp += nb - ns + 1, want_lca += nb - ns > 0 ? nb - ns : 0;
        k0 = k1;
    }
    print_message("scans: %lld closure phases, %lld log closure amplitudes\n", (long long)set->ncp, (long long)set->nlca);
    assert_int_equal(set->ncp, want_cp);
    assert_int_equal(set->nlca, want_lca);
    ag_closure_set_free(set);
    ag_vis_free(avg);
    ag_vis_free(raw);
}

static void reads_eht_high_band(void **state) {
    (void)state;
    check_against_csv(HI, CSV_DIR "SR1_M87_2017_095_hi_head50.csv", 6458);
}

/* A 4-group file with RR and LL, 2 IFs (FQ table offsets 0 and 5 GHz) × 2 channels (100, 101
 * GHz), no AN table; group 2 uses the 2048-based baseline code with station 300, group 3 is an
 * auto-correlation, group 4 has RR flagged in IF 0 channel 0 and LL flagged (NaN weight) in
 * IF 1 channel 1. Values encode (group, IF, channel, correlation). */
#define NG 4
static const double G_U[NG] = {1e-3, -2e-3, 5e-4, 3e-3}, G_V[NG] = {2e-3, 1e-3, 0, -1e-3};
static const double G_BL[NG] = {1 * 256 + 2, 65536 + 2048 * 3 + 300, 1 * 256 + 1, 2 * 256 + 3};
static double val(int g, int fi, int c, int k, int part) { return 100.0 * g + 10 * fi + c + 0.25 * k + (part ? 0.5 : 0); }
static double wgt(int g, int fi, int c, int k) {
    if (g == 3 && fi == 0 && c == 0 && k == 0) return 0;
    if (g == 3 && fi == 1 && c == 1 && k == 1) return NAN;
    return 1.0 + k + 0.5 * c;
}

static void write_small(const char *path, bool with_fq) {
    fitsfile *f = NULL;
    int st = 0;
    char name[300];
    snprintf(name, sizeof name, "!%s", path);
    long naxes[7] = {0, 3, 2, 2, 2, 1, 1};
    fits_create_file(&f, name, &st);
    fits_write_grphdr(f, 1, -32, 7, naxes, 6, NG, 1, &st);
    const char *ct[] = {"COMPLEX", "STOKES", "FREQ", "IF", "RA", "DEC"};
    const double crval[] = {1, -1, 100e9, 1, 10.5, -20.25}, cdelt[] = {1, -1, 1e9, 1, 1, 1};
    for (int i = 0; i < 6; i++) {
        char k[16];
        double one = 1;
        snprintf(k, sizeof k, "CTYPE%d", i + 2), fits_write_key(f, TSTRING, k, (void *)ct[i], NULL, &st);
        snprintf(k, sizeof k, "CRVAL%d", i + 2), fits_write_key(f, TDOUBLE, k, (void *)&crval[i], NULL, &st);
        snprintf(k, sizeof k, "CDELT%d", i + 2), fits_write_key(f, TDOUBLE, k, (void *)&cdelt[i], NULL, &st);
        snprintf(k, sizeof k, "CRPIX%d", i + 2), fits_write_key(f, TDOUBLE, k, &one, NULL, &st);
    }
    const char *pt[] = {"UU---SIN", "VV---SIN", "WW---SIN", "BASELINE", "DATE", "DATE"};
    for (int i = 0; i < 6; i++) {
        char k[16];
        /* the UU/VV raw values are stored in units of 1/2 s: PSCAL must be applied */
        double sc = i < 3 ? 0.5 : 1, zero = i == 4 ? 2457848.5 : 0;
        snprintf(k, sizeof k, "PTYPE%d", i + 1), fits_write_key(f, TSTRING, k, (void *)pt[i], NULL, &st);
        snprintf(k, sizeof k, "PSCAL%d", i + 1), fits_write_key(f, TDOUBLE, k, &sc, NULL, &st);
        snprintf(k, sizeof k, "PZERO%d", i + 1), fits_write_key(f, TDOUBLE, k, &zero, NULL, &st);
    }
    fits_write_key(f, TSTRING, "OBJECT", "TEST", NULL, &st);
    for (int g = 0; g < NG; g++) {
        double par[6] = {G_U[g] * 2, G_V[g] * 2, 0, G_BL[g], 0, 0.25 + g / 86400.0};
        double grp[24];
        for (int fi = 0; fi < 2; fi++)
            for (int c = 0; c < 2; c++)
                for (int k = 0; k < 2; k++) {
                    double *p = grp + fi * 12 + c * 6 + k * 3;
                    p[0] = val(g, fi, c, k, 0), p[1] = val(g, fi, c, k, 1), p[2] = wgt(g, fi, c, k);
                }
        fits_write_grppar_dbl(f, g + 1, 1, 6, par, &st);
        fits_write_img_dbl(f, g + 1, 1, 24, grp, &st);
    }
    if (with_fq) {
        char *tt[] = {"FRQSEL", "IF FREQ"}, *tf[] = {"1J", "2D"};
        fits_create_tbl(f, BINARY_TBL, 1, 2, tt, tf, NULL, "AIPS FQ", &st);
        int one = 1;
        double off[2] = {0, 5e9};
        fits_write_col(f, TINT, 1, 1, 1, 1, &one, &st);
        fits_write_col(f, TDOUBLE, 2, 1, 1, 2, off, &st);
    }
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
}

static void reads_rr_ll_ifs_flags(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "small.uvfits");
    write_small(path, true);
    ag_vis *vis = ag_read_uvfits(path);
    assert_no_error();
    assert_non_null(vis);
    /* groups 1, 2: 4 samples each; group 3 dropped; group 4: two samples flagged */
    int64_t n = ag_numel(vis->u);
    assert_int_equal(n, 10);
    assert_int_equal(vis->nstations, 4);
    const char *names[] = {"1", "2", "3", "300"}; /* in order of first appearance */
    for (int i = 0; i < 4; i++) assert_string_equal(vis->stations[i], names[i]);
    assert_string_equal(vis->source, "TEST");
    assert_true(vis->ra == 10.5 && vis->dec == -20.25 && vis->ref_freq == 100e9);
    const double *u = ag_data(vis->u), *v = ag_data(vis->v), *d = ag_data(vis->data), *w = ag_data(vis->weight);
    const double *s = ag_data(vis->sigma), *t = ag_data(vis->time);
    const int64_t *a1 = ag_data(vis->ant1), *a2 = ag_data(vis->ant2);
    const int64_t want1[NG] = {0, 2, -1, 1}, want2[NG] = {1, 3, -1, 2};
    int64_t i = 0;
    for (int g = 0; g < NG; g++)
        for (int fi = 0; fi < 2; fi++)
            for (int c = 0; c < 2; c++) {
                if (g == 2 || (g == 3 && fi == c)) continue;
                double freq = 100e9 + 1e9 * c + 5e9 * fi;
                assert_true(i < n);
                assert_true(fabs(u[i] - G_U[g] * freq) < 1e-6 * fabs(G_U[g] * freq));
                assert_true(fabs(v[i] - G_V[g] * freq) < 1e-6 * fabs(G_V[g] * freq) + 1e-9);
                double w0 = wgt(g, fi, c, 0), w1 = wgt(g, fi, c, 1);
                assert_true(fabs(d[2 * i] - (val(g, fi, c, 0, 0) + val(g, fi, c, 1, 0)) / 2) < 1e-4);
                assert_true(fabs(d[2 * i + 1] - (val(g, fi, c, 0, 1) + val(g, fi, c, 1, 1)) / 2) < 1e-4);
                assert_true(fabs(w[i] - 4 / (1 / w0 + 1 / w1)) < 1e-12);
                assert_true(fabs(s[i] - 1 / sqrt(w[i])) < 1e-12);
                /* f32 DATE fraction: ~10 ms at 0.25 d */
                assert_true(fabs(t[i] - (57848.25 * 86400.0 + g)) < 0.05);
                assert_int_equal(a1[i], want1[g]);
                assert_int_equal(a2[i], want2[g]);
                i++;
            }
    assert_int_equal(i, n);
    ag_vis_free(vis);

    /* without the FQ table both IFs are at the FREQ axis's frequencies */
    write_small(path, false);
    vis = ag_read_uvfits(path);
    assert_non_null(vis);
    assert_true(fabs(((double *)ag_data(vis->u))[2] - G_U[0] * 100e9) < 1e-6 * G_U[0] * 100e9);
    ag_vis_free(vis);
    remove(path);
}

static void bad_files(void **state) {
    (void)state;
    char path[300];
    assert_null(ag_read_uvfits(NULL));
    assert_error(AG_ERR_INVALID, "ag_read_uvfits", "NULL");
    assert_null(ag_read_uvfits("/nonexistent/x.uvfits"));
    assert_error(AG_ERR_IO, "ag_read_uvfits", "/nonexistent/x.uvfits", "cannot open");

    tmp_path(path, sizeof path, "text.uvfits");
    FILE *fp = fopen(path, "w");
    fputs("time,T1,T2\n1,AA,AP\n", fp);
    fclose(fp);
    assert_null(ag_read_uvfits(path));
    assert_error(AG_ERR_FORMAT, "ag_read_uvfits", path, "not a FITS file");

    /* a plain image is FITS but not random groups */
    fitsfile *f = NULL;
    int st = 0;
    char name[310];
    snprintf(name, sizeof name, "!%s", path);
    long ax[2] = {4, 4};
    float px[16] = {0};
    fits_create_file(&f, name, &st);
    fits_create_img(f, FLOAT_IMG, 2, ax, &st);
    fits_write_img(f, TFLOAT, 1, 16, px, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_null(ag_read_uvfits(path));
    assert_error(AG_ERR_FORMAT, "ag_read_uvfits", path, "random-groups");

    /* random groups without a BASELINE parameter, and with every sample flagged */
    long naxes[4] = {0, 3, 1, 1};
    const char *ctype[] = {"COMPLEX", "STOKES", "FREQ"};
    for (int variant = 0; variant < 2; variant++) {
        st = 0;
        fits_create_file(&f, name, &st);
        fits_write_grphdr(f, 1, -32, 4, naxes, 4, 1, 1, &st);
        for (int i = 0; i < 3; i++) {
            char k[16];
            double cv = i == 2 ? 1e11 : 1;
            snprintf(k, sizeof k, "CTYPE%d", i + 2), fits_write_key(f, TSTRING, k, (void *)ctype[i], NULL, &st);
            snprintf(k, sizeof k, "CRVAL%d", i + 2), fits_write_key(f, TDOUBLE, k, &cv, NULL, &st);
        }
        const char *pt[] = {"UU", "VV", variant ? "BASELINE" : "WW", "DATE"};
        for (int i = 0; i < 4; i++) {
            char k[16];
            snprintf(k, sizeof k, "PTYPE%d", i + 1), fits_write_key(f, TSTRING, k, (void *)pt[i], NULL, &st);
        }
        double par[4] = {1e-3, 1e-3, 258, 2457848.5}, grp[3] = {1, 0, -1};
        fits_write_grppar_dbl(f, 1, 1, 4, par, &st);
        fits_write_img_dbl(f, 1, 1, 3, grp, &st);
        fits_close_file(f, &st);
        assert_int_equal(st, 0);
        assert_null(ag_read_uvfits(path));
        if (variant == 0) assert_error(AG_ERR_FORMAT, "ag_read_uvfits", path, "BASELINE");
        else assert_error(AG_ERR_FORMAT, "ag_read_uvfits", path, "no unflagged");
    }
    remove(path);
}

/* every outcome is a visibility set or a clear error; the sanitizer and valgrind runs catch
 * the crashes and overreads this would otherwise hide */
static void fuzzed_files(void **state) {
    (void)state;
    long n = 0;
    unsigned char *orig = tu_read_file(LO, &n);
    char path[300];
    tmp_path(path, sizeof path, "fuzz.uvfits");
    for (long cut = 0; cut < n; cut += 1024) {
        tu_write_file(path, orig, cut);
        ag_vis *vis = ag_read_uvfits(path);
        /* a cut at an HDU boundary past the groups leaves a valid file without the later tables */
        if (vis && cut % 2880 == 0 && ag_numel(vis->u) == 6453) {
            ag_vis_free(vis);
            continue;
        }
        if (vis) fail_msg("the file cut at %ld of %ld bytes was read", cut, n);
        assert_true(ag_error_code() == AG_ERR_FORMAT);
        assert_non_null(strstr(ag_last_error(), "ag_read_uvfits"));
        ag_clear_error();
    }
    /* byte flips: most in the header (2880-byte blocks: primary, AN, FQ), some in the groups */
    uint64_t rng = 0x9e3779b97f4a7c15u;
    unsigned char *buf = malloc((size_t)n);
    int nok = 0, nerr = 0;
    for (int trial = 0; trial < 120; trial++) {
        memcpy(buf, orig, (size_t)n);
        for (int k = 0; k < 4; k++) {
            tu_xorshift(&rng);
            size_t at = trial % 3 ? (size_t)(rng % 5760) : (size_t)(rng % (uint64_t)n);
            buf[at] ^= (unsigned char)(1u << (rng >> 40) % 8);
        }
        tu_write_file(path, buf, n);
        ag_vis *vis = ag_read_uvfits(path);
        if (vis) {
            nok++;
            assert_true(ag_numel(vis->u) > 0 && vis->nstations >= 2);
            ag_vis_free(vis);
        } else {
            nerr++;
            assert_non_null(strstr(ag_last_error(), "ag_read_uvfits"));
            ag_clear_error();
        }
    }
    print_message("byte flips: %d read, %d refused\n", nok, nerr);
    free(buf);
    free(orig);
    remove(path);
    remove(tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(reads_eht_low_band), TEST(reads_eht_high_band), TEST(eht_closure_counts), TEST(reads_rr_ll_ifs_flags), TEST(bad_files),
        TEST(fuzzed_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
