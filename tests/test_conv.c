/* tests/test_conv.c — the convolution family beyond the op table: bad inputs (each a clear
 * error, a NULL result and no leaked tensor), max-pool ties, the threaded conv paths
 * agreeing with the one-image-at-a-time path, and the two CPU algorithms (AVX-512 kernels and
 * im2col + gemm) against each other and f32 against f64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <astrograd.h>

#include "alloc_probe.h"

#define CO(...) (&(ag_conv_opts){__VA_ARGS__})
#define P2(a, b) ((const int64_t[]){a, b})

/* expr must fail with a message containing `msg`, return NULL and leak nothing */
#define EXPECT_FAIL(expr, msg)                                                                      \
    do {                                                                                            \
        ag_clear_error();                                                                           \
        int64_t live_ = ag_live_tensors();                                                          \
        ag_tensor *r_ = (expr);                                                                     \
        if (r_) fail_msg("%s: expected failure, got a tensor", #expr);                              \
        if (!strstr(ag_last_error(), msg))                                                          \
            fail_msg("%s: expected an error containing \"%s\", got \"%s\"", #expr, msg, ag_last_error()); \
        assert_int_equal(ag_live_tensors(), live_);                                                 \
        ag_clear_error();                                                                           \
    } while (0)

static void test_conv_bad_inputs(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_tensor *x = ag_randn(AG_SHAPE(2, 4, 16, 16), AG_F32);
    ag_tensor *w = ag_randn(AG_SHAPE(8, 3, 3, 3), AG_F32);
    ag_tensor *x3 = ag_randn(AG_SHAPE(2, 3, 8, 8), AG_F32);
    ag_tensor *wg = ag_randn(AG_SHAPE(4, 1, 3, 3), AG_F32);
    ag_tensor *w3 = ag_randn(AG_SHAPE(3, 1, 3, 3), AG_F32);
    ag_tensor *small = ag_randn(AG_SHAPE(1, 1, 4, 4), AG_F32);
    ag_tensor *w7 = ag_randn(AG_SHAPE(1, 1, 7, 7), AG_F32);
    ag_tensor *w33 = ag_randn(AG_SHAPE(8, 4, 3, 3), AG_F32);
    ag_tensor *w64 = ag_randn(AG_SHAPE(8, 4, 3, 3), AG_F64);
    ag_tensor *b5 = ag_randn(AG_SHAPE(5), AG_F32);
    ag_tensor *xc = ag_randn(AG_SHAPE(2, 4, 16, 16), AG_C64);
    ag_tensor *x2 = ag_randn(AG_SHAPE(16, 16), AG_F32);
    ag_tensor *x1d = ag_randn(AG_SHAPE(2, 3, 10), AG_F32);
    ag_tensor *w1133 = ag_randn(AG_SHAPE(1, 1, 3, 3), AG_F32), *w3233 = ag_randn(AG_SHAPE(3, 2, 3, 3), AG_F32);
    ag_tensor *w1111 = ag_randn(AG_SHAPE(1, 1, 1, 1), AG_F32);

    EXPECT_FAIL(ag_conv2d(x, w, NULL, NULL),
                "ag_conv2d: expected input channels 3 (weight [8,3,3,3], groups 1), given 4 in input [2,4,16,16]");
    EXPECT_FAIL(ag_conv2d(x3, wg, NULL, CO(.groups = 2)), "ag_conv2d: groups 2 does not divide the input channels 3");
    EXPECT_FAIL(ag_conv2d(x3, w3, NULL, CO(.groups = 2)), "groups 2 does not divide the weight's output channels 3");
    EXPECT_FAIL(ag_conv2d(x3, w3, NULL, CO(.groups = -1)), "expected groups >= 1");
    EXPECT_FAIL(ag_conv2d(small, w7, NULL, CO(.padding = {1, 1})),
                "ag_conv2d: kernel height 7 (dilation 1: 7) is larger than the padded input height 6");
    EXPECT_FAIL(ag_conv2d(small, w1133, NULL, CO(.dilation = {3, 1})),
                "(dilation 3: 7) is larger than the padded input height 4");
    EXPECT_FAIL(ag_conv2d(x, w33, NULL, CO(.stride = {-1, 1})), "ag_conv2d: expected a positive stride, given -1 (height)");
    EXPECT_FAIL(ag_conv2d(x, w33, NULL, CO(.dilation = {1, -2})), "expected a positive dilation, given -2 (width)");
    EXPECT_FAIL(ag_conv2d(x, w33, NULL, CO(.padding = {-1, 0})), "expected padding >= 0, given -1");
    EXPECT_FAIL(ag_conv2d(x, w33, NULL, CO(.same = true, .stride = {2, 2})), "padding \"same\" needs stride 1");
    EXPECT_FAIL(ag_conv2d(x2, w33, NULL, NULL), "ag_conv2d: expected a 4-d (batched) or 3-d (unbatched) input, given [16,16]");
    EXPECT_FAIL(ag_conv2d(x, x1d, NULL, NULL), "ag_conv2d: expected a 4-d weight");
    EXPECT_FAIL(ag_conv1d(x1d, w33, NULL, NULL), "ag_conv1d: expected a 3-d weight");
    EXPECT_FAIL(ag_conv1d(x, w33, NULL, NULL), "ag_conv1d: expected a 3-d (batched) or 2-d (unbatched) input");
    EXPECT_FAIL(ag_conv2d(x, w33, b5, NULL), "expected a bias of shape [8] (one per output channel), given [5]");
    EXPECT_FAIL(ag_conv2d(x, w64, NULL, NULL), "ag_conv2d: expected input, weight of one dtype, given f32, f64");
    EXPECT_FAIL(ag_conv2d(xc, w33, NULL, NULL), "complex convolution is not supported");
    EXPECT_FAIL(ag_conv_transpose2d(x, w3233, NULL, NULL),
                "ag_conv_transpose2d: expected input channels 3");
    EXPECT_FAIL(ag_conv_transpose2d(x3, w3233, NULL, CO(.stride = {2, 2}, .output_padding = {2, 0})),
                "output_padding must be >= 0 and smaller than the stride or the dilation");
    EXPECT_FAIL(ag_conv_transpose2d(x3, w3233, NULL, CO(.same = true)), "padding \"same\" is not supported");
    EXPECT_FAIL(ag_conv_transpose2d(small, w1111, NULL, CO(.padding = {2, 0})),
                "ag_conv_transpose2d: output height would be 0");

    EXPECT_FAIL(ag_max_pool2d(x, P2(2, 2), P2(0, 1), NULL), "ag_max_pool2d: expected a positive stride, given 0 (height)");
    EXPECT_FAIL(ag_avg_pool2d(x, P2(2, -2), NULL, NULL), "ag_avg_pool2d: expected a positive kernel size, given -2 (width)");
    EXPECT_FAIL(ag_avg_pool2d(x, P2(2, 2), NULL, P2(2, 0)), "padding must be between 0 and half the kernel size (1), given 2");
    EXPECT_FAIL(ag_max_pool2d(small, P2(5, 5), NULL, NULL), "kernel height 5 is larger than the padded input height 4");
    EXPECT_FAIL(ag_max_pool2d(x2, P2(2, 2), NULL, NULL), "ag_max_pool2d: expected a 4-d [N,C,H,W] or 3-d [C,H,W] input, given [16,16]");
    EXPECT_FAIL(ag_max_pool2d(x, NULL, NULL, NULL), "kernel size is NULL");

    EXPECT_FAIL(ag_pad(small, (const int64_t[]){4, 0}, 2, AG_PAD_REFLECT, 0),
                "ag_pad: reflect padding (4, 0) of dim 3 must be smaller than its size 4 (input [1,1,4,4])");
    EXPECT_FAIL(ag_pad(small, (const int64_t[]){0, 5}, 2, AG_PAD_CIRCULAR, 0), "circular padding (0, 5) of dim 3 must be at most its size 4");
    EXPECT_FAIL(ag_pad(small, (const int64_t[]){-1, 0}, 2, AG_PAD_REPLICATE, 0), "negative pads (-1, 0 of dim 3) are allowed in constant mode only");
    EXPECT_FAIL(ag_pad(small, (const int64_t[]){1, 0, 1}, 3, AG_PAD_CONSTANT, 0), "expected an even number of pads");
    EXPECT_FAIL(ag_pad(x2, (const int64_t[]){1, 1, 1, 1, 1, 1}, 6, AG_PAD_CONSTANT, 0), "ag_pad: 6 pads pad 3 dims, but the input [16,16] has 2");
    EXPECT_FAIL(ag_pad(small, (const int64_t[]){-3, -2}, 2, AG_PAD_CONSTANT, 0), "would give a negative size");
    EXPECT_FAIL(ag_pad(small, (const int64_t[]){1, 1}, 2, (ag_pad_mode)7, 0), "ag_pad: invalid mode 7");

    EXPECT_FAIL(ag_upsample_nearest2d(x1d, 4, 4), "ag_upsample_nearest2d: expected a 4-d [N,C,H,W] input, given [2,3,10]");
    EXPECT_FAIL(ag_upsample_bilinear2d(x, 0, 4, false), "ag_upsample_bilinear2d: expected a positive output size, given 0x4");

    /* a NULL input with no error pending is reported, naming the op */
    EXPECT_FAIL(ag_conv2d(NULL, w, NULL, NULL), "ag_conv2d: argument 1 (x) is NULL");
    EXPECT_FAIL(ag_max_pool2d(NULL, P2(2, 2), NULL, NULL), "ag_max_pool2d: argument 1 (t) is NULL");
    EXPECT_FAIL(ag_pad(NULL, (const int64_t[]){1, 1}, 2, AG_PAD_CONSTANT, 0), "ag_pad: argument 1 (t) is NULL");

    ag_tensor *all[] = {x, w, x3, wg, w3, small, w7, w33, w64, b5, xc, x2, x1d, w1133, w3233, w1111};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ag_release(all[i]);
    assert_int_equal(ag_live_tensors(), live0);
}

/* ties in a max-pool window: the gradient goes to the first maximum (PyTorch) */
static void test_max_pool_ties(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *x = ag_set_requires_grad(ag_ones(AG_SHAPE(1, 1, 2, 4), AG_F64), true);
    ag_tensor *y = ag_max_pool2d(x, P2(2, 2), NULL, NULL);
    assert_int_equal(ag_backward(ag_sum(y, AG_ALL_DIMS, false)), 0);
    double g[8];
    ag_copy_to_buffer(ag_grad_of(x), g, AG_F64);
    const double want[8] = {1, 0, 1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) assert_true(g[i] == want[i]);
    ag_scope_end();
    assert_int_equal(ag_live_tensors(), live0);
}

static double max_abs_diff(ag_tensor *a, ag_tensor *b) {
    ag_scope_begin();
    double d = ag_item(ag_amax(ag_abs(ag_sub(a, b)), AG_ALL_DIMS, false));
    ag_scope_end();
    return d;
}

/* a batch split over threads agrees with the images run one at a time (threaded im2col/gemm) */
static void test_conv_batch_paths_agree(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *x = ag_set_requires_grad(ag_randn(AG_SHAPE(3, 8, 48, 48), AG_F64), true);
    ag_tensor *w = ag_set_requires_grad(ag_randn(AG_SHAPE(6, 4, 3, 3), AG_F64), true);
    ag_tensor *b = ag_randn(AG_SHAPE(6), AG_F64);
    const ag_conv_opts *o = CO(.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2);
    ag_tensor *y = ag_conv2d(x, w, b, o);
    ag_tensor *gy = ag_randn(ag_shape(y), ag_ndim(y), AG_F64);
    ag_tensor *gx, *gw, *ins[2] = {x, w};
    ag_tensor *grads[2];
    assert_int_equal(ag_grad(&y, 1, ins, 2, &gy, false, grads), 0);
    gx = grads[0];
    gw = grads[1];
    ag_tensor *gw_sum = ag_zeros_like(gw);
    for (int64_t n = 0; n < 3; n++) {
        ag_tensor *xn = ag_detach(ag_narrow(x, 0, n, 1));
        ag_set_requires_grad(xn, true);
        ag_tensor *wn = ag_set_requires_grad(ag_detach(w), true);
        ag_tensor *yn = ag_conv2d(xn, wn, b, o);
        assert_true(max_abs_diff(yn, ag_narrow(y, 0, n, 1)) < 1e-10);
        ag_tensor *gyn = ag_contiguous(ag_narrow(gy, 0, n, 1)), *g2[2], *in2[2] = {xn, wn};
        assert_int_equal(ag_grad(&yn, 1, in2, 2, &gyn, false, g2), 0);
        assert_true(max_abs_diff(g2[0], ag_narrow(gx, 0, n, 1)) < 1e-10);
        gw_sum = ag_add(gw_sum, g2[1]);
        ag_release(g2[0]);
        ag_release(g2[1]);
    }
    assert_true(max_abs_diff(gw_sum, gw) < 1e-9);
    ag_release(gx);
    ag_release(gw);
    ag_scope_end();
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live0);
}

/* One f32 convolution with its input and weight gradients, each compared with the f64 result
 * (im2col + dgemm) to f32 rounding: max |f32 - f64| <= 2e-6 * sqrt(K) * max |f64|. */
typedef struct conv_case { int64_t n, c, h, w, o, kh, kw; ag_conv_opts opt; bool bias; } conv_case;
#define CC(N, C, H, W, O, KH, KW, B, ...) \
    {.n = N, .c = C, .h = H, .w = W, .o = O, .kh = KH, .kw = KW, .opt = {__VA_ARGS__}, .bias = B}

/* max |a - ref| in units of unit * sqrt(k) * max |ref| (k: terms per output element) */
static double scaled_err(ag_tensor *a, ag_tensor *ref, double k, double unit) {
    ag_scope_begin();
    double d = max_abs_diff(ag_to_dtype(a, AG_F64), ref);
    double m = ag_item(ag_amax(ag_abs(ref), AG_ALL_DIMS, false));
    ag_scope_end();
    return d / (unit * sqrt(k) * (m > 0 ? m : 1));
}

/* y, dx, dw of one case in dtype dt from f64 inputs x, w, b */
static void conv_case_run(const conv_case *cc, ag_tensor *x, ag_tensor *w, ag_tensor *b, ag_dtype dt, ag_tensor **out) {
    ag_tensor *xx = ag_set_requires_grad(ag_to_dtype(x, dt), true);
    ag_tensor *ww = ag_set_requires_grad(ag_to_dtype(w, dt), true);
    ag_tensor *y = ag_conv2d(xx, ww, b ? ag_to_dtype(b, dt) : NULL, &cc->opt);
    assert_non_null(y);
    ag_tensor *gy = ag_to_dtype(ag_cos(ag_reshape(ag_arange(0, (double)ag_numel(y), 1, AG_F64), ag_shape(y), ag_ndim(y))), dt);
    ag_tensor *ins[2] = {xx, ww};
    assert_int_equal(ag_grad(&y, 1, ins, 2, &gy, false, out + 1), 0);
    out[0] = y;
}

static void expect_close(const conv_case *cc, ag_tensor **a, ag_tensor **ref, double unit, const char *what) {
    double k = (double)(ag_numel(ref[2]) / cc->o), p = (double)(ag_numel(ref[0]) / (cc->n * cc->o));
    double ks[3] = {k, (double)cc->o * cc->kh * cc->kw, (double)cc->n * p};
    const char *names[3] = {"output", "input gradient", "weight gradient"};
    for (int i = 0; i < 3; i++) {
        double e = scaled_err(a[i], ref[i], ks[i], unit);
        if (!(e <= 1))
            fail_msg("conv [%lld,%lld,%lld,%lld] * [%lld,%lld,%lld,%lld], %s: %s off by %.3g of tolerance",
                     (long long)cc->n, (long long)cc->c, (long long)cc->h, (long long)cc->w, (long long)cc->o,
                     (long long)cc->c, (long long)cc->kh, (long long)cc->kw, what, names[i], e);
    }
}

/* The AVX-512 kernels (where the CPU has them) and the im2col + gemm path (AG_CPU_CONV=im2col):
 * in each, f32 agrees with f64 to f32 rounding, and the two f64 results agree to f64 rounding.
 * Cases: row widths around the 16- and 8-lane vectors (narrower rows with 16+ channels take
 * channel-vector tiles), output channels not a multiple of the 4-row tiles, single-output-channel groups (1-row tiles), kernel sizes not a multiple of the
 * 6- and 24-row weight tiles, groups, strides, dilation, asymmetric padding, and a batch that
 * spans two padded-copy chunks. */
static void test_conv_paths(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    const conv_case cases[] = {
        CC(2, 3, 5, 16, 4, 3, 3, true, .padding = {1, 1}),
        CC(2, 3, 5, 17, 5, 3, 3, true, .padding = {1, 1}),
        CC(1, 4, 6, 64, 7, 3, 3, false, .padding = {1, 1}),
        CC(1, 4, 6, 65, 8, 3, 3, true, .padding = {1, 0}),
        CC(2, 6, 4, 47, 6, 2, 5, false, .padding = {0, 3}, .dilation = {2, 1}, .groups = 3),
        CC(1, 2, 3, 100, 3, 1, 1, true, .groups = 1),
        CC(1, 5, 7, 33, 9, 5, 3, true, .same = true, .dilation = {1, 2}),
        CC(3, 1, 9, 20, 1, 3, 3, false, .padding = {2, 2}),
        CC(2, 4, 1030, 1030, 1, 1, 1, false, .groups = 1), /* 17 MB padded per image: two 32 MiB chunks */
        CC(2, 2, 5, 150, 1, 3, 3, true, .padding = {1, 1}),             /* one output channel: 1 x 8 tiles */
        CC(2, 4, 6, 40, 4, 3, 3, false, .padding = {1, 1}, .groups = 4), /* depthwise */
        CC(1, 1, 40, 45, 1, 11, 11, false, .padding = {5, 5}),           /* one channel, large kernel */
        CC(2, 8, 6, 32, 8, 3, 3, true, .padding = {1, 1}),               /* two 32-pixel rows per tile */
        CC(2, 8, 9, 24, 6, 3, 3, true, .padding = {1, 1}),               /* three 8-lane f64 vectors per row */
        CC(2, 3, 9, 40, 5, 3, 3, true, .stride = {2, 2}, .padding = {1, 1}),
        CC(1, 4, 7, 70, 6, 3, 3, false, .stride = {1, 3}, .padding = {0, 2}, .dilation = {2, 1}),
        CC(2, 2, 8, 66, 1, 5, 5, true, .stride = {3, 2}, .padding = {2, 2}),
        /* rows narrower than a vector, 16+ channels: channel-vector tiles (f32 below 16 pixels, f64 below 8) */
        CC(3, 16, 5, 7, 20, 3, 3, true, .padding = {1, 1}),
        CC(2, 24, 4, 4, 40, 3, 3, false, .padding = {1, 1}),
        CC(2, 32, 9, 9, 36, 3, 3, true, .stride = {2, 2}, .padding = {1, 1}, .groups = 2),
        CC(2, 16, 6, 13, 17, 3, 3, true, .padding = {1, 1}, .dilation = {1, 2}),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *cc = &cases[i];
        ag_scope_begin();
        ag_tensor *x = ag_randn(AG_SHAPE(cc->n, cc->c, cc->h, cc->w), AG_F64);
        ag_tensor *w = ag_randn(AG_SHAPE(cc->o, cc->c / (cc->opt.groups ? cc->opt.groups : 1), cc->kh, cc->kw), AG_F64);
        ag_tensor *b = cc->bias ? ag_randn(AG_SHAPE(cc->o), AG_F64) : NULL;
        ag_tensor *r[2][2][3]; /* [default, im2col][f64, f32][y, dx, dw] */
        for (int path = 0; path < 2; path++) {
            if (path) setenv("AG_CPU_CONV", "im2col", 1);
            conv_case_run(cc, x, w, b, AG_F64, r[path][0]);
            conv_case_run(cc, x, w, b, AG_F32, r[path][1]);
            unsetenv("AG_CPU_CONV");
            expect_close(cc, r[path][1], r[path][0], 2e-6, path ? "im2col, f32 vs f64" : "default, f32 vs f64");
        }
        expect_close(cc, r[0][0], r[1][0], 1e-14, "f64, default vs im2col");
        ag_scope_end();
    }
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live0);
}

/* With the AVX-512 kernels (AG_CPU_CONV=direct), the weight gradient does not depend on the
 * thread count: each thread owns whole tiles. Without AVX-512F (or under valgrind, which hides
 * it) the forced setting is a clear error instead. */
static void test_conv_f32_weight_grad_threads(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    setenv("AG_CPU_CONV", "direct", 1);
    ag_scope_begin();
    ag_tensor *x = ag_randn(AG_SHAPE(4, 6, 12, 37), AG_F32);
    ag_tensor *w = ag_set_requires_grad(ag_randn(AG_SHAPE(10, 6, 3, 3), AG_F32), true);
    ag_tensor *y = ag_conv2d(x, w, NULL, CO(.padding = {1, 1}));
    if (!y) {
        assert_non_null(strstr(ag_last_error(), "cpu conv2d: "));
        assert_non_null(strstr(ag_last_error(), "AG_CPU_CONV=direct needs a CPU with AVX-512F"));
        printf("AVX-512 convolution kernels unavailable here: %s\n", ag_last_error());
        ag_clear_error();
    } else {
        /* pixel tiles (37-pixel rows), and channel tiles (6-pixel rows, 16 channels in and out) */
        ag_tensor *xs[2] = {x, ag_randn(AG_SHAPE(5, 16, 6, 6), AG_F32)};
        ag_tensor *ws[2] = {w, ag_set_requires_grad(ag_randn(AG_SHAPE(20, 16, 3, 3), AG_F32), true)};
        for (int c = 0; c < 2; c++) {
            ag_tensor *g[3];
            int threads[3] = {1, 2, 3};
            for (int t = 0; t < 3; t++) {
                ag_set_num_threads(threads[t]);
                y = ag_conv2d(xs[c], ws[c], NULL, CO(.padding = {1, 1}));
                ag_tensor *in[1] = {ws[c]}, *gy = ag_cos(y);
                assert_int_equal(ag_grad(&y, 1, in, 1, &gy, false, &g[t]), 0);
            }
            ag_set_num_threads(0);
            assert_true(max_abs_diff(g[0], g[1]) == 0);
            assert_true(max_abs_diff(g[0], g[2]) == 0);
        }
    }
    ag_scope_end();
    unsetenv("AG_CPU_CONV");
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live0);
}

/* pad works on every dtype forward; all-zero pads return the input's values */
static void test_pad_dtypes(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *t = ag_arange(0, 6, 1, AG_I64);
    ag_tensor *p = ag_pad(ag_reshape(t, AG_SHAPE(2, 3)), (const int64_t[]){1, 2}, 2, AG_PAD_CONSTANT, 7);
    int64_t v[12];
    assert_int_equal(ag_numel(p), 12);
    ag_copy_to_buffer(p, v, AG_I64);
    const int64_t want[12] = {7, 0, 1, 2, 7, 7, 7, 3, 4, 5, 7, 7};
    for (int i = 0; i < 12; i++) assert_int_equal(v[i], want[i]);
    ag_tensor *z = ag_randn(AG_SHAPE(2, 3), AG_C128);
    ag_tensor *zp = ag_pad(z, (const int64_t[]){0, 0}, 2, AG_PAD_REFLECT, 0);
    assert_true(max_abs_diff(z, zp) == 0);
    ag_scope_end();
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live0);
}

/* Warm convolution, padding and reduction kernels allocate nothing, on either algorithm: no
 * malloc in the library, no fresh block of the caching allocator. Geometries reach the im2col
 * gemm, the stride-1 input gradient as a forward pass, the strided phases of the direct input
 * gradient, the narrow-row weight gradient and the per-thread weight partials. */
typedef struct warm_case { int64_t N, C, H, W, O, KH, KW, s, p; ag_dtype dt; } warm_case;

static int conv_round(const ag_kernels *k, const warm_case *g, char *x, char *w, char *y, char *b) {
    int64_t HO = (g->H + 2 * g->p - g->KH) / g->s + 1, WO = (g->W + 2 * g->p - g->KW) / g->s + 1;
    ag_kview vx = ap_view(x, g->dt, 4, (const int64_t[]){g->N, g->C, g->H, g->W});
    ag_kview vw = ap_view(w, g->dt, 4, (const int64_t[]){g->O, g->C, g->KH, g->KW});
    ag_kview vy = ap_view(y, g->dt, 4, (const int64_t[]){g->N, g->O, HO, WO});
    ag_kview vb = ap_view(b, g->dt, 1, (const int64_t[]){g->O});
    ag_kview vpad = ap_view(y, g->dt, 4, (const int64_t[]){g->N, g->C, g->H + 2, g->W + 3});
    ag_conv_params cp = {{g->s, g->s}, {g->p, g->p}, {1, 1}, 1};
    int rc = k->conv2d(&vy, &vx, &vw, &vb, &cp);
    if (!rc) rc = k->conv2d_backward_input(&vx, &vy, &vw, &cp);
    if (!rc) rc = k->conv2d_backward_weight(&vw, &vy, &vx, &cp);
    if (!rc) rc = k->pad(&vpad, &vx, AG_PAD_REFLECT, (const int64_t[]){0, 0, 1, 2}, 0);
    if (!rc) rc = k->pad_backward(&vx, &vpad, AG_PAD_REFLECT, (const int64_t[]){0, 0, 1, 2});
    /* a full sum split over blocks (per-thread partials) */
    ag_kview vs = ap_view(b, g->dt, 1, (const int64_t[]){1}), vall = ap_view(y, g->dt, 1, (const int64_t[]){g->N * g->O * HO * WO});
    vs.ndim = 1;
    if (!rc) rc = k->reduce(AG_RED_SUM, &vs, NULL, &vall);
    return rc;
}

static void test_conv_no_malloc_when_warm(void **state) {
    (void)state;
    const ag_kernels *k = ag_cpu_kernel_table();
    const warm_case cases[] = {
        {3, 6, 12, 37, 10, 3, 3, 1, 1, AG_F32}, {4, 16, 6, 6, 20, 3, 3, 1, 1, AG_F32},
        {3, 4, 11, 13, 5, 3, 3, 2, 1, AG_F64},  {2, 4, 9, 9, 6, 5, 5, 1, 2, AG_F64},
        {2, 3, 70, 70, 4, 3, 3, 1, 1, AG_F64},
    };
    const char *paths[] = {NULL, "im2col", "direct"};
    for (int pi = 0; pi < 3; pi++) {
        if (paths[pi]) setenv("AG_CPU_CONV", paths[pi], 1);
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            const warm_case *g = &cases[ci];
            size_t es = g->dt == AG_F32 ? 4 : 8;
            int64_t HO = (g->H + 2 * g->p - g->KH) / g->s + 1, WO = (g->W + 2 * g->p - g->KW) / g->s + 1;
            int64_t ny = g->N * g->O * HO * WO, np = g->N * g->C * (g->H + 2) * (g->W + 3);
            char *x = malloc(es * (size_t)(g->N * g->C * g->H * g->W)), *w = malloc(es * (size_t)(g->O * g->C * g->KH * g->KW));
            char *y = malloc(es * (size_t)(ny > np ? ny : np)), *b = malloc(es * (size_t)g->O);
            assert_true(x && w && y && b);
            memset(x, 0, es * (size_t)(g->N * g->C * g->H * g->W));
            memset(w, 0, es * (size_t)(g->O * g->C * g->KH * g->KW));
            memset(b, 0, es * (size_t)g->O);
            ag_clear_error();
            int rc = conv_round(k, g, x, w, y, b);
            if (rc && pi == 2 && strstr(ag_last_error(), "AG_CPU_CONV=direct needs")) { /* no AVX-512 here */
                ag_clear_error();
            } else {
                if (rc) fail_msg("case %zu, path %s: %s", ci, paths[pi] ? paths[pi] : "auto", ag_last_error());
                for (int round = 0; round < 3; round++) {
                    uint64_t f0 = ap_fresh();
                    ap_begin();
                    rc = conv_round(k, g, x, w, y, b);
                    long n = ap_end();
                    assert_int_equal(rc, 0);
                    if (n) fail_msg("case %zu, path %s: the library made %ld heap allocations", ci,
                                    paths[pi] ? paths[pi] : "auto", n);
                    assert_int_equal(ap_fresh(), f0);
                }
            }
            free(x);
            free(w);
            free(y);
            free(b);
        }
        unsetenv("AG_CPU_CONV");
    }
}

int main(void) {
    ag_manual_seed(4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_bad_inputs),
        cmocka_unit_test(test_max_pool_ties),
        cmocka_unit_test(test_conv_batch_paths_agree),
        cmocka_unit_test(test_pad_dtypes),
        cmocka_unit_test(test_conv_paths),
        cmocka_unit_test(test_conv_f32_weight_grad_threads),
        cmocka_unit_test(test_conv_no_malloc_when_warm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
