/* tensor/h5.c — tensors as HDF5 datasets (see tensor/h5.h), shared by nn/checkpoint.c (module
 * state) and optim/checkpoint.c (optimizer state).
 *
 * dtypes: f32/f64 IEEE little-endian, i64, bool as h5py's enum(int8){FALSE, TRUE}, complex as
 * h5py's compound {r, i}; 0-d tensors as scalar dataspaces. So h5py reads every entry as the
 * matching numpy array.
 *
 * Checksums: a corrupt checkpoint must fail to load, never load other values. Files are written
 * in the HDF5 1.10 format (superblock v3, object headers v2, chunk indexes with checksums), in
 * which every piece of metadata carries a checksum that HDF5 verifies when it reads it: the
 * groups, links, attributes, dataspaces, datatypes and layouts. Tensor data is chunked with
 * the Fletcher32 filter, so each chunk carries its own checksum. 0-d and empty tensors cannot
 * be chunked (a scalar dataspace has no chunks; a zero extent has no data): they use the compact
 * layout, which stores the data inside the dataset's object header, under its checksum. Readers
 * refuse a dataset stored any other way, so a file without checksums cannot pass for a good one;
 * h5py (HDF5 >= 1.10) reads these files as before. */
#include "ag_config.h"

#ifdef AG_HAVE_HDF5

#include <pthread.h>
#include <string.h>

#include "tensor/h5.h"
#include "tensor/internal.h"

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

void ag__h5_enter(void) {
    pthread_mutex_lock(&h5_lock);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
void ag__h5_leave(void) { pthread_mutex_unlock(&h5_lock); }

/* ---- files -------------------------------------------------------------------------------- */
hid_t ag__h5_create(const char *fn, const char *tmp) {
    /* the 1.10 format: the earliest one in which all metadata is checksummed (see the top) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = -1;
    if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0)
        f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0) ag_set_error(AG_ERR_IO, "%s: cannot create '%s' (HDF5 refused the temporary file)", fn, tmp);
    return f;
}

/* Whether the HDF5 call that just failed did so on a checksum (Fletcher32 on data, or the
 * metadata checksums): the file is corrupt, which our message then says. */
static herr_t find_checksum(unsigned n, const H5E_error2_t *e, void *ud) {
    (void)n;
    if (e->desc && strstr(e->desc, "checksum")) *(bool *)ud = true;
    return 0;
}
static bool h5_checksum_failed(void) {
    bool found = false;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_checksum, &found);
    return found;
}
static const char *corrupt_why(void) {
    return h5_checksum_failed() ? "a checksum does not match: the file is corrupt" : "the file is corrupt or truncated";
}

hid_t ag__h5_open(const char *fn, const char *path) {
    if (H5Fis_hdf5(path) <= 0) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s' is not an HDF5 file", fn, path);
        return -1;
    }
    /* a strong close degree: closing the file closes whatever an error path left open in it */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0)
        ag_set_error(AG_ERR_FORMAT, "%s: '%s' is corrupt or truncated (HDF5 cannot open it%s)", fn, path,
                     h5_checksum_failed() ? ": a checksum does not match" : "");
    return f;
}

void ag__h5_close(hid_t f) {
    if (f >= 0) H5Fclose(f);
}

/* ---- dtypes ------------------------------------------------------------------------------- */
/* memory/file type of a dtype (close with H5Tclose) */
static hid_t h5_type(ag_dtype dt) {
    switch (dt) {
    case AG_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case AG_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case AG_I64: return H5Tcopy(H5T_STD_I64LE);
    case AG_I32: return H5Tcopy(H5T_STD_I32LE); /* H5T_NATIVE_INT32 on little-endian hosts */
    case AG_U8: return H5Tcopy(H5T_STD_U8LE);   /* H5T_NATIVE_UINT8 */
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
    if (c == H5T_INTEGER) {
        bool sgn = H5Tget_sign(t) == H5T_SGN_2;
        return s == 8 && sgn ? AG_I64 : s == 4 && sgn ? AG_I32 : s == 1 && !sgn ? AG_U8 : -1;
    }
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

/* ---- attributes --------------------------------------------------------------------------- */
int ag__h5_write_str_attr(hid_t obj, const char *name, const char *value) {
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

int ag__h5_write_num_attr(hid_t obj, const char *name, hid_t type, const void *value) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

int ag__h5_read_str_attr(hid_t obj, const char *objname, const char *name, char *value, size_t cap) {
    if (H5Aexists_by_name(obj, objname, name, H5P_DEFAULT) <= 0) return -1;
    hid_t a = H5Aopen_by_name(obj, objname, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    size_t sz = t >= 0 ? H5Tget_size(t) : 0;
    herr_t rc = -1;
    /* the file's fixed-length string type, NUL-padded: it must leave room for our NUL */
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && sz < cap) {
        memset(value, 0, cap);
        rc = H5Aread(a, t, value);
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

int ag__h5_read_num_attr(hid_t obj, const char *objname, const char *name, hid_t type, void *value) {
    if (H5Aexists_by_name(obj, objname, name, H5P_DEFAULT) <= 0) return -1;
    hid_t a = H5Aopen_by_name(obj, objname, name, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Aread(a, type, value);
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* ---- tensors ------------------------------------------------------------------------------ */
/* Chunks of at most about 1 MiB (HDF5 caps a chunk at 4 GiB; small chunks keep a read's work
 * buffer small): the outer dims shrink first, so a chunk is a run of whole rows where it can be. */
#define CHUNK_BYTES ((hsize_t)1 << 20)

/* The creation properties of a dataset (see the top for why): close with H5Pclose. */
static hid_t dcpl_for(const hsize_t *dims, int nd, int64_t numel, size_t elsize) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0) return -1;
    herr_t rc;
    if (nd == 0 || numel == 0) {
        rc = H5Pset_layout(dcpl, H5D_COMPACT);
    } else {
        hsize_t chunk[AG_MAX_DIMS], bytes = elsize;
        for (int i = 0; i < nd; i++) { chunk[i] = dims[i]; bytes *= dims[i]; }
        for (int i = 0; i < nd && bytes > CHUNK_BYTES; i++) {
            hsize_t rest = bytes / chunk[i];
            chunk[i] = rest >= CHUNK_BYTES ? 1 : CHUNK_BYTES / rest;
            bytes = rest * chunk[i];
        }
        rc = H5Pset_chunk(dcpl, nd, chunk);
        if (rc >= 0) rc = H5Pset_fletcher32(dcpl);
    }
    if (rc < 0) { H5Pclose(dcpl); return -1; }
    return dcpl;
}

/* NULL when dataset d is stored as ag__h5_write_tensor stores it (so that every byte that
 * matters is under a checksum), else what is wrong. */
static const char *unchecked_layout(hid_t d, int nd, int64_t numel) {
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0) return "its storage properties cannot be read";
    const char *why = NULL;
    H5D_layout_t lay = H5Pget_layout(dcpl);
    if (lay == H5D_COMPACT) {
        if (nd != 0 && numel != 0) why = "it is stored without a checksum (compact layout)";
    } else if (lay == H5D_CHUNKED) {
        unsigned flags = 0, conf = 0;
        size_t ncd = 0;
        if (H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &ncd, NULL, 0, NULL, &conf) < 0)
            why = "it is stored without a checksum (no Fletcher32 filter)";
    } else {
        why = "it is stored without a checksum (contiguous layout; written by an older astrograd?)";
    }
    H5Pclose(dcpl);
    return why;
}

int ag__h5_write_tensor(hid_t g, const char *group, const char *name, ag_tensor *t, const char *fn, const char *path) {
    ag_scope_begin();
    ag_tensor *c = ag_contiguous(ag_detach(ag_to(t, AG_CPU)));
    int rc = 0;
    if (!c) rc = ag_error_code();
    hid_t type = c ? h5_type(ag_dtype_of(c)) : -1;
    if (!rc && type < 0)
        rc = ag_set_error(AG_ERR_DTYPE, "%s: /%s/%s has dtype %s, which checkpoints do not store", fn, group, name,
                          ag_dtype_name(ag_dtype_of(c)));
    if (!rc) {
        hsize_t dims[AG_MAX_DIMS];
        int nd = ag_ndim(c);
        for (int i = 0; i < nd; i++) dims[i] = (hsize_t)ag_shape(c)[i];
        hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
        hid_t dcpl = dcpl_for(dims, nd, ag_numel(c), H5Tget_size(type));
        hid_t d = dcpl < 0 ? -1 : H5Dcreate2(g, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d < 0 || (ag_numel(c) && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ag_data(c)) < 0))
            rc = ag_set_error(AG_ERR_IO, "%s: writing /%s/%s to '%s' failed", fn, group, name, path);
        if (d >= 0) H5Dclose(d);
        if (dcpl >= 0) H5Pclose(dcpl);
        H5Sclose(sp);
    }
    if (type >= 0) H5Tclose(type);
    ag_scope_end();
    return rc;
}

ag_tensor *ag__h5_read_tensor(hid_t g, const char *group, const char *name, const ag_tensor *like,
                              ag_h5_shape_ok ok, void *ud, const char *fn, const char *path) {
    htri_t ex = H5Lexists(g, name, H5P_DEFAULT);
    if (ex < 0) return ag_fail(AG_ERR_FORMAT, "%s: cannot look up /%s/%s in '%s': %s", fn, group, name, path, corrupt_why());
    if (ex == 0) return ag_fail(AG_ERR_FORMAT, "%s: /%s/%s is missing from '%s'", fn, group, name, path);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return ag_fail(AG_ERR_FORMAT, "%s: /%s/%s in '%s' is not a dataset or cannot be opened: %s", fn, group, name, path,
                       corrupt_why());
    ag_tensor *r = NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    int dt = ft >= 0 ? dtype_of_h5(ft) : -1;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[AG_MAX_DIMS];
    int64_t shape[AG_MAX_DIMS];
    ag_dtype want = ag_dtype_of(like);
    const char *why;
    if (ft < 0 || sp < 0 || nd < 0) {
        ag_set_error(AG_ERR_FORMAT, "%s: cannot read /%s/%s in '%s': %s", fn, group, name, path, corrupt_why());
    } else if (dt != (int)want) {
        ag_set_error(AG_ERR_DTYPE, "%s: /%s/%s has dtype %s, expected %s (in '%s')", fn, group, name,
                     dt < 0 ? "(not one astrograd stores)" : ag_dtype_name((ag_dtype)dt), ag_dtype_name(want), path);
    } else if (nd > AG_MAX_DIMS) {
        ag_set_error(AG_ERR_SHAPE, "%s: /%s/%s has %d dims, expected %s (in '%s')", fn, group, name, nd, AG_SHP(like), path);
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
        bool same = nd == ag_ndim(like) && !memcmp(shape, ag_shape(like), (size_t)nd * sizeof *shape);
        if (!same && !(ok && ok(ud, shape, nd))) {
            char buf[AG_SHAPE_BUF];
            ag_set_error(AG_ERR_SHAPE, "%s: /%s/%s has shape %s, expected %s (in '%s')", fn, group, name,
                         ag_shape_str(shape, nd, buf, sizeof buf), AG_SHP(like), path);
        } else if ((why = unchecked_layout(d, nd, ag__numel(shape, nd)))) {
            ag_set_error(AG_ERR_FORMAT, "%s: /%s/%s in '%s' cannot be verified: %s", fn, group, name, path, why);
        } else {
            r = ag__new(shape, nd, want, AG_CPU, fn);
            hid_t mt = r ? h5_type(want) : -1;
            if (r && (mt < 0 || (ag_numel(r) && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ag_data(r)) < 0))) {
                ag_set_error(AG_ERR_FORMAT, "%s: cannot read /%s/%s in '%s': %s", fn, group, name, path, corrupt_why());
                ag__drop(r);
                r = NULL;
            }
            if (mt >= 0) H5Tclose(mt);
            /* read on the host, then onto the device of the tensor it will replace */
            if (r && !ag_device_eq(ag_device_of(like), AG_CPU)) {
                ag_tensor *on = ag_to(r, ag_device_of(like));
                ag__drop(r);
                r = on;
            }
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return r;
}

int ag__h5_check_entries(hid_t g, const char *group, const char *const *names, int n, const char *what,
                         const char *fn, const char *path) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: cannot list /%s in '%s': the file is corrupt or truncated", fn, group, path);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[512];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (len < 0) return ag_set_error(AG_ERR_FORMAT, "%s: cannot list /%s in '%s'", fn, group, path);
        bool found = false;
        for (int k = 0; k < n && !found; k++) found = !strcmp(names[k], name);
        if (!found)
            return ag_set_error(AG_ERR_FORMAT, "%s: '%s' has an unexpected entry /%s/%s (the %s has no such %s)", fn, path,
                                group, name, !strcmp(what, "state") ? "optimizer" : "module", what);
    }
    return 0;
}

#endif
