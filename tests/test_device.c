/* tests/test_device.c — a second device against the CPU, one runner for every device kind:
 * `test_device cuda` (suite 'cuda') and `test_device test` (suite 'device', the test-only
 * device kind that CI builds with -Dtest_device=true). A device that is not present makes it
 * print why and exit 77 (meson: skipped). Otherwise:
 *  1. every op-table row and dtype: inputs built on the CPU from the fixtures, moved with ag_to,
 *     the row run on both devices, the device result moved back and compared with the CPU result
 *     (f64/c128 1e-12 relative, f32/c64 1e-5, or the row's own tolerance), then the
 *     vector-Jacobian products through ag_grad likewise (x10 tolerance, as test_op_table), and
 *     the forward on strided device inputs. A row whose op has no kernel on the device
 *     (AG_ERR_NOTIMPL) is skipped with the reason and counted; the counts and the list of
 *     kernel entries the device lacks are printed at the end. On the test device nothing may
 *     be missing (its kernels are the CPU's), so there AG_ERR_NOTIMPL is a failure;
 *  2. CUDA: the caching allocator (reuse, empty_cache, stats, an impossible allocation). Test
 *     device: its memory is its own (host access faults, CPU pointers are refused);
 *  3. Philox: the device's rng entry gives the CPU's values (uniform and randint bit for bit);
 *  4. ag_to round trips for every dtype, strided sources included. */
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "op_cases.h"
#ifdef AG_TEST_INTERNALS
#include "backends/kernels.h"
#endif

static ag_device GPU; /* the device under test (named so since the runner began with CUDA) */
static int n_rows_run, n_rows_passed, n_rows_notimpl;


static ag_tensor *to_cpu(ag_tensor *t) { return t ? ag_to(t, AG_CPU) : NULL; }

/* same values, other strides, on the GPU */
static ag_tensor *noncontig_gpu(ag_tensor *x) {
    int nd = ag_ndim(x);
    if (nd >= 2) return ag_transpose(ag_contiguous(ag_transpose(x, -1, -2)), -1, -2);
    if (nd == 1) {
        ag_tensor *buf = ag_to(ag_zeros((int64_t[]){ag_shape(x)[0], 2}, 2, ag_dtype_of(x)), GPU);
        ag_tensor *col = ag_select(buf, 1, 1);
        if (ag_copy_(col, x)) return NULL;
        return col;
    }
    return ag_clone(x);
}

/* leaves the case as skipped when the failure is a missing kernel; true otherwise */
static bool notimpl(const tcase *tc, const char *stage) {
    if (ag_error_code() != AG_ERR_NOTIMPL || GPU.kind == AG_DEV_TEST) return false;
    print_message("[  SKIP    ] %s: %s not implemented on %s: %s\n", tc->name, stage,
                  ag_device_kind_name(GPU.kind), ag_last_error());
    n_rows_notimpl++;
    return true;
}

static void run_case(void **state) {
    tcase *tc = *state;
    const op_row *row = tc->row;
    const char *dn = ag_dtype_name(tc->dt);
    fx_file *f = op_family_file(tc->family);
    assert_non_null(f);
    int64_t live0 = ag_live_tensors();
    ag_clear_error();
    double rtol, atol;
    op_case_tolerances(tc, &rtol, &atol);
    bool skipped = false;
    n_rows_run++;

    ag_scope_begin();
    ag_tensor *x[8] = {0}, *xc[8] = {0};
    int diff[8], nd = 0;
    for (int i = 0; i < row->n_in; i++) {
        x[i] = fx_get(f, "%s.%s.in%d", row->name, dn, i);
        if (!x[i]) fail_msg("%s: fixture entry %s.%s.in%d missing", tc->name, row->name, dn, i);
        xc[i] = ag_to(x[i], GPU);
        if (!xc[i]) fail_msg("%s: moving input %d to the device failed: %s", tc->name, i, ag_last_error());
        if (fx_has(f, "%s.%s.grad%d", row->name, dn, i)) {
            ag_set_requires_grad(x[i], true);
            ag_set_requires_grad(xc[i], true);
            diff[nd++] = i;
        }
    }
    ag_tensor *ref = row->fn(x, row->n_in, NULL);
    if (!ref) fail_msg("%s: cpu forward failed: %s", tc->name, ag_last_error());
    ag_tensor *out = row->fn(xc, row->n_in, NULL);
    if (!out) {
        if (notimpl(tc, "forward")) { skipped = true; goto done; }
        fail_msg("%s: device forward failed: %s", tc->name, ag_last_error());
    }
    if (!ag_device_eq(ag_device_of(out), GPU)) fail_msg("%s: the result is not on the device", tc->name);
    ag_tensor *back = to_cpu(out);
    if (!back) fail_msg("%s: moving the result back failed: %s", tc->name, ag_last_error());
    assert_int_equal(ag_dtype_of(back), ag_dtype_of(ref));
    double r = fx_close_ratio(back, ref, rtol, atol);
    if (r > 1) fail_msg("%s: device forward differs from cpu (error ratio %.3g at rtol %.1g)", tc->name, r, rtol);

    ag_tensor *w = fx_get(f, "%s.%s.w", row->name, dn);
    if (w && nd) {
        ag_tensor *ins[8], *insc[8], *g[8], *gc[8];
        for (int k = 0; k < nd; k++) { ins[k] = x[diff[k]]; insc[k] = xc[diff[k]]; }
        if (ag_grad(&ref, 1, ins, nd, &w, false, g)) fail_msg("%s: cpu backward failed: %s", tc->name, ag_last_error());
        ag_tensor *wc = ag_to(w, GPU);
        if (ag_grad(&out, 1, insc, nd, &wc, false, gc)) {
            if (notimpl(tc, "backward")) { skipped = true; goto done; }
            fail_msg("%s: device backward failed: %s", tc->name, ag_last_error());
        }
        for (int k = 0; k < nd; k++) {
            ag_tensor *gb = to_cpu(gc[k]);
            if (!gb) fail_msg("%s: moving gradient %d back failed: %s", tc->name, diff[k], ag_last_error());
            double rg = fx_close_ratio(gb, g[k], rtol * 10, atol * 10);
            if (rg > 1) fail_msg("%s: device gradient of input %d differs from cpu (error ratio %.3g)", tc->name, diff[k], rg);
        }
    }

    ag_no_grad_begin();
    ag_tensor *xs[8];
    for (int i = 0; i < row->n_in; i++) {
        xs[i] = noncontig_gpu(xc[i]);
        if (!xs[i]) fail_msg("%s: strided device input %d: %s", tc->name, i, ag_last_error());
    }
    ag_tensor *outs = row->fn(xs, row->n_in, NULL);
    ag_no_grad_end();
    if (!outs) fail_msg("%s: device forward on strided inputs failed: %s", tc->name, ag_last_error());
    r = fx_close_ratio(to_cpu(outs), ref, rtol, atol);
    if (r > 1) fail_msg("%s: device forward on strided inputs differs (error ratio %.3g)", tc->name, r);
    n_rows_passed++;

done:
    ag_scope_end();
    ag_clear_error();
    if (skipped) skip();
    assert_int_equal(ag_live_tensors(), live0);
}

/* ---- allocator ---------------------------------------------------------------------- */
static ag_cuda_memory_stats stats(void) {
    ag_cuda_memory_stats s;
    assert_int_equal(ag_cuda_memory_stats_get(&s), 0);
    return s;
}

static void test_alloc_reuse_and_stats(void **state) {
    (void)state;
    ag_tensor *h = ag_zeros(AG_SHAPE(1 << 17), AG_F64); /* 1 MiB */
    ag_tensor *a = ag_to(h, GPU);
    assert_non_null(a);
    ag_cuda_memory_stats s1 = stats();
    assert_true(s1.allocated_bytes >= (size_t)1 << 20);
    assert_true(s1.peak_bytes >= s1.allocated_bytes);
    assert_int_equal(ag_live_bytes(GPU), (int64_t)1 << 20);
    ag_release(a);
    ag_cuda_memory_stats s2 = stats();
    assert_true(s2.cached_bytes >= (size_t)1 << 20);
    assert_true(s2.allocated_bytes + ((size_t)1 << 20) <= s1.allocated_bytes);
    ag_tensor *b = ag_to(h, GPU); /* same size: served from the cache */
    assert_non_null(b);
    ag_cuda_memory_stats s3 = stats();
    assert_int_equal(s3.n_cuda_malloc, s2.n_cuda_malloc);
    assert_true(s3.n_cache_hits > s2.n_cache_hits);
    ag_release(b);
    ag_release(h);
}

static void test_alloc_empty_cache(void **state) {
    (void)state;
    ag_tensor *a = ag_to(ag_ones(AG_SHAPE(1000, 100), AG_F32), GPU);
    assert_non_null(a);
    ag_release(a);
    assert_true(stats().cached_bytes > 0);
    uint64_t frees = stats().n_cuda_free;
    ag_cuda_empty_cache();
    assert_int_equal(stats().cached_bytes, 0);
    assert_true(stats().n_cuda_free > frees);
}

static void test_alloc_impossible(void **state) {
    (void)state;
    int64_t live0 = ag_live_tensors();
    ag_tensor *one = ag_to(ag_ones(AG_SHAPE(1), AG_F64), GPU);
    assert_non_null(one);
    ag_clear_error();
    uint64_t retries = stats().n_oom_retries;
    ag_tensor *wide = ag_expand(one, AG_SHAPE((int64_t)1 << 47)); /* a view: no memory */
    assert_non_null(wide);
    ag_tensor *huge = ag_contiguous(wide); /* 1 PiB */
    ag_release(wide);
    assert_null(huge);
    assert_int_equal(ag_error_code(), AG_ERR_NOMEM);
    assert_non_null(strstr(ag_last_error(), "cuda"));
    print_message("impossible allocation reports: %s\n", ag_last_error());
    assert_true(stats().n_oom_retries > retries);
    ag_clear_error();
    /* the device is still usable */
    ag_tensor *t = ag_to(ag_add_s(one, 1.0), AG_CPU);
    assert_non_null(t);
    assert_true(ag_item(t) == 2.0);
    ag_release(t);
    ag_release(one);
    assert_int_equal(ag_live_tensors(), live0);
}

/* ---- ag_to ------------------------------------------------------------------------------ */
static void test_to_round_trip(void **state) {
    (void)state;
    ag_manual_seed(3);
    for (int dt = 0; dt < AG_NUM_DTYPES; dt++) {
        ag_scope_begin();
        ag_tensor *src = ag_to_dtype(ag_mul_s(ag_randn(AG_SHAPE(5, 7, 3), AG_F64), 10), (ag_dtype)dt);
        ag_tensor *strided = ag_transpose(src, 0, 2);
        ag_tensor *g = ag_to(strided, GPU);
        assert_non_null(g);
        ag_tensor *gs = ag_permute(ag_to(src, GPU), (const int[]){2, 1, 0}, 3); /* strided on the gpu */
        ag_tensor *b1 = ag_to(g, AG_CPU), *b2 = ag_to(gs, AG_CPU);
        assert_non_null(b1);
        assert_non_null(b2);
        assert_true(fx_close_ratio(b1, strided, 1e-15, 1e-300) <= 1);
        assert_true(fx_close_ratio(b2, strided, 1e-15, 1e-300) <= 1);
        /* dtype conversion on the device */
        ag_tensor *c = ag_to(ag_to_dtype(g, AG_C128), AG_CPU);
        assert_true(fx_close_ratio(c, ag_to_dtype(strided, AG_C128), 1e-15, 1e-300) <= 1);
        ag_scope_end();
    }
    assert_false(ag_failed());
}

static void test_to_grad(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = ag_ones(AG_SHAPE(4), AG_F64);
    ag_set_requires_grad(x, true);
    ag_tensor *y = ag_sum(ag_to(ag_mul_s(ag_to(x, GPU), 3.0), AG_CPU), AG_ALL_DIMS, false);
    ag_tensor *g;
    assert_int_equal(ag_grad(&y, 1, &x, 1, NULL, false, &g), 0);
    assert_int_equal(ag_device_of(g).kind, AG_DEV_CPU);
    ag_tensor *e = ag_full(AG_SHAPE(4), 3.0, AG_F64);
    assert_true(fx_close_ratio(g, e, 1e-15, 1e-300) <= 1);
    ag_scope_end();
}

/* ---- rng -------------------------------------------------------------------------------- */
#ifdef AG_TEST_INTERNALS
static void test_rng_matches_cpu(void **state) {
    (void)state;
    const ag_kernels *gk = ag_kernels_for(GPU);
    assert_non_null(gk);
    const int64_t n = 100003;
    const struct { ag_rng_dist dist; ag_dtype dt; double p0, p1; bool exact; } cases[] = {
        {AG_RNG_UNIFORM, AG_F32, 0, 1, true}, {AG_RNG_UNIFORM, AG_F64, -2, 3, true},
        {AG_RNG_UNIFORM, AG_C64, 0, 1, true}, {AG_RNG_UNIFORM, AG_C128, 0, 1, true},
        {AG_RNG_NORMAL, AG_F32, 0, 1, false}, {AG_RNG_NORMAL, AG_F64, 1, 2, false},
        {AG_RNG_NORMAL, AG_C128, 0, 1, false}, {AG_RNG_RANDINT, AG_I64, -5, 1000003, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t nb = (size_t)n * ag_dtype_size(cases[c].dt);
        char *h = malloc(nb), *hg = malloc(nb);
        void *d = gk->alloc(nb);
        assert_non_null(d);
        ag_kview vh = {h, cases[c].dt, 1, {n}, {1}}, vd = {d, cases[c].dt, 1, {n}, {1}};
        uint64_t seed = 0x1234567890abcdefULL + c, off = (uint64_t)1 << 33; /* counter crosses 32 bits */
        assert_int_equal(ag_cpu_kernels.rng(cases[c].dist, &vh, seed, off, cases[c].p0, cases[c].p1), 0);
        assert_int_equal(gk->rng(cases[c].dist, &vd, seed, off, cases[c].p0, cases[c].p1), 0);
        assert_int_equal(gk->transfer(hg, d, nb, true), 0);
        if (cases[c].exact) {
            if (memcmp(h, hg, nb)) fail_msg("rng case %zu: device values differ from the cpu's", c);
        } else {
            ag_tensor *a = ag_from_data(h, &n, 1, cases[c].dt), *b = ag_from_data(hg, &n, 1, cases[c].dt);
            double tol = cases[c].dt == AG_F32 ? 1e-6 : 1e-14;
            double r = fx_close_ratio(b, a, tol, tol);
            if (r > 1) fail_msg("rng case %zu: device normals differ from the cpu's (ratio %.3g)", c, r);
            ag_release(a);
            ag_release(b);
        }
        gk->free(d, nb);
        free(h);
        free(hg);
    }
}
#endif


/* ---- the test device: memory of its own --------------------------------------------- */
#ifdef AG_TEST_INTERNALS
static void test_testdev_host_access_faults(void **state) {
    (void)state;
    const ag_kernels *k = ag_kernels_for(GPU);
    char *p = k->alloc(4096);
    assert_non_null(p);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* cmocka's handler would go on running tests in the child */
        volatile char c = *(volatile char *)p; /* a host read of device memory: must fault */
        (void)c;
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* a plain build dies by SIGSEGV; under a sanitizer its SEGV report exits non-zero */
    assert_true(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0));
    k->free(p, 4096);
}

static void test_testdev_refuses_host_pointers(void **state) {
    (void)state;
    const ag_kernels *k = ag_kernels_for(GPU);
    double host[4] = {0};
    ag_kview v = {host, AG_F64, 1, {4}, {1}};
    ag_clear_error();
    assert_int_equal(k->fill(&v, 1, 0), AG_ERR_DEVICE);
    assert_non_null(strstr(ag_last_error(), "not in test-device memory"));
    assert_non_null(strstr(ag_last_error(), "fill"));
    ag_clear_error();
    assert_true(host[0] == 0);
}
#endif

static void test_host_reads(void **state) {
    (void)state;
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *t = ag_arange_on(0, 6, 1, AG_F64, GPU);
    assert_non_null(t);
    assert_true(ag_device_eq(ag_device_of(t), GPU));
    assert_null(ag_data(t));
    assert_int_equal(ag_error_code(), AG_ERR_DEVICE);
    assert_non_null(strstr(ag_last_error(), "ag_data: tensor is on test"));
    ag_clear_error();
    /* ag_item and ag_copy_to_buffer transfer, converting on the device */
    assert_true(ag_item(ag_select(t, 0, 4)) == 4.0);
    int64_t buf[6];
    assert_int_equal(ag_copy_to_buffer(ag_transpose(ag_reshape(t, AG_SHAPE(2, 3)), 0, 1), buf, AG_I64), 0);
    const int64_t want[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(buf, want, sizeof want);
    double re, im;
    assert_int_equal(ag_item_complex(ag_full_complex_on(NULL, 0, 1.5, -2, AG_C128, GPU), &re, &im), 0);
    assert_true(re == 1.5 && im == -2);
    ag_scope_end();
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live0);
}

/* every creation function's _on form gives the CPU's values on the device */
static void test_creation_on_device(void **state) {
    (void)state;
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    const double data[6] = {1, -2, 3.5, 4, 0, 7};
    struct { const char *name; ag_tensor *dev, *cpu; } c[] = {
        {"empty", ag_zeros_like(ag_empty_on(AG_SHAPE(2, 3), AG_F32, GPU)), ag_zeros(AG_SHAPE(2, 3), AG_F32)},
        {"zeros", ag_zeros_on(AG_SHAPE(2, 3), AG_C64, GPU), ag_zeros(AG_SHAPE(2, 3), AG_C64)},
        {"ones", ag_ones_on(AG_SHAPE(4), AG_I64, GPU), ag_ones(AG_SHAPE(4), AG_I64)},
        {"full", ag_full_on(AG_SHAPE(3, 1), 2.5, AG_F64, GPU), ag_full(AG_SHAPE(3, 1), 2.5, AG_F64)},
        {"full_complex", ag_full_complex_on(AG_SHAPE(2), 1, 2, AG_C128, GPU), ag_full_complex(AG_SHAPE(2), 1, 2, AG_C128)},
        {"scalar", ag_scalar_on(3, AG_F32, GPU), ag_scalar(3, AG_F32)},
        {"scalar_like", ag_scalar_like(ag_ones_on(AG_SHAPE(2), AG_F32, GPU), 4), ag_scalar(4, AG_F32)},
        {"arange", ag_arange_on(-1, 2, 0.25, AG_F32, GPU), ag_arange(-1, 2, 0.25, AG_F32)},
        {"linspace", ag_linspace_on(0, 1, 7, AG_F64, GPU), ag_linspace(0, 1, 7, AG_F64)},
        {"eye", ag_eye_on(3, 4, AG_F64, GPU), ag_eye(3, 4, AG_F64)},
        {"fftfreq", ag_fftfreq_on(7, 0.5, AG_F32, GPU), ag_fftfreq(7, 0.5, AG_F32)},
        {"rfftfreq", ag_rfftfreq_on(8, 2, AG_F64, GPU), ag_rfftfreq(8, 2, AG_F64)},
        {"from_data", ag_from_data_on(data, AG_SHAPE(3, 2), AG_F64, GPU), ag_from_data(data, AG_SHAPE(3, 2), AG_F64)},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        if (!c[i].dev || !c[i].cpu) fail_msg("%s: %s", c[i].name, ag_last_error());
        if (!ag_device_eq(ag_device_of(c[i].dev), GPU)) fail_msg("%s: not on the device", c[i].name);
        if (fx_close_ratio(to_cpu(c[i].dev), c[i].cpu, 0, 0) > 1) fail_msg("%s: values differ from the cpu's", c[i].name);
    }
    /* random draws: the device's counter-based stream equals the CPU's */
    ag_manual_seed(11);
    ag_tensor *rd = ag_randn_on(AG_SHAPE(50), AG_F64, GPU), *ud = ag_rand_on(AG_SHAPE(9), AG_F32, GPU);
    ag_tensor *id = ag_randint_on(-3, 9, AG_SHAPE(20), GPU);
    ag_manual_seed(11);
    ag_tensor *rc = ag_randn(AG_SHAPE(50), AG_F64), *uc = ag_rand(AG_SHAPE(9), AG_F32), *ic = ag_randint(-3, 9, AG_SHAPE(20));
    assert_true(fx_close_ratio(to_cpu(rd), rc, 1e-15, 1e-300) <= 1);
    assert_true(fx_close_ratio(to_cpu(ud), uc, 0, 0) <= 1);
    assert_true(fx_close_ratio(to_cpu(id), ic, 0, 0) <= 1);
    /* randperm: the same permutation for a seed on every device */
    ag_manual_seed(5);
    ag_tensor *pd = ag_randperm_on(257, GPU);
    ag_manual_seed(5);
    ag_tensor *pc = ag_randperm(257);
    assert_true(pd && ag_device_eq(ag_device_of(pd), GPU));
    assert_true(fx_close_ratio(to_cpu(pd), pc, 0, 0) <= 1);
    ag_scope_end();
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live0);
}

static void print_missing(void) {
    const char *names[128];
    int n = ag_device_missing_kernels(GPU, names, 128);
    printf("%s: %d of %d kernel entries not implemented%s", ag_device_kind_name(GPU.kind), n, ag_device_kernel_count(),
           n ? ":" : "");
    for (int i = 0; i < n && i < 128; i++) printf(" %s", names[i]);
    printf("\n");
}

/* What the CUDA table lacks, entry by entry (backends/cuda/table.c). Checked on every build
 * with CUDA, GPU or not: an entry that goes missing, or one that gets filled, must change this
 * list in the same commit, so "not implemented" is always a known, printed state. */
static const char *const cuda_lacks[] = {
    "unary_backward", "sgd_step", "adam_step", "rmsprop_step", "fft", "fft_wisdom_import", "fft_exec", "fft_cache_stats",
    "fft_cache_clear", "gather", "scatter_add", "scatter", "nonzero", "cumsum", "sort", "roll2d", "hermitian_fill", "conv2d", "conv2d_backward_input",
    "conv2d_backward_weight", "pool2d", "pool2d_backward", "pad", "pad_backward", "upsample2d",
    "upsample2d_backward", "lu_factor", "lu_solve", "cholesky", "triangular_solve",
    "qr", "eigh", "svd", "dft", "vis_loss", "vis_loss_backward", "image_prior", "image_prior_backward",
    "nufft_interp", "nufft_spread",
};

static int check_cuda_lacks(void) {
    const char *names[128];
    int n = ag_device_missing_kernels((ag_device){AG_DEV_CUDA, 0}, names, 128), bad = 0;
    int nl = (int)(sizeof cuda_lacks / sizeof *cuda_lacks);
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < nl && strcmp(names[i], cuda_lacks[j])) j++;
        if (j == nl) printf("test_device: CUDA lacks %s, which cuda_lacks does not list\n", names[i]), bad = 1;
    }
    for (int j = 0; j < nl; j++) {
        int i = 0;
        while (i < n && strcmp(names[i], cuda_lacks[j])) i++;
        if (i == n) printf("test_device: cuda_lacks lists %s, which CUDA now implements\n", cuda_lacks[j]), bad = 1;
    }
    return bad;
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "cuda";
    if (ag_device_parse(which, &GPU)) {
        fprintf(stderr, "test_device: %s\n", ag_last_error());
        return 1;
    }
    if (GPU.kind == AG_DEV_CUDA && check_cuda_lacks()) return 1;
    if (!ag_device_available(GPU)) {
        if (GPU.kind == AG_DEV_CUDA)
            printf("test_device: no CUDA driver or GPU on this machine (%d devices): skipped\n", ag_cuda_device_count());
        else
            printf("test_device: device %s is not built (meson -Dtest_device=true): skipped\n", which);
        return 77;
    }
    print_missing();
    int rc;
    if (GPU.kind == AG_DEV_CUDA) {
        static const struct CMUnitTest unit[] = {
            cmocka_unit_test(test_alloc_reuse_and_stats), cmocka_unit_test(test_alloc_empty_cache),
            cmocka_unit_test(test_alloc_impossible), cmocka_unit_test(test_to_round_trip), cmocka_unit_test(test_to_grad),
            cmocka_unit_test(test_host_reads), cmocka_unit_test(test_creation_on_device),
#ifdef AG_TEST_INTERNALS
            cmocka_unit_test(test_rng_matches_cpu),
#endif
        };
        rc = cmocka_run_group_tests_name("cuda_backend", unit, NULL, NULL);
    } else {
        static const struct CMUnitTest unit[] = {
            cmocka_unit_test(test_to_round_trip), cmocka_unit_test(test_to_grad),
            cmocka_unit_test(test_host_reads), cmocka_unit_test(test_creation_on_device),
#ifdef AG_TEST_INTERNALS
            cmocka_unit_test(test_rng_matches_cpu), cmocka_unit_test(test_testdev_host_access_faults),
            cmocka_unit_test(test_testdev_refuses_host_pointers),
#endif
        };
        rc = cmocka_run_group_tests_name("test_device", unit, NULL, NULL);
    }

    static tcase cases[4096];
    static struct CMUnitTest tests[4096];
    int n = op_cases(cases, tests, 4096, run_case);
    char group[64];
    snprintf(group, sizeof group, "%s_op_table", ag_device_kind_name(GPU.kind));
    rc += _cmocka_run_group_tests(group, tests, (size_t)n, NULL, NULL);
    op_close_family_files();
    printf("%s op table: %d rows run, %d passed, %d not implemented on %s\n", ag_device_kind_name(GPU.kind),
           n_rows_run, n_rows_passed, n_rows_notimpl, ag_device_kind_name(GPU.kind));
    print_missing();
    return rc;
}
