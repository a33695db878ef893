/* nn/checkpoint.c — module (and optimizer) checkpoints in HDF5.
 *
 * Layout (schema 2; schema 1 had no checksums and is refused):
 *   /params/<dotted.name>    one dataset per parameter (the stored, unconstrained tensor)
 *   /buffers/<dotted.name>   one dataset per buffer
 *   /optim/<state name>      optimizer state entries ("0.exp_avg", ...); attributes optimizer, lr:
 *                            written and read by optim/checkpoint.c
 *   /meta                    attributes astrograd_version, schema_version, module (the tree)
 * How tensors become datasets, and the checksums that make a corrupt file fail to load: tensor/h5.c.
 *
 * Saving writes a temporary file next to the target, flushes and fsyncs it, then renames it over
 * the target (and fsyncs the directory: ag__write_file_atomic), so a crash leaves either the old
 * or the new file.
 * Loading reads and checks every expected entry first and only then copies, so a bad file
 * leaves the module and optimizer untouched. HDF5 is not thread-safe: one global mutex
 * serialises every call into it, and its own error printing is silenced (our messages say
 * what went wrong). */
#include "ag_config.h"

#include <stdlib.h>
#include <string.h>

#include "astrograd/nn.h"
#include "nn/internal.h"
#include "optim/checkpoint.h"
#include "tensor/h5.h"
#include "tensor/layer.h"

#ifndef AG_HAVE_HDF5

int ag_module_save(ag_module *m, const char *path, ag_optim *optim) {
    (void)m; (void)path; (void)optim;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_module_save: this build of astrograd has no HDF5 support "
                        "(reconfigure with -Dhdf5=enabled)");
}
int ag_module_load(ag_module *m, const char *path, ag_optim *optim) {
    (void)m; (void)path; (void)optim;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_module_load: this build of astrograd has no HDF5 support "
                        "(reconfigure with -Dhdf5=enabled)");
}

#else

#include <errno.h>
#include <unistd.h>

#define SCHEMA_VERSION 2

/* ---- save ------------------------------------------------------------------------------------- */

static int write_group(hid_t f, const char *group, ag_params p, const char *fn, const char *path) {
    hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ag_set_error(AG_ERR_IO, "%s: cannot create /%s in '%s'", fn, group, path);
    int rc = 0;
    for (int i = 0; i < p.n && !rc; i++) rc = ag__h5_write_tensor(g, group, p.names[i], p.t[i], fn, path);
    H5Gclose(g);
    return rc;
}

static int save_locked(ag_module *m, const char *path, ag_optim *o, const char *tmp) {
    const char *fn = "ag_module_save";
    hid_t f = ag__h5_create(fn, tmp);
    if (f < 0) return ag_error_code();
    int rc = write_group(f, "params", ag_module_params(m), fn, path);
    if (!rc) rc = write_group(f, "buffers", ag_module_buffers(m), fn, path);
    if (!rc && o) rc = ag__optim_h5_write(o, f, "optim", fn, path);
    if (!rc) {
        hid_t g = H5Gcreate2(f, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        char *tree = ag__module_repr(m);
        int schema = SCHEMA_VERSION;
        if (g < 0 || !tree || ag__h5_write_str_attr(g, "astrograd_version", ag_version()) < 0 ||
            ag__h5_write_num_attr(g, "schema_version", H5T_NATIVE_INT, &schema) < 0 ||
            ag__h5_write_str_attr(g, "module", tree) < 0)
            rc = ag_set_error(AG_ERR_IO, "%s: writing /meta to '%s' failed", fn, path);
        free(tree);
        if (g >= 0) H5Gclose(g);
    }
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = ag_set_error(AG_ERR_IO, "%s: flushing '%s' failed", fn, tmp);
    if (H5Fclose(f) < 0 && !rc) rc = ag_set_error(AG_ERR_IO, "%s: closing '%s' failed", fn, tmp);
    return rc;
}

typedef struct save_ctx { ag_module *m; const char *path; ag_optim *o; } save_ctx;

static int save_fill(void *p, const char *tmp) {
    save_ctx *c = p;
    ag__h5_enter();
    int rc = save_locked(c->m, c->path, c->o, tmp);
    ag__h5_leave();
    return rc;
}

int ag_module_save(ag_module *m, const char *path, ag_optim *o) {
    const char *fn = "ag_module_save";
    if (!m || !path) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, m ? "path" : "module");
    save_ctx c = {m, path, o};
    return ag__write_file_atomic(fn, path, save_fill, &c);
}

/* ---- load ------------------------------------------------------------------------------------- */

/* Read a whole group into out[n] (new tensors), after checking its entries. */
static int read_group(hid_t f, const char *group, const char *what, ag_params p, ag_tensor **out, const char *fn,
                      const char *path) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) {
        if (p.n == 0) return 0;
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' has no /%s group (not an astrograd checkpoint?)", fn, path, group);
    }
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return ag_set_error(AG_ERR_FORMAT, "%s: cannot open /%s in '%s'", fn, group, path);
    int rc = 0;
    for (int i = 0; i < p.n && !rc; i++) {
        out[i] = ag__h5_read_tensor(g, group, p.names[i], p.t[i], NULL, NULL, fn, path);
        if (!out[i]) rc = ag_error_code();
    }
    if (!rc) rc = ag__h5_check_entries(g, group, p.names, p.n, what, fn, path);
    H5Gclose(g);
    return rc;
}

static int read_meta(hid_t f, const char *fn, const char *path) {
    if (H5Aexists_by_name(f, "meta", "schema_version", H5P_DEFAULT) <= 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' is an HDF5 file but not an astrograd checkpoint (no /meta schema_version)", fn, path);
    int v = -1;
    if (ag__h5_read_num_attr(f, "meta", "schema_version", H5T_NATIVE_INT, &v) < 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: cannot read /meta in '%s': the file is corrupt or truncated", fn, path);
    if (v != SCHEMA_VERSION)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' has checkpoint schema %d; this astrograd (%s) reads schema %d", fn, path, v,
                            ag_version(), SCHEMA_VERSION);
    return 0;
}

static int load_locked(const char *path, ag_optim *o, ag_params params, ag_params bufs, ag_tensor **pv, ag_tensor **bv,
                       ag_optim_h5_read **ov) {
    const char *fn = "ag_module_load";
    hid_t f = ag__h5_open(fn, path);
    if (f < 0) return ag_error_code();
    int rc = read_meta(f, fn, path);
    if (!rc) rc = read_group(f, "params", "parameter", params, pv, fn, path);
    if (!rc) rc = read_group(f, "buffers", "buffer", bufs, bv, fn, path);
    if (!rc && o) rc = ag__optim_h5_read(o, f, "optim", fn, path, ov);
    ag__h5_close(f);
    return rc;
}

int ag_module_load(ag_module *m, const char *path, ag_optim *o) {
    const char *fn = "ag_module_load";
    if (!m || !path) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, m ? "path" : "module");
    if (access(path, R_OK) < 0) return ag_set_error(AG_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    ag_params params = ag_module_params(m), bufs = ag_module_buffers(m);
    ag_tensor **pv = calloc((size_t)params.n + 1, sizeof *pv), **bv = calloc((size_t)bufs.n + 1, sizeof *bv);
    ag_optim_h5_read *ov = NULL;
    int rc;
    if (!pv || !bv) {
        rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    } else {
        ag__h5_enter();
        rc = load_locked(path, o, params, bufs, pv, bv, &ov);
        ag__h5_leave();
    }
    if (!rc) {
        /* everything was read and checked: now copy (same dtypes and shapes, cannot fail) */
        ag_no_grad_begin();
        for (int i = 0; i < params.n && !rc; i++) rc = ag_copy_(params.t[i], pv[i]);
        for (int i = 0; i < bufs.n && !rc; i++) rc = ag_copy_(bufs.t[i], bv[i]);
        ag_no_grad_end();
        if (ov) {
            if (!rc) rc = ag__optim_h5_commit(o, ov);
            else ag__optim_h5_discard(o, ov);
        }
    }
    for (int i = 0; pv && i < params.n; i++) ag__drop(pv[i]);
    for (int i = 0; bv && i < bufs.n; i++) ag__drop(bv[i]);
    free(pv);
    free(bv);
    return rc;
}

#endif
