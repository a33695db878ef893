/* tests/test_visio.c — imaging/visio.c: .npz archives written by numpy (tests/imaginggen/visio.py:
 * tests/fixtures/visio/, *.npz, the values in imaging_visio.agfx), their damaged forms (each bad
 * file, truncation at every 64 bytes, a corrupt deflate stream, random byte flips), and the HDF5
 * layout: our writer read back, and files written as h5py would (raw HDF5 calls here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <unistd.h>
#include <zlib.h>
#ifdef AG_TEST_HDF5
#include <hdf5.h>
#endif

#include "fixture.h"
#include "test_util.h"

#define FX(name) AG_TEST_FIXTURE_DIR "/visio/" name
static ag_device DEV;
static char TMP[256];

static void expect_equal(ag_tensor *got, ag_tensor *want, const char *what) {
    assert_non_null(got);
    assert_non_null(want);
    assert_true(ag_ndim(got) == ag_ndim(want) || ag_numel(got) == ag_numel(want));
    if (fx_close_ratio(ag_reshape(got, ag_shape(want), ag_ndim(want)), want, 0, 1e-300) > 1)
        fail_msg("%s differs from the fixture", what);
}

static void check_ok(ag_vis *vis, fx_file *f, double uv_scale) {
    assert_non_null(vis);
    assert_int_equal(vis->nchan, 2);
    assert_int_equal(vis->nvis, 6);
    assert_int_equal(ag_dtype_of(vis->u), AG_F64);
    assert_int_equal(ag_dtype_of(vis->data), AG_C128);
    ag_scope_begin();
    expect_equal(vis->u, ag_mul_s(fx_get(f, "uu"), uv_scale), "u");
    expect_equal(vis->v, ag_mul_s(fx_get(f, "vv"), uv_scale), "v");
    expect_equal(vis->data, fx_get(f, "data"), "data");
    expect_equal(vis->weight, fx_get(f, "weight"), "weight");
    expect_equal(vis->freq, fx_get(f, "freq"), "freq");
    ag_scope_end();
    assert_null(vis->time);
    assert_null(vis->sigma);
}

static void npz_reads(void **state) {
    (void)state;
    fx_file *f = fx_open("imaging_visio");
    assert_non_null(f);
    ag_vis *a = ag_read_vis_npz(FX("vis_ok.npz"), AG_UV_LAMBDA);   /* np.savez: stored */
    check_ok(a, f, 1.0);
    ag_vis *b = ag_read_vis_npz(FX("vis_ok_z.npz"), AG_UV_LAMBDA); /* np.savez_compressed: deflate */
    check_ok(b, f, 1.0);
    ag_vis *k = ag_read_vis_npz(FX("vis_ok.npz"), AG_UV_KILOLAMBDA);
    check_ok(k, f, 1e3);
    ag_vis_free(a), ag_vis_free(b), ag_vis_free(k);
    /* f32 / c64, 1-d, an extra member: widened, one channel, the extra ignored */
    ag_vis *s = ag_read_vis_npz(FX("vis_f32_1d.npz"), AG_UV_LAMBDA);
    assert_non_null(s);
    assert_int_equal(s->nchan, 1);
    assert_int_equal(s->nvis, 7);
    assert_null(s->freq);
    ag_scope_begin();
    expect_equal(s->u, fx_get(f, "f32_uu"), "f32 u");
    expect_equal(s->v, fx_get(f, "f32_vv"), "f32 v");
    expect_equal(s->data, fx_get(f, "f32_data"), "f32 data");
    expect_equal(s->weight, fx_get(f, "f32_weight"), "f32 weight");
    ag_scope_end();
    ag_vis_free(s);
    fx_close(f);
}

static void npz_bad_files(void **state) {
    (void)state;
    struct { const char *file; ag_status code; const char *a, *b; } cases[] = {
        { FX("bad_missing.npz"), AG_ERR_FORMAT, "no array 'weight'", "bad_missing.npz" },
        { FX("bad_dtype.npz"), AG_ERR_DTYPE, "'weight.npy' has dtype '<i8'", "bad_dtype.npz" },
        { FX("bad_len.npz"), AG_ERR_SHAPE, "'vv' has shape (2, 5), expected (2, 6)", "bad_len.npz" },
        { FX("bad_weight.npz"), AG_ERR_INVALID, "weight[1, 3] is 0, expected > 0", "bad_weight.npz" },
        { FX("bad_nan.npz"), AG_ERR_INVALID, "data[0, 2] is not finite", "bad_nan.npz" },
        { FX("bad_fortran.npz"), AG_ERR_FORMAT, "'uu.npy' is stored in Fortran order", "bad_fortran.npz" },
        { FX("bad_endian.npz"), AG_ERR_DTYPE, "'>f8'", "bad_endian.npz" },
        { FX("bad_freq.npz"), AG_ERR_SHAPE, "'freq' has shape (1), expected (2)", "bad_freq.npz" },
        { FX("no_such_file.npz"), AG_ERR_IO, "cannot open", "no_such_file.npz" },
        { AG_TEST_FIXTURE_DIR "/imaging_visio.agfx", AG_ERR_FORMAT, "no end of central directory", "imaging_visio.agfx" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_null(ag_read_vis_npz(cases[i].file, AG_UV_LAMBDA));
        assert_error(cases[i].code, "ag_read_vis_npz", cases[i].a, cases[i].b);
    }
    assert_null(ag_read_vis_npz(NULL, AG_UV_LAMBDA));
    assert_error(AG_ERR_INVALID, "ag_read_vis_npz", "path is NULL");
    assert_null(ag_read_vis_npz(FX("vis_ok.npz"), (ag_uv_unit)5));
    assert_error(AG_ERR_INVALID, "ag_read_vis_npz", "unknown uv unit 5");
}

/* every prefix of a good archive, at 64-byte steps, is refused cleanly */
static void npz_truncated(void **state) {
    (void)state;
    const char *files[2] = { FX("vis_ok.npz"), FX("vis_ok_z.npz") };
    for (int fi = 0; fi < 2; fi++) {
        long n;
        unsigned char *b = tu_read_file(files[fi], &n);
        for (long len = 0; len < n; len += 64) {
            tu_write_file(TMP, b, len);
            ag_vis *v = ag_read_vis_npz(TMP, AG_UV_LAMBDA);
            if (v) fail_msg("%s truncated to %ld of %ld bytes was read", files[fi], len, n);
            assert_error(AG_ERR_FORMAT, "ag_read_vis_npz", TMP);
        }
        free(b);
    }
}

/* finds the compressed bytes of member name in a zip image: the offset of its data */
static long member_data(const unsigned char *b, long n, const char *name) {
    size_t nl = strlen(name);
    for (long p = 0; p + 30 + (long)nl < n; p++)
        if (!memcmp(b + p, "PK\3\4", 4) && b[p + 26] + 256 * b[p + 27] == (int)nl && !memcmp(b + p + 30, name, nl))
            return p + 30 + (long)nl + b[p + 28] + 256 * b[p + 29];
    return -1;
}

static void npz_corrupt(void **state) {
    (void)state;
    long n;
    unsigned char *b = tu_read_file(FX("vis_ok_z.npz"), &n);
    long d = member_data(b, n, "data.npy");
    assert_true(d > 0);
    /* damage inside the deflate stream: an inflate error or a CRC mismatch, never other values */
    for (int off = 0; off < 40; off += 3) {
        unsigned char *c = malloc((size_t)n);
        memcpy(c, b, (size_t)n);
        c[d + off] ^= 0x5a;
        tu_write_file(TMP, c, n);
        free(c);
        assert_null(ag_read_vis_npz(TMP, AG_UV_LAMBDA));
        assert_error(AG_ERR_FORMAT, "ag_read_vis_npz", "'data.npy'");
    }
    /* random single-byte damage anywhere: a clean error or (in fields the reader does not use, such
     * as local timestamps) the right values; never a crash or a leak */
    uint64_t s = 12345;
    int refused = 0;
    for (int t = 0; t < 150; t++) {
        unsigned char *c = malloc((size_t)n);
        memcpy(c, b, (size_t)n);
        c[tu_xorshift(&s) % (uint64_t)n] ^= (unsigned char)(1 + tu_xorshift(&s) % 255);
        tu_write_file(TMP, c, n);
        free(c);
        ag_vis *v = ag_read_vis_npz(TMP, AG_UV_LAMBDA);
        if (v) {
            assert_int_equal(v->nvis, 6);
            ag_vis_free(v);
        } else {
            assert_true(ag_failed() && strstr(ag_last_error(), "ag_read_vis_npz") && strstr(ag_last_error(), TMP));
            ag_clear_error();
            refused++;
        }
    }
    print_message("random damage: %d of 150 refused\n", refused);
    assert_true(refused > 75);
    free(b);
}

/* ---- archives made here, for what numpy never writes ---- */

typedef struct { const char *name; unsigned char *b; size_t n; int method, flags; } member;

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }
static void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)v), put32(p + 4, (uint32_t)(v >> 32)); }

/* a .npy of header dict hdr (padded as numpy pads it) followed by n data bytes of value fill */
static member npy_member(const char *name, const char *hdr, size_t ndata, double fill) {
    size_t hl = strlen(hdr), pad = 64 - (10 + hl + 1) % 64, tot = 10 + hl + pad + 1 + ndata;
    member m = { name, malloc(tot), tot, 0, 0 };
    memcpy(m.b, "\x93NUMPY\x01\x00", 8);
    put16(m.b + 8, (unsigned)(hl + pad + 1));
    memcpy(m.b + 10, hdr, hl);
    memset(m.b + 10 + hl, ' ', pad);
    m.b[10 + hl + pad] = '\n';
    for (size_t i = 0; i + 8 <= ndata; i += 8) memcpy(m.b + 10 + hl + pad + 1 + i, &fill, 8);
    return m;
}

/* a stored zip of the members (method and flags as given), with zip64 end records when asked */
static void write_zip(const char *path, member *ms, int n, bool zip64) {
    unsigned char *z = calloc(1, 1 << 16);
    size_t p = 0, cd, off[8];
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(ms[i].name);
        off[i] = p;
        put32(z + p, 0x04034b50), put16(z + p + 6, (unsigned)ms[i].flags), put16(z + p + 8, (unsigned)ms[i].method);
        put32(z + p + 14, (uint32_t)crc32(0, ms[i].b, (uInt)ms[i].n));
        put32(z + p + 18, (uint32_t)ms[i].n), put32(z + p + 22, (uint32_t)ms[i].n), put16(z + p + 26, (unsigned)nl);
        memcpy(z + p + 30, ms[i].name, nl);
        memcpy(z + p + 30 + nl, ms[i].b, ms[i].n);
        p += 30 + nl + ms[i].n;
    }
    cd = p;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(ms[i].name);
        put32(z + p, 0x02014b50), put16(z + p + 8, (unsigned)ms[i].flags), put16(z + p + 10, (unsigned)ms[i].method);
        put32(z + p + 16, (uint32_t)crc32(0, ms[i].b, (uInt)ms[i].n));
        put32(z + p + 20, (uint32_t)ms[i].n), put32(z + p + 24, (uint32_t)ms[i].n), put16(z + p + 28, (unsigned)nl);
        put32(z + p + 42, (uint32_t)off[i]);
        memcpy(z + p + 46, ms[i].name, nl);
        p += 46 + nl;
    }
    size_t cdsize = p - cd;
    if (zip64) {
        size_t r = p;
        put32(z + p, 0x06064b50), put64(z + p + 4, 44), put64(z + p + 24, (uint64_t)n), put64(z + p + 32, (uint64_t)n);
        put64(z + p + 40, cdsize), put64(z + p + 48, cd);
        p += 56;
        put32(z + p, 0x07064b50), put64(z + p + 8, r), put32(z + p + 16, 1);
        p += 20;
    }
    put32(z + p, 0x06054b50);
    put16(z + p + 8, zip64 ? 0xffff : (unsigned)n), put16(z + p + 10, zip64 ? 0xffff : (unsigned)n);
    put32(z + p + 12, zip64 ? 0xffffffff : (uint32_t)cdsize), put32(z + p + 16, zip64 ? 0xffffffff : (uint32_t)cd);
    p += 22;
    tu_write_file(path, z, (long)p);
    free(z);
}

static void npz_crafted(void **state) {
    (void)state;
    const char *f8 = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    const char *c16 = "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }";
    struct { const char *uu_hdr; size_t uu_bytes; int method, flags; bool zip64; ag_status code; const char *msg; } cases[] = {
        { NULL, 24, 0, 0, false, AG_OK, NULL },
        { NULL, 24, 0, 0, true, AG_OK, NULL }, /* zip64 end records */
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 3), }", 24, 0, 0, false, AG_ERR_SHAPE, "more than 2 dims" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, 0, 0, false, AG_ERR_SHAPE, "is 0-d" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", 8, 0, 0, false,
          AG_ERR_FORMAT, "too large" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 16, 0, 0, false, AG_ERR_FORMAT, "holds 16 data bytes" },
        { "{'descr': '<f8', 'shape': (3,), }", 24, 0, 0, false, AG_ERR_FORMAT, "lacks descr, fortran_order or shape" },
        { "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", 24, 0, 0, false, AG_ERR_DTYPE, "'|O'" },
        { NULL, 24, 12, 0, false, AG_ERR_FORMAT, "compression method 12" },
        { NULL, 24, 0, 1, false, AG_ERR_FORMAT, "encrypted" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        member ms[4] = { npy_member("uu.npy", cases[i].uu_hdr ? cases[i].uu_hdr : f8, cases[i].uu_bytes, 1.0),
                         npy_member("vv.npy", f8, 24, 2.0), npy_member("data.npy", c16, 48, 0.5),
                         npy_member("weight.npy", f8, 24, 3.0) };
        ms[0].method = cases[i].method, ms[0].flags = cases[i].flags;
        write_zip(TMP, ms, 4, cases[i].zip64);
        for (int k = 0; k < 4; k++) free(ms[k].b);
        ag_vis *v = ag_read_vis_npz(TMP, AG_UV_LAMBDA);
        if (cases[i].code == AG_OK) {
            assert_non_null(v);
            assert_values(v->u, 1, 1, 1);
            assert_values(v->weight, 3, 3, 3);
            ag_vis_free(v);
        } else {
            assert_null(v);
            assert_error(cases[i].code, "ag_read_vis_npz", cases[i].msg, "'uu.npy'");
        }
    }
}

/* ---- HDF5 ---- */

static void h5_roundtrip(void **state) {
    (void)state;
#ifdef AG_TEST_HDF5
    fx_file *f = fx_open("imaging_visio");
    ag_vis *a = ag_read_vis_npz(FX("vis_ok.npz"), AG_UV_LAMBDA);
    assert_non_null(a);
    /* from the device under test: the writer copies to the host itself */
    ag_vis *ad = ag_vis_new(ag_to(a->u, DEV), ag_to(a->v, DEV), ag_to(a->data, DEV), ag_to(a->weight, DEV));
    assert_non_null(ad);
    ad->freq = ag_to(a->freq, DEV);
    assert_int_equal(ag_write_vis_h5(ad, TMP), 0);
    ag_vis *b = ag_read_vis_h5(TMP);
    check_ok(b, f, 1.0);
    ag_vis_free(b), ag_vis_free(ad);
    /* f32 / c64: stored as such, read back widened */
    ag_scope_begin();
    ag_vis *s = ag_vis_new(ag_to_dtype(a->u, AG_F32), ag_to_dtype(a->v, AG_F32), ag_to_dtype(a->data, AG_C64),
                           ag_to_dtype(a->weight, AG_F32));
    ag_scope_end();
    assert_non_null(s);
    assert_int_equal(ag_write_vis_h5(s, TMP), 0);
    ag_vis *r = ag_read_vis_h5(TMP);
    assert_non_null(r);
    assert_null(r->freq);
    ag_scope_begin();
    expect_equal(r->u, ag_to_dtype(s->u, AG_F64), "f32 u");
    expect_equal(r->data, ag_to_dtype(s->data, AG_C128), "c64 data");
    ag_scope_end();
    ag_vis_free(r), ag_vis_free(s);
    /* a failed write leaves nothing behind */
    assert_int_equal(ag_write_vis_h5(a, "/nonexistent-dir/x.h5"), AG_ERR_IO);
    assert_error(AG_ERR_IO, "ag_write_vis_h5");
    assert_int_equal(access("/nonexistent-dir/x.h5", F_OK), -1);
    assert_int_equal(ag_write_vis_h5(NULL, TMP), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_write_vis_h5", "vis is NULL");
    assert_int_equal(ag_write_vis_h5(a, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_write_vis_h5", "path is NULL");
    ag_vis_free(a);
    fx_close(f);
#else
    skip();
#endif
}

#ifdef AG_TEST_HDF5
/* A file as h5py writes one: contiguous datasets, complex as a compound {r, i}. what: the one
 * thing to get wrong. */
typedef enum { H_OK, H_NO_WEIGHT, H_REAL_DATA, H_SHORT_V, H_ZERO_W, H_NEG_W, H_NAN_U } h5_case;
static void write_foreign(const char *path, h5_case what, const char *unit) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dims[2] = { 1, 4 }, dshort[2] = { 1, 3 };
    float u[4] = { 1.5f, -2.0f, 30.0f, 4.0f }, w[4] = { 1, what == H_NEG_W ? -2.0f : 2, 3, what == H_ZERO_W ? 0.0f : 4 };
    float c[8] = { 1, 0.5f, -1, 2, 0, 0, 3, -3 };
    if (what == H_NAN_U) u[2] = NAN;
    hid_t sp = H5Screate_simple(2, dims, NULL), ssp = H5Screate_simple(2, dshort, NULL);
    hid_t ct = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(ct, "r", 0, H5T_NATIVE_FLOAT), H5Tinsert(ct, "i", 4, H5T_NATIVE_FLOAT);
    struct { const char *name; hid_t type, space; const void *buf; bool skip; } ds[4] = {
        { "u", H5T_NATIVE_FLOAT, sp, u, false },
        { "v", H5T_NATIVE_FLOAT, what == H_SHORT_V ? ssp : sp, u, false },
        { "data", what == H_REAL_DATA ? H5T_NATIVE_FLOAT : ct, sp, c, false },
        { "weight", H5T_NATIVE_FLOAT, sp, w, what == H_NO_WEIGHT },
    };
    for (int i = 0; i < 4; i++) {
        if (ds[i].skip) continue;
        hid_t d = H5Dcreate2(f, ds[i].name, ds[i].type, ds[i].space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(d >= 0 && H5Dwrite(d, ds[i].type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds[i].buf) >= 0);
        H5Dclose(d);
    }
    if (unit) {
        hid_t st = H5Tcopy(H5T_C_S1), as = H5Screate(H5S_SCALAR);
        H5Tset_size(st, strlen(unit) + 1);
        hid_t at = H5Acreate2(f, "uv_unit", st, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, st, unit);
        H5Aclose(at), H5Sclose(as), H5Tclose(st);
    }
    H5Tclose(ct), H5Sclose(sp), H5Sclose(ssp);
    H5Fclose(f);
}
#endif

static void h5_foreign(void **state) {
    (void)state;
#ifdef AG_TEST_HDF5
    write_foreign(TMP, H_OK, "klambda");
    ag_vis *v = ag_read_vis_h5(TMP);
    assert_non_null(v);
    assert_int_equal(v->nchan, 1);
    assert_int_equal(v->nvis, 4);
    assert_values(v->u, 1500, -2000, 30000, 4000);
    assert_values(v->weight, 1, 2, 3, 4);
    double complex *d = tu_cvalues(v->data);
    assert_true(d[0] == 1 + 0.5 * I && d[1] == -1 + 2 * I && d[3] == 3 - 3 * I);
    free(d);
    ag_vis_free(v);
    write_foreign(TMP, H_OK, NULL); /* no attribute: λ */
    v = ag_read_vis_h5(TMP);
    assert_non_null(v);
    assert_values(v->v, 1.5, -2, 30, 4);
    ag_vis_free(v);
    struct { h5_case c; const char *unit; ag_status code; const char *msg; } bad[] = {
        { H_NO_WEIGHT, NULL, AG_ERR_FORMAT, "no dataset /weight" },
        { H_REAL_DATA, NULL, AG_ERR_DTYPE, "/data is not complex" },
        { H_SHORT_V, NULL, AG_ERR_SHAPE, "/v has 1 x 3 elements, expected 1 x 4" },
        { H_ZERO_W, NULL, AG_ERR_INVALID, "weight[0, 3] is 0" },
        { H_NEG_W, NULL, AG_ERR_INVALID, "weight[0, 1] is -2, expected > 0" },
        { H_NAN_U, NULL, AG_ERR_INVALID, "u[0, 2] is not finite" },
        { H_OK, "meters", AG_ERR_FORMAT, "uv_unit" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_foreign(TMP, bad[i].c, bad[i].unit);
        assert_null(ag_read_vis_h5(TMP));
        assert_error(bad[i].code, "ag_read_vis_h5", bad[i].msg, TMP);
    }
    /* not HDF5, missing, truncated */
    assert_null(ag_read_vis_h5(FX("vis_ok.npz")));
    assert_error(AG_ERR_FORMAT, "ag_read_vis_h5", "not an HDF5 file");
    assert_null(ag_read_vis_h5(FX("nothing.h5")));
    assert_error(AG_ERR_IO, "ag_read_vis_h5", "cannot open");
    assert_null(ag_read_vis_h5(NULL));
    assert_error(AG_ERR_INVALID, "ag_read_vis_h5", "NULL");
    ag_vis *a = ag_read_vis_npz(FX("vis_ok.npz"), AG_UV_LAMBDA);
    assert_int_equal(ag_write_vis_h5(a, TMP), 0);
    ag_vis_free(a);
    long n;
    unsigned char *b = tu_read_file(TMP, &n);
    for (long len = 0; len < n; len += n / 7 + 1) {
        tu_write_file(TMP, b, len);
        assert_null(ag_read_vis_h5(TMP));
        assert_error(AG_ERR_FORMAT, "ag_read_vis_h5", TMP);
    }
    free(b);
#else
    assert_null(ag_read_vis_h5(FX("vis_ok.npz")));
    assert_error(AG_ERR_NOTIMPL, "ag_read_vis_h5");
#endif
}

int main(void) {
    DEV = ag_device_default();
    snprintf(TMP, sizeof TMP, "/tmp/ag_test_visio_%d.bin", (int)getpid());
    const struct CMUnitTest tests[] = {
        TEST(npz_reads), TEST(npz_bad_files), TEST(npz_truncated), TEST(npz_corrupt), TEST(npz_crafted),
        TEST(h5_roundtrip), TEST(h5_foreign),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(TMP);
    return rc;
}
