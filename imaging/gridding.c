/* imaging/gridding.c — MPoL's DataAverager and GriddedDataset: loose visibilities averaged into
 * the cells of a GridCoords grid (once, on the host: MPoL does it in NumPy), then kept on the
 * visibilities' device as packed cubes with the masked cells pre-indexed, so a model cube is
 * compared with the data by one differentiable gather (ag_take) per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "imaging/gridding.h"
#include "tensor/layer.h"

bool ag__grid_valid(const char *fn, const ag_grid_coords *gc) {
    if (!gc) return ag_set_error(AG_ERR_INVALID, "%s: grid coordinates are NULL", fn), false;
    if (gc->npix < 2 || gc->npix % 2 || !(gc->cell_size > 0) || !isfinite(gc->cell_size) || !(gc->du > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: grid coordinates not initialised (use ag_grid_coords_init)", fn), false;
    return true;
}

int64_t ag__grid_cell(const ag_grid_coords *gc, double u, double v) {
    int64_t n = gc->npix;
    if (!(u >= gc->u_bin_min && u < gc->u_bin_max && v >= gc->v_bin_min && v < gc->v_bin_max)) return -1;
    /* fast_histogram's arithmetic; a point just below the upper edge can round to n, which
     * fast_histogram 0.14 counts in the last bin */
    int64_t iu = (int64_t)((u - gc->u_bin_min) * ((double)n / (gc->u_bin_max - gc->u_bin_min)));
    int64_t iv = (int64_t)((v - gc->v_bin_min) * ((double)n / (gc->v_bin_max - gc->v_bin_min)));
    if (iu > n - 1) iu = n - 1;
    if (iv > n - 1) iv = n - 1;
    return iv * n + iu;
}

void ag__loose_free(ag__loose *l) {
    if (!l) return;
    free(l->u), free(l->v), free(l->w), free(l->d);
    memset(l, 0, sizeof *l);
}

/* MPoL's verify_no_hermitian_pairs on channel 0: the first min(5, nvis) points are each looked
 * for among all points at exactly (-u, -v) with exactly conjugate data */
static int64_t hermitian_pairs(const ag__loose *l) {
    int64_t found = 0, ntest = l->nvis < 5 ? l->nvis : 5;
    for (int64_t i = 0; i < ntest; i++)
        for (int64_t j = 0; j < l->nvis; j++)
            if (l->u[j] == -l->u[i] && l->v[j] == -l->v[i]) {
                if (l->d[i] == conj(l->d[j])) found++;
                break;
            }
    return found;
}

int ag__loose_read(const char *fn, const ag_grid_coords *gc, const ag_vis *vis, ag__loose *out) {
    memset(out, 0, sizeof *out);
    if (!ag__grid_valid(fn, gc)) return ag_error_code();
    if (!vis) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: vis is NULL", fn);
    ag_tensor *ts[4] = {vis->u, vis->v, vis->weight, vis->data};
    const char *nm[4] = {"u", "v", "weight", "data"};
    int64_t nc = vis->nchan, nv = vis->nvis, n = nc * nv;
    for (int i = 0; i < 4; i++) {
        if (!ts[i]) return ag_set_error(AG_ERR_INVALID, "%s: vis->%s is NULL", fn, nm[i]);
        if (ag_ndim(ts[i]) != 2 || ag_shape(ts[i])[0] != nc || ag_shape(ts[i])[1] != nv)
            return ag_set_error(AG_ERR_SHAPE, "%s: expected vis->%s of shape (nchan, nvis) = (%lld, %lld), given %s", fn,
                                nm[i], (long long)nc, (long long)nv, AG_SHP(ts[i]));
    }
    if (nc < 1 || nv < 1)
        return ag_set_error(AG_ERR_INVALID, "%s: expected at least one channel and one visibility, given (%lld, %lld)", fn,
                            (long long)nc, (long long)nv);
    size_t nb = (size_t)n;
    out->nchan = nc, out->nvis = nv;
    out->u = malloc(nb * sizeof *out->u), out->v = malloc(nb * sizeof *out->v);
    out->w = malloc(nb * sizeof *out->w), out->d = malloc(nb * sizeof *out->d);
    if (!out->u || !out->v || !out->w || !out->d) return ag__loose_free(out), ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (ag_copy_to_buffer(vis->u, out->u, AG_F64) < 0 || ag_copy_to_buffer(vis->v, out->v, AG_F64) < 0 ||
        ag_copy_to_buffer(vis->weight, out->w, AG_F64) < 0 || ag_copy_to_buffer(vis->data, out->d, AG_C128) < 0)
        return ag__loose_free(out), ag_error_code();
    double mu = 0, mv = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(out->u[i]) || !isfinite(out->v[i]) || !isfinite(creal(out->d[i])) || !isfinite(cimag(out->d[i])) ||
            !(out->w[i] > 0) || !isfinite(out->w[i])) {
            ag_set_error(AG_ERR_INVALID, "%s: expected finite u, v, data and weights finite and > 0, given u %g, v %g, "
                         "weight %g at (channel %lld, visibility %lld)", fn, out->u[i], out->v[i], out->w[i],
                         (long long)(i / nv), (long long)(i % nv));
            return ag__loose_free(out), ag_error_code();
        }
        mu = fmax(mu, fabs(out->u[i])), mv = fmax(mv, fabs(out->v[i]));
    }
    double m = fmax(mu, mv);
    if (m > gc->max_uv_grid_value) {
        /* as ag_grid_check_data_fit: du(npix/2 - 1/2) >= m  <=>  cell <= (npix/2 - 1/2) / (npix m) / arcsec */
        double fit = ((double)(gc->npix / 2) - 0.5) / ((double)gc->npix * m) / AG_ARCSEC;
        ag_set_error(AG_ERR_INVALID,
                     "%s: visibilities beyond the grid: max |u| = %.6g λ, max |v| = %.6g λ, but cell_size %.6g arcsec "
                     "with npix %lld reaches only %.6g λ; use cell_size <= %.6g arcsec",
                     fn, mu, mv, gc->cell_size, (long long)gc->npix, gc->max_uv_grid_value, fit);
        return ag__loose_free(out), ag_error_code();
    }
    int64_t pairs = hermitian_pairs(out);
    if (pairs) {
        ag_set_error(AG_ERR_INVALID, "%s: expected visibilities without their Hermitian pairs (-u, -v, conj V), given "
                     "%lld of the first %lld points of channel 0 with a pair; drop one of each pair", fn, (long long)pairs,
                     (long long)(nv < 5 ? nv : 5));
        return ag__loose_free(out), ag_error_code();
    }
    return 0;
}

/* ---- GriddedDataset ---- */

void ag_gridded_dataset_free(ag_gridded_dataset *ds) {
    if (!ds) return;
    ag__drop(ds->vis_gridded), ag__drop(ds->weight_gridded), ag__drop(ds->mask);
    ag__drop(ds->index), ag__drop(ds->vis_indexed), ag__drop(ds->weight_indexed);
    free(ds);
}

/* t is ours from here on: out of any scope */
static ag_tensor *own(ag_tensor *t) {
    if (t) ag__unscope(t);
    return t;
}

static int dataset_check(const char *fn, const ag_grid_coords *gc, ag_tensor *vis, ag_tensor *w, ag_tensor *mask) {
    if (!ag__grid_valid(fn, gc)) return ag_error_code();
    ag_tensor *ts[3] = {vis, w, mask};
    const char *nm[3] = {"vis_gridded", "weight_gridded", "mask"};
    for (int i = 0; i < 3; i++)
        if (!ts[i]) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: %s is NULL", fn, nm[i]);
    int64_t n = gc->npix;
    if (ag_ndim(vis) != 3 || ag_shape(vis)[1] != n || ag_shape(vis)[2] != n || ag_shape(vis)[0] < 1)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected vis_gridded of shape (nchan, %lld, %lld), given %s", fn, (long long)n,
                            (long long)n, AG_SHP(vis));
    for (int i = 1; i < 3; i++) {
        if (ag_ndim(ts[i]) != 3 || memcmp(ag_shape(ts[i]), ag_shape(vis), 3 * sizeof(int64_t)))
            return ag_set_error(AG_ERR_SHAPE, "%s: expected %s of vis_gridded's shape %s, given %s", fn, nm[i], AG_SHP(vis),
                                AG_SHP(ts[i]));
        if (!ag__same_device(fn, vis, ts[i])) return ag_error_code();
    }
    ag_dtype cd = ag_dtype_of(vis), rd = cd == AG_C128 ? AG_F64 : AG_F32;
    if (cd != AG_C128 && cd != AG_C64)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected complex (c64 or c128) vis_gridded, given %s", fn, ag_dtype_name(cd));
    if (ag_dtype_of(w) != rd)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected %s weight_gridded for %s vis_gridded, given %s", fn, ag_dtype_name(rd),
                            ag_dtype_name(cd), ag_dtype_name(ag_dtype_of(w)));
    if (ag_dtype_of(mask) != AG_BOOL)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a bool mask, given %s", fn, ag_dtype_name(ag_dtype_of(mask)));
    return 0;
}

ag_gridded_dataset *ag_gridded_dataset_new(const ag_grid_coords *gc, ag_tensor *vis_gridded, ag_tensor *weight_gridded,
                                           ag_tensor *mask) {
    const char *fn = "ag_gridded_dataset_new";
    ag_tensor *ts[3] = {vis_gridded, weight_gridded, mask};
    for (int i = 0; i < 3; i++) {
        if (!ts[i]) continue;
        ag__unscope(ts[i]);
        for (int j = 0; j < i; j++)
            if (ts[j] == ts[i]) { ag_retain(ts[i]); break; }
    }
    ag_gridded_dataset *ds = NULL;
    double *w = NULL;
    double complex *d = NULL;
    bool *m = NULL;
    int64_t *idx = NULL;
    if (ts[0] && ag_ndim(ts[0]) == 2) /* one channel */
        for (int i = 0; i < 3; i++) {
            ag_tensor *r = ts[i] && ag_ndim(ts[i]) == 2 ? own(ag_unsqueeze(ts[i], 0)) : ts[i];
            if (ts[i] && !r) goto fail;
            if (r != ts[i]) ag__drop(ts[i]), ts[i] = r;
        }
    if (dataset_check(fn, gc, ts[0], ts[1], ts[2]) < 0) goto fail;
    int64_t n = ag_numel(ts[0]);
    w = malloc((size_t)n * sizeof *w), d = malloc((size_t)n * sizeof *d);
    m = malloc((size_t)n * sizeof *m), idx = malloc((size_t)n * sizeof *idx);
    if (!w || !d || !m || !idx) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
    if (ag_copy_to_buffer(ts[0], d, AG_C128) < 0 || ag_copy_to_buffer(ts[1], w, AG_F64) < 0 ||
        ag_copy_to_buffer(ts[2], m, AG_BOOL) < 0)
        goto fail;
    int64_t nmask = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(w[i]) || w[i] < 0 || (m[i] && w[i] == 0) || !isfinite(creal(d[i])) || !isfinite(cimag(d[i]))) {
            ag_set_error(AG_ERR_INVALID, "%s: expected finite data and weights finite and >= 0 (> 0 in masked cells), given "
                         "weight %g, data %g%+gi, mask %d at flat cell %lld", fn, w[i], creal(d[i]), cimag(d[i]), (int)m[i],
                         (long long)i);
            goto fail;
        }
        if (m[i]) idx[nmask++] = i;
    }
    if (!(ds = calloc(1, sizeof *ds))) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
    ds->coords = *gc, ds->nchan = ag_shape(ts[0])[0], ds->nmask = nmask;
    ds->vis_gridded = ts[0], ds->weight_gridded = ts[1], ds->mask = ts[2];
    ts[0] = ts[1] = ts[2] = NULL;
    ds->index = own(ag_from_data_on(idx, AG_SHAPE(nmask), AG_I64, ag_device_of(ds->vis_gridded)));
    ag_tensor *fv = ag_reshape(ds->vis_gridded, AG_SHAPE(-1)), *fw = ag_reshape(ds->weight_gridded, AG_SHAPE(-1));
    ds->vis_indexed = own(ag_detach(ag_take(fv, ds->index)));
    ds->weight_indexed = own(ag_detach(ag_take(fw, ds->index)));
    ag_release(fv), ag_release(fw);
    if (!ds->index || !ds->vis_indexed || !ds->weight_indexed) { ag_gridded_dataset_free(ds), ds = NULL; goto fail; }
    free(w), free(d), free(m), free(idx);
    return ds;
fail:
    for (int i = 0; i < 3; i++) ag__drop(ts[i]);
    free(w), free(d), free(m), free(idx);
    return NULL;
}

int ag_gridded_dataset_to(ag_gridded_dataset *ds, ag_device dev) {
    if (!ds) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_gridded_dataset_to: ds is NULL");
    ag_tensor **slot[6] = {&ds->vis_gridded, &ds->weight_gridded, &ds->mask, &ds->index, &ds->vis_indexed, &ds->weight_indexed};
    ag_tensor *moved[6] = {0};
    for (int i = 0; i < 6; i++)
        if (!(moved[i] = own(ag_to(*slot[i], dev)))) {
            for (int j = 0; j < i; j++) ag__drop(moved[j]);
            return ag_error_code();
        }
    for (int i = 0; i < 6; i++) ag__drop(*slot[i]), *slot[i] = moved[i];
    return 0;
}

/* model_vis checked against ds: (nchan, npix, npix) complex of ds's precision on its device */
static bool model_ok(const char *fn, const ag_gridded_dataset *ds, ag_tensor *model) {
    if (!ds) return ag_failed() ? false : (ag_set_error(AG_ERR_INVALID, "%s: ds is NULL", fn), false);
    if (!model) return ag_failed() ? false : (ag_set_error(AG_ERR_INVALID, "%s: model_vis is NULL", fn), false);
    if (ag_ndim(model) != 3 || memcmp(ag_shape(model), ag_shape(ds->vis_gridded), 3 * sizeof(int64_t)))
        return ag_set_error(AG_ERR_SHAPE, "%s: expected model_vis of the dataset's shape %s (packed), given %s", fn,
                            AG_SHP(ds->vis_gridded), AG_SHP(model)), false;
    if (ag_dtype_of(model) != ag_dtype_of(ds->vis_gridded))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected %s model_vis (the dataset's dtype), given %s", fn,
                            ag_dtype_name(ag_dtype_of(ds->vis_gridded)), ag_dtype_name(ag_dtype_of(model))), false;
    return ag__same_device(fn, model, ds->vis_gridded);
}

ag_tensor *ag_gridded_dataset_forward(const ag_gridded_dataset *ds, ag_tensor *model_vis) {
    if (!model_ok("ag_gridded_dataset_forward", ds, model_vis)) return NULL;
    ag_scope_begin();
    ag_tensor *r = ag_keep(ag_take(ag_reshape(model_vis, AG_SHAPE(-1)), ds->index));
    ag_scope_end();
    return r;
}

ag_tensor *ag_gridded_dataset_nll(const ag_gridded_dataset *ds, ag_tensor *model_vis) {
    const char *fn = "ag_gridded_dataset_nll";
    if (!model_ok(fn, ds, model_vis)) return NULL;
    if (ds->nmask == 0) return ag_fail(AG_ERR_INVALID, "%s: the dataset has no masked cells", fn);
    ag_scope_begin();
    /* |r|² as re² + im²: abs would put a NaN slope at r = 0 */
    ag_tensor *r = ag_sub(ag_gridded_dataset_forward(ds, model_vis), ds->vis_indexed);
    ag_tensor *r2 = ag_add(ag_square(ag_real(r)), ag_square(ag_imag(r)));
    ag_tensor *chi2 = ag_sum(ag_mul(ds->weight_indexed, r2), AG_ALL_DIMS, false);
    ag_tensor *out = ag_keep(ag_mul_s(chi2, 1.0 / (2.0 * (double)ds->nmask)));
    ag_scope_end();
    return out;
}

ag_gridded_dataset *ag_gridded_dataset_masked(const ag_gridded_dataset *ds, ag_tensor *mask2d) {
    const char *fn = "ag_gridded_dataset_masked";
    if (!ds) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: ds is NULL", fn);
    if (!mask2d) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: mask2d is NULL", fn);
    int64_t n = ds->coords.npix;
    if (ag_dtype_of(mask2d) != AG_BOOL)
        return ag_fail(AG_ERR_DTYPE, "%s: expected a bool mask2d, given %s", fn, ag_dtype_name(ag_dtype_of(mask2d)));
    if (ag_ndim(mask2d) != 2 || ag_shape(mask2d)[0] != n || ag_shape(mask2d)[1] != n)
        return ag_fail(AG_ERR_SHAPE, "%s: expected mask2d of shape (%lld, %lld), packed, given %s", fn, (long long)n,
                       (long long)n, AG_SHP(mask2d));
    if (!ag__same_device(fn, mask2d, ds->mask)) return NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *m = ag_logical_and(ds->mask, mask2d), *off = ag_logical_not(m);
    ag_tensor *vis = ag_masked_fill(ds->vis_gridded, off, 0.0), *w = ag_masked_fill(ds->weight_gridded, off, 0.0);
    ag_no_grad_end();
    ag_gridded_dataset *out = ag_gridded_dataset_new(&ds->coords, vis, w, m);
    ag_scope_end();
    return out;
}

/* ---- DataAverager ---- */

ag_gridded_dataset *ag_data_average(const ag_grid_coords *gc, const ag_vis *vis, bool add_conjugates) {
    const char *fn = "ag_data_average";
    ag__loose l;
    if (ag__loose_read(fn, gc, vis, &l) < 0) return NULL;
    int64_t n = gc->npix, ncell = n * n, nc = l.nchan, nv = l.nvis, np = add_conjugates ? 2 * nv : nv;
    double *W = calloc((size_t)(nc * ncell), sizeof *W);
    double complex *S = calloc((size_t)(nc * ncell), sizeof *S);
    int64_t *hc = malloc((size_t)np * sizeof *hc);
    bool *M = malloc((size_t)(nc * ncell) * sizeof *M);
    double *Wp = malloc((size_t)(nc * ncell) * sizeof *Wp);
    double complex *Sp = malloc((size_t)(nc * ncell) * sizeof *Sp);
    ag_gridded_dataset *ds = NULL;
    if (!W || !S || !hc || !M || !Wp || !Sp) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto out; }
    for (int64_t c = 0; c < nc; c++) {
        double *Wc = W + c * ncell;
        double complex *Sc = S + c * ncell;
        const double *u = l.u + c * nv, *v = l.v + c * nv, *w = l.w + c * nv;
        const double complex *d = l.d + c * nv;
        for (int64_t k = 0; k < np; k++) {
            double s = k < nv ? 1.0 : -1.0, uk = s * u[k % nv], vk = s * v[k % nv];
            hc[k] = ag__grid_cell(gc, uk, vk);
            if (hc[k] >= 0) Wc[hc[k]] += w[k % nv];
        }
        for (int64_t k = 0; k < np; k++) {
            if (hc[k] < 0) continue;
            double complex dk = k < nv ? d[k] : conj(d[k - nv]);
            double dens = 1.0 / Wc[hc[k]]; /* MPoL's order: data · (1 / W) · w */
            Sc[hc[k]] += CMPLX(creal(dk) * dens * w[k % nv], cimag(dk) * dens * w[k % nv]);
        }
        for (int64_t g = 0; g < ncell; g++) {
            int64_t p = c * ncell + ag__ground_to_packed(n, g);
            Wp[p] = Wc[g], Sp[p] = Sc[g], M[p] = Wc[g] > 0;
        }
    }
    ag_device dev = ag_device_of(vis->data);
    bool f32 = ag_dtype_of(vis->data) == AG_C64;
    ag_scope_begin();
    ag_tensor *tv = ag_from_data_on(Sp, AG_SHAPE(nc, n, n), AG_C128, dev);
    ag_tensor *tw = ag_from_data_on(Wp, AG_SHAPE(nc, n, n), AG_F64, dev);
    ag_tensor *tm = ag_from_data_on(M, AG_SHAPE(nc, n, n), AG_BOOL, dev);
    if (f32) tv = ag_to_dtype(tv, AG_C64), tw = ag_to_dtype(tw, AG_F32);
    ds = ag_gridded_dataset_new(gc, tv, tw, tm);
    ag_scope_end();
out:
    ag__loose_free(&l);
    free(W), free(S), free(hc), free(M), free(Wp), free(Sp);
    return ds;
}
