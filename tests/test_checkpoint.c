/* tests/test_checkpoint.c — ag_module_save / ag_module_load: bit-exact round trips of
 * parameters, buffers, Adam and L-BFGS state (training resumes identically), and bad files
 * (missing, mis-shaped or unexpected tensors, wrong dtype, truncated, not HDF5, absent, and 300
 * corrupted copies checked against the checksums) that must leave the module and optimizer
 * untouched, with clear messages and no leaks. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <astrograd.h>
#include "ag_config.h"
#include "test_util.h"

static char dir[256];
/* the device the tests run on: AG_DEVICE ("cpu", "test", "cuda"), the CPU when unset */
static ag_device DEV;
static int64_t live0;

static int setup(void **st) { (void)st; ag_clear_error(); live0 = ag_live_tensors(); return 0; }
static int teardown(void **st) {
    (void)st;
    if (ag_live_tensors() != live0) fail_msg("leak: %lld tensors alive, expected %lld", (long long)ag_live_tensors(), (long long)live0);
    ag_clear_error();
    return 0;
}

static const char *path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#define OK(expr) do { if ((expr) < 0) fail_msg("%s failed: %s", #expr, ag_last_error()); } while (0)

/* conv -> batchnorm -> relu -> flatten -> linear, under an "encoder" child */
static ag_module *model(uint64_t seed, int64_t in_features) {
    ag_manual_seed(seed);
    ag_module *root = AG_SEQUENTIAL(ag_nn_identity());
    ag_module *enc = AG_SEQUENTIAL(ag_nn_linear(in_features, 16, true), ag_nn_relu());
    ag_module_add(root, "encoder", enc);
    ag_module *body = AG_SEQUENTIAL(ag_nn_conv2d(1, 2, 3, 3, true, NULL), ag_nn_batchnorm2d(2, (ag_norm_opts){0}), ag_nn_silu(),
                                    ag_nn_flatten(1, -1), ag_nn_linear(8, 3, true));
    ag_module_add(root, "body", body);
    ag_module_to(root, DEV);
    assert_false(ag_failed());
    return root;
}

#ifdef AG_HAVE_HDF5
/* a loss touching every parameter and the batchnorm buffers */
static ag_tensor *loss_of(ag_module *m, int step) {
    ag_manual_seed(1000 + (uint64_t)step);
    ag_tensor *x = ag_randn_on(AG_SHAPE(4, 8), AG_F64, DEV);
    ag_tensor *img = ag_randn_on(AG_SHAPE(4, 1, 4, 4), AG_F64, DEV);
    ag_tensor *a = ag_forward(ag_module_child(m, "encoder"), x);
    ag_tensor *b = ag_forward(ag_module_child(m, "body"), img);
    return ag_add(ag_mean(ag_square(a), AG_ALL_DIMS, false), ag_mean(ag_square(b), AG_ALL_DIMS, false));
}

static void train(ag_module *m, ag_optim *o, int from, int steps) {
    for (int s = from; s < from + steps; s++) {
        ag_scope_begin();
        ag_optim_zero_grad(o);
        OK(ag_backward(loss_of(m, s)));
        OK(ag_optim_step(o));
        ag_scope_end();
    }
}

static bool same(ag_tensor *a, ag_tensor *b) {
    if (ag_dtype_of(a) != ag_dtype_of(b) || ag_numel(a) != ag_numel(b)) return false;
    ag_scope_begin();
    ag_tensor *ne = ag_ne(a, b);
    bool r = ag_item(ag_sum(ag_to_dtype(ne, AG_I64), AG_ALL_DIMS, false)) == 0;
    ag_scope_end();
    return r;
}

/* every parameter and buffer of a equals b's, bit for bit */
static bool same_module(ag_module *a, ag_module *b) {
    ag_params pa = ag_module_params(a), pb = ag_module_params(b);
    ag_params ba = ag_module_buffers(a), bb = ag_module_buffers(b);
    if (pa.n != pb.n || ba.n != bb.n) return false;
    for (int i = 0; i < pa.n; i++) if (!same(pa.t[i], pb.t[i])) return false;
    for (int i = 0; i < ba.n; i++) if (!same(ba.t[i], bb.t[i])) return false;
    return true;
}


static void test_round_trip(void **st) {
    (void)st;
    ag_module *m1 = model(1, 8);
    ag_optim *o1 = ag_adam(ag_module_params(m1), (ag_adam_opts){.lr = 1e-2});
    train(m1, o1, 0, 3);
    OK(ag_module_save(m1, path("a.h5"), o1));
    assert_int_equal(access(path("a.h5"), R_OK), 0);

    ag_module *m2 = model(2, 8);
    ag_optim *o2 = ag_adam(ag_module_params(m2), (ag_adam_opts){.lr = 5e-1});
    assert_false(same_module(m1, m2));
    OK(ag_module_load(m2, path("a.h5"), o2));
    assert_true(same_module(m1, m2));
    assert_int_equal(ag_optim_num_state(o2), ag_optim_num_state(o1));
    for (int i = 0; i < ag_optim_num_state(o1); i++) {
        const char *n1, *n2;
        ag_tensor *s1 = ag_optim_state_at(o1, i, &n1), *s2 = ag_optim_state_at(o2, i, &n2);
        assert_string_equal(n1, n2);
        assert_true(same(s1, s2));
    }
    assert_true(ag_optim_get_lr(o2) == 1e-2);
    /* training resumes identically */
    train(m1, o1, 3, 2);
    train(m2, o2, 3, 2);
    assert_true(same_module(m1, m2));

    /* a module-only checkpoint into a model in eval mode, no optimizer */
    OK(ag_module_save(m1, path("b.h5"), NULL));
    ag_module *m3 = model(3, 8);
    ag_module_eval(m3);
    OK(ag_module_load(m3, path("b.h5"), NULL));
    assert_true(same_module(m1, m3));
    /* ... which cannot restore an optimizer */
    ag_optim *o3 = ag_adam(ag_module_params(m3), (ag_adam_opts){0});
    assert_true(ag_module_load(m3, path("b.h5"), o3) < 0);
    assert_non_null(strstr(ag_last_error(), "has no optimizer state"));
    ag_clear_error();
    /* wrong optimizer kind */
    ag_optim *sgd = ag_sgd(ag_module_params(m3), (ag_sgd_opts){.lr = 0.1});
    assert_true(ag_module_load(m3, path("a.h5"), sgd) < 0);
    assert_non_null(strstr(ag_last_error(), "holds adam state, the optimizer given is sgd"));
    ag_clear_error();
    /* saving over an existing file replaces it atomically (no temporary left behind) */
    OK(ag_module_save(m2, path("a.h5"), o2));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | grep -c '^\\.') -eq 0", dir);
    assert_int_equal(system(cmd), 0);

    ag_optim_free(o1);
    ag_optim_free(o2);
    ag_optim_free(o3);
    ag_optim_free(sgd);
    ag_module_free(m1);
    ag_module_free(m2);
    ag_module_free(m3);
}

typedef struct clo { ag_module *m; int step; } clo;
static ag_tensor *closure(void *ud) {
    clo *c = ud;
    ag_params ps = ag_module_params(c->m);
    for (int i = 0; i < ps.n; i++) ag_zero_grad(ps.t[i]);
    ag_tensor *L = loss_of(c->m, c->step);
    if (ag_backward(L)) { ag_release(L); return NULL; }
    return L;
}

/* L-BFGS keeps a history whose length grows with the steps: a checkpoint taken after some
 * steps loads into a fresh optimizer (history of length 0) and training resumes identically. */
static void test_lbfgs_round_trip(void **st) {
    (void)st;
    ag_lbfgs_opts lo = {.history_size = 4, .max_iter = 3, .line_search = AG_LINE_SEARCH_STRONG_WOLFE};
    ag_module *m1 = model(1, 8), *m2 = model(2, 8);
    ag_optim *o1 = ag_lbfgs(ag_module_params(m1), lo), *o2 = ag_lbfgs(ag_module_params(m2), lo);
    for (int s = 0; s < 2; s++) {
        ag_scope_begin();
        OK(ag_optim_step_closure(o1, closure, &(clo){m1, s}));
        ag_scope_end();
    }
    int d = ag_optim_find_state(o1, "0.old_dirs");
    assert_true(d >= 0);
    assert_true(ag_shape(ag_optim_state_at(o1, d, NULL))[0] > 0);
    OK(ag_module_save(m1, path("lbfgs.h5"), o1));
    OK(ag_module_load(m2, path("lbfgs.h5"), o2));
    assert_true(same_module(m1, m2));
    for (int s = 2; s < 4; s++) {
        ag_scope_begin();
        OK(ag_optim_step_closure(o1, closure, &(clo){m1, s}));
        OK(ag_optim_step_closure(o2, closure, &(clo){m2, s}));
        ag_scope_end();
    }
    assert_true(same_module(m1, m2));
    /* an L-BFGS with a shorter history cannot take it, and is left fresh */
    ag_optim *o3 = ag_lbfgs(ag_module_params(m2), (ag_lbfgs_opts){.history_size = 1});
    assert_true(ag_module_load(m2, path("lbfgs.h5"), o3) < 0);
    assert_non_null(strstr(ag_last_error(), "/optim/0.old_dirs has shape"));
    ag_clear_error();
    assert_int_equal(ag_optim_num_state(o3), 0);
    ag_optim_free(o1);
    ag_optim_free(o2);
    ag_optim_free(o3);
    ag_module_free(m1);
    ag_module_free(m2);
}

/* A tensor larger than one chunk (1 MiB) is split into several, the last one partial. */
static void test_large_tensor(void **st) {
    (void)st;
    ag_manual_seed(5);
    ag_module *a = ag_nn_linear(1000, 300, true);   /* weight [300,1000] f64: 2.4 MB, 3 chunks */
    OK(ag_module_to(a, DEV));
    ag_manual_seed(6);
    ag_module *b = ag_nn_linear(1000, 300, true);
    OK(ag_module_to(b, DEV));
    assert_false(same_module(a, b));
    OK(ag_module_save(a, path("large.h5"), NULL));
    OK(ag_module_load(b, path("large.h5"), NULL));
    assert_true(same_module(a, b));
    ag_module_free(a);
    ag_module_free(b);
}

/* i32 and u8 buffers (FITS images, masks) are stored as HDF5 32-bit signed and 8-bit unsigned
 * integers and come back with their dtype and values. */
static void test_int_buffers(void **st) {
    (void)st;
    ag_scope_begin();
    ag_module *a = ag_nn_linear(2, 2, false), *b = ag_nn_linear(2, 2, false);
    OK(ag_module_add_buffer(a, "image", ag_to(ag_from_data((int32_t[]){INT32_MIN, -1, 0, INT32_MAX}, AG_SHAPE(2, 2), AG_I32), DEV)));
    OK(ag_module_add_buffer(a, "mask", ag_to(ag_from_data((uint8_t[]){0, 1, 200, 255}, AG_SHAPE(4), AG_U8), DEV)));
    OK(ag_module_add_buffer(b, "image", ag_zeros_on(AG_SHAPE(2, 2), AG_I32, DEV)));
    OK(ag_module_add_buffer(b, "mask", ag_zeros_on(AG_SHAPE(4), AG_U8, DEV)));
    OK(ag_module_save(a, path("ints.h5"), NULL));
    assert_false(same_module(a, b));
    OK(ag_module_load(b, path("ints.h5"), NULL));
    assert_true(same_module(a, b));
    assert_int_equal(ag_dtype_of(ag_module_buffer(b, "image")), AG_I32);
    assert_int_equal(ag_dtype_of(ag_module_buffer(b, "mask")), AG_U8);
    uint8_t m[4];
    OK(ag_copy_to_buffer(ag_module_buffer(b, "mask"), m, AG_U8));
    assert_memory_equal(m, ((uint8_t[]){0, 1, 200, 255}), 4);
    /* a u8 file dataset does not load into an i32 buffer */
    ag_module *c = ag_nn_linear(2, 2, false);
    OK(ag_module_add_buffer(c, "image", ag_zeros_on(AG_SHAPE(2, 2), AG_I32, DEV)));
    OK(ag_module_add_buffer(c, "mask", ag_zeros_on(AG_SHAPE(4), AG_I32, DEV)));
    assert_true(ag_module_load(c, path("ints.h5"), NULL) < 0);
    assert_non_null(strstr(ag_last_error(), "mask"));
    ag_clear_error();
    ag_module_free(a);
    ag_module_free(b);
    ag_module_free(c);
    ag_scope_end();
}

/* ---- corruption ------------------------------------------------------------------------------ */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { return tu_xorshift(&rng_state); }

/* every state entry and the lr of a equal b's, bit for bit */
static bool same_optim(ag_optim *a, ag_optim *b) {
    if (ag_optim_num_state(a) != ag_optim_num_state(b) || ag_optim_get_lr(a) != ag_optim_get_lr(b)) return false;
    for (int i = 0; i < ag_optim_num_state(a); i++) {
        ag_tensor *x = ag_optim_state_at(a, i, NULL), *y = ag_optim_state_at(b, i, NULL);
        if (ag_ndim(x) != ag_ndim(y) || memcmp(ag_shape(x), ag_shape(y), sizeof(int64_t) * (size_t)ag_ndim(x)) || !same(x, y))
            return false;
    }
    return true;
}

typedef struct outcome { int failed, identical, checksum; } outcome;

/* Load `file` into a fresh model(7) and optimizer made by mk: either it fails, naming the file,
 * and leaves both untouched, or everything equals (m0, o0) bit for bit. */
static bool load_corrupt(const char *file, ag_module *m0, ag_optim *o0, ag_optim *(*mk)(ag_module *), outcome *out,
                         char *err, size_t errn) {
    ag_module *m = model(7, 8), *fresh = model(7, 8);
    ag_optim *o = mk(m);
    ag_clear_error();
    int rc = ag_module_load(m, file, o);
    bool ok;
    if (rc < 0) {
        snprintf(err, errn, "%s", ag_last_error());
        ok = strstr(ag_last_error(), file) && same_module(m, fresh) && ag_optim_num_state(o) == 0;
        out->failed++;
        if (strstr(ag_last_error(), "checksum")) out->checksum++;
    } else {
        snprintf(err, errn, "(loaded)");
        ok = same_module(m, m0) && same_optim(o, o0);
        out->identical++;
    }
    ag_clear_error();
    ag_optim_free(o);
    ag_module_free(m);
    ag_module_free(fresh);
    return ok;
}

static ag_optim *mk_adam(ag_module *m) { return ag_adam(ag_module_params(m), (ag_adam_opts){.lr = 0.5, .amsgrad = true}); }
static ag_optim *mk_lbfgs(ag_module *m) { return ag_lbfgs(ag_module_params(m), (ag_lbfgs_opts){0}); }

/* 300 corrupted copies of two checkpoints (Adam state after 3 steps: 0-d step counters; a
 * fresh L-BFGS state: empty histories): truncations at many offsets, single-byte changes at
 * random positions and inside the tensors' data. None may crash or load other values; a change
 * inside tensor data must fail on its checksum. HDF5 must print nothing. */
static void test_corruption(void **st) {
    (void)st;
    ag_module *m0 = model(1, 8);
    ag_optim *oa = ag_adam(ag_module_params(m0), (ag_adam_opts){.lr = 1e-2, .amsgrad = true});
    train(m0, oa, 0, 3);
    ag_optim *ol = ag_lbfgs(ag_module_params(m0), (ag_lbfgs_opts){0});
    OK(ag_optim_init_state(ol));
    OK(ag_module_save(m0, path("c_adam.h5"), oa));
    OK(ag_module_save(m0, path("c_lbfgs.h5"), ol));

    fflush(stderr);
    int saved_err = dup(2);
    char errlog[512];
    snprintf(errlog, sizeof errlog, "%s", path("stderr.txt"));
    FILE *ef = fopen(errlog, "w");
    assert_non_null(ef);
    dup2(fileno(ef), 2);

    outcome out = {0};
    int bad = 0, ncopies = 0, data_hits = 0, data_fail = 0;
    char err[1024], what[128], first_bad[1400] = "";
    for (int which = 0; which < 2; which++) {
        char src[512];
        snprintf(src, sizeof src, "%s", which ? path("c_lbfgs.h5") : path("c_adam.h5"));
        ag_optim *o0 = which ? ol : oa;
        ag_optim *(*mk)(ag_module *) = which ? mk_lbfgs : mk_adam;
        long size;
        unsigned char *orig = tu_read_file(src, &size), *buf = malloc((size_t)size);
        /* where each parameter's data lies in the file: its first 16 bytes, found verbatim */
        ag_params ps = ag_module_params(m0);
        long at[64];
        int64_t len[64];
        int nat = 0;
        for (int i = 0; i < ps.n && nat < 64; i++) {
            int64_t nb = ag_numel(ps.t[i]) * 8;
            double *v = malloc((size_t)nb);
            assert_int_equal(ag_copy_to_buffer(ps.t[i], v, AG_F64), 0);
            for (long q = 0; nb >= 16 && q + 16 <= size; q++)
                if (!memcmp(orig + q, v, 16)) { at[nat] = q; len[nat] = nb; nat++; break; }
            free(v);
        }
        assert_true(nat == ps.n);
        for (int c = 0; c < 150; c++, ncopies++) {
            const char *file = path("corrupt.h5");
            memcpy(buf, orig, (size_t)size);
            long n = size;
            bool in_data = false;
            if (c < 50) {               /* truncations, from the first byte to the last */
                n = (long)((double)size * c / 50);
                if (c >= 45) n = size - 1 - (long)(rnd() % 64);
                snprintf(what, sizeof what, "truncated to %ld of %ld bytes", n, size);
            } else if (c < 110) {       /* a byte anywhere */
                long q = (long)(rnd() % (uint64_t)size);
                buf[q] ^= (unsigned char)(1 + rnd() % 255);
                snprintf(what, sizeof what, "byte %ld of %ld changed", q, size);
            } else {                    /* a byte inside a parameter's data */
                int i = (int)(rnd() % (uint64_t)nat);
                long q = at[i] + (long)(rnd() % (uint64_t)len[i]);
                buf[q] ^= (unsigned char)(1 + rnd() % 255);
                in_data = true;
                snprintf(what, sizeof what, "byte %ld (data of %s) changed", q, ps.names[i]);
            }
            tu_write_file(file, buf, n);
            int failed0 = out.failed, cks0 = out.checksum;
            bool ok = load_corrupt(file, m0, o0, mk, &out, err, sizeof err);
            if (in_data) {
                data_hits++;
                if (out.checksum > cks0) data_fail++;
                else ok = false;
            }
            (void)failed0;
            if (!ok && !bad++)
                snprintf(first_bad, sizeof first_bad, "%s copy %d, %s: %s", which ? "lbfgs" : "adam", c, what, err);
        }
        free(orig);
        free(buf);
    }

    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    fclose(ef);
    long errsize;
    unsigned char *printed = tu_read_file(errlog, &errsize);
    if (errsize) fail_msg("HDF5 printed %ld bytes on stderr: %.*s", errsize, (int)(errsize < 300 ? errsize : 300), printed);
    free(printed);

    print_message("corruption: %d copies, %d failed (%d on a checksum), %d loaded identical values; "
                  "%d of %d changes inside tensor data failed on their checksum\n",
                  ncopies, out.failed, out.checksum, out.identical, data_fail, data_hits);
    if (bad) fail_msg("%d of %d corrupted copies misbehaved; first: %s", bad, ncopies, first_bad);
    assert_int_equal(ncopies, 300);
    assert_int_equal(data_fail, data_hits);
    ag_optim_free(oa);
    ag_optim_free(ol);
    ag_module_free(m0);
}

/* loading `file` into a fresh model(7, in) fails with `msg` and changes nothing */
static void expect_bad(const char *file, int64_t in, const char *msg, ag_status code) {
    ag_module *m = model(7, in), *ref = model(7, in);
    ag_clear_error();
    int rc = ag_module_load(m, file, NULL);
    if (rc >= 0) fail_msg("loading %s succeeded, expected '%s'", file, msg);
    if (!strstr(ag_last_error(), msg)) fail_msg("loading %s: error '%s' lacks '%s'", file, ag_last_error(), msg);
    if (code) assert_int_equal(ag_error_code(), code);
    ag_clear_error();
    assert_true(same_module(m, ref));
    ag_module_free(m);
    ag_module_free(ref);
}

static void test_bad_files(void **st) {
    (void)st;
    ag_module *m8 = model(1, 8);
    OK(ag_module_save(m8, path("good.h5"), NULL));

    /* mis-shaped: the encoder was built for 4 inputs */
    char expect[256];
    snprintf(expect, sizeof expect, "ag_module_load: /params/encoder.0.weight has shape [16,8], expected [16,4]");
    expect_bad(path("good.h5"), 4, expect, AG_ERR_SHAPE);

    /* missing tensor: a file written by a model without the encoder's bias */
    ag_module *small = AG_SEQUENTIAL(ag_nn_identity());
    ag_module_add(small, "encoder", AG_SEQUENTIAL(ag_nn_linear(8, 16, false), ag_nn_relu()));
    ag_module_add(small, "body", AG_SEQUENTIAL(ag_nn_conv2d(1, 2, 3, 3, true, NULL), ag_nn_batchnorm2d(2, (ag_norm_opts){0}),
                                               ag_nn_silu(), ag_nn_flatten(1, -1), ag_nn_linear(8, 3, true)));
    OK(ag_module_to(small, DEV));
    OK(ag_module_save(small, path("nobias.h5"), NULL));
    expect_bad(path("nobias.h5"), 8, "/params/encoder.0.bias is missing from", AG_ERR_FORMAT);

    /* unexpected tensor: load the full file into the bias-free model */
    ag_clear_error();
    assert_true(ag_module_load(small, path("good.h5"), NULL) < 0);
    assert_non_null(strstr(ag_last_error(), "unexpected entry /params/encoder.0.bias"));
    ag_clear_error();

    /* wrong dtype */
    ag_module *m32 = model(1, 8);
    OK(ag_module_to_dtype(m32, AG_F32));
    OK(ag_module_save(m32, path("f32.h5"), NULL));
    expect_bad(path("f32.h5"), 8, "/params/encoder.0.weight has dtype f32, expected f64", AG_ERR_DTYPE);

    /* truncated: the first half of a good file */
    FILE *in = fopen(path("good.h5"), "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *bytes = malloc((size_t)size);
    assert_int_equal(fread(bytes, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    FILE *out = fopen(path("trunc.h5"), "wb");
    fwrite(bytes, 1, (size_t)size / 2, out);
    fclose(out);
    expect_bad(path("trunc.h5"), 8, "is corrupt or truncated", AG_ERR_FORMAT);
    free(bytes);

    /* not HDF5 */
    out = fopen(path("text.h5"), "w");
    fputs("this is not an HDF5 file\n", out);
    fclose(out);
    expect_bad(path("text.h5"), 8, "is not an HDF5 file", AG_ERR_FORMAT);

    /* absent */
    expect_bad(path("absent.h5"), 8, "cannot open", AG_ERR_IO);

    /* a directory that does not exist: save fails cleanly */
    ag_clear_error();
    assert_true(ag_module_save(m8, "/nonexistent-dir/x.h5", NULL) < 0);
    assert_non_null(strstr(ag_last_error(), "cannot write in the directory of '/nonexistent-dir/x.h5'"));
    ag_clear_error();

    ag_module_free(m8);
    ag_module_free(small);
    ag_module_free(m32);
}

#else

static void test_no_hdf5(void **st) {
    (void)st;
    ag_module *m = model(1, 8);
    assert_int_equal(ag_module_save(m, path("a.h5"), NULL), AG_ERR_NOTIMPL);
    assert_non_null(strstr(ag_last_error(), "no HDF5 support"));
    ag_clear_error();
    assert_int_equal(ag_module_load(m, path("a.h5"), NULL), AG_ERR_NOTIMPL);
    ag_clear_error();
    ag_module_free(m);
}

#endif

int main(void) {
    DEV = ag_device_default();
    snprintf(dir, sizeof dir, "/tmp/ag_ckpt_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    const struct CMUnitTest tests[] = {
#ifdef AG_HAVE_HDF5
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lbfgs_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_tensor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_buffers, setup, teardown),
#else
        cmocka_unit_test_setup_teardown(test_no_hdf5, setup, teardown),
#endif
    };
    int rc = cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
