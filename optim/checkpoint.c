/* optim/checkpoint.c — saving and loading an optimizer's state inside a checkpoint file (see
 * optim/checkpoint.h); nn/checkpoint.c owns the file, the module's part and atomicity. */
#include "ag_config.h"

#ifdef AG_HAVE_HDF5

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/checkpoint.h"
#include "optim/optim_internal.h"

int ag__optim_h5_write(ag_optim *o, hid_t f, const char *group, const char *fn, const char *path) {
    hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ag_set_error(AG_ERR_IO, "%s: cannot create /%s in '%s'", fn, group, path);
    int rc = 0, n = ag_optim_num_state(o);
    for (int i = 0; i < n && !rc; i++) {
        const char *name = NULL;
        ag_tensor *t = ag_optim_state_at(o, i, &name);
        rc = t ? ag__h5_write_tensor(g, group, name, t, fn, path) : ag_error_code();
    }
    if (!rc && (ag__h5_write_str_attr(g, "optimizer", o->vt->name) < 0 ||
                ag__h5_write_num_attr(g, "lr", H5T_NATIVE_DOUBLE, &o->lr) < 0))
        rc = ag_set_error(AG_ERR_IO, "%s: writing the optimizer attributes to '%s' failed", fn, path);
    H5Gclose(g);
    return rc;
}

struct ag_optim_h5_read {
    int n;
    ag_tensor **values;  /* one per state entry, in enumeration order */
    double lr;
    bool created;        /* the read gave a fresh optimizer its initial state */
};

/* A saved entry may have another shape than the current one where the optimizer's load hook
 * takes it (L-BFGS: a history of another length); checked here, so the commit cannot fail on it. */
typedef struct shape_ctx { ag_optim *o; int pi, k; } shape_ctx;

static bool vt_accepts(void *ud, const int64_t *shape, int ndim) {
    shape_ctx *c = ud;
    return c->o->vt->load_shape_ok && c->o->vt->load_shape_ok(c->o, c->pi, c->k, shape, ndim);
}

void ag__optim_h5_discard(ag_optim *o, ag_optim_h5_read *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) ag__drop(r->values[i]);
    if (r->created) ag__optim_clear_state(o);
    free(r->values);
    free(r);
}

int ag__optim_h5_read(ag_optim *o, hid_t f, const char *group, const char *fn, const char *path, ag_optim_h5_read **out) {
    *out = NULL;
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' has no optimizer state (it was saved without an optimizer)", fn, path);
    ag_optim_h5_read *r = calloc(1, sizeof *r);
    if (!r) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    char name[64];
    int rc = 0;
    if (ag__h5_read_str_attr(f, group, "optimizer", name, sizeof name) < 0 ||
        ag__h5_read_num_attr(f, group, "lr", H5T_NATIVE_DOUBLE, &r->lr) < 0)
        rc = ag_set_error(AG_ERR_FORMAT, "%s: cannot read the optimizer attributes in '%s'", fn, path);
    else if (strcmp(name, o->vt->name))
        rc = ag_set_error(AG_ERR_INVALID, "%s: '%s' holds %s state, the optimizer given is %s", fn, path, name, o->vt->name);
    else if (!(r->lr >= 0) || isinf(r->lr))
        rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s' holds an invalid learning rate %g", fn, path, r->lr);
    hid_t g = -1;
    H5G_info_t info = {0};
    if (!rc) {
        g = H5Gopen2(f, group, H5P_DEFAULT);
        if (g < 0 || H5Gget_info(g, &info) < 0) rc = ag_set_error(AG_ERR_FORMAT, "%s: cannot open /%s in '%s'", fn, group, path);
    }
    /* a fresh optimizer has no state yet: create it (as a first step would) to load into */
    if (!rc && info.nlinks > 0 && ag_optim_num_state(o) == 0) {
        rc = o->vt->init_state(o);
        r->created = !rc;
    }
    int n = rc ? 0 : ag_optim_num_state(o);
    const char **names = NULL;
    if (n > 0) {
        r->values = calloc((size_t)n, sizeof *r->values);
        names = calloc((size_t)n, sizeof *names);
        if (!r->values || !names) rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        else r->n = n;
    }
    /* the order of ag_optim_state_at: parameters with state, then keys */
    for (int pi = 0, i = 0; pi < o->params.n && i < r->n && !rc; pi++) {
        if (!o->slots[pi].has_state) continue;
        for (int k = 0; k < o->nkeys && !rc; k++, i++) {
            names[i] = o->slots[pi].names[k];
            shape_ctx sc = {o, pi, k};
            r->values[i] = ag__h5_read_tensor(g, group, names[i], o->slots[pi].st[k], vt_accepts, &sc, fn, path);
            if (!r->values[i]) rc = ag_error_code();
        }
    }
    if (!rc && info.nlinks > 0) rc = ag__h5_check_entries(g, group, names, r->n, "state", fn, path);
    free(names);
    if (g >= 0) H5Gclose(g);
    if (rc) ag__optim_h5_discard(o, r);
    else *out = r;
    return rc;
}

int ag__optim_h5_commit(ag_optim *o, ag_optim_h5_read *r) {
    int rc = 0;
    for (int i = 0; i < r->n && !rc; i++) rc = ag_optim_load_state_at(o, i, r->values[i]);
    if (!rc) rc = ag_optim_set_lr(o, r->lr);
    r->created = r->created && rc;  /* keep the state that was loaded */
    ag__optim_h5_discard(o, r);
    return rc;
}

#endif
