/* imaging/dirty.c — MPoL's DirtyImager.get_dirty_image: dirty image, dirty beam and the beam area
 * out to the first null, from loose visibilities and their Hermitian conjugates. Runs once, on the
 * host in f64 as MPoL does in NumPy (the inverse FFTs through ag_ifftn on CPU tensors); the
 * outputs are then moved to vis's device and precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "imaging/gridding.h"
#include "tensor/layer.h"

#define PI 3.14159265358979323846

static ag_tensor *own(ag_tensor *t) {
    if (t) ag__unscope(t);
    return t;
}

/* MPoL's _null_dirty_beam + get_dirty_beam_area on the sky-layout beam B (nchan, n, n): area[c] */
static int beam_area(const char *fn, const ag_grid_coords *gc, const double *B, int64_t nc, int ntheta, bool per_channel,
                     double *area) {
    int64_t n = gc->npix, ncell = n * n, h = n / 2;
    double *nb = malloc((size_t)(nc * ncell) * sizeof *nb), *rr = malloc((size_t)ncell * sizeof *rr);
    double *th = malloc((size_t)ncell * sizeof *th);
    bool *neg = malloc((size_t)ncell * sizeof *neg);
    int rc = 0;
    if (!nb || !rr || !th || !neg) { rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto out; }
    memcpy(nb, B, (size_t)(nc * ncell) * sizeof *nb);
    /* MPoL's meshgrid of l_centers, m_centers (not flipped with the sky layout: its rule, kept) */
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) {
            double l = gc->dl * (double)(i - h), m = gc->dm * (double)(j - h);
            rr[j * n + i] = sqrt(l * l + m * m), th[j * n + i] = atan2(m, l) + PI;
        }
    double da = 2 * PI / ntheta;
    int64_t naz = (int64_t)ceil(2 * PI / da); /* np.arange(0, 2π, da) */
    for (int64_t c = 0; c < nc; c++) {
        double *b = nb + c * ncell;
        for (int64_t p = 0; p < ncell; p++) neg[p] = b[p] < 0;
        for (int64_t k = 0; k < naz; k++) {
            double a = (double)k * da, lo = a - 0.3 * da, hi = a + 1.3 * da, rmin = INFINITY;
            for (int64_t p = 0; p < ncell; p++)
                if (neg[p] && th[p] >= lo && th[p] <= hi && rr[p] < rmin) rmin = rr[p];
            if (rmin == INFINITY) {
                rc = ag_set_error(AG_ERR_INVALID, "%s: the dirty beam of channel %lld has no negative pixel in the wedge "
                                  "%.4g..%.4g rad (no first null: the grid is too small for the beam; use more pixels "
                                  "or a smaller cell)", fn, (long long)c, lo, hi);
                goto out;
            }
            for (int64_t p = 0; p < ncell; p++)
                if (rr[p] >= rmin && th[p] >= lo && th[p] <= hi) b[p] = 0;
        }
        if (!per_channel) { /* channel 0's zeros for every channel */
            for (int64_t p = 0; p < ncell; p++)
                if (b[p] == 0)
                    for (int64_t d = 1; d < nc; d++) nb[d * ncell + p] = 0;
            break;
        }
    }
    for (int64_t c = 0; c < nc; c++) {
        double s = 0;
        for (int64_t p = 0; p < ncell; p++) s += nb[c * ncell + p];
        area[c] = gc->cell_size * gc->cell_size * s;
    }
out:
    free(nb), free(rr), free(th), free(neg);
    return rc;
}

/* sky(npix² · ifft2(packed)) of a host (nc, n, n) c128 buffer, real part to out; MPoL's check
 * that the largest imaginary part stays below 1e-10 */
static int to_sky(const char *fn, const char *what, const double complex *packed, int64_t nc, int64_t n, double *out) {
    ag_scope_begin();
    /* the whole dirty imager is a one-off host computation, as MPoL's */
    ag_tensor *t = ag_from_data(packed, AG_SHAPE(nc, n, n), AG_C128); /* host */
    ag_tensor *s = ag_packed_to_sky(ag_mul_s(ag_ifftn(t, AG_DIMS(1, 2), AG_NORM_BACKWARD), (double)(n * n)));
    ag_tensor *re = ag_real(s), *im = ag_imag(s);
    int rc = 0;
    if (!re || !im || ag_copy_to_buffer(re, out, AG_F64) < 0) rc = ag_error_code();
    else {
        ag_tensor *mx = ag_amax(im, AG_ALL_DIMS, false);
        double m = mx ? ag_item(mx) : NAN;
        if (!mx) rc = ag_error_code();
        else if (m >= 1e-10)
            rc = ag_set_error(AG_ERR_INVALID, "%s: the dirty %s has imaginary parts up to %g (>= 1e-10; MPoL's check): "
                              "check the input visibilities", fn, what, m);
    }
    ag_scope_end();
    return rc;
}

int ag_dirty_image(const ag_grid_coords *gc, const ag_vis *vis, const ag_dirty_opts *opts, ag_tensor **image,
                   ag_tensor **beam, ag_tensor **beam_area_out) {
    const char *fn = "ag_dirty_image";
    ag_dirty_opts o = opts ? *opts : (ag_dirty_opts){0};
    if (o.weighting != AG_WEIGHT_UNIFORM && o.weighting != AG_WEIGHT_NATURAL && o.weighting != AG_WEIGHT_BRIGGS)
        return ag_set_error(AG_ERR_INVALID, "%s: unknown weighting %d (expected AG_WEIGHT_UNIFORM, _NATURAL or _BRIGGS)", fn,
                            (int)o.weighting);
    if (o.weighting == AG_WEIGHT_BRIGGS && !(o.robust >= -2 && o.robust <= 2))
        return ag_set_error(AG_ERR_INVALID, "%s: briggs weighting needs robust in [-2, 2], given %g", fn, o.robust);
    if (o.unit != AG_UNIT_JY_BEAM && o.unit != AG_UNIT_JY_ARCSEC2)
        return ag_set_error(AG_ERR_INVALID, "%s: unknown unit %d (expected AG_UNIT_JY_BEAM or AG_UNIT_JY_ARCSEC2)", fn,
                            (int)o.unit);
    if (!(o.taper_fwhm >= 0) || !isfinite(o.taper_fwhm))
        return ag_set_error(AG_ERR_INVALID, "%s: expected taper_fwhm finite and >= 0 arcsec (0: none), given %g", fn,
                            o.taper_fwhm);
    if (o.ntheta < 0) return ag_set_error(AG_ERR_INVALID, "%s: expected ntheta >= 1 (0: 24), given %d", fn, o.ntheta);
    int ntheta = o.ntheta ? o.ntheta : 24;
    ag__loose l;
    if (ag__loose_read(fn, gc, vis, &l) < 0) return ag_error_code();

    int64_t n = gc->npix, ncell = n * n, nc = l.nchan, nv = l.nvis, np = 2 * nv;
    double *W = calloc((size_t)ncell, sizeof *W), *Bg = calloc((size_t)ncell, sizeof *Bg);
    double complex *Vg = calloc((size_t)ncell, sizeof *Vg);
    double *wt = malloc((size_t)np * sizeof *wt);
    int64_t *hc = malloc((size_t)np * sizeof *hc);
    double complex *Pv = malloc((size_t)(nc * ncell) * sizeof *Pv), *Pb = malloc((size_t)(nc * ncell) * sizeof *Pb);
    double *img = malloc((size_t)(nc * ncell) * sizeof *img), *bm = malloc((size_t)(nc * ncell) * sizeof *bm);
    double *area = malloc((size_t)nc * sizeof *area);
    ag_tensor *ti = NULL, *tb = NULL, *ta = NULL;
    int rc = 0;
    if (!W || !Bg || !Vg || !wt || !hc || !Pv || !Pb || !img || !bm || !area) {
        rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        goto out;
    }
    double theta = o.taper_fwhm * AG_ARCSEC; /* rad */
    for (int64_t c = 0; c < nc; c++) {
        const double *u = l.u + c * nv, *v = l.v + c * nv, *w = l.w + c * nv;
        const double complex *d = l.d + c * nv;
        memset(W, 0, (size_t)ncell * sizeof *W), memset(Bg, 0, (size_t)ncell * sizeof *Bg);
        memset(Vg, 0, (size_t)ncell * sizeof *Vg);
        /* the points, then their conjugates (-u, -v, conj V, same weight), as MPoL's concatenate */
        double sumw = 0;
        for (int64_t k = 0; k < np; k++) {
            double s = k < nv ? 1.0 : -1.0, uk = s * u[k % nv], vk = s * v[k % nv];
            hc[k] = ag__grid_cell(gc, uk, vk);
            if (hc[k] >= 0) W[hc[k]] += w[k % nv];
            sumw += w[k % nv];
        }
        double fsq = 0;
        if (o.weighting == AG_WEIGHT_BRIGGS) {
            double s2 = 0;
            for (int64_t g = 0; g < ncell; g++) s2 += W[g] * W[g];
            double a = 5 * pow(10.0, -o.robust);
            fsq = a * a / (s2 / sumw);
        }
        /* taper · density · w per point, and C = 1 / Σ of it */
        double tot = 0;
        for (int64_t k = 0; k < np; k++) {
            double dens = 1.0;
            /* a point dropped on the upper outer edge has no cell (MPoL: IndexError): no density weight */
            if (o.weighting == AG_WEIGHT_UNIFORM) dens = hc[k] >= 0 ? 1.0 / W[hc[k]] : 0.0;
            else if (o.weighting == AG_WEIGHT_BRIGGS) dens = hc[k] >= 0 ? 1.0 / (1.0 + W[hc[k]] * fsq) : 0.0;
            double t = 1.0;
            if (theta > 0) {
                double q2 = u[k % nv] * u[k % nv] + v[k % nv] * v[k % nv];
                t = exp(-(PI * theta) * (PI * theta) * q2 / (4 * log(2.0)));
            }
            wt[k] = t * dens * w[k % nv];
            tot += wt[k];
        }
        double C = 1.0 / tot;
        for (int64_t k = 0; k < np; k++) {
            if (hc[k] < 0) continue;
            double complex dk = k < nv ? d[k] : conj(d[k - nv]);
            Vg[hc[k]] += CMPLX(creal(dk) * wt[k], cimag(dk) * wt[k]);
            Bg[hc[k]] += wt[k];
        }
        for (int64_t g = 0; g < ncell; g++) {
            int64_t p = c * ncell + ag__ground_to_packed(n, g);
            Pv[p] = C * Vg[g], Pb[p] = C * Bg[g];
        }
    }
    if ((rc = to_sky(fn, "image", Pv, nc, n, img)) < 0 || (rc = to_sky(fn, "beam", Pb, nc, n, bm)) < 0) goto out;
    bool need_area = beam_area_out || o.unit == AG_UNIT_JY_ARCSEC2;
    if (need_area && (rc = beam_area(fn, gc, bm, nc, ntheta, o.area_per_channel, area)) < 0) goto out;
    if (o.unit == AG_UNIT_JY_ARCSEC2)
        for (int64_t c = 0; c < nc; c++)
            for (int64_t p = 0; p < ncell; p++) img[c * ncell + p] /= area[c];

    ag_device dev = ag_device_of(vis->data);
    ag_dtype rd = ag_dtype_of(vis->data) == AG_C64 ? AG_F32 : AG_F64;
    ag_scope_begin();
    if (image) ti = own(ag_to_dtype(ag_from_data_on(img, AG_SHAPE(nc, n, n), AG_F64, dev), rd));
    if (beam) tb = own(ag_to_dtype(ag_from_data_on(bm, AG_SHAPE(nc, n, n), AG_F64, dev), rd));
    if (beam_area_out) ta = own(ag_to_dtype(ag_from_data_on(area, AG_SHAPE(nc), AG_F64, dev), rd));
    ag_scope_end();
    if ((image && !ti) || (beam && !tb) || (beam_area_out && !ta)) {
        rc = ag_error_code();
        ag__drop(ti), ag__drop(tb), ag__drop(ta);
        goto out;
    }
    if (image) *image = ti;
    if (beam) *beam = tb;
    if (beam_area_out) *beam_area_out = ta;
out:
    ag__loose_free(&l);
    free(W), free(Bg), free(Vg), free(wt), free(hc), free(Pv), free(Pb), free(img), free(bm), free(area);
    return rc;
}
