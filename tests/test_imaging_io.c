/* tests/test_imaging_io.c — imaging files: FITS images with their WCS (header keywords read
 * back with cfitsio itself), round trips, bad inputs leaving nothing written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#ifdef AG_TEST_CFITSIO
#include <fitsio.h>
#endif

static char tmpdir[] = "/tmp/ag_imaging_io_XXXXXX";

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static bool exists(const char *p) { return access(p, F_OK) == 0; }

/* a sky cube whose every value tells its (channel, row, column) */
static ag_tensor *ramp(int64_t nchan, int64_t npix, ag_dtype dt) {
    ag_tensor *a = ag_arange(0, (double)(nchan * npix * npix), 1, AG_F64);
    ag_tensor *b = ag_reshape(a, AG_SHAPE(nchan, npix, npix));
    ag_tensor *s = ag_mul_s(b, 0.25), *c = ag_to_dtype(s, dt);
    ag_release(a), ag_release(b), ag_release(s);
    return c;
}

static void assert_same(ag_tensor *got, ag_tensor *want) {
    assert_non_null(got);
    assert_int_equal(ag_ndim(got), ag_ndim(want));
    assert_memory_equal(ag_shape(got), ag_shape(want), (size_t)ag_ndim(got) * sizeof(int64_t));
    int64_t n = ag_numel(want);
    double *g = malloc((size_t)n * 8), *w = malloc((size_t)n * 8);
    assert_int_equal(ag_copy_to_buffer(got, g, AG_F64), 0);
    assert_int_equal(ag_copy_to_buffer(want, w, AG_F64), 0);
    for (int64_t i = 0; i < n; i++)
        if (g[i] != w[i]) fail_msg("element %lld: %.17g, want %.17g", (long long)i, g[i], w[i]);
    free(g), free(w);
}

#ifdef AG_TEST_CFITSIO
static void key_str(fitsfile *f, const char *k, const char *want) {
    char v[FLEN_VALUE];
    int st = 0;
    if (fits_read_key(f, TSTRING, k, v, NULL, &st)) fail_msg("%s missing", k);
    if (strcmp(v, want)) fail_msg("%s = '%s', want '%s'", k, v, want);
}
static void key_num(fitsfile *f, const char *k, double want) {
    double v;
    int st = 0;
    if (fits_read_key(f, TDOUBLE, k, &v, NULL, &st)) fail_msg("%s missing", k);
    if (fabs(v - want) > 1e-12 * fabs(want)) fail_msg("%s = %.17g, want %.17g", k, v, want);
}
static bool has_key(fitsfile *f, const char *k) {
    char card[FLEN_CARD];
    int st = 0;
    return fits_read_card(f, k, card, &st) == 0;
}
#endif

static void fits_header_wcs(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.005, 8), 0);
    ag_tensor *img = ramp(3, 8, AG_F64);
    ag_fits_meta m = {.ra_deg = 187.70593, .dec_deg = 12.391123, .freq_hz = 230e9, .dfreq_hz = 2e9,
                      .bmaj = 0.02, .bmin = 0.015, .bpa = 33.0, .date_obs = "2017-04-11", .object = "M87",
                      .bunit = "Jy/arcsec2"};
    const char *p = tmp_path("cube.fits");
    assert_int_equal(ag_image_write_fits(img, &gc, &m, p), 0);
#ifdef AG_TEST_CFITSIO
    fitsfile *f;
    int st = 0, naxis, bitpix;
    long nax[3];
    assert_int_equal(fits_open_image(&f, p, READONLY, &st), 0);
    assert_int_equal(fits_get_img_param(f, 3, &bitpix, &naxis, nax, &st), 0);
    assert_int_equal(bitpix, DOUBLE_IMG);
    assert_int_equal(naxis, 3);
    assert_true(nax[0] == 8 && nax[1] == 8 && nax[2] == 3);
    key_str(f, "CTYPE1", "RA---SIN"), key_str(f, "CTYPE2", "DEC--SIN"), key_str(f, "CTYPE3", "FREQ");
    key_str(f, "CUNIT1", "deg"), key_str(f, "CUNIT2", "deg"), key_str(f, "CUNIT3", "Hz");
    key_num(f, "CDELT1", -0.005 / 3600), key_num(f, "CDELT2", 0.005 / 3600);
    /* the sky origin: row npix/2 = 4, column npix/2 - 1 = 3 zero-based */
    key_num(f, "CRPIX1", 4), key_num(f, "CRPIX2", 5);
    key_num(f, "CRVAL1", 187.70593), key_num(f, "CRVAL2", 12.391123);
    key_num(f, "CRVAL3", 230e9), key_num(f, "CDELT3", 2e9), key_num(f, "CRPIX3", 1);
    key_num(f, "EQUINOX", 2000), key_str(f, "RADESYS", "ICRS");
    key_str(f, "BUNIT", "Jy/arcsec2"), key_str(f, "DATE-OBS", "2017-04-11"), key_str(f, "OBJECT", "M87");
    key_num(f, "BMAJ", 0.02 / 3600), key_num(f, "BMIN", 0.015 / 3600), key_num(f, "BPA", 33);
    /* FITS pixel (x, y) 1-based = sky layout [row y-1][column x-1]: first axis fastest, row 0 south */
    double px;
    int anynul;
    long fp[3] = {2, 7, 3}; /* column 1, row 6, channel 2 */
    assert_int_equal(fits_read_pix(f, TDOUBLE, fp, 1, NULL, &px, &anynul, &st), 0);
    assert_true(px == 0.25 * (2 * 64 + 6 * 8 + 1));
    fits_close_file(f, &st);
#endif
    ag_grid_coords g2;
    ag_fits_meta m2;
    ag_tensor *back = ag_image_read_fits(p, &g2, &m2);
    assert_same(back, img);
    assert_true(g2.npix == 8 && fabs(g2.cell_size - 0.005) < 1e-15 && fabs(g2.du - gc.du) < 1e-9 * gc.du);
    assert_true(m2.ra_deg == m.ra_deg && m2.dec_deg == m.dec_deg && m2.freq_hz == m.freq_hz && m2.dfreq_hz == m.dfreq_hz);
    assert_true(fabs(m2.bmaj - 0.02) < 1e-15 && fabs(m2.bmin - 0.015) < 1e-15 && m2.bpa == 33);
    assert_string_equal(m2.object, "M87"), assert_string_equal(m2.bunit, "Jy/arcsec2");
    assert_string_equal(m2.date_obs, "2017-04-11");
    ag_release(img), ag_release(back);
}

static void fits_image_2d(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 1.5e-6, 16), 0);
    ag_tensor *c = ramp(1, 16, AG_F32), *img = ag_reshape(c, AG_SHAPE(16, 16));
    const char *p = tmp_path("img.fits");
    assert_int_equal(ag_image_write_fits(img, &gc, NULL, p), 0); /* no meta: no FREQ axis, no optional keys */
#ifdef AG_TEST_CFITSIO
    fitsfile *f;
    int st = 0, naxis, bitpix;
    long nax[3];
    assert_int_equal(fits_open_image(&f, p, READONLY, &st), 0);
    assert_int_equal(fits_get_img_param(f, 3, &bitpix, &naxis, nax, &st), 0);
    assert_int_equal(bitpix, FLOAT_IMG);
    assert_int_equal(naxis, 2);
    key_num(f, "CRPIX1", 8), key_num(f, "CRPIX2", 9);
    assert_false(has_key(f, "BMAJ") || has_key(f, "BUNIT") || has_key(f, "CTYPE3"));
    fits_close_file(f, &st);
#endif
    ag_grid_coords g2;
    ag_tensor *back = ag_image_read_fits(p, &g2, NULL);
    assert_same(back, img);
    assert_true(g2.npix == 16);
    ag_release(back);
    /* one plane with a frequency: a 3-d file with NAXIS3 = 1 */
    ag_fits_meta m = {.freq_hz = 1e11};
    assert_int_equal(ag_image_write_fits(img, &gc, &m, p), 0);
    back = ag_image_read_fits(p, &g2, NULL);
    assert_non_null(back);
    assert_shape(back, 1, 16, 16);
    ag_release(c), ag_release(img), ag_release(back);
}

static void fits_on_device(void **state) {
    (void)state;
    ag_device dev = {AG_DEV_TEST, 0};
    if (!ag_device_available(dev)) { ag_clear_error(); skip(); }
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    ag_tensor *img = ramp(2, 8, AG_F64), *d = ag_to(img, dev);
    const char *p = tmp_path("dev.fits");
    assert_int_equal(ag_image_write_fits(d, &gc, NULL, p), 0);
    ag_grid_coords g2;
    ag_tensor *back = ag_image_read_fits(p, &g2, NULL);
    assert_same(back, img);
    ag_release(img), ag_release(d), ag_release(back);
}

static void fits_bad_input(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    const char *p = tmp_path("bad.fits");
    ag_tensor *v1 = ag_zeros(AG_SHAPE(8), AG_F64), *c = ag_zeros(AG_SHAPE(8, 8), AG_C128);
    ag_tensor *w = ag_zeros(AG_SHAPE(8, 10), AG_F64), *ok = ag_zeros(AG_SHAPE(8, 8), AG_F64);
    assert_true(ag_image_write_fits(v1, &gc, NULL, p) < 0);
    assert_error(AG_ERR_SHAPE, "ag_image_write_fits", "(8, 8) or (nchan, 8, 8)", "given [8]");
    assert_true(ag_image_write_fits(w, &gc, NULL, p) < 0);
    assert_error(AG_ERR_SHAPE, "ag_image_write_fits", "given [8,10]");
    assert_true(ag_image_write_fits(c, &gc, NULL, p) < 0);
    assert_error(AG_ERR_DTYPE, "ag_image_write_fits", "real f32 or f64", "c128");
    ag_fits_meta m = {.dec_deg = 95};
    assert_true(ag_image_write_fits(ok, &gc, &m, p) < 0);
    assert_error(AG_ERR_INVALID, "ag_image_write_fits", "|dec_deg| <= 90", "dec 95");
    ag_grid_coords none = {0};
    assert_true(ag_image_write_fits(ok, &none, NULL, p) < 0);
    assert_error(AG_ERR_INVALID, "not initialised");
    assert_true(ag_image_write_fits(NULL, &gc, NULL, p) < 0);
    assert_error(AG_ERR_INVALID, "NULL image");
    assert_false(exists(p));
    assert_true(ag_image_write_fits(ok, &gc, NULL, "/nonexistent_dir/x.fits") < 0);
    assert_error(ag_error_code(), "ag_image_write_fits", "/nonexistent_dir/x.fits");
    assert_false(exists("/nonexistent_dir/x.fits"));

    ag_grid_coords g2;
    assert_null(ag_image_read_fits(tmp_path("missing.fits"), &g2, NULL));
    assert_error(AG_ERR_IO, "ag_image_read_fits", "missing.fits");
    FILE *f = fopen(tmp_path("junk.fits"), "wb");
    fputs("SIMPLE  = not really a FITS file", f);
    fclose(f);
    assert_null(ag_image_read_fits(tmp_path("junk.fits"), &g2, NULL));
    assert_error(ag_error_code(), "ag_image_read_fits", "junk.fits");
#ifdef AG_TEST_CFITSIO
    /* a valid FITS image with another projection: refused, naming the keyword */
    fitsfile *ff;
    int st = 0;
    long nax[2] = {8, 8};
    char name[300];
    snprintf(name, sizeof name, "!%s", tmp_path("tan.fits"));
    fits_create_file(&ff, name, &st);
    fits_create_img(ff, DOUBLE_IMG, 2, nax, &st);
    fits_write_key(ff, TSTRING, "CTYPE1", "RA---TAN", NULL, &st);
    fits_write_key(ff, TSTRING, "CTYPE2", "DEC--TAN", NULL, &st);
    fits_close_file(ff, &st);
    assert_int_equal(st, 0);
    assert_null(ag_image_read_fits(tmp_path("tan.fits"), &g2, NULL));
    assert_error(AG_ERR_FORMAT, "ag_image_read_fits", "tan.fits", "CTYPE1 'RA---SIN'", "RA---TAN");
#endif
    ag_release(v1), ag_release(c), ag_release(w), ag_release(ok);
}

static int setup(void **state) {
    (void)state;
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
        TEST(fits_header_wcs), TEST(fits_image_2d), TEST(fits_on_device), TEST(fits_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
