/* tests/test_fft.c — FFT properties beyond the op table: round trips, Parseval, numpy's
 * fftshift/fftfreq conventions, strided and broadcast inputs, threads, the FFTW plan cache,
 * gradients of composite expressions, and bad inputs (clear error, NULL, no leak). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <cmocka.h>

#include "test_util.h"
#include "alloc_probe.h"

#define EXPECT_RC(expr, code, msg)                                                                  \
    do {                                                                                            \
        ag_clear_error();                                                                           \
        assert_int_equal((expr), code);                                                             \
        if (!strstr(ag_last_error(), msg))                                                          \
            fail_msg("%s: expected an error containing \"%s\", got \"%s\"", #expr, msg, ag_last_error()); \
        ag_clear_error();                                                                           \
    } while (0)

#define NB AG_NORM_BACKWARD
#define NO AG_NORM_ORTHO
#define NF AG_NORM_FORWARD

/* max |a - b| over all elements (complex modulus) */
static double max_diff(ag_tensor *a, ag_tensor *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(ag_numel(a), ag_numel(b));
    double complex *x = tu_cvalues(a), *y = tu_cvalues(b);
    double m = 0;
    for (int64_t i = 0; i < ag_numel(a); i++) m = fmax(m, cabs(x[i] - y[i]));
    free(x);
    free(y);
    return m;
}

static void round_trips_f64(void **state) {
    (void)state;
    ag_manual_seed(11);
    ag_scope_begin();
    ag_fft_norm norms[] = {NB, NO, NF};
    for (int k = 0; k < 3; k++) {
        ag_tensor *z = ag_randn(AG_SHAPE(4, 16, 7), AG_C128);
        assert_true(max_diff(ag_ifft(ag_fft(z, -1, -1, norms[k]), -1, -1, norms[k]), z) < 1e-12);
        assert_true(max_diff(ag_ifft(ag_fft(z, -1, 1, norms[k]), -1, 1, norms[k]), z) < 1e-12);
        assert_true(max_diff(ag_ifft2(ag_fft2(z, norms[k]), norms[k]), z) < 1e-12);
        assert_true(max_diff(ag_ifftn(ag_fftn(z, AG_ALL_DIMS, norms[k]), AG_ALL_DIMS, norms[k]), z) < 1e-12);
        ag_tensor *x = ag_randn(AG_SHAPE(3, 10), AG_F64), *xo = ag_randn(AG_SHAPE(3, 9), AG_F64);
        assert_true(max_diff(ag_irfft(ag_rfft(x, -1, -1, norms[k]), 10, -1, norms[k]), x) < 1e-12);
        assert_true(max_diff(ag_irfft(ag_rfft(xo, -1, -1, norms[k]), 9, -1, norms[k]), xo) < 1e-12);
        ag_tensor *x3 = ag_randn(AG_SHAPE(5, 6, 7), AG_F64);
        assert_true(max_diff(ag_irfftn(ag_rfftn(x3, AG_ALL_DIMS, norms[k]), AG_ALL_DIMS, 7, norms[k]), x3) < 1e-12);
        assert_true(max_diff(ag_irfftn(ag_rfftn(x3, AG_DIMS(2, 0), norms[k]), AG_DIMS(2, 0), 5, norms[k]), x3) < 1e-12);
    }
    /* f32 round trip at single precision; the real-input fft equals the complex one */
    ag_tensor *s = ag_randn(AG_SHAPE(8, 12), AG_F32);
    assert_true(max_diff(ag_ifft2(ag_fft2(s, NB), NB), s) < 1e-5);
    ag_tensor *x = ag_randn(AG_SHAPE(6, 11), AG_F64);
    assert_true(max_diff(ag_fft(x, -1, -1, NB), ag_fft(ag_to_dtype(x, AG_C128), -1, -1, NB)) < 1e-13);
    /* rfft is the first n/2+1 bins of fft */
    assert_true(max_diff(ag_rfft(x, -1, -1, NB), ag_narrow(ag_fft(x, -1, -1, NB), -1, 0, 6)) < 1e-13);
    ag_scope_end();
}

static void known_values(void **state) {
    (void)state;
    ag_scope_begin();
    /* fft of a unit impulse is all ones; of a constant, n at bin 0 */
    ag_tensor *imp = ag_zeros(AG_SHAPE(5), AG_C128);
    ag_fill_(ag_narrow(imp, 0, 0, 1), 1.0);
    ag_tensor *f = ag_fft(imp, -1, 0, NB);
    assert_values(ag_real(f), 1, 1, 1, 1, 1);
    assert_values(ag_imag(f), 0, 0, 0, 0, 0);
    ag_tensor *c = ag_rfft(ag_ones(AG_SHAPE(6), AG_F64), -1, 0, NB);
    assert_shape(c, 4);
    assert_values(ag_real(c), 6, 0, 0, 0);
    /* n pads with zeros: fft of [1] padded to 4 is ones */
    assert_values(ag_real(ag_fft(ag_ones(AG_SHAPE(1), AG_F64), 4, 0, NB)), 1, 1, 1, 1);
    /* norms: ortho scales by 1/sqrt(n), forward by 1/n */
    assert_true(fabs(ag_item(ag_select(ag_real(ag_fft(ag_ones(AG_SHAPE(4), AG_F64), -1, 0, NO)), 0, 0)) - 2.0) < 1e-15);
    assert_true(fabs(ag_item(ag_select(ag_real(ag_fft(ag_ones(AG_SHAPE(4), AG_F64), -1, 0, NF)), 0, 0)) - 1.0) < 1e-15);
    /* irfft output length: default 2*(m-1), odd on request */
    ag_tensor *h = ag_zeros(AG_SHAPE(2, 5), AG_C64);
    assert_shape(ag_irfft(h, -1, -1, NB), 2, 8);
    assert_shape(ag_irfft(h, 9, -1, NB), 2, 9);
    assert_shape(ag_irfftn(h, AG_ALL_DIMS, -1, NB), 2, 8);
    assert_int_equal(ag_dtype_of(ag_irfft(h, -1, -1, NB)), AG_F32);
    assert_int_equal(ag_dtype_of(ag_rfft(ag_zeros(AG_SHAPE(4), AG_F32), -1, 0, NB)), AG_C64);
    assert_int_equal(ag_dtype_of(ag_fft(ag_zeros(AG_SHAPE(4), AG_F32), -1, 0, NB)), AG_C64);
    /* a 0-d tensor: fftn over all (no) dims is a complex copy */
    ag_tensor *z0 = ag_fftn(ag_scalar(2.5, AG_F64), AG_ALL_DIMS, NB);
    assert_shape0(z0);
    assert_int_equal(ag_dtype_of(z0), AG_C128);
    assert_true(ag_item(z0) == 2.5);
    ag_scope_end();
}

static void parseval(void **state) {
    (void)state;
    ag_manual_seed(3);
    ag_scope_begin();
    ag_tensor *z = ag_randn(AG_SHAPE(7, 9), AG_C128);
    double e = ag_item(ag_sum(ag_square(ag_abs(z)), AG_ALL_DIMS, false));
    double eb = ag_item(ag_sum(ag_square(ag_abs(ag_fft2(z, NB))), AG_ALL_DIMS, false));
    double eo = ag_item(ag_sum(ag_square(ag_abs(ag_fft2(z, NO))), AG_ALL_DIMS, false));
    assert_true(fabs(eb / 63.0 - e) < 1e-12 * e);
    assert_true(fabs(eo - e) < 1e-12 * e);
    /* real signal through rfft: sum |X_k|^2 with non-edge bins counted twice (n even) */
    ag_tensor *x = ag_randn(AG_SHAPE(16), AG_F64);
    double ex = ag_item(ag_sum(ag_square(x), AG_ALL_DIMS, false));
    double complex *X = tu_cvalues(ag_rfft(x, -1, 0, NO));
    double s = 0;
    for (int k = 0; k <= 8; k++) s += (k == 0 || k == 8 ? 1 : 2) * creal(X[k] * conj(X[k]));
    free(X);
    assert_true(fabs(s - ex) < 1e-12 * ex);
    ag_scope_end();
}

static void shifts_numpy(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *a5 = ag_arange(0, 5, 1, AG_F64), *a6 = ag_arange(0, 6, 1, AG_F64);
    assert_values(ag_fftshift(a5, AG_ALL_DIMS), 3, 4, 0, 1, 2);
    assert_values(ag_ifftshift(a5, AG_ALL_DIMS), 2, 3, 4, 0, 1);
    assert_values(ag_fftshift(a6, AG_ALL_DIMS), 3, 4, 5, 0, 1, 2);
    assert_values(ag_ifftshift(a6, AG_ALL_DIMS), 3, 4, 5, 0, 1, 2);
    assert_values(ag_ifftshift(ag_fftshift(a5, AG_DIMS(0)), AG_DIMS(0)), 0, 1, 2, 3, 4);
    /* 2-d, numpy: np.fft.fftshift(np.arange(6).reshape(2, 3)) */
    ag_tensor *m = ag_reshape(a6, AG_SHAPE(2, 3));
    assert_values(ag_fftshift(m, AG_ALL_DIMS), 5, 3, 4, 2, 0, 1);
    assert_values(ag_fftshift(m, AG_DIMS(-1)), 2, 0, 1, 5, 3, 4);
    assert_values(ag_ifftshift(m, AG_DIMS(0, 1)), 4, 5, 3, 1, 2, 0);
    /* integer tensors shift too (no gradient) */
    assert_values(ag_fftshift(ag_arange(0, 4, 1, AG_I64), AG_ALL_DIMS), 2, 3, 0, 1);
    /* fftshift(fftfreq) is ascending */
    assert_values(ag_fftshift(ag_fftfreq(5, 1.0, AG_F64), AG_ALL_DIMS), -0.4, -0.2, 0, 0.2, 0.4);
    ag_scope_end();
}

static void freqs(void **state) {
    (void)state;
    ag_scope_begin();
    assert_values(ag_fftfreq(4, 1.0, AG_F64), 0, 0.25, -0.5, -0.25);
    assert_values(ag_fftfreq(5, 0.5, AG_F64), 0, 1 * (1.0 / 2.5), 2 * (1.0 / 2.5), -2 * (1.0 / 2.5), -1 * (1.0 / 2.5));
    assert_values(ag_rfftfreq(6, 1.0, AG_F64), 0, 1.0 / 6, 2.0 / 6, 3.0 / 6);
    assert_values(ag_rfftfreq(5, 1.0, AG_F64), 0, 0.2, 0.4);
    assert_values(ag_fftfreq(1, 1.0, AG_F64), 0);
    ag_tensor *f32 = ag_fftfreq(3, 1.0, AG_F32);
    assert_int_equal(ag_dtype_of(f32), AG_F32);
    assert_values(f32, 0, (double)(float)(1.0 / 3), (double)(float)(-1.0 / 3));
    ag_scope_end();
}

static void strided_and_broadcast(void **state) {
    (void)state;
    ag_manual_seed(5);
    ag_scope_begin();
    ag_tensor *z = ag_randn(AG_SHAPE(6, 10), AG_C128);
    ag_tensor *zt = ag_transpose(ag_contiguous(ag_transpose(z, 0, 1)), 0, 1); /* column-major copy */
    assert_true(max_diff(ag_fft(zt, -1, 1, NB), ag_fft(z, -1, 1, NB)) == 0 || max_diff(ag_fft(zt, -1, 1, NB), ag_fft(z, -1, 1, NB)) < 1e-13);
    assert_true(max_diff(ag_fft2(zt, NO), ag_fft2(z, NO)) < 1e-13);
    /* every other column */
    ag_tensor *sl = ag_slice(z, 1, 0, 10, 2);
    assert_true(max_diff(ag_fft(sl, -1, 1, NB), ag_fft(ag_contiguous(sl), -1, 1, NB)) < 1e-13);
    /* a broadcast (stride 0) input along the transformed dim and along a batch dim */
    ag_tensor *row = ag_randn(AG_SHAPE(1, 8), AG_F64);
    ag_tensor *ex = ag_expand(row, AG_SHAPE(4, 8));
    assert_true(max_diff(ag_rfft(ex, -1, 1, NB), ag_rfft(ag_contiguous(ex), -1, 1, NB)) < 1e-13);
    assert_true(max_diff(ag_fft(ex, -1, 0, NB), ag_fft(ag_contiguous(ex), -1, 0, NB)) < 1e-13);
    /* c2r from a strided half spectrum leaves the input untouched */
    ag_tensor *hs = ag_slice(ag_randn(AG_SHAPE(3, 10), AG_C128), 1, 0, 10, 2);
    ag_tensor *before = ag_clone(hs);
    ag_tensor *y = ag_irfft(hs, 8, -1, NB);
    assert_non_null(y);
    assert_true(max_diff(hs, before) == 0);
    ag_scope_end();
}

/* The same transform at every rank up to 8 (leading size-1 dims): such problems have one FFTW
 * geometry, and a cached handle made for one rank once read the views of another through its
 * own transform dims ("the views' shapes ... differ from the plan's"). */
static void leading_unit_dims(void **state) {
    (void)state;
    ag_manual_seed(6);
    ag_scope_begin();
    ag_tensor *z = ag_randn(AG_SHAPE(8), AG_C128), *r = ag_real(z);
    ag_tensor *fz = ag_fft(z, -1, -1, NB), *fr = ag_rfft(r, -1, -1, NB);
    for (int nd = 2; nd <= AG_MAX_DIMS; nd++) {
        int64_t s[AG_MAX_DIMS];
        for (int d = 0; d < nd; d++) s[d] = d == nd - 1 ? 8 : 1;
        ag_tensor *y = ag_fft(ag_reshape(z, s, nd), -1, -1, NB), *yr = ag_rfft(ag_reshape(r, s, nd), -1, -1, NB);
        if (!y || !yr) fail_msg("fft at %d dims: %s", nd, ag_last_error());
        assert_true(max_diff(ag_reshape(y, AG_SHAPE(8)), fz) == 0);
        assert_true(max_diff(ag_reshape(yr, AG_SHAPE(5)), fr) == 0);
    }
    ag_scope_end();
}

static void threads_agree(void **state) {
    (void)state;
    ag_manual_seed(9);
    int nt = ag_get_num_threads();
    ag_scope_begin();
    ag_tensor *z = ag_randn(AG_SHAPE(64, 128), AG_C128);
    ag_set_num_threads(1);
    ag_tensor *a = ag_fft2(z, NB);
    ag_set_num_threads(2);
    ag_tensor *b = ag_fft2(z, NB);
    assert_true(max_diff(a, b) < 1e-9);
    ag_set_num_threads(nt);
    ag_scope_end();
}

static void plan_cache(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *z = ag_randn(AG_SHAPE(3, 37), AG_C128); /* a shape no other test uses */
    ag_fft_cache_stats s0, s1, s2;
    assert_int_equal(ag_fft_plan_cache_stats(AG_CPU, &s0), 0);
    assert_int_equal(s0.capacity, 64);
    assert_non_null(ag_fft(z, -1, -1, NB));
    assert_int_equal(ag_fft_plan_cache_stats(AG_CPU, &s1), 0);
    assert_int_equal(s1.plans_created, s0.plans_created + 1);
    assert_true(s1.cached >= 1);
    assert_int_equal(s1.held, 0); /* the op released its reference */
    /* same problem on a new array: no new plan; a different norm is only a scale */
    assert_non_null(ag_fft(ag_randn(AG_SHAPE(3, 37), AG_C128), -1, -1, NO));
    assert_non_null(ag_fft(z, -1, -1, NB));
    assert_int_equal(ag_fft_plan_cache_stats(AG_CPU, &s2), 0);
    assert_int_equal(s2.plans_created, s1.plans_created);
    assert_int_equal(s2.cache_hits, s1.cache_hits + 2);
    /* a new shape plans once */
    assert_non_null(ag_fft(ag_randn(AG_SHAPE(3, 41), AG_C128), -1, -1, NB));
    assert_int_equal(ag_fft_plan_cache_stats(AG_CPU, &s2), 0);
    assert_int_equal(s2.plans_created, s1.plans_created + 1);
    /* clearing drops the plans; the next call plans again and gives the same values */
    ag_tensor *before = ag_fft(z, -1, -1, NB);
    assert_int_equal(ag_fft_plan_cache_clear(AG_CPU), 0);
    assert_int_equal(ag_fft_plan_cache_stats(AG_CPU, &s2), 0);
    assert_int_equal(s2.cached, 0);
    assert_true(max_diff(ag_fft(z, -1, -1, NB), before) == 0);
    ag_scope_end();
    /* errors name the function; the stats are zeroed */
    memset(&s2, 0xff, sizeof s2);
    EXPECT_RC(ag_fft_plan_cache_stats(AG_CPU, NULL), AG_ERR_INVALID, "ag_fft_plan_cache_stats: NULL stats");
    ag_device gpu = {AG_DEV_CUDA, 0};
    ag_clear_error();
    int rc = ag_fft_plan_cache_stats(gpu, &s2);
#ifdef AG_HAVE_CUDA
    if (1) { /* a CUDA build: its table has no plan cache (yet) */
#else
    if (0) {
#endif
        assert_int_equal(rc, AG_ERR_NOTIMPL);
        assert_non_null(strstr(ag_last_error(), "ag_fft_plan_cache_stats: not implemented for cuda"));
    } else {
        assert_int_equal(rc, AG_ERR_DEVICE);
        assert_non_null(strstr(ag_last_error(), "ag_fft_plan_cache_stats: device cuda:0 is not available"));
    }
    assert_int_equal(s2.plans_created, 0);
    assert_int_equal(s2.held, 0);
    ag_clear_error();
    assert_true(ag_fft_plan_cache_clear(gpu) < 0);
    assert_non_null(strstr(ag_last_error(), "ag_fft_plan_cache_clear: "));
    ag_clear_error();
}

/* ---- plan handles through the kernel table (what a graph node will hold) ----------------- */
static ag_fft_cache_stats cpu_stats(void) {
    ag_fft_cache_stats s;
    assert_int_equal(ag_fft_plan_cache_stats(AG_CPU, &s), 0);
    return s;
}

/* n x m c128 test data: deterministic, distinct per seed */
static void fill_c128(double *d, int64_t n, int seed) {
    for (int64_t i = 0; i < 2 * n; i++) d[i] = sin(0.37 * (double)(i + 1) * (seed + 1)) + 0.1 * seed;
}

static void plan_handles(void **state) {
    (void)state;
    const ag_kernels *k = ag_cpu_kernel_table();
    const int64_t shp[2] = {6, 19};
    const int64_t n = 6 * 19;
    double *a = malloc(2 * sizeof(double) * (size_t)(n + 1)), *b = malloc(2 * sizeof(double) * (size_t)(n + 1));
    double *ya = malloc(2 * sizeof(double) * (size_t)(n + 1)), *yb = malloc(2 * sizeof(double) * (size_t)(n + 1));
    double *ref = malloc(2 * sizeof(double) * (size_t)n);
    assert_true(a && b && ya && yb && ref);
    fill_c128(a, n, 1);
    fill_c128(b, n, 2);
    const int dims[2] = {0, 1};
    ag_kview va = ap_view(a, AG_C128, 2, shp), vya = ap_view(ya, AG_C128, 2, shp);
    ag_fft_cache_stats s0 = cpu_stats();
    ag_kplan *p = k->fft_plan(AG_FFT_C2C_FWD, &vya, &va, dims, 2);
    assert_non_null(p);
    ag_fft_cache_stats s1 = cpu_stats();
    assert_int_equal(s1.held, s0.held + 1);
    /* the one-shot entry is plan + exec: the same numbers, bit for bit */
    ag_kview vref = ap_view(ref, AG_C128, 2, shp);
    assert_int_equal(k->fft(AG_FFT_C2C_FWD, &vref, &va, dims, 2, 0.5), 0);
    assert_int_equal(k->fft_exec(p, &vya, &va, 0.5), 0);
    assert_memory_equal(ya, ref, 2 * sizeof(double) * (size_t)n);
    /* other data of the same geometry, and misaligned data (a view starting one c64-sized step
     * in: FFTW needs another plan, the handle finds it) */
    ag_kview vb = ap_view(b, AG_C128, 2, shp), vyb = ap_view(yb, AG_C128, 2, shp);
    assert_int_equal(k->fft_exec(p, &vyb, &vb, 1.0), 0);
    assert_int_equal(k->fft(AG_FFT_C2C_FWD, &vref, &vb, dims, 2, 1.0), 0);
    assert_memory_equal(yb, ref, 2 * sizeof(double) * (size_t)n);
    memmove(b + 1, b, 2 * sizeof(double) * (size_t)n); /* now 8 bytes off the block's alignment */
    ag_kview vbm = vb;
    vbm.data = b + 1;
    assert_int_equal(k->fft_exec(p, &vya, &vbm, 1.0), 0);
    assert_memory_equal(ya, ref, 2 * sizeof(double) * (size_t)n);
    /* in place */
    memcpy(yb, b + 1, 2 * sizeof(double) * (size_t)n);
    assert_int_equal(k->fft_exec(p, &vyb, &vyb, 1.0), 0);
    assert_memory_equal(yb, ref, 2 * sizeof(double) * (size_t)n);
    /* other geometry: refused, naming the entry */
    ag_kview vt = vya;
    vt.shape[0] = 3;
    vt.strides[0] = 2 * 19;
    ag_kview vat = va;
    vat.shape[0] = 3;
    vat.strides[0] = 2 * 19;
    ag_clear_error();
    assert_int_equal(k->fft_exec(p, &vt, &vat, 1.0), AG_ERR_INVALID);
    assert_non_null(strstr(ag_last_error(), "cpu fft_exec: the views' shapes, strides or dtypes differ"));
    ag_clear_error();
    assert_int_equal(k->fft_exec(NULL, &vya, &va, 1.0), AG_ERR_INVALID);
    ag_clear_error();
    /* a held handle outlives the cache: cleared, then flooded past capacity */
    ag_kplan *again = k->plan_retain(p);
    assert_ptr_equal(again, p);
    k->plan_release(again);
    assert_int_equal(ag_fft_plan_cache_clear(AG_CPU), 0);
    assert_int_equal(cpu_stats().cached, 0);
    assert_int_equal(k->fft_exec(p, &vya, &va, 0.5), 0);
    assert_int_equal(k->fft(AG_FFT_C2C_FWD, &vref, &va, dims, 2, 0.5), 0);
    assert_memory_equal(ya, ref, 2 * sizeof(double) * (size_t)n);
    ag_fft_cache_stats e0 = cpu_stats();
    for (int64_t len = 2; len < 2 + e0.capacity + 3; len++) {
        ag_kview vi = ap_view(a, AG_C128, 1, &len), vo = ap_view(ya, AG_C128, 1, &len);
        assert_int_equal(k->fft(AG_FFT_C2C_FWD, &vo, &vi, dims, 1, 1.0), 0);
    }
    ag_fft_cache_stats e1 = cpu_stats();
    assert_true(e1.evictions >= e0.evictions + 3);
    assert_int_equal(e1.cached, e1.capacity);
    fill_c128(a, n, 1);
    assert_int_equal(k->fft_exec(p, &vya, &va, 0.5), 0);
    assert_int_equal(k->fft(AG_FFT_C2C_FWD, &vref, &va, dims, 2, 0.5), 0);
    assert_memory_equal(ya, ref, 2 * sizeof(double) * (size_t)n);
    k->plan_release(p);
    k->plan_release(NULL);
    assert_int_equal(cpu_stats().held, s0.held);
    /* bad views fail at planning with the fft entry's checks */
    ag_clear_error();
    assert_null(k->fft_plan(AG_FFT_R2C, &vya, &va, dims, 2));
    assert_non_null(strstr(ag_last_error(), "cpu fft: dtypes c128 -> c128 do not fit"));
    ag_clear_error();
    free(a);
    free(b);
    free(ya);
    free(yb);
    free(ref);
}

/* one handle run by two threads at once */
typedef struct hwork { const ag_kernels *k; ag_kplan *p; const double *in, *want; int64_t n; int ok; } hwork;
static void *hrun(void *arg) {
    hwork *w = arg;
    const int64_t shp[1] = {w->n};
    double *out = malloc(2 * sizeof(double) * (size_t)w->n);
    w->ok = out != NULL;
    for (int i = 0; i < 50 && w->ok; i++) {
        ag_kview vi = ap_view((void *)w->in, AG_C128, 1, shp), vo = ap_view(out, AG_C128, 1, shp);
        w->ok = w->k->fft_exec(w->p, &vo, &vi, 1.0) == 0 && !memcmp(out, w->want, 2 * sizeof(double) * (size_t)w->n);
    }
    free(out);
    return NULL;
}
static void plan_handle_threads(void **state) {
    (void)state;
    const ag_kernels *k = ag_cpu_kernel_table();
    enum { N = 96 };
    const int64_t shp[1] = {N};
    const int dims[1] = {0};
    double *in = malloc(2 * sizeof(double) * N), *want = malloc(2 * sizeof(double) * N);
    assert_true(in && want);
    fill_c128(in, N, 3);
    ag_kview vi = ap_view(in, AG_C128, 1, shp), vo = ap_view(want, AG_C128, 1, shp);
    ag_kplan *p = k->fft_plan(AG_FFT_C2C_INV, &vo, &vi, dims, 1);
    assert_non_null(p);
    assert_int_equal(k->fft_exec(p, &vo, &vi, 1.0), 0);
    hwork w[2] = {{k, p, in, want, N, 0}, {k, p, in, want, N, 0}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++) assert_int_equal(pthread_create(&th[t], NULL, hrun, &w[t]), 0);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    assert_true(w[0].ok && w[1].ok);
    k->plan_release(p);
    free(in);
    free(want);
}

/* warm transforms allocate nothing: no malloc in the library, no fresh caching-allocator block
 * (c2r and strided negative-stride inputs copy their input to scratch on every call) */
static void no_malloc_when_warm(void **state) {
    (void)state;
    const ag_kernels *k = ag_cpu_kernel_table();
    const int64_t full[2] = {48, 64}, half[2] = {48, 33};
    const int dims[2] = {0, 1};
    double *re = malloc(sizeof(double) * 48 * 64), *sp = malloc(2 * sizeof(double) * 48 * 33);
    double *sp2 = malloc(2 * sizeof(double) * 48 * 33);
    float *spf = malloc(2 * sizeof(float) * 48 * 33), *ref = malloc(sizeof(float) * 48 * 64);
    assert_true(re && sp && sp2 && spf && ref);
    for (int64_t i = 0; i < 48 * 64; i++) re[i] = cos(0.1 * (double)i);
    for (int64_t i = 0; i < 2 * 48 * 33; i++) spf[i] = (float)sin(0.2 * (double)i);
    ag_kview vre = ap_view(re, AG_F64, 2, full), vsp = ap_view(sp, AG_C128, 2, half);
    ag_kview vsp2 = ap_view(sp2, AG_C128, 2, half), vspf = ap_view(spf, AG_C64, 2, half);
    ag_kview vref = ap_view(ref, AG_F32, 2, full);
    /* a reversed view along the transformed dim 0 (negative stride: copied) */
    ag_kview vrev = vsp;
    vrev.data = sp + 2 * 47 * 33;
    vrev.strides[0] = -33;
    for (int round = 0; round < 4; round++) {
        uint64_t f0 = ap_fresh();
        if (round) ap_begin();
        assert_int_equal(k->fft(AG_FFT_R2C, &vsp, &vre, dims, 2, 1.0), 0);
        assert_int_equal(k->fft(AG_FFT_C2R, &vre, &vsp, dims, 2, 1.0 / (48 * 64)), 0);
        assert_int_equal(k->fft(AG_FFT_C2R, &vref, &vspf, dims, 2, 1.0), 0);
        assert_int_equal(k->fft(AG_FFT_C2C_FWD, &vsp2, &vrev, dims, 1, 1.0), 0);
        if (round) {
            long n = ap_end();
            if (n) fail_msg("round %d: the library made %ld heap allocations", round, n);
            assert_int_equal(ap_fresh(), f0);
        }
    }
    /* the round trip came back (c2r left its input alone) */
    for (int64_t i = 0; i < 48 * 64; i++) assert_true(fabs(re[i] - cos(0.1 * (double)i)) < 1e-12);
    free(re);
    free(sp);
    free(sp2);
    free(spf);
    free(ref);
}

/* gradients of composite expressions, real and complex leaves */
static ag_tensor *gc_spectrum(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    (void)ud;
    /* |fftshift(fft2(x))|^2 weighted, then back through irfft: a chain like an imaging loss */
    ag_tensor *F = ag_fftshift(ag_fft2(in[0], NO), AG_ALL_DIMS);
    ag_tensor *p = ag_mul(ag_abs(F), ag_abs(F));
    return ag_irfft(ag_to_dtype(p, AG_C128), 6, -1, NF);
}
static ag_tensor *gc_roundtrip(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    (void)ud;
    return ag_mul(ag_irfftn(ag_rfftn(in[0], AG_ALL_DIMS, NB), AG_ALL_DIMS, 5, NB), in[0]);
}
static void gradients(void **state) {
    (void)state;
    ag_manual_seed(21);
    ag_scope_begin();
    ag_gradcheck_report rep;
    ag_gradcheck_opts o = {1e-6, 1e-6, 1e-4, false};
    ag_tensor *xr = ag_set_requires_grad(ag_randn(AG_SHAPE(4, 5), AG_F64), true);
    ag_tensor *xc = ag_set_requires_grad(ag_randn(AG_SHAPE(4, 5), AG_C128), true);
    if (ag_gradcheck(gc_spectrum, NULL, &xr, 1, &o, &rep) != 1) fail_msg("real: %s %s", rep.message, ag_last_error());
    if (ag_gradcheck(gc_spectrum, NULL, &xc, 1, &o, &rep) != 1) fail_msg("complex: %s %s", rep.message, ag_last_error());
    ag_tensor *x3 = ag_set_requires_grad(ag_randn(AG_SHAPE(3, 5), AG_F64), true);
    if (ag_gradcheck(gc_roundtrip, NULL, &x3, 1, &o, &rep) != 1) fail_msg("roundtrip: %s %s", rep.message, ag_last_error());
    /* d/dx sum(irfft(rfft(x))) = 1 exactly (the round trip is the identity) */
    ag_tensor *x = ag_set_requires_grad(ag_randn(AG_SHAPE(2, 7), AG_F64), true);
    ag_tensor *y = ag_sum(ag_irfft(ag_rfft(x, -1, -1, NO), 7, -1, NO), AG_ALL_DIMS, false);
    ag_tensor *g;
    assert_int_equal(ag_grad(&y, 1, &x, 1, NULL, false, &g), 0);
    assert_true(max_diff(g, ag_ones_like(x)) < 1e-12);
    ag_scope_end();
}

/* two threads transforming their own tensors at once: planning under the mutex, shared plans */
typedef struct worker { ag_tensor *x, *want; int ok; } worker;
static void *work(void *p) {
    worker *w = p;
    w->ok = 1;
    for (int i = 0; i < 20; i++) {
        ag_scope_begin();
        ag_tensor *y = ag_fft(w->x, i % 2 ? 29 + i : -1, -1, NB); /* new shapes force planning too */
        if (!y) w->ok = 0;
        else if (i % 2 == 0 && !(ag_item(ag_amax(ag_abs(ag_sub(y, w->want)), AG_ALL_DIMS, false)) <= 1e-12)) w->ok = 0;
        ag_scope_end();
    }
    return NULL;
}
static void concurrent_threads(void **state) {
    (void)state;
    ag_manual_seed(17);
    worker w[2];
    for (int k = 0; k < 2; k++) {
        w[k].x = ag_randn(AG_SHAPE(5, 24), AG_C128);
        w[k].want = ag_fft(w[k].x, -1, -1, NB);
    }
    pthread_t th[2];
    for (int k = 0; k < 2; k++) assert_int_equal(pthread_create(&th[k], NULL, work, &w[k]), 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        assert_true(w[k].ok);
        ag_release(w[k].x);
        ag_release(w[k].want);
    }
}

#define BAD(expr, code, ...) do { \
        int64_t live = ag_live_tensors(); \
        ag_tensor *r_ = (expr); \
        assert_null(r_); \
        assert_error(code, __VA_ARGS__); \
        assert_int_equal(ag_live_tensors(), live); \
    } while (0)

static void bad_inputs(void **state) {
    (void)state;
    ag_tensor *r = ag_zeros(AG_SHAPE(3, 4), AG_F64);
    ag_tensor *c = ag_zeros(AG_SHAPE(3, 4), AG_C128);
    ag_tensor *i = ag_zeros(AG_SHAPE(3, 4), AG_I64);
    ag_tensor *v = ag_zeros(AG_SHAPE(4), AG_C64);
    ag_tensor *s = ag_scalar(1.0, AG_F64);
    ag_tensor *one = ag_zeros(AG_SHAPE(1), AG_C128);
    BAD(ag_fft(r, -1, 3, NB), AG_ERR_INDEX, "ag_fft: dim 3 out of range for a 2-d tensor");
    BAD(ag_ifft(c, -1, -3, NB), AG_ERR_INDEX, "ag_ifft: dim -3 out of range for a 2-d tensor");
    BAD(ag_fft(r, 0, -1, NB), AG_ERR_INVALID, "ag_fft: expected n >= 1", "given 0");
    BAD(ag_rfft(r, -5, -1, NB), AG_ERR_INVALID, "ag_rfft: expected n >= 1", "given -5");
    BAD(ag_irfft(c, 0, -1, NB), AG_ERR_INVALID, "ag_irfft: expected n >= 1");
    BAD(ag_irfft(r, -1, -1, NB), AG_ERR_DTYPE, "ag_irfft: expected a complex", "given f64");
    BAD(ag_irfftn(r, AG_ALL_DIMS, -1, NB), AG_ERR_DTYPE, "ag_irfftn: expected a complex");
    BAD(ag_rfft(c, -1, -1, NB), AG_ERR_DTYPE, "ag_rfft: expected a real tensor, given c128");
    BAD(ag_fft(i, -1, -1, NB), AG_ERR_DTYPE, "ag_fft: expected a floating-point or complex tensor, given i64");
    BAD(ag_rfft(i, -1, -1, NB), AG_ERR_DTYPE, "ag_rfft: expected a floating-point", "given i64");
    BAD(ag_fft2(v, NB), AG_ERR_INDEX, "ag_fft2: dim -2 out of range for a 1-d tensor");
    BAD(ag_fftn(c, AG_DIMS(1, -1), NB), AG_ERR_INVALID, "ag_fftn: dim -1 appears more than once");
    BAD(ag_fft(c, -1, -1, (ag_fft_norm)7), AG_ERR_INVALID, "ag_fft: invalid norm 7");
    BAD(ag_fft(s, -1, 0, NB), AG_ERR_SHAPE, "ag_fft: expected a tensor with at least 1 dim");
    BAD(ag_irfft(one, -1, 0, NB), AG_ERR_SHAPE, "ag_irfft: invalid number of data points (0)");
    BAD(ag_fftshift(r, AG_DIMS(2)), AG_ERR_INDEX, "ag_fftshift: dim 2 out of range");
    BAD(ag_fftfreq(0, 1.0, AG_F64), AG_ERR_INVALID, "ag_fftfreq: expected n >= 1, given 0");
    BAD(ag_rfftfreq(4, 0.0, AG_F64), AG_ERR_INVALID, "ag_rfftfreq: expected a finite, nonzero spacing");
    BAD(ag_fftfreq(4, 1.0, AG_I64), AG_ERR_DTYPE, "ag_fftfreq: expected dtype f32 or f64, given i64");
    /* a NULL input with no error pending is reported, naming the op */
    BAD(ag_fft(NULL, -1, 0, NB), AG_ERR_INVALID, "ag_fft: argument 1 (t) is NULL");
    BAD(ag_irfftn(NULL, AG_ALL_DIMS, -1, NB), AG_ERR_INVALID, "ag_irfftn: argument 1 (t) is NULL");
    BAD(ag_fftshift(NULL, AG_ALL_DIMS), AG_ERR_INVALID, "ag_fftshift: argument 1 (t) is NULL");
    ag_release(r);
    ag_release(c);
    ag_release(i);
    ag_release(v);
    ag_release(s);
    ag_release(one);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1 << 20, 1);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* wisdom of both precisions saved atomically, loaded back, and clear errors for bad files */
static void wisdom(void **state) {
    (void)state;
    char dir[] = "/tmp/ag_wisdom_XXXXXX", path[256], other[256];
    assert_non_null(mkdtemp(dir));
    ag_scope_begin();
    assert_non_null(ag_fft(ag_randn(AG_SHAPE(3, 360), AG_C128), -1, -1, AG_NORM_BACKWARD));
    assert_non_null(ag_fft(ag_randn(AG_SHAPE(3, 360), AG_C64), -1, -1, AG_NORM_BACKWARD));
    ag_scope_end();
    snprintf(path, sizeof path, "%s/wisdom.txt", dir);
    write_file(path, "an older file, replaced whole");
    assert_int_equal(ag_fft_save_wisdom(path), 0);
    char *text = slurp(path);
    assert_non_null(text);
    assert_non_null(strstr(text, " fftw_wisdom "));
    assert_non_null(strstr(text, " fftwf_wisdom "));
    assert_null(strstr(text, "older"));
    assert_int_equal(ag_fft_load_wisdom(path), 0);
    /* loading what was saved changes nothing: saving again gives the same text */
    snprintf(other, sizeof other, "%s/again.txt", dir);
    assert_int_equal(ag_fft_save_wisdom(other), 0);
    char *again = slurp(other);
    assert_non_null(again);
    assert_string_equal(text, again);
    free(text);
    free(again);
    unlink(other);

    snprintf(other, sizeof other, "%s/none.txt", dir);
    EXPECT_RC(ag_fft_load_wisdom(other), AG_ERR_IO, "ag_fft_load_wisdom: cannot open");
    /* a malformed file's message names the file */
    char quoted[300];
    snprintf(quoted, sizeof quoted, "('%s')", other);
    write_file(other, "not wisdom at all\n");
    EXPECT_RC(ag_fft_load_wisdom(other), AG_ERR_FORMAT, "ag_fft_load_wisdom: no FFTW wisdom in the file");
    EXPECT_RC(ag_fft_load_wisdom(other), AG_ERR_FORMAT, quoted);
    write_file(other, "(fftw-3.3.10 fftw_wisdom #xzz (garbage");
    EXPECT_RC(ag_fft_load_wisdom(other), AG_ERR_FORMAT, "FFTW rejected the double-precision wisdom");
    EXPECT_RC(ag_fft_load_wisdom(other), AG_ERR_FORMAT, quoted);
    /* an error already pending sticks: the load fails but leaves the first message alone */
    ag_clear_error();
    assert_int_equal(ag_fft_save_wisdom(NULL), AG_ERR_INVALID);
    assert_int_equal(ag_fft_load_wisdom(other), AG_ERR_FORMAT);
    assert_int_equal(ag_error_code(), AG_ERR_INVALID);
    assert_string_equal(ag_last_error(), "ag_fft_save_wisdom: NULL path");
    ag_clear_error();
    unlink(other);
    snprintf(other, sizeof other, "%s/missing/wisdom.txt", dir);
    EXPECT_RC(ag_fft_save_wisdom(other), AG_ERR_IO, "ag_fft_save_wisdom: cannot write in the directory");
    EXPECT_RC(ag_fft_save_wisdom(NULL), AG_ERR_INVALID, "NULL path");
    EXPECT_RC(ag_fft_load_wisdom(NULL), AG_ERR_INVALID, "NULL path");
    /* a fresh process loads wisdom of threaded plans before planning anything itself (FFTW
     * must know its threads solvers by then) */
    ag_set_num_threads(2);
    ag_scope_begin();
    assert_non_null(ag_fft2(ag_randn(AG_SHAPE(256, 256), AG_C128), AG_NORM_BACKWARD));
    ag_scope_end();
    ag_set_num_threads(0);
    assert_int_equal(ag_fft_save_wisdom(path), 0);
    char self[200] = {0}, cmd[600];
    assert_true(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
    snprintf(cmd, sizeof cmd, "'%s' --load-wisdom '%s'", self, path);
    assert_int_equal(system(cmd), 0);
    /* nothing but the saved file is left behind (no temporaries) */
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--load-wisdom")) { /* the child of test wisdom */
        ag_scope_begin();
        bool ok = ag_fft_load_wisdom(argv[2]) == 0 && ag_fft(ag_randn(AG_SHAPE(8), AG_C128), -1, -1, AG_NORM_BACKWARD);
        ag_scope_end();
        if (!ok) fprintf(stderr, "%s\n", ag_last_error());
        return ok ? 0 : 1;
    }
    /* quick plans here (the op table exercises the default FFTW_MEASURE path) */
    setenv("AG_FFTW_PLANNER", "estimate", 0);
    const struct CMUnitTest tests[] = {
        TEST(round_trips_f64), TEST(known_values), TEST(parseval), TEST(shifts_numpy), TEST(freqs),
        TEST(strided_and_broadcast), TEST(leading_unit_dims), TEST(threads_agree), TEST(plan_cache), TEST(plan_handles), TEST(plan_handle_threads),
        TEST(no_malloc_when_warm), TEST(concurrent_threads), TEST(gradients), TEST(bad_inputs),
        TEST(wisdom),
    };
    return cmocka_run_group_tests_name("fft", tests, NULL, NULL);
}
