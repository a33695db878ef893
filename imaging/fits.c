/* imaging/fits.c — sky images to and from FITS with a celestial WCS (cfitsio), so a radio
 * astronomer opens them in ds9 or CARTA with the RA/Dec axes right. */
#include "ag_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#ifndef AG_HAVE_CFITSIO
int ag_image_write_fits(ag_tensor *image, const ag_grid_coords *gc, const ag_fits_meta *meta, const char *path) {
    (void)image, (void)gc, (void)meta, (void)path;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_image_write_fits: this build has no cfitsio");
}
ag_tensor *ag_image_read_fits(const char *path, ag_grid_coords *gc, ag_fits_meta *meta) {
    (void)path, (void)gc, (void)meta;
    return ag_fail(AG_ERR_NOTIMPL, "ag_image_read_fits: this build has no cfitsio");
}
#else
#include <fitsio.h>

static int fits_error(const char *fn, const char *path, const char *what, int status) {
    char text[FLEN_STATUS] = "";
    fits_get_errstatus(status, text);
    return ag_set_error(AG_ERR_IO, "%s: '%s': %s failed (cfitsio: %s)", fn, path, what, text);
}

typedef struct {
    const ag_grid_coords *gc;
    const ag_fits_meta *meta;
    const void *pix;
    bool f64;
    int naxis;
    long naxes[3];
    const char *path;
} write_ctx;

static int fill(void *p, const char *tmp) {
    const char *fn = "ag_image_write_fits";
    write_ctx *c = p;
    const ag_fits_meta *m = c->meta;
    fitsfile *f = NULL;
    int st = 0;
    char name[4096];
    snprintf(name, sizeof name, "!%s", tmp); /* '!': cfitsio overwrites the temporary */
    if (fits_create_file(&f, name, &st)) return fits_error(fn, c->path, "creating the file", st);
    double h = (double)(c->gc->npix / 2), cell = c->gc->cell_size / 3600.0;
    double crpix1 = h, crpix2 = h + 1, cdelt1 = -cell, cdelt2 = cell, equinox = 2000.0, one = 1.0;
    double ra = m ? m->ra_deg : 0, dec = m ? m->dec_deg : 0;
    fits_create_img(f, c->f64 ? DOUBLE_IMG : FLOAT_IMG, c->naxis, c->naxes, &st);
    fits_write_key(f, TSTRING, "CTYPE1", "RA---SIN", "right ascension, orthographic", &st);
    fits_write_key(f, TDOUBLE, "CRVAL1", &ra, "[deg] phase centre", &st);
    fits_write_key(f, TDOUBLE, "CDELT1", &cdelt1, "[deg] RA increases to the left", &st);
    fits_write_key(f, TDOUBLE, "CRPIX1", &crpix1, "sky origin", &st);
    fits_write_key(f, TSTRING, "CUNIT1", "deg", NULL, &st);
    fits_write_key(f, TSTRING, "CTYPE2", "DEC--SIN", "declination, orthographic", &st);
    fits_write_key(f, TDOUBLE, "CRVAL2", &dec, "[deg] phase centre", &st);
    fits_write_key(f, TDOUBLE, "CDELT2", &cdelt2, "[deg]", &st);
    fits_write_key(f, TDOUBLE, "CRPIX2", &crpix2, "sky origin", &st);
    fits_write_key(f, TSTRING, "CUNIT2", "deg", NULL, &st);
    if (c->naxis == 3) {
        double df = m->dfreq_hz != 0 ? m->dfreq_hz : 1.0;
        fits_write_key(f, TSTRING, "CTYPE3", "FREQ", NULL, &st);
        fits_write_key(f, TDOUBLE, "CRVAL3", (double *)&m->freq_hz, "[Hz] channel 0", &st);
        fits_write_key(f, TDOUBLE, "CDELT3", &df, "[Hz]", &st);
        fits_write_key(f, TDOUBLE, "CRPIX3", &one, NULL, &st);
        fits_write_key(f, TSTRING, "CUNIT3", "Hz", NULL, &st);
        fits_write_key(f, TSTRING, "SPECSYS", "TOPOCENT", NULL, &st);
    }
    fits_write_key(f, TDOUBLE, "EQUINOX", &equinox, NULL, &st);
    fits_write_key(f, TSTRING, "RADESYS", "ICRS", NULL, &st);
    if (m && m->bunit[0]) fits_write_key(f, TSTRING, "BUNIT", (char *)m->bunit, NULL, &st);
    if (m && m->date_obs[0]) fits_write_key(f, TSTRING, "DATE-OBS", (char *)m->date_obs, NULL, &st);
    if (m && m->object[0]) fits_write_key(f, TSTRING, "OBJECT", (char *)m->object, NULL, &st);
    if (m && m->bmaj > 0) {
        double bmaj = m->bmaj / 3600.0, bmin = m->bmin / 3600.0;
        fits_write_key(f, TDOUBLE, "BMAJ", &bmaj, "[deg] beam FWHM", &st);
        fits_write_key(f, TDOUBLE, "BMIN", &bmin, "[deg] beam FWHM", &st);
        fits_write_key(f, TDOUBLE, "BPA", (double *)&m->bpa, "[deg] beam position angle", &st);
    }
    fits_write_key(f, TSTRING, "ORIGIN", "astrograd", NULL, &st);
    LONGLONG n = (LONGLONG)c->naxes[0] * c->naxes[1] * c->naxes[2];
    fits_write_img(f, c->f64 ? TDOUBLE : TFLOAT, 1, n, (void *)c->pix, &st);
    int wst = st;
    st = 0;
    fits_close_file(f, &st);
    if (wst || st) return fits_error(fn, c->path, "writing the header and data", wst ? wst : st);
    return 0;
}

int ag_image_write_fits(ag_tensor *image, const ag_grid_coords *gc, const ag_fits_meta *meta, const char *path) {
    const char *fn = "ag_image_write_fits";
    if (!image || !gc || !path)
        return ag_failed() ? ag_error_code()
                           : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, !image ? "image" : !gc ? "grid coords" : "path");
    if (gc->npix < 2 || !(gc->cell_size > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: grid coords not initialised (ag_grid_coords_init)", fn);
    ag_dtype dt = ag_dtype_of(image);
    if (dt != AG_F32 && dt != AG_F64)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a real f32 or f64 image, given %s", fn, ag_dtype_name(dt));
    int nd = ag_ndim(image);
    const int64_t *s = ag_shape(image);
    if ((nd != 2 && nd != 3) || s[nd - 1] != gc->npix || s[nd - 2] != gc->npix || (nd == 3 && s[0] < 1))
        return ag_set_error(AG_ERR_SHAPE, "%s: expected an image of shape (%lld, %lld) or (nchan, %lld, %lld) for the grid, given %s",
                            fn, (long long)gc->npix, (long long)gc->npix, (long long)gc->npix, (long long)gc->npix, AG_SHP(image));
    if (meta && (!isfinite(meta->ra_deg) || !(fabs(meta->dec_deg) <= 90) || !isfinite(meta->freq_hz) || meta->freq_hz < 0 ||
                 !isfinite(meta->dfreq_hz) || !(meta->bmaj >= 0) || !(meta->bmin >= 0) || !isfinite(meta->bpa) || !isfinite(meta->bmaj)))
        return ag_set_error(AG_ERR_INVALID, "%s: expected finite meta with |dec_deg| <= 90, freq_hz >= 0, bmaj/bmin >= 0; "
                            "given ra %g dec %g freq %g dfreq %g beam %g %g %g", fn, meta->ra_deg, meta->dec_deg, meta->freq_hz,
                            meta->dfreq_hz, meta->bmaj, meta->bmin, meta->bpa);
    if (meta && (!memchr(meta->date_obs, 0, 72) || !memchr(meta->object, 0, 72) || !memchr(meta->bunit, 0, 72)))
        return ag_set_error(AG_ERR_INVALID, "%s: expected NUL-terminated meta strings (< 72 chars)", fn);
    static const ag_fits_meta none = {0};
    write_ctx c = {gc, meta ? meta : &none, NULL, dt == AG_F64, 2, {(long)gc->npix, (long)gc->npix, 1}, path};
    if (nd == 3 || (meta && meta->freq_hz > 0)) c.naxis = 3, c.naxes[2] = nd == 3 ? (long)s[0] : 1;
    size_t bytes = (size_t)ag_numel(image) * (dt == AG_F64 ? 8 : 4);
    void *pix = malloc(bytes);
    if (!pix) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, bytes);
    int rc = ag_copy_to_buffer(image, pix, dt); /* from any device: a file write, not an op */
    c.pix = pix;
    if (rc == 0) rc = ag__write_file_atomic(fn, path, fill, &c);
    free(pix);
    return rc;
}

static void read_str(fitsfile *f, const char *key, char *out) {
    int st = 0;
    char v[FLEN_VALUE] = "";
    out[0] = 0;
    if (!fits_read_key(f, TSTRING, key, v, NULL, &st)) snprintf(out, 72, "%s", v);
}
static double read_num(fitsfile *f, const char *key, double dflt) {
    int st = 0;
    double v = dflt;
    if (fits_read_key(f, TDOUBLE, key, &v, NULL, &st)) v = dflt;
    return v;
}

ag_tensor *ag_image_read_fits(const char *path, ag_grid_coords *gc, ag_fits_meta *meta) {
    const char *fn = "ag_image_read_fits";
    if (!path || !gc) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: NULL %s", fn, path ? "grid coords" : "path");
    fitsfile *f = NULL;
    int st = 0, naxis = 0, bitpix = 0;
    long naxes[3] = {0, 0, 1};
    if (fits_open_image(&f, path, READONLY, &st)) {
        fits_error(fn, path, "opening", st);
        return NULL;
    }
    ag_tensor *out = NULL;
    if (fits_get_img_param(f, 3, &bitpix, &naxis, naxes, &st)) { fits_error(fn, path, "reading the image size", st); goto done; }
    char c1[72], c2[72];
    read_str(f, "CTYPE1", c1), read_str(f, "CTYPE2", c2);
    double cd1 = read_num(f, "CDELT1", NAN), cd2 = read_num(f, "CDELT2", NAN);
    double p1 = read_num(f, "CRPIX1", NAN), p2 = read_num(f, "CRPIX2", NAN);
    long npix = naxes[0];
    if (naxis != 2 && naxis != 3) { ag_set_error(AG_ERR_FORMAT, "%s: '%s': expected NAXIS 2 or 3, given %d", fn, path, naxis); goto done; }
    if (naxes[1] != npix || npix < 2 || npix % 2) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': expected a square image of even size, given NAXIS1 %ld NAXIS2 %ld", fn, path, npix, naxes[1]);
        goto done;
    }
    if (strcmp(c1, "RA---SIN") || strcmp(c2, "DEC--SIN")) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': expected CTYPE1 'RA---SIN' and CTYPE2 'DEC--SIN', given '%s' and '%s'", fn, path, c1, c2);
        goto done;
    }
    if (!(cd2 > 0) || fabs(cd1 + cd2) > 1e-9 * cd2) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': expected CDELT1 = -CDELT2 < 0, given CDELT1 %g CDELT2 %g", fn, path, cd1, cd2);
        goto done;
    }
    if (p1 != (double)(npix / 2) || p2 != (double)(npix / 2 + 1)) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': expected CRPIX1 %ld CRPIX2 %ld (the sky origin; no resampling), given %g %g", fn, path,
                     npix / 2, npix / 2 + 1, p1, p2);
        goto done;
    }
    ag_grid_coords g;
    if (ag_grid_coords_init(&g, cd2 * 3600.0, npix) < 0) goto done;
    int64_t shp[3] = {naxes[2], npix, npix};
    ag_tensor *t = ag_empty_on(naxis == 3 ? shp : shp + 1, naxis, AG_F64, AG_CPU); /* host */ /* a file read lands on the host, as ag_from_data */
    if (!t) goto done;
    int anynul = 0;
    if (fits_read_img(f, TDOUBLE, 1, (LONGLONG)ag_numel(t), NULL, ag_data(t), &anynul, &st)) {
        fits_error(fn, path, "reading the data", st);
        ag_release(t);
        goto done;
    }
    *gc = g;
    if (meta) {
        *meta = (ag_fits_meta){0};
        meta->ra_deg = read_num(f, "CRVAL1", 0), meta->dec_deg = read_num(f, "CRVAL2", 0);
        if (naxis == 3) meta->freq_hz = read_num(f, "CRVAL3", 0), meta->dfreq_hz = read_num(f, "CDELT3", 0);
        meta->bmaj = read_num(f, "BMAJ", 0) * 3600.0, meta->bmin = read_num(f, "BMIN", 0) * 3600.0;
        meta->bpa = read_num(f, "BPA", 0);
        read_str(f, "DATE-OBS", meta->date_obs), read_str(f, "OBJECT", meta->object), read_str(f, "BUNIT", meta->bunit);
    }
    out = t;
done:
    st = 0;
    fits_close_file(f, &st);
    return out;
}
#endif
