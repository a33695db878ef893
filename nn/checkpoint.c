/* nn/checkpoint.c — module (and optimizer) checkpoints in HDF5.
 *
 * Layout (schema 1):
 *   /params/<dotted.name>    one dataset per parameter (the stored, unconstrained tensor)
 *   /buffers/<dotted.name>   one dataset per buffer
 *   /optim/<state name>      optimizer state entries ("0.exp_avg", ...); attributes optimizer, lr
 *   /meta                    attributes astrograd_version, schema_version, module (the tree)
 * dtypes: f32/f64 IEEE little-endian, i64, bool as h5py's enum(int8){FALSE, TRUE}, complex as
 * h5py's compound {r, i}; 0-d tensors as scalar dataspaces. So h5py reads every entry as the
 * matching numpy array.
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
#include "astrograd/optim.h"
#include "nn/internal.h"
#include "tensor/internal.h"

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
#include <hdf5.h>
#include <pthread.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

static void h5_enter(void) {
    pthread_mutex_lock(&h5_lock);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void h5_leave(void) { pthread_mutex_unlock(&h5_lock); }

/* memory/file type of a dtype (close with H5Tclose) */
static hid_t h5_type(ag_dtype dt) {
    switch (dt) {
    case AG_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case AG_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case AG_I64: return H5Tcopy(H5T_STD_I64LE);
    case AG_BOOL: {
        hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
        int8_t f = 0, v = 1;
        H5Tenum_insert(t, "FALSE", &f);
        H5Tenum_insert(t, "TRUE", &v);
        return t;
    }
    case AG_C64: case AG_C128: {
        size_t s = dt == AG_C64 ? 4 : 8;
        hid_t t = H5Tcreate(H5T_COMPOUND, 2 * s);
        H5Tinsert(t, "r", 0, s == 4 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE);
        H5Tinsert(t, "i", s, s == 4 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE);
        return t;
    }
    default: return -1;
    }
}

/* the ag dtype an HDF5 dataset type corresponds to, or -1 */
static int dtype_of_h5(hid_t t) {
    H5T_class_t c = H5Tget_class(t);
    size_t s = H5Tget_size(t);
    if (c == H5T_FLOAT) return s == 4 ? AG_F32 : s == 8 ? AG_F64 : -1;
    if (c == H5T_INTEGER) return s == 8 && H5Tget_sign(t) == H5T_SGN_2 ? AG_I64 : -1;
    if (c == H5T_ENUM) return s == 1 ? AG_BOOL : -1;
    if (c == H5T_COMPOUND && H5Tget_nmembers(t) == 2) {
        hid_t m0 = H5Tget_member_type(t, 0);
        H5T_class_t c0 = H5Tget_class(m0);
        size_t s0 = H5Tget_size(m0);
        H5Tclose(m0);
        if (c0 == H5T_FLOAT && s == 2 * s0) return s0 == 4 ? AG_C64 : s0 == 8 ? AG_C128 : -1;
    }
    return -1;
}

/* ---- save ------------------------------------------------------------------------------------- */

static int write_string_attr(hid_t obj, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    size_t len = strlen(value);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, len ? value : "");
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc < 0 ? -1 : 0;
}

static int write_num_attr(hid_t obj, const char *name, hid_t type, const void *value) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

static int write_tensor(hid_t g, const char *group, const char *name, ag_tensor *t, const char *path) {
    const char *fn = "ag_module_save";
    ag_scope_begin();
    ag_tensor *c = ag_contiguous(ag_detach(ag_to(t, AG_CPU)));
    int rc = 0;
    if (!c) rc = ag_error_code();
    hid_t type = c ? h5_type(ag_dtype_of(c)) : -1;
    if (!rc && type < 0) rc = ag_set_error(AG_ERR_DTYPE, "%s: /%s/%s has dtype %s, which checkpoints do not store", fn, group, name,
                                           ag_dtype_name(ag_dtype_of(c)));
    if (!rc) {
        hsize_t dims[AG_MAX_DIMS];
        int nd = ag_ndim(c);
        for (int i = 0; i < nd; i++) dims[i] = (hsize_t)ag_shape(c)[i];
        hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
        hid_t d = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || (ag_numel(c) && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ag_data(c)) < 0))
            rc = ag_set_error(AG_ERR_IO, "%s: writing /%s/%s to '%s' failed", fn, group, name, path);
        if (d >= 0) H5Dclose(d);
        H5Sclose(sp);
    }
    if (type >= 0) H5Tclose(type);
    ag_scope_end();
    return rc;
}

static int write_group(hid_t f, const char *group, ag_params p, const char *path) {
    hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ag_set_error(AG_ERR_IO, "ag_module_save: cannot create /%s in '%s'", group, path);
    int rc = 0;
    for (int i = 0; i < p.n && !rc; i++) rc = write_tensor(g, group, p.names[i], p.t[i], path);
    H5Gclose(g);
    return rc;
}

static int save_locked(ag_module *m, const char *path, ag_optim *o, const char *tmp) {
    const char *fn = "ag_module_save";
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return ag_set_error(AG_ERR_IO, "%s: cannot create '%s' (HDF5 refused the temporary file)", fn, tmp);
    ag_params params = ag_module_params(m), bufs = ag_module_buffers(m);
    int rc = write_group(f, "params", params, path);
    if (!rc) rc = write_group(f, "buffers", bufs, path);
    if (!rc && o) {
        int n = ag_optim_num_state(o);
        hid_t g = n < 0 ? -1 : H5Gcreate2(f, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (n < 0) rc = ag_error_code();
        else if (g < 0) rc = ag_set_error(AG_ERR_IO, "%s: cannot create /optim in '%s'", fn, path);
        for (int i = 0; i < n && !rc; i++) {
            const char *name = NULL;
            ag_tensor *t = ag_optim_state_at(o, i, &name);
            rc = t ? write_tensor(g, "optim", name, t, path) : ag_error_code();
        }
        double lr = ag_optim_get_lr(o);
        if (!rc && (write_string_attr(g, "optimizer", ag_optim_name(o)) < 0 || write_num_attr(g, "lr", H5T_NATIVE_DOUBLE, &lr) < 0))
            rc = ag_set_error(AG_ERR_IO, "%s: writing the optimizer attributes to '%s' failed", fn, path);
        if (g >= 0) H5Gclose(g);
    }
    if (!rc) {
        hid_t g = H5Gcreate2(f, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        char *tree = ag__module_repr(m);
        int schema = SCHEMA_VERSION;
        if (g < 0 || !tree || write_string_attr(g, "astrograd_version", ag_version()) < 0 ||
            write_num_attr(g, "schema_version", H5T_NATIVE_INT, &schema) < 0 || write_string_attr(g, "module", tree) < 0)
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
    h5_enter();
    int rc = save_locked(c->m, c->path, c->o, tmp);
    h5_leave();
    return rc;
}

int ag_module_save(ag_module *m, const char *path, ag_optim *o) {
    const char *fn = "ag_module_save";
    if (!m || !path) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, m ? "path" : "module");
    save_ctx c = {m, path, o};
    return ag__write_file_atomic(fn, path, save_fill, &c);
}

/* ---- load ------------------------------------------------------------------------------------- */

/* Read /group/name, checking it against `like` (dtype and shape). New tensor or NULL (error set). */
static ag_tensor *read_tensor(hid_t g, const char *group, const char *name, ag_tensor *like, const char *path) {
    const char *fn = "ag_module_load";
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return ag_fail(AG_ERR_FORMAT, "%s: /%s/%s is missing from '%s'", fn, group, name, path);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return ag_fail(AG_ERR_FORMAT, "%s: /%s/%s in '%s' is not a dataset (or the file is corrupt)", fn, group, name, path);
    ag_tensor *r = NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    int dt = ft >= 0 ? dtype_of_h5(ft) : -1;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[AG_MAX_DIMS];
    int64_t shape[AG_MAX_DIMS];
    if (ft < 0 || sp < 0 || nd < 0) {
        ag_set_error(AG_ERR_FORMAT, "%s: cannot read /%s/%s in '%s': the file is corrupt or truncated", fn, group, name, path);
    } else if (dt != (int)ag_dtype_of(like)) {
        ag_set_error(AG_ERR_DTYPE, "%s: /%s/%s has dtype %s, expected %s", fn, group, name,
                     dt < 0 ? "(not one astrograd stores)" : ag_dtype_name((ag_dtype)dt), ag_dtype_name(ag_dtype_of(like)));
    } else if (nd > AG_MAX_DIMS) {
        ag_set_error(AG_ERR_SHAPE, "%s: /%s/%s has %d dims, expected %s", fn, group, name, nd, AG_SHP(like));
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
        if (nd != ag_ndim(like) || memcmp(shape, ag_shape(like), (size_t)nd * sizeof *shape)) {
            char buf[AG_SHAPE_BUF];
            ag_set_error(AG_ERR_SHAPE, "%s: /%s/%s has shape %s, expected %s", fn, group, name,
                         ag_shape_str(shape, nd, buf, sizeof buf), AG_SHP(like));
        } else {
            r = ag__new(shape, nd, ag_dtype_of(like), AG_CPU, fn);
            hid_t mt = r ? h5_type(ag_dtype_of(like)) : -1;
            if (r && (mt < 0 || (ag_numel(r) && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ag_data(r)) < 0))) {
                ag_set_error(AG_ERR_FORMAT, "%s: cannot read /%s/%s in '%s': the file is corrupt or truncated", fn, group, name, path);
                ag__drop(r);
                r = NULL;
            }
            if (mt >= 0) H5Tclose(mt);
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return r;
}

/* Every link in /group must be one of the expected names. */
static int check_unexpected(hid_t g, const char *group, const char *const *names, int n, const char *path) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: cannot list /%s in '%s': the file is corrupt or truncated", "ag_module_load", group, path);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[512];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (len < 0) return ag_set_error(AG_ERR_FORMAT, "ag_module_load: cannot list /%s in '%s'", group, path);
        bool found = false;
        for (int k = 0; k < n && !found; k++) found = !strcmp(names[k], name);
        if (!found)
            return ag_set_error(AG_ERR_FORMAT, "ag_module_load: '%s' has an unexpected entry /%s/%s (the module has no such %s)",
                                path, group, name, !strcmp(group, "params") ? "parameter" : !strcmp(group, "buffers") ? "buffer" : "state");
    }
    return 0;
}

/* Read a whole group into out[n] (new tensors), after checking its entries. */
static int read_group(hid_t f, const char *group, ag_params p, ag_tensor **out, const char *path) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) {
        if (p.n == 0) return 0;
        return ag_set_error(AG_ERR_FORMAT, "ag_module_load: '%s' has no /%s group (not an astrograd checkpoint?)", path, group);
    }
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return ag_set_error(AG_ERR_FORMAT, "ag_module_load: cannot open /%s in '%s'", group, path);
    int rc = 0;
    for (int i = 0; i < p.n && !rc; i++) {
        out[i] = read_tensor(g, group, p.names[i], p.t[i], path);
        if (!out[i]) rc = ag_error_code();
    }
    if (!rc) rc = check_unexpected(g, group, p.names, p.n, path);
    H5Gclose(g);
    return rc;
}

static int read_meta(hid_t f, const char *path) {
    const char *fn = "ag_module_load";
    if (H5Aexists_by_name(f, "meta", "schema_version", H5P_DEFAULT) <= 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' is an HDF5 file but not an astrograd checkpoint (no /meta schema_version)", fn, path);
    hid_t a = H5Aopen_by_name(f, "meta", "schema_version", H5P_DEFAULT, H5P_DEFAULT);
    int v = -1;
    herr_t rc = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_INT, &v);
    if (a >= 0) H5Aclose(a);
    if (rc < 0) return ag_set_error(AG_ERR_FORMAT, "%s: cannot read /meta in '%s': the file is corrupt or truncated", fn, path);
    if (v != SCHEMA_VERSION)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' has checkpoint schema %d; this astrograd (%s) reads schema %d", fn, path, v,
                            ag_version(), SCHEMA_VERSION);
    return 0;
}

static int read_optim_attrs(hid_t f, ag_optim *o, const char *path, double *lr) {
    const char *fn = "ag_module_load";
    if (H5Lexists(f, "optim", H5P_DEFAULT) <= 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s' has no optimizer state (it was saved without an optimizer)", fn, path);
    char name[64] = {0};
    hid_t a = H5Aopen_by_name(f, "optim", "optimizer", H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    size_t sz = t >= 0 ? H5Tget_size(t) : 0;
    herr_t rc = -1;
    if (t >= 0 && sz < sizeof name) rc = H5Aread(a, t, name);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    hid_t b = rc >= 0 ? H5Aopen_by_name(f, "optim", "lr", H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (b >= 0) { rc = H5Aread(b, H5T_NATIVE_DOUBLE, lr); H5Aclose(b); }
    else rc = -1;
    if (rc < 0) return ag_set_error(AG_ERR_FORMAT, "%s: cannot read the optimizer attributes in '%s'", fn, path);
    if (strcmp(name, ag_optim_name(o)))
        return ag_set_error(AG_ERR_INVALID, "%s: '%s' holds %s state, the optimizer given is %s", fn, path, name, ag_optim_name(o));
    return 0;
}

static int load_locked(ag_module *m, const char *path, ag_optim *o, ag_params params, ag_params bufs,
                       ag_tensor **pv, ag_tensor **bv, ag_tensor ***ov, int *n_opt, double *lr) {
    const char *fn = "ag_module_load";
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) return ag_set_error(AG_ERR_FORMAT, "%s: '%s' is not an HDF5 file", fn, path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return ag_set_error(AG_ERR_FORMAT, "%s: '%s' is corrupt or truncated (HDF5 cannot open it)", fn, path);
    int rc = read_meta(f, path);
    if (!rc) rc = read_group(f, "params", params, pv, path);
    if (!rc) rc = read_group(f, "buffers", bufs, bv, path);
    if (!rc && o) {
        rc = read_optim_attrs(f, o, path, lr);
        hid_t g = -1;
        H5G_info_t info = {0};
        if (!rc) {
            g = H5Gopen2(f, "optim", H5P_DEFAULT);
            if (g < 0 || H5Gget_info(g, &info) < 0) rc = ag_set_error(AG_ERR_FORMAT, "%s: cannot open /optim in '%s'", fn, path);
        }
        /* a fresh optimizer has no state yet: create it (as a first step would) to load into */
        if (!rc && info.nlinks > 0 && ag_optim_num_state(o) == 0) rc = ag_optim_init_state(o);
        int n = rc ? 0 : ag_optim_num_state(o);
        if (n < 0) rc = ag_error_code();
        if (!rc && n > 0) {
            *ov = calloc((size_t)n, sizeof **ov);
            const char **names = calloc((size_t)n, sizeof *names);
            if (!*ov || !names) rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
            else *n_opt = n;
            for (int i = 0; i < n && !rc; i++) {
                ag_tensor *cur = ag_optim_state_at(o, i, &names[i]);
                (*ov)[i] = cur ? read_tensor(g, "optim", names[i], cur, path) : NULL;
                if (!(*ov)[i]) rc = ag_error_code();
            }
            if (!rc) rc = check_unexpected(g, "optim", names, n, path);
            free(names);
        } else if (!rc && info.nlinks > 0) {
            rc = check_unexpected(g, "optim", NULL, 0, path);
        }
        if (g >= 0) H5Gclose(g);
    }
    H5Fclose(f);
    (void)m;
    return rc;
}

int ag_module_load(ag_module *m, const char *path, ag_optim *o) {
    const char *fn = "ag_module_load";
    if (!m || !path) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, m ? "path" : "module");
    if (access(path, R_OK) < 0) return ag_set_error(AG_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    ag_params params = ag_module_params(m), bufs = ag_module_buffers(m);
    ag_tensor **pv = calloc((size_t)params.n + 1, sizeof *pv), **bv = calloc((size_t)bufs.n + 1, sizeof *bv), **ov = NULL;
    int n_opt = 0;
    double lr = 0;
    int rc;
    if (!pv || !bv) {
        rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    } else {
        h5_enter();
        rc = load_locked(m, path, o, params, bufs, pv, bv, &ov, &n_opt, &lr);
        h5_leave();
    }
    if (!rc) {
        /* everything was read and checked: now copy (same dtypes and shapes, cannot fail) */
        ag_no_grad_begin();
        for (int i = 0; i < params.n && !rc; i++) rc = ag_copy_(params.t[i], pv[i]);
        for (int i = 0; i < bufs.n && !rc; i++) rc = ag_copy_(bufs.t[i], bv[i]);
        ag_no_grad_end();
        for (int i = 0; i < n_opt && !rc; i++) rc = ag_optim_load_state_at(o, i, ov[i]);
        if (!rc && o) rc = ag_optim_set_lr(o, lr);
    }
    for (int i = 0; pv && i < params.n; i++) ag__drop(pv[i]);
    for (int i = 0; bv && i < bufs.n; i++) ag__drop(bv[i]);
    for (int i = 0; i < n_opt; i++) ag__drop(ov[i]);
    free(pv);
    free(bv);
    free(ov);
    return rc;
}

#endif
