/* imaging/visio.c — loose visibilities from files into ag_vis: MPoL-style .npz archives (uu, vv,
 * data, weight), parsed here (zip central directory, stored or deflated members through zlib,
 * .npy headers) so no Python is needed, and an HDF5 layout with its atomic writer. Files are read
 * whole on the host and checked before any tensor is made: every failure names the file and what
 * is wrong in it. */
#include "ag_config.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"
#ifdef AG_HAVE_HDF5
#include "tensor/h5.h"
#endif

/* ---- host arrays -> ag_vis ---- */

typedef struct vis_host {
    int nd;                 /* 1 or 2: the arrays' shape, (nvis) or (nchan, nvis) */
    int64_t nchan, nvis;
    double *u, *v, *w, *freq;
    double complex *d;
} vis_host;

static void vis_host_free(vis_host *h) {
    free(h->u), free(h->v), free(h->w), free(h->freq), free(h->d);
    memset(h, 0, sizeof *h);
}

/* "[c, k]" or "[k]" of flat index i, for messages */
static const char *at(const vis_host *h, int64_t i, char *buf, size_t cap) {
    if (h->nd == 2) snprintf(buf, cap, "[%lld, %lld]", (long long)(i / h->nvis), (long long)(i % h->nvis));
    else snprintf(buf, cap, "[%lld]", (long long)i);
    return buf;
}

/* Checks the values (what ag_vis_new would refuse, but naming the file and the element) and makes
 * the set on the CPU in f64/c128; h is freed either way. */
static ag_vis *vis_from_host(const char *fn, const char *path, vis_host *h, double uv_scale) {
    int64_t n = h->nchan * h->nvis;
    char where[64];
    ag_vis *vis = NULL;
    for (int64_t i = 0; i < n; i++) {
        const char *bad = !isfinite(h->u[i]) ? "u" : !isfinite(h->v[i]) ? "v"
                        : !isfinite(creal(h->d[i])) || !isfinite(cimag(h->d[i])) ? "data" : !isfinite(h->w[i]) ? "weight" : NULL;
        if (bad) {
            ag_set_error(AG_ERR_INVALID, "%s: '%s': %s%s is not finite (NaN or Inf)", fn, path, bad, at(h, i, where, sizeof where));
            goto out;
        }
        if (!(h->w[i] > 0)) {
            ag_set_error(AG_ERR_INVALID, "%s: '%s': weight%s is %g, expected > 0 (drop flagged visibilities before saving)",
                         fn, path, at(h, i, where, sizeof where), h->w[i]);
            goto out;
        }
        h->u[i] *= uv_scale, h->v[i] *= uv_scale;
    }
    for (int64_t c = 0; h->freq && c < h->nchan; c++)
        if (!isfinite(h->freq[c]) || !(h->freq[c] > 0)) {
            ag_set_error(AG_ERR_INVALID, "%s: '%s': freq[%lld] is %g, expected finite and > 0 Hz", fn, path, (long long)c,
                         h->freq[c]);
            goto out;
        }
    ag_scope_begin();
    const int64_t shape[2] = { h->nchan, h->nvis };
    ag_tensor *u = ag_from_data_on(h->u, shape, 2, AG_F64, AG_CPU), *v = ag_from_data_on(h->v, shape, 2, AG_F64, AG_CPU); /* host */
    ag_tensor *d = ag_from_data_on(h->d, shape, 2, AG_C128, AG_CPU), *w = ag_from_data_on(h->w, shape, 2, AG_F64, AG_CPU); /* host */
    ag_tensor *fq = h->freq ? ag_from_data_on(h->freq, shape, 1, AG_F64, AG_CPU) : NULL; /* host */
    if (!h->freq || fq) vis = ag_vis_new(u, v, d, w);
    if (vis && fq) {
        ag__unscope(fq);
        vis->freq = fq;
    }
    ag_scope_end();
out:
    vis_host_free(h);
    return vis;
}

/* ---- .npz: zip archive of .npy members ---- */

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

typedef struct zip_member {
    const char *name;
    size_t nlen;
    int method;
    uint16_t flags;
    uint32_t crc;
    uint64_t csize, usize, local;
} zip_member;

typedef struct npz {
    const char *fn, *path;
    unsigned char *buf;
    uint64_t size;
    zip_member *m;
    int64_t n;
} npz;

static int zfail(const npz *z, const char *what) {
    return ag_set_error(AG_ERR_FORMAT, "%s: '%s' is not a readable .npz (zip) archive: %s", z->fn, z->path, what);
}

/* The end of central directory record (and the zip64 one when the archive needs it), then every
 * central directory entry, all bounds-checked against the file. */
static int zip_directory(npz *z) {
    const unsigned char *b = z->buf;
    uint64_t size = z->size, eocd = UINT64_MAX;
    if (size < 22) return zfail(z, "too short for a zip archive (truncated?)");
    for (uint64_t p = size - 22 + 1; p-- > 0 && size - p <= 22 + 65535;)
        if (le32(b + p) == 0x06054b50 && p + 22 + le16(b + p + 20) == size) { eocd = p; break; }
    if (eocd == UINT64_MAX) return zfail(z, "no end of central directory record (truncated?)");
    uint64_t nent = le16(b + eocd + 10), cdsize = le32(b + eocd + 12), cdoff = le32(b + eocd + 16);
    if (nent == 0xffff || cdsize == 0xffffffff || cdoff == 0xffffffff) {
        if (eocd < 20 || le32(b + eocd - 20) != 0x07064b50) return zfail(z, "zip64 locator missing");
        uint64_t r = le64(b + eocd - 12);
        if (size < 56 || r > size - 56 || le32(b + r) != 0x06064b50) return zfail(z, "zip64 end of central directory record missing");
        nent = le64(b + r + 32), cdsize = le64(b + r + 40), cdoff = le64(b + r + 48);
    }
    if (cdoff > size || cdsize > size - cdoff) return zfail(z, "the central directory lies beyond the end (truncated?)");
    if (nent > cdsize / 46) return zfail(z, "the central directory is shorter than its entry count");
    z->m = calloc(nent ? nent : 1, sizeof *z->m);
    if (!z->m) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", z->fn);
    uint64_t p = cdoff, end = cdoff + cdsize;
    for (uint64_t i = 0; i < nent; i++) {
        if (end - p < 46 || le32(b + p) != 0x02014b50) return zfail(z, "a central directory entry is damaged");
        zip_member *m = &z->m[i];
        uint64_t nlen = le16(b + p + 28), xlen = le16(b + p + 30), clen = le16(b + p + 32);
        if (46 + nlen + xlen + clen > end - p) return zfail(z, "a central directory entry runs past the directory");
        m->flags = le16(b + p + 8), m->method = le16(b + p + 10), m->crc = le32(b + p + 16);
        m->csize = le32(b + p + 20), m->usize = le32(b + p + 24), m->local = le32(b + p + 42);
        m->name = (const char *)b + p + 46, m->nlen = (size_t)nlen;
        /* zip64 extra field: the 64-bit values of the fields that read 0xffffffff, in this order */
        for (const unsigned char *x = b + p + 46 + nlen, *xe = x + xlen; xe - x >= 4;) {
            uint16_t id = le16(x), len = le16(x + 2);
            if (len > xe - x - 4) return zfail(z, "a central directory extra field is damaged");
            if (id == 0x0001) {
                const unsigned char *q = x + 4, *qe = q + len;
                uint64_t *f[3] = { &m->usize, &m->csize, &m->local };
                for (int k = 0; k < 3; k++)
                    if (*f[k] == 0xffffffff) {
                        if (qe - q < 8) return zfail(z, "a zip64 extra field is too short");
                        *f[k] = le64(q), q += 8;
                    }
            }
            x += 4 + len;
        }
        p += 46 + nlen + xlen + clen;
    }
    z->n = (int64_t)nent;
    return 0;
}

/* The bytes of member m, inflated when deflated, CRC-checked; *out malloc'd. */
static int zip_extract(const npz *z, const zip_member *m, const char *key, unsigned char **out) {
    const unsigned char *b = z->buf;
    char what[160];
    *out = NULL;
    if (m->flags & 1) {
        snprintf(what, sizeof what, "member '%s.npy' is encrypted", key);
        return zfail(z, what);
    }
    if (m->method != 0 && m->method != 8) {
        snprintf(what, sizeof what, "member '%s.npy' uses compression method %d (only stored and deflate are read)", key, m->method);
        return zfail(z, what);
    }
    if (m->local > z->size || z->size - m->local < 30 || le32(b + m->local) != 0x04034b50) {
        snprintf(what, sizeof what, "the local header of '%s.npy' is missing or damaged", key);
        return zfail(z, what);
    }
    uint64_t data = m->local + 30 + le16(b + m->local + 26) + le16(b + m->local + 28);
    if (data > z->size || m->csize > z->size - data) {
        snprintf(what, sizeof what, "member '%s.npy' runs past the end of the file (truncated?)", key);
        return zfail(z, what);
    }
    if (m->usize > ((uint64_t)1 << 40) || (m->method == 0 && m->usize != m->csize)) {
        snprintf(what, sizeof what, "member '%s.npy' has inconsistent sizes", key);
        return zfail(z, what);
    }
    unsigned char *o = malloc(m->usize ? (size_t)m->usize : 1);
    if (!o) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory reading '%s'", z->fn, z->path);
    if (m->method == 0) {
        memcpy(o, b + data, (size_t)m->usize);
    } else {
        z_stream s = { 0 };
        int zr = inflateInit2(&s, -MAX_WBITS); /* raw deflate, as zip stores it */
        if (zr != Z_OK) { free(o); return ag_set_error(AG_ERR_NOMEM, "%s: zlib cannot start inflating", z->fn); }
        uint64_t in_left = m->csize, out_left = m->usize;
        s.next_in = (unsigned char *)b + data, s.next_out = o;
        do { /* avail_in/out are 32-bit: feed large members in pieces */
            if (!s.avail_in) s.avail_in = (uInt)(in_left < UINT32_MAX ? in_left : UINT32_MAX), in_left -= s.avail_in;
            if (!s.avail_out) s.avail_out = (uInt)(out_left < UINT32_MAX ? out_left : UINT32_MAX), out_left -= s.avail_out;
            zr = inflate(&s, Z_NO_FLUSH);
        } while (zr == Z_OK && (s.avail_in || in_left) && (s.avail_out || out_left));
        bool done = zr == Z_STREAM_END && s.total_out == m->usize;
        inflateEnd(&s);
        if (!done) {
            free(o);
            snprintf(what, sizeof what, "the deflate stream of '%s.npy' is corrupt (%s)", key,
                     zr == Z_STREAM_END ? "wrong length" : zr == Z_DATA_ERROR ? "invalid data" : "ends early");
            return zfail(z, what);
        }
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < m->usize; off += UINT32_MAX)
        crc = crc32(crc, o + off, (uInt)(m->usize - off < UINT32_MAX ? m->usize - off : UINT32_MAX));
    if ((uint32_t)crc != m->crc) {
        free(o);
        snprintf(what, sizeof what, "the CRC-32 of '%s.npy' does not match (the file is corrupt)", key);
        return zfail(z, what);
    }
    *out = o;
    return 0;
}

typedef struct npy {
    char kind;       /* 'f' or 'c' */
    int isz;         /* bytes per element: 4, 8 (f), 8, 16 (c) */
    int nd;
    int64_t shape[2];
    const unsigned char *data;
} npy;

/* The .npy header: magic, version, then a Python dict literal with descr, fortran_order, shape. */
static int npy_parse(const npz *z, const char *key, const unsigned char *b, uint64_t len, npy *a) {
    char h[4096], why[200];
    const char *fn = z->fn, *path = z->path;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6))
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' is not a .npy array (bad magic)", fn, path, key);
    uint64_t hl = b[6] == 1 ? le16(b + 8) : len >= 12 ? le32(b + 8) : UINT64_MAX, off = b[6] == 1 ? 10 : 12;
    if (b[6] < 1 || b[6] > 3 || hl >= sizeof h || off + hl > len)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' has a damaged header (version %d.%d)", fn, path, key, b[6], b[7]);
    memcpy(h, b + off, (size_t)hl);
    h[hl] = 0;
    const char *d = strstr(h, "'descr':"), *fo = strstr(h, "'fortran_order':"), *sh = strstr(h, "'shape':");
    if (!d || !fo || !sh)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' header lacks descr, fortran_order or shape", fn, path, key);
    d += 8, fo += 16, sh += 8;
    while (*d == ' ') d++;
    char descr[16] = "";
    if (*d == '\'' && strchr(d + 1, '\'') && strchr(d + 1, '\'') - (d + 1) < (ptrdiff_t)sizeof descr)
        memcpy(descr, d + 1, (size_t)(strchr(d + 1, '\'') - (d + 1)));
    static const struct { const char *s; char kind; int isz; } dts[] = {
        { "<f8", 'f', 8 }, { "<f4", 'f', 4 }, { "<c16", 'c', 16 }, { "<c8", 'c', 8 } };
    a->kind = 0;
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++)
        if (!strcmp(descr, dts[i].s)) a->kind = dts[i].kind, a->isz = dts[i].isz;
    if (!a->kind) {
        snprintf(why, sizeof why, "'%s.npy' has dtype '%s', which is not read (expected '<f8', '<f4', '<c16' or '<c8')", key,
                 descr[0] ? descr : "(structured or unreadable)");
        return ag_set_error(AG_ERR_DTYPE, "%s: '%s': %s", fn, path, why);
    }
    while (*fo == ' ') fo++;
    if (strncmp(fo, "False", 5))
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' is stored in Fortran order (save a C-ordered array)", fn, path, key);
    while (*sh == ' ') sh++;
    if (*sh++ != '(') return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' has a damaged shape", fn, path, key);
    a->nd = 0;
    int64_t numel = 1;
    for (;;) {
        while (*sh == ' ' || *sh == ',') sh++;
        if (*sh == ')') break;
        char *e;
        long long v = strtoll(sh, &e, 10);
        if (e == sh || v < 0 || a->nd == 2) {
            return ag_set_error(a->nd == 2 ? AG_ERR_SHAPE : AG_ERR_FORMAT, "%s: '%s': '%s.npy' %s", fn, path, key,
                                a->nd == 2 ? "has more than 2 dims, expected (nvis) or (nchan, nvis)" : "has a damaged shape");
        }
        if (v > ((int64_t)1 << 40) || (v && numel > ((int64_t)1 << 40) / v)) /* before the product can overflow */
            return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' is too large", fn, path, key);
        a->shape[a->nd++] = v, numel *= v, sh = e;
    }
    if (a->nd == 0)
        return ag_set_error(AG_ERR_SHAPE, "%s: '%s': '%s.npy' is 0-d, expected (nvis) or (nchan, nvis)", fn, path, key);
    if (len - off - hl != (uint64_t)numel * (uint64_t)a->isz)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s.npy' holds %llu data bytes, its header says %lld elements of %d",
                            fn, path, key, (unsigned long long)(len - off - hl), (long long)numel, a->isz);
    a->data = b + off + hl;
    return 0;
}

/* Member key.npy as f64 (real) or c128 (complex) host values, of shape *like when like->nd. */
static int npz_array(const npz *z, const char *key, char kind, npy *like, void **out) {
    const char *fn = z->fn, *path = z->path;
    size_t kl = strlen(key);
    const zip_member *m = NULL;
    *out = NULL;
    for (int64_t i = 0; i < z->n && !m; i++)
        if (z->m[i].nlen == kl + 4 && !memcmp(z->m[i].name, key, kl) && !memcmp(z->m[i].name + kl, ".npy", 4)) m = &z->m[i];
    if (!m) return 1;
    unsigned char *bytes;
    int rc = zip_extract(z, m, key, &bytes);
    if (rc < 0) return rc;
    npy a = { 0 };
    rc = npy_parse(z, key, bytes, m->usize, &a);
    if (!rc && a.kind != kind)
        rc = ag_set_error(AG_ERR_DTYPE, "%s: '%s': '%s' is %s, expected %s", fn, path, key, a.kind == 'c' ? "complex" : "real",
                          kind == 'c' ? "complex ('<c16' or '<c8')" : "real ('<f8' or '<f4')");
    if (!rc && like->nd && (a.nd != like->nd || a.shape[0] != like->shape[0] || (a.nd == 2 && a.shape[1] != like->shape[1]))) {
        char s1[64], s2[64];
        snprintf(s1, sizeof s1, a.nd == 2 ? "(%lld, %lld)" : "(%lld)", (long long)a.shape[0], (long long)a.shape[1]);
        snprintf(s2, sizeof s2, like->nd == 2 ? "(%lld, %lld)" : "(%lld)", (long long)like->shape[0], (long long)like->shape[1]);
        rc = ag_set_error(AG_ERR_SHAPE, "%s: '%s': '%s' has shape %s, expected %s (the shape of %s)", fn, path, key, s1, s2,
                          !strcmp(key, "freq") ? "nchan" : "uu");
    }
    int64_t n = a.nd == 2 ? a.shape[0] * a.shape[1] : a.shape[0];
    void *o = rc ? NULL : malloc((size_t)(n ? n : 1) * (kind == 'c' ? sizeof(double complex) : sizeof(double)));
    if (!rc && !o) rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory reading '%s'", fn, path);
    for (int64_t i = 0; !rc && i < n; i++) {
        const unsigned char *p = a.data + i * a.isz;
        if (a.isz == 4) { float f; memcpy(&f, p, 4); ((double *)o)[i] = f; }
        else if (kind == 'f') memcpy((double *)o + i, p, 8);
        else if (a.isz == 8) { float c[2]; memcpy(c, p, 8); ((double complex *)o)[i] = CMPLX(c[0], c[1]); }
        else memcpy((double complex *)o + i, p, 16);
    }
    free(bytes);
    if (rc) { free(o); return rc; }
    if (!like->nd) *like = a;
    *out = o;
    return 0;
}

ag_vis *ag_read_vis_npz(const char *path, ag_uv_unit unit) {
    const char *fn = "ag_read_vis_npz";
    if (!path) return ag_fail(AG_ERR_INVALID, "%s: path is NULL", fn);
    if (unit != AG_UV_LAMBDA && unit != AG_UV_KILOLAMBDA)
        return ag_fail(AG_ERR_INVALID, "%s: unknown uv unit %d (AG_UV_LAMBDA or AG_UV_KILOLAMBDA)", fn, (int)unit);
    npz z = { .fn = fn, .path = path };
    FILE *f = fopen(path, "rb");
    if (!f) return ag_fail(AG_ERR_IO, "%s: cannot open '%s'", fn, path);
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0 && (z.buf = malloc(sz ? (size_t)sz : 1)))
        if (fread(z.buf, 1, (size_t)sz, f) != (size_t)sz) free(z.buf), z.buf = NULL;
    fclose(f);
    if (!z.buf) return ag_fail(AG_ERR_IO, "%s: cannot read '%s'", fn, path);
    z.size = (uint64_t)sz;
    vis_host h = { 0 };
    npy shp = { 0 }, fshape = { 0 };
    static const char *keys[4] = { "uu", "vv", "data", "weight" };
    void **dst[4] = { (void **)&h.u, (void **)&h.v, (void **)&h.d, (void **)&h.w };
    int rc = zip_directory(&z);
    for (int i = 0; i < 4 && !rc; i++) {
        rc = npz_array(&z, keys[i], i == 2 ? 'c' : 'f', &shp, dst[i]);
        if (rc > 0)
            rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s' has no array '%s' (expected uu, vv [%s], data, weight and optional freq)",
                              fn, path, keys[i], unit == AG_UV_LAMBDA ? "λ" : "kλ");
    }
    if (!rc) {
        h.nd = shp.nd, h.nchan = shp.nd == 2 ? shp.shape[0] : 1, h.nvis = shp.shape[shp.nd - 1];
        fshape = (npy){ .nd = 1, .shape = { h.nchan } };
        rc = npz_array(&z, "freq", 'f', &fshape, (void **)&h.freq);
        if (rc > 0) rc = 0; /* optional */
    }
    free(z.m), free(z.buf);
    if (rc < 0) { vis_host_free(&h); return NULL; }
    return vis_from_host(fn, path, &h, unit == AG_UV_KILOLAMBDA ? 1e3 : 1.0);
}

/* ---- HDF5 ---- */

#ifdef AG_HAVE_HDF5

/* Dataset name of the root group as f64 (real) or c128 (complex {r, i}) host values; its shape
 * must be *like's once like->nd is set. 1 when absent. */
static int h5_array(const char *fn, const char *path, hid_t f, const char *name, bool cplx, npy *like, void **out) {
    *out = NULL;
    htri_t ex = H5Lexists(f, name, H5P_DEFAULT);
    if (ex < 0) return ag_set_error(AG_ERR_FORMAT, "%s: '%s': cannot look up /%s (corrupt?)", fn, path, name);
    if (ex == 0) return 1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return ag_set_error(AG_ERR_FORMAT, "%s: '%s': /%s is not a dataset or cannot be opened", fn, path, name);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d), mt = -1;
    int rc = 0, nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[2] = { 0, 0 };
    H5T_class_t cl = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    bool ok = cplx ? cl == H5T_COMPOUND && H5Tget_nmembers(t) == 2 : cl == H5T_FLOAT;
    for (int k = 0; ok && cplx && k < 2; k++) {
        char *mn = H5Tget_member_name(t, (unsigned)k);
        ok = mn && !strcmp(mn, k ? "i" : "r") && H5Tget_member_class(t, (unsigned)k) == H5T_FLOAT;
        H5free_memory(mn);
    }
    if (t < 0 || sp < 0 || nd < 0) {
        rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': cannot read /%s (corrupt or truncated)", fn, path, name);
    } else if (!ok) {
        rc = ag_set_error(AG_ERR_DTYPE, "%s: '%s': /%s is not %s", fn, path, name,
                          cplx ? "complex (a compound {r, i} of floats, as h5py writes complex arrays)" : "a float dataset");
    } else if (nd < 1 || nd > 2 || (like->nd && nd != like->nd)) {
        rc = ag_set_error(AG_ERR_SHAPE, "%s: '%s': /%s has %d dims, expected %s", fn, path, name, nd,
                          like->nd == 1 ? "1" : like->nd == 2 ? "2" : "(nvis) or (nchan, nvis)");
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        if (like->nd && (dims[0] != (hsize_t)like->shape[0] || (nd == 2 && dims[1] != (hsize_t)like->shape[1])))
            rc = ag_set_error(AG_ERR_SHAPE, "%s: '%s': /%s has %llu x %llu elements, expected %lld x %lld (those of /%s)", fn,
                              path, name, (unsigned long long)dims[0], (unsigned long long)(nd == 2 ? dims[1] : 1),
                              (long long)like->shape[0], (long long)(nd == 2 ? like->shape[1] : 1),
                              !strcmp(name, "freq") ? "u's channels" : "u");
    }
    int64_t n = (int64_t)dims[0] * (int64_t)(nd == 2 ? dims[1] : 1);
    void *o = NULL;
    if (!rc) {
        if (cplx) {
            mt = H5Tcreate(H5T_COMPOUND, 16);
            if (mt >= 0) H5Tinsert(mt, "r", 0, H5T_NATIVE_DOUBLE), H5Tinsert(mt, "i", 8, H5T_NATIVE_DOUBLE);
        }
        o = malloc((size_t)(n ? n : 1) * (cplx ? 16 : 8));
        if (!o) rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory reading '%s'", fn, path);
        else if ((cplx && mt < 0) || (n && H5Dread(d, cplx ? mt : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, o) < 0))
            rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': cannot read /%s (corrupt or truncated)", fn, path, name);
    }
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    if (rc) { free(o); return rc; }
    if (!like->nd) *like = (npy){ .nd = nd, .shape = { (int64_t)dims[0], (int64_t)dims[1] } };
    *out = o;
    return 0;
}

static int h5_read_locked(const char *fn, const char *path, vis_host *h, double *scale) {
    hid_t f = ag__h5_open(fn, path);
    if (f < 0) return ag_error_code();
    npy shp = { 0 };
    static const char *keys[4] = { "u", "v", "data", "weight" };
    void **dst[4] = { (void **)&h->u, (void **)&h->v, (void **)&h->d, (void **)&h->w };
    int rc = 0;
    *scale = 1.0;
    htri_t ua = H5Aexists(f, "uv_unit");
    if (ua > 0) {
        char unit[32];
        if (ag__h5_read_str_attr(f, "/", "uv_unit", unit, sizeof unit) < 0 || (strcmp(unit, "lambda") && strcmp(unit, "klambda")))
            rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': attribute uv_unit must be the string \"lambda\" or \"klambda\"", fn, path);
        else if (!strcmp(unit, "klambda"))
            *scale = 1e3;
    }
    for (int i = 0; i < 4 && !rc; i++) {
        rc = h5_array(fn, path, f, keys[i], i == 2, &shp, dst[i]);
        if (rc > 0)
            rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s' has no dataset /%s (expected /u, /v, /data, /weight and optional /freq)",
                              fn, path, keys[i]);
    }
    if (!rc) {
        h->nd = shp.nd, h->nchan = shp.nd == 2 ? shp.shape[0] : 1, h->nvis = shp.shape[shp.nd - 1];
        npy fs = { .nd = 1, .shape = { h->nchan } };
        rc = h5_array(fn, path, f, "freq", false, &fs, (void **)&h->freq);
        if (rc > 0) rc = 0;
    }
    ag__h5_close(f);
    return rc;
}

ag_vis *ag_read_vis_h5(const char *path) {
    const char *fn = "ag_read_vis_h5";
    if (!path) return ag_fail(AG_ERR_INVALID, "%s: path is NULL", fn);
    FILE *probe = fopen(path, "rb");
    if (!probe) return ag_fail(AG_ERR_IO, "%s: cannot open '%s'", fn, path);
    fclose(probe);
    vis_host h = { 0 };
    double scale = 1.0;
    ag__h5_enter();
    int rc = h5_read_locked(fn, path, &h, &scale);
    ag__h5_leave();
    if (rc) { vis_host_free(&h); return NULL; }
    return vis_from_host(fn, path, &h, scale);
}

typedef struct write_ctx { const ag_vis *vis; const char *path; } write_ctx;

static int write_locked(const write_ctx *c, const char *tmp) {
    const char *fn = "ag_write_vis_h5";
    hid_t f = ag__h5_create(fn, tmp);
    if (f < 0) return ag_error_code();
    ag_tensor *ts[5] = { c->vis->u, c->vis->v, c->vis->data, c->vis->weight, c->vis->freq };
    static const char *names[5] = { "u", "v", "data", "weight", "freq" };
    int rc = 0;
    for (int i = 0; i < 5 && !rc; i++)
        if (ts[i]) rc = ag__h5_write_tensor(f, "", names[i], ts[i], fn, c->path);
    if (!rc && (ag__h5_write_str_attr(f, "uv_unit", "lambda") < 0 || ag__h5_write_str_attr(f, "format", "astrograd-vis 1") < 0 ||
                ag__h5_write_str_attr(f, "astrograd_version", ag_version()) < 0))
        rc = ag_set_error(AG_ERR_IO, "%s: writing the attributes of '%s' failed", fn, c->path);
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = ag_set_error(AG_ERR_IO, "%s: flushing '%s' failed", fn, tmp);
    if (H5Fclose(f) < 0 && !rc) rc = ag_set_error(AG_ERR_IO, "%s: closing '%s' failed", fn, tmp);
    return rc;
}

static int write_fill(void *p, const char *tmp) {
    ag__h5_enter();
    int rc = write_locked(p, tmp);
    ag__h5_leave();
    return rc;
}

int ag_write_vis_h5(const ag_vis *vis, const char *path) {
    const char *fn = "ag_write_vis_h5";
    if (!vis || !path) return ag_set_error(AG_ERR_INVALID, "%s: %s is NULL", fn, vis ? "path" : "vis");
    if (!vis->u || !vis->v || !vis->data || !vis->weight)
        return ag_set_error(AG_ERR_INVALID, "%s: vis lacks u, v, data or weight", fn);
    write_ctx c = { vis, path };
    return ag__write_file_atomic(fn, path, write_fill, &c);
}

#else

ag_vis *ag_read_vis_h5(const char *path) {
    (void)path;
    return ag_fail(AG_ERR_NOTIMPL, "ag_read_vis_h5: astrograd was built without HDF5");
}
int ag_write_vis_h5(const ag_vis *vis, const char *path) {
    (void)vis, (void)path;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_write_vis_h5: astrograd was built without HDF5");
}

#endif
