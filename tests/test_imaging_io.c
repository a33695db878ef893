/* tests/test_imaging_io.c — imaging files: FITS images with their WCS (header keywords read
 * back with cfitsio itself), round trips, bad inputs leaving nothing written; PNG figures read back with cairo; colour maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo.h>
#include <stdlib.h>

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

/* src copied onto dev; on failure src is released and the test fails with ag_to's message, so
 * nothing leaks and no error stays pending */
static ag_tensor *to_device(ag_tensor *src, ag_device dev) {
    ag_tensor *d = ag_to(src, dev);
    if (!d) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        ag_clear_error();
        ag_release(src);
        fail_msg("ag_to onto the test device: %s", msg);
    }
    return d;
}

static void fits_on_device(void **state) {
    (void)state;
    ag_device dev = {AG_DEV_TEST, 0};
    if (!ag_device_available(dev)) { ag_clear_error(); skip(); }
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    ag_tensor *img = ramp(2, 8, AG_F64), *d = to_device(img, dev);
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


/* ---- figures ---- */

/* a thin ring (EHT-like) of radius r0 arcsec on the grid, f64 (npix, npix) SKY layout,
 * brighter north (×1.5 vs ×0.5 south) and east (×1.25 vs ×0.75 west) */
static ag_tensor *ring_image(const ag_grid_coords *gc, double r0, double width) {
    int64_t n = gc->npix;
    double *v = malloc((size_t)(n * n) * sizeof *v);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < n; c++) {
            double x = -(c - n / 2 + 1) * gc->cell_size, y = (r - n / 2) * gc->cell_size; /* east left */
            double d = sqrt(x * x + y * y) - r0;
            v[r * n + c] = exp(-0.5 * d * d / (width * width)) * (1 + 0.5 * y / r0 + 0.25 * x / r0);
        }
    ag_tensor *t = ag_from_data(v, AG_SHAPE(n, n), AG_F64);
    free(v);
    return t;
}

static void png_size(const char *p, int *w, int *h) {
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    unsigned char sig[8] = {0};
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    cairo_surface_t *s = cairo_image_surface_create_from_png(p);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    *w = cairo_image_surface_get_width(s), *h = cairo_image_surface_get_height(s);
    cairo_surface_destroy(s);
}

/* the 0..255 RGB of the PNG's pixel (x, y) */
static void png_pixel(const char *p, int x, int y, int rgb[3]) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(p);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    uint32_t v;
    memcpy(&v, cairo_image_surface_get_data(s) + y * cairo_image_surface_get_stride(s) + x * 4, 4);
    rgb[0] = (int)(v >> 16 & 255), rgb[1] = (int)(v >> 8 & 255), rgb[2] = (int)(v & 255);
    cairo_surface_destroy(s);
}

static void expect_cmap(const int got[3], ag_cmap cmap, double x, int tol) {
    double c[3];
    assert_int_equal(ag_cmap_rgb(cmap, x, c), 0);
    for (int k = 0; k < 3; k++)
        if (abs(got[k] - (int)(c[k] * 255 + 0.5)) > tol)
            fail_msg("channel %d: %d, colour map at %g gives %d", k, got[k], x, (int)(c[k] * 255 + 0.5));
}

static int lum(const int c[3]) { return c[0] + c[1] + c[2]; }

/* the EHT demo's figure: a 64 × 64 ring in µas with inferno, colour bar, ΔRA/ΔDec axes, the
 * ring measure as a circle overlay and a beam */
static const ag_figure_image_opts eht_opts = {
    .title = "M87* (simulated)", .cmap = AG_CMAP_INFERNO, .vmin = 0, .vmax = 1.6, .cbar_label = "Jy/pixel",
    .circle_r = 21e-6, .beam_maj = 20e-6, .beam_min = 12e-6, .beam_pa = 30};

static void figure_png(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 2e-6, 64), 0);
    ag_tensor *img = ring_image(&gc, 21e-6, 3e-6);
    ag_figure *fig = ag_figure_new(1, 1, 320);
    assert_non_null(fig);
    assert_int_equal(ag_figure_image(fig, 0, img, &gc, &eht_opts), 0);
    const char *p = tmp_path("eht.png");
    mode_t um = umask(022);
    assert_int_equal(ag_figure_write_png(fig, p), 0);
    umask(um);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* as fopen would create it, not mkstemp's 0600 */
    int w, h;
    png_size(p, &w, &h);
    assert_int_equal(w, 74 + 320 + 116), assert_int_equal(h, 34 + 320 + 54);
    ag_figure_free(fig);
    /* where sky offsets (arcsec) land: plot area at (74, 34), 320 px for img_ext, east left */
    const double *e = gc.img_ext;
#define FX(a) ((int)floor(74 + ((a) - e[0]) / (e[1] - e[0]) * 320))
#define FY(d) ((int)floor(34 + (e[3] - (d)) / (e[3] - e[2]) * 320))
    int c0[3], cn[3], cs[3], ce[3], cw[3], top[3], bot[3], ring[3];
    double r1 = 21e-6 + 0.4 * gc.cell_size; /* on the ring, off the overlay's line */
    png_pixel(p, FX(0), FY(0), c0);
    expect_cmap(c0, AG_CMAP_INFERNO, 0, 1); /* the dark centre */
    png_pixel(p, FX(0), FY(r1), cn), png_pixel(p, FX(0), FY(-r1), cs);
    png_pixel(p, FX(r1), FY(0), ce), png_pixel(p, FX(-r1), FY(0), cw);
    if (!(lum(cn) > lum(cs) + 100)) fail_msg("north (top) %d not brighter than south %d", lum(cn), lum(cs));
    if (!(lum(ce) > lum(cw) + 50)) fail_msg("east (left) %d not brighter than west %d", lum(ce), lum(cw));
    /* the dashed circle's first dash (6 px) starts at cairo's angle 0, the ring's west point,
     * and runs clockwise (down) */
    png_pixel(p, FX(-21e-6), FY(0) + 3, ring);
    if (!(ring[2] > 200 && ring[1] > 150 && ring[0] < 150)) fail_msg("no cyan overlay: %d %d %d", ring[0], ring[1], ring[2]);
    /* the colour bar: vmax at the top, vmin at the bottom (row i shows 1 - (i + 0.5) / 320) */
    png_pixel(p, 74 + 320 + 12 + 8, 34 + 1, top), png_pixel(p, 74 + 320 + 12 + 8, 34 + 318, bot);
    expect_cmap(top, AG_CMAP_INFERNO, 1 - 1.5 / 320, 1), expect_cmap(bot, AG_CMAP_INFERNO, 1 - 318.5 / 320, 1);
#undef FX
#undef FY

    /* the ALMA demo's layout: three panels in arcsec side by side, f32 and f64, fixed range */
    ag_grid_coords g2;
    assert_int_equal(ag_grid_coords_init(&g2, 0.02, 128), 0);
    ag_tensor *disk = ring_image(&g2, 0.5, 0.25), *d32 = ag_to_dtype(disk, AG_F32);
    fig = ag_figure_new(3, 1, 256);
    const char *titles[3] = {"truth", "dirty", "RML"};
    for (int k = 0; k < 3; k++) {
        ag_figure_image_opts q = {.title = titles[k], .cmap = (ag_cmap[]){AG_CMAP_VIRIDIS, AG_CMAP_INFERNO, AG_CMAP_AFMHOT}[k],
                                  .vmin = 0, .vmax = k ? 1.5 : 0,
                                  .cbar_label = "Jy/arcsec\xc2\xb2", .beam_maj = k ? 0.12 : 0, .beam_min = 0.08, .beam_pa = -20};
        assert_int_equal(ag_figure_image(fig, k, k == 1 ? d32 : disk, &g2, &q), 0);
    }
    const char *p2 = tmp_path("alma.png");
    assert_int_equal(ag_figure_write_png(fig, p2), 0);
    png_size(p2, &w, &h);
    assert_int_equal(w, 3 * (74 + 256 + 116)), assert_int_equal(h, 34 + 256 + 54);
    const char *keep = getenv("AG_KEEP_FIGURES"); /* a directory: copies to look at */
    if (keep) {
        char a[512];
        snprintf(a, sizeof a, "cp '%s' '%s' '%s'/", p, p2, keep);
        assert_int_equal(system(a), 0);
    }
    ag_figure_free(fig);
    ag_release(img), ag_release(disk), ag_release(d32);
}

static void figure_on_device(void **state) {
    (void)state;
    ag_device dev = {AG_DEV_TEST, 0};
    if (!ag_device_available(dev)) { ag_clear_error(); skip(); }
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 2e-6, 64), 0);
    ag_tensor *img = ring_image(&gc, 21e-6, 3e-6), *d = to_device(img, dev);
    ag_figure *a = ag_figure_new(2, 1, 128), *b = ag_figure_new(2, 1, 128);
    assert_int_equal(ag_figure_image(a, 0, img, &gc, &eht_opts), 0);
    assert_int_equal(ag_figure_image(b, 0, d, &gc, &eht_opts), 0);
    assert_int_equal(ag_figure_image(a, 1, img, &gc, NULL), 0); /* auto range: min/max of the host copy */
    assert_int_equal(ag_figure_image(b, 1, d, &gc, NULL), 0);
    const char *pa = tmp_path("host.png"), *pb = tmp_path("dev.png");
    assert_int_equal(ag_figure_write_png(a, pa), 0);
    assert_int_equal(ag_figure_write_png(b, pb), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", pa, pb);
    assert_int_equal(system(cmd), 0); /* same pixels from the device */
    ag_figure_free(a), ag_figure_free(b);
    ag_release(img), ag_release(d);
}

static void cmap_endpoints(void **state) {
    (void)state;
    double c[3];
    /* matplotlib's first and last table entries, and afmhot's formula at i / 255 */
    assert_int_equal(ag_cmap_rgb(AG_CMAP_INFERNO, 0, c), 0);
    assert_float_equal(c[0], 0.001462, 1e-6), assert_float_equal(c[1], 0.000466, 1e-6), assert_float_equal(c[2], 0.013866, 1e-6);
    ag_cmap_rgb(AG_CMAP_INFERNO, 1, c);
    assert_float_equal(c[0], 0.988362, 1e-6), assert_float_equal(c[1], 0.998364, 1e-6), assert_float_equal(c[2], 0.644924, 1e-6);
    ag_cmap_rgb(AG_CMAP_VIRIDIS, 0, c);
    assert_float_equal(c[0], 0.267004, 1e-6), assert_float_equal(c[1], 0.004874, 1e-6), assert_float_equal(c[2], 0.329415, 1e-6);
    ag_cmap_rgb(AG_CMAP_VIRIDIS, 2, c); /* clipped to 1 */
    assert_float_equal(c[0], 0.993248, 1e-6), assert_float_equal(c[1], 0.906157, 1e-6), assert_float_equal(c[2], 0.143936, 1e-6);
    ag_cmap_rgb(AG_CMAP_AFMHOT, 0.6, c);
    assert_float_equal(c[0], 1, 1e-12), assert_float_equal(c[1], 0.7, 1e-12), assert_float_equal(c[2], 0.2, 1e-12);
    ag_cmap_rgb(AG_CMAP_AFMHOT, 0, c);
    assert_float_equal(c[0] + c[1] + c[2], 0, 0);
    /* matplotlib's N = 256 lookup, entry floor(256 x) (values printed by matplotlib 3.11's
     * colormaps['inferno'](x) and colormaps['afmhot'](x)) */
    ag_cmap_rgb(AG_CMAP_INFERNO, 0.003, c); /* entry 0, where rounding 255 x would give 1 */
    assert_float_equal(c[0], 0.001462, 1e-6), assert_float_equal(c[1], 0.000466, 1e-6), assert_float_equal(c[2], 0.013866, 1e-6);
    ag_cmap_rgb(AG_CMAP_INFERNO, 0.5, c);
    assert_float_equal(c[0], 0.735683, 1e-6), assert_float_equal(c[1], 0.215906, 1e-6), assert_float_equal(c[2], 0.330245, 1e-6);
    ag_cmap_rgb(AG_CMAP_INFERNO, 0.25, c);
    assert_float_equal(c[0], 0.341500, 1e-6), assert_float_equal(c[1], 0.062325, 1e-6), assert_float_equal(c[2], 0.429425, 1e-6);
    ag_cmap_rgb(AG_CMAP_AFMHOT, 0.3, c);
    assert_float_equal(c[0], 0.596078431373, 1e-12), assert_float_equal(c[1], 0.096078431373, 1e-12), assert_float_equal(c[2], 0, 0);
    ag_cmap_rgb(AG_CMAP_AFMHOT, 0.77, c);
    assert_float_equal(c[0], 1, 0), assert_float_equal(c[1], 1, 0), assert_float_equal(c[2], 0.545098039216, 1e-12);
    assert_true(ag_cmap_rgb((ag_cmap)7, 0.5, c) < 0);
    assert_error(AG_ERR_INVALID, "ag_cmap_rgb", "given 7");
}

static void figure_bad_input(void **state) {
    (void)state;
    assert_null(ag_figure_new(0, 1, 256));
    assert_error(AG_ERR_INVALID, "ag_figure_new", "given 0 x 1, 256");
    assert_null(ag_figure_new(16, 1, 4096));
    assert_error(AG_ERR_INVALID, "ag_figure_new", "at most 32767 x 32767", "(68576 x 4184)");
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    ag_figure *fig = ag_figure_new(2, 1, 64);
    ag_tensor *v3 = ag_zeros(AG_SHAPE(2, 8, 8), AG_F64), *c = ag_zeros(AG_SHAPE(8, 8), AG_C128);
    ag_tensor *w = ag_zeros(AG_SHAPE(8, 10), AG_F64), *ok = ag_zeros(AG_SHAPE(8, 8), AG_F64);
    assert_true(ag_figure_image(fig, 0, v3, &gc, NULL) < 0);
    assert_error(AG_ERR_SHAPE, "ag_figure_image", "(8, 8)", "given [2,8,8]");
    assert_true(ag_figure_image(fig, 0, w, &gc, NULL) < 0);
    assert_error(AG_ERR_SHAPE, "ag_figure_image", "given [8,10]");
    assert_true(ag_figure_image(fig, 0, c, &gc, NULL) < 0);
    assert_error(AG_ERR_DTYPE, "ag_figure_image", "real f32 or f64", "c128");
    assert_true(ag_figure_image(fig, 2, ok, &gc, NULL) < 0);
    assert_error(AG_ERR_INVALID, "ag_figure_image", "panel 0..1", "given 2");
    ag_figure_image_opts o = {.vmin = 2, .vmax = 1};
    assert_true(ag_figure_image(fig, 0, ok, &gc, &o) < 0);
    assert_error(AG_ERR_INVALID, "ag_figure_image", "vmin <= vmax", "vmin 2 vmax 1");
    ag_grid_coords none = {0};
    assert_true(ag_figure_image(fig, 0, ok, &none, NULL) < 0);
    assert_error(AG_ERR_INVALID, "not initialised");
    assert_true(ag_figure_write_png(fig, "/nonexistent_dir/x.png") < 0);
    assert_error(ag_error_code(), "ag_figure_write_png", "/nonexistent_dir/x.png");
    assert_false(exists("/nonexistent_dir/x.png"));
    assert_true(ag_figure_write_png(NULL, tmp_path("n.png")) < 0);
    assert_error(AG_ERR_INVALID, "ag_figure_write_png", "NULL figure");
    assert_false(exists(tmp_path("n.png")));
    ag_figure_free(fig);
    ag_release(v3), ag_release(c), ag_release(w), ag_release(ok);
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
        TEST(figure_png), TEST(figure_on_device), TEST(cmap_endpoints), TEST(figure_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
