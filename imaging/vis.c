/* imaging/vis.c — loose visibility sets: the one type every reader returns and every gridder takes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"
#include "imaging/readers.h"

void ag_vis_free(ag_vis *vis) {
    if (!vis) return;
    ag_release(vis->u), ag_release(vis->v), ag_release(vis->data), ag_release(vis->weight);
    ag_release(vis->freq), ag_release(vis->time), ag_release(vis->ant1), ag_release(vis->ant2);
    ag_release(vis->sigma);
    free(vis->source), free(vis->date_obs);
    for (int i = 0; vis->stations && i < vis->nstations; i++) free(vis->stations[i]);
    free(vis->stations);
    free(vis);
}

/* every element of t satisfies the test (isfinite, or > 0), reduced on t's device */
static bool all_true(ag_tensor *t, bool positive) {
    ag_no_grad_begin();
    ag_tensor *z = positive ? ag_scalar_like(t, 0.0) : NULL;
    ag_tensor *f = positive ? ag_gt(t, z) : ag_isfinite(t);
    ag_tensor *a = ag_all(f, AG_ALL_DIMS, false);
    ag_no_grad_end();
    bool ok = a && ag_item(a) != 0;
    ag_release(z), ag_release(f), ag_release(a);
    return ok;
}

static int check(ag_tensor *u, ag_tensor *v, ag_tensor *data, ag_tensor *weight) {
    const char *fn = "ag_vis_new";
    ag_tensor *ts[4] = {u, v, data, weight};
    const char *nm[4] = {"u", "v", "data", "weight"};
    for (int i = 0; i < 4; i++)
        if (!ts[i]) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: %s is NULL", fn, nm[i]);
    for (int i = 0; i < 4; i++) {
        if (ag_ndim(ts[i]) != ag_ndim(u) || memcmp(ag_shape(ts[i]), ag_shape(u), (size_t)ag_ndim(u) * sizeof(int64_t)))
            return ag_set_error(AG_ERR_SHAPE, "%s: expected %s of u's shape %s, given %s", fn, nm[i], AG_SHP(u), AG_SHP(ts[i]));
        if (i && !ag__same_device(fn, u, ts[i])) return ag_error_code();
    }
    if (ag_ndim(u) != 1 && ag_ndim(u) != 2)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected tensors of shape (nvis) or (nchan, nvis), given %s", fn, AG_SHP(u));
    ag_dtype ru = ag_dtype_of(u);
    if (ru != AG_F32 && ru != AG_F64) return ag_set_error(AG_ERR_DTYPE, "%s: expected f32 or f64 u, given %s", fn, ag_dtype_name(ru));
    ag_dtype want_c = ru == AG_F64 ? AG_C128 : AG_C64;
    if (ag_dtype_of(v) != ru || ag_dtype_of(weight) != ru)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected v and weight of u's dtype %s, given %s and %s", fn, ag_dtype_name(ru),
                            ag_dtype_name(ag_dtype_of(v)), ag_dtype_name(ag_dtype_of(weight)));
    if (ag_dtype_of(data) != want_c)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected %s data for %s coordinates, given %s", fn, ag_dtype_name(want_c),
                            ag_dtype_name(ru), ag_dtype_name(ag_dtype_of(data)));
    for (int i = 0; i < 4; i++)
        if (!all_true(ts[i], false))
            return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: %s contains NaN or Inf", fn, nm[i]);
    if (!all_true(weight, true))
        return ag_failed() ? ag_error_code()
                           : ag_set_error(AG_ERR_INVALID, "%s: expected weights > 0 (drop flagged visibilities first), "
                                                          "given a zero or negative weight", fn);
    return 0;
}

ag_vis *ag_vis_new(ag_tensor *u, ag_tensor *v, ag_tensor *data, ag_tensor *weight) {
    ag_tensor *ts[4] = {u, v, data, weight};
    /* the references are ours from here on, whatever happens */
    for (int i = 0; i < 4; i++) {
        if (!ts[i]) continue;
        ag__unscope(ts[i]);
        for (int j = 0; j < i; j++)
            if (ts[j] == ts[i]) { ag_retain(ts[i]); break; } /* one tensor passed twice: one reference per slot */
    }
    ag_vis *vis = NULL;
    if (check(u, v, data, weight) < 0) goto fail;
    if (!(vis = calloc(1, sizeof *vis))) { ag_set_error(AG_ERR_NOMEM, "ag_vis_new: out of memory"); goto fail; }
    if (ag_ndim(u) == 1) {
        int64_t n = ag_shape(u)[0];
        for (int i = 0; i < 4; i++) {
            ag_tensor *r = ag_reshape(ts[i], AG_SHAPE(1, n));
            if (!r) goto fail;
            ag__unscope(r);
            ag__drop(ts[i]);
            ts[i] = r;
        }
    }
    vis->u = ts[0], vis->v = ts[1], vis->data = ts[2], vis->weight = ts[3];
    vis->nchan = ag_shape(ts[0])[0], vis->nvis = ag_shape(ts[0])[1];
    return vis;
fail:
    for (int i = 0; i < 4; i++) ag__drop(ts[i]);
    free(vis);
    return NULL;
}

ag_vis *ag__vis_from_samples(const char *fn, int64_t n, const double *u, const double *v, const double *d, double *w,
                             const double *t, const int64_t *a1, const int64_t *a2, char *const *stations, int nst,
                             double ref_freq) {
    int64_t shp[2] = {1, n};
    /* a reader makes host tensors: the caller moves them (ag_to) */
    ag_tensor *tu = ag_from_data(u, shp, 2, AG_F64), *tv = ag_from_data(v, shp, 2, AG_F64); /* host */
    ag_tensor *td = ag_from_data(d, shp, 2, AG_C128), *tw = ag_from_data(w, shp, 2, AG_F64); /* host */
    ag_vis *vis = ag_vis_new(tu, tv, td, tw);
    if (!vis) return NULL;
    for (int64_t i = 0; i < n; i++) w[i] = 1 / sqrt(w[i]);
    vis->sigma = ag_from_data(w, shp, 2, AG_F64); /* host */
    vis->time = ag_from_data(t, shp + 1, 1, AG_F64); /* host */
    vis->ant1 = ag_from_data(a1, shp + 1, 1, AG_I64), vis->ant2 = ag_from_data(a2, shp + 1, 1, AG_I64); /* host */
    vis->freq = ag_from_data(&ref_freq, shp, 1, AG_F64); /* host */
    ag_tensor *own[5] = {vis->sigma, vis->time, vis->ant1, vis->ant2, vis->freq};
    for (int i = 0; i < 5; i++) if (own[i]) ag__unscope(own[i]);
    vis->ref_freq = ref_freq;
    vis->stations = calloc((size_t)nst, sizeof *vis->stations), vis->nstations = nst;
    bool ok = vis->sigma && vis->time && vis->ant1 && vis->ant2 && vis->freq && (vis->stations || !nst);
    for (int s = 0; ok && s < nst; s++)
        if (!(vis->stations[s] = strdup(stations[s]))) ok = false;
    if (!ok) {
        if (!ag_failed()) ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        ag_vis_free(vis);
        return NULL;
    }
    return vis;
}
