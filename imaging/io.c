/* imaging/io.c — loose visibility sets to and from HDF5 files. The tensor datasets go through
 * the checkpoint code's HDF5 helpers (tensor/h5.h: one lock, h5py's complex compound, checksums). */
#include "ag_config.h"

#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/h5.h"
#include "tensor/layer.h"

#ifndef AG_HAVE_HDF5
int ag_vis_write_hdf5(const ag_vis *vis, const char *path) {
    (void)vis, (void)path;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_vis_write_hdf5: this build has no HDF5");
}
ag_vis *ag_vis_read_hdf5(const char *path) {
    (void)path;
    return ag_fail(AG_ERR_NOTIMPL, "ag_vis_read_hdf5: this build has no HDF5");
}
#else

typedef struct {
    const ag_vis *vis;
    const char *path;
} write_ctx;

static int fill(void *p, const char *tmp) {
    const char *fn = "ag_vis_write_hdf5";
    write_ctx *c = p;
    ag__h5_enter();
    hid_t f = ag__h5_create(fn, tmp);
    int rc = f < 0 ? ag_error_code() : 0;
    const char *names[] = {"u", "v", "data", "weight", "freq"};
    ag_tensor *ts[] = {c->vis->u, c->vis->v, c->vis->data, c->vis->weight, c->vis->freq};
    for (int i = 0; rc == 0 && i < 5; i++)
        if (ts[i]) rc = ag__h5_write_tensor(f, "", names[i], ts[i], fn, c->path);
    if (rc == 0 && ag__h5_write_str_attr(f, "uv_units", "lambda") < 0)
        rc = ag_set_error(AG_ERR_IO, "%s: cannot write the uv_units attribute to '%s'", fn, c->path);
    ag__h5_close(f);
    ag__h5_leave();
    return rc;
}

int ag_vis_write_hdf5(const ag_vis *vis, const char *path) {
    const char *fn = "ag_vis_write_hdf5";
    if (!vis || !path) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, vis ? "path" : "vis");
    if (!vis->u || !vis->v || !vis->data || !vis->weight)
        return ag_set_error(AG_ERR_INVALID, "%s: expected a set from ag_vis_new (u, v, data, weight present)", fn);
    if (vis->freq && (ag_ndim(vis->freq) != 1 || ag_shape(vis->freq)[0] != vis->nchan))
        return ag_set_error(AG_ERR_SHAPE, "%s: expected freq of shape [%lld], given %s", fn, (long long)vis->nchan, AG_SHP(vis->freq));
    write_ctx c = {vis, path};
    return ag__h5_write_file_atomic_guard(fn), ag__write_file_atomic(fn, path, fill, &c);
}

static bool any_shape(void *ud, const int64_t *shape, int nd) {
    (void)ud, (void)shape;
    return nd == 1 || nd == 2;
}

/* dataset name as dtype dt with any 1-d/2-d shape (like == NULL) or like's shape */
static ag_tensor *read_as(hid_t f, const char *name, ag_dtype dt, ag_tensor *like, const char *path) {
    ag_tensor *l = like ? ag_empty_on(ag_shape(like), ag_ndim(like), dt, AG_CPU) /* host */ : ag_empty_on(NULL, 0, dt, AG_CPU); /* host */
    if (!l) return NULL;
    ag_tensor *r = ag__h5_read_tensor(f, "", name, l, like ? NULL : any_shape, NULL, "ag_vis_read_hdf5", path);
    ag_release(l);
    return r;
}

/* complex data: h5py's compound, or a real array with a last dimension of 2 (re, im) */
static ag_tensor *read_data(hid_t f, ag_tensor *u, const char *path) {
    ag_dtype rdt = ag_dtype_of(u), cdt = rdt == AG_F64 ? AG_C128 : AG_C64;
    ag_tensor *d = read_as(f, "data", cdt, u, path);
    if (d || ag_error_code() != AG_ERR_DTYPE) return d;
    char first[512];
    snprintf(first, sizeof first, "%s", ag_last_error());
    ag_clear_error();
    int64_t s2[3] = {0, 0, 2};
    memcpy(s2, ag_shape(u), (size_t)ag_ndim(u) * sizeof(int64_t));
    s2[ag_ndim(u)] = 2;
    ag_tensor *l = ag_empty_on(s2, ag_ndim(u) + 1, rdt, AG_CPU); /* host */
    ag_tensor *r = l ? ag__h5_read_tensor(f, "", "data", l, NULL, NULL, "ag_vis_read_hdf5", path) : NULL;
    ag_release(l);
    if (!r) {
        if (ag_error_code() == AG_ERR_DTYPE) {
            ag_clear_error();
            ag_set_error(AG_ERR_DTYPE, "%s (nor a real array of u's shape with a last dimension of 2)", first);
        }
        return NULL;
    }
    ag_tensor *c = ag_view_as_complex(r), *cc = c ? ag_contiguous(c) : NULL;
    ag_release(r), ag_release(c);
    return cc;
}

ag_vis *ag_vis_read_hdf5(const char *path) {
    const char *fn = "ag_vis_read_hdf5";
    if (!path) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: NULL path", fn);
    ag__h5_enter();
    hid_t f = ag__h5_open(fn, path);
    ag_tensor *u = NULL, *v = NULL, *d = NULL, *w = NULL, *freq = NULL;
    ag_vis *vis = NULL;
    if (f < 0) goto done;
    char units[32];
    if (ag__h5_read_str_attr(f, "/", "uv_units", units, sizeof units) == 0 && strcmp(units, "lambda")) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s' has uv_units '%s', expected 'lambda'", fn, path, units);
        goto done;
    }
    if (!(u = read_as(f, "u", AG_F64, NULL, path)) && ag_error_code() == AG_ERR_DTYPE) {
        ag_clear_error();
        u = read_as(f, "u", AG_F32, NULL, path);
    }
    if (!u || !(v = read_as(f, "v", ag_dtype_of(u), u, path)) || !(w = read_as(f, "weight", ag_dtype_of(u), u, path)) ||
        !(d = read_data(f, u, path)))
        goto done;
    if (H5Lexists(f, "freq", H5P_DEFAULT) > 0) {
        int64_t nchan = ag_ndim(u) == 2 ? ag_shape(u)[0] : 1;
        ag_tensor *l = ag_empty_on(&nchan, 1, AG_F64, AG_CPU); /* host */
        freq = l ? ag__h5_read_tensor(f, "", "freq", l, NULL, NULL, fn, path) : NULL;
        ag_release(l);
        if (!freq) goto done;
    }
    ag__h5_close(f), f = -1;
    ag__h5_leave();
    vis = ag_vis_new(u, v, d, w);
    u = v = d = w = NULL;
    if (vis) vis->freq = freq, freq = NULL;
    ag_release(freq);
    return vis;
done:
    ag__h5_close(f);
    ag__h5_leave();
    ag_release(u), ag_release(v), ag_release(d), ag_release(w), ag_release(freq);
    return NULL;
}
#endif
