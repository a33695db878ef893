/* tests/test_memory.c — long-running memory behaviour: a scoped training loop of 10^4
 * iterations (forward, backward, SGD update under no-grad, zero_grad) must not grow the
 * resident set nor the number of live tensors. */
#include <math.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include <astrograd.h>

/* resident set size in bytes, from /proc/self/statm (second field, in pages) */
static long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long long size = 0, resident = -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (long long)sysconf(_SC_PAGESIZE);
}

/* Linear regression y = X w + b by SGD on a fixed batch: small, but exercising matmul,
 * broadcasting, reductions, several leaves, the engine, in-place updates and scopes. */
static void test_training_loop_memory_is_flat(void **state) {
    (void)state;
    ag_clear_error();
    const int iters = 10000;
    int64_t live_start = ag_live_tensors();
    ag_manual_seed(7);
    ag_tensor *X = ag_randn(AG_SHAPE(32, 4), AG_F64);
    ag_tensor *w_true = ag_from_data((double[]){1.5, -2.0, 0.5, 3.0}, AG_SHAPE(4, 1), AG_F64);
    ag_tensor *Xw = ag_matmul(X, w_true);
    ag_tensor *y = ag_add_s(Xw, 0.25);
    ag_release(Xw);
    ag_tensor *w = ag_set_requires_grad(ag_zeros(AG_SHAPE(4, 1), AG_F64), true);
    ag_tensor *b = ag_set_requires_grad(ag_zeros(AG_SHAPE(1), AG_F64), true);
    assert_non_null(y);
    assert_non_null(w);
    assert_non_null(b);
    int64_t live_loop = ag_live_tensors();
    long long rss_1000 = -1, rss_end = -1;
    double loss = NAN;
    const double lr = 0.05;

    for (int it = 1; it <= iters; it++) {
        ag_scope_begin();
        ag_tensor *pred = ag_add(ag_matmul(X, w), b);
        ag_tensor *L = ag_mean(ag_square(ag_sub(pred, y)), AG_ALL_DIMS, false);
        if (ag_backward(L)) fail_msg("iteration %d: backward failed: %s", it, ag_last_error());
        loss = ag_item(L);
        ag_no_grad_begin();
        /* w -= lr * grad(w) through ag_copy_; b with the in-place kernel path of copy_ too */
        assert_int_equal(ag_copy_(w, ag_sub(w, ag_mul_s(ag_grad_of(w), lr))), 0);
        assert_int_equal(ag_copy_(b, ag_add(b, ag_mul_s(ag_grad_of(b), -lr))), 0);
        ag_no_grad_end();
        ag_zero_grad(w);
        ag_zero_grad(b);
        ag_scope_end();
        if (ag_failed()) fail_msg("iteration %d: %s", it, ag_last_error());
        if (ag_live_tensors() != live_loop)
            fail_msg("iteration %d: %lld tensors alive, %lld before the loop", it, (long long)ag_live_tensors(),
                     (long long)live_loop);
        if (it == 1000) rss_1000 = rss_bytes();
    }
    rss_end = rss_bytes();
    assert_true(rss_1000 > 0 && rss_end > 0);
    long long growth = rss_end - rss_1000;
    printf("# rss at iteration 1000: %lld KiB, at %d: %lld KiB (growth %lld bytes); final loss %.3g\n",
           rss_1000 / 1024, iters, rss_end / 1024, growth, loss);
    /* valgrind's bookkeeping and AddressSanitizer's quarantine of freed blocks grow the process:
     * there only the live-tensor count is checked */
#ifdef __SANITIZE_ADDRESS__
    const bool rss_check = false;
#else
    const bool rss_check = !getenv("AG_UNDER_VALGRIND");
#endif
    if (rss_check && growth >= 1024 * 1024) fail_msg("resident memory grew by %lld bytes between iterations 1000 and %d", growth, iters);
    /* it learned something: the loop really ran forward and backward */
    assert_true(loss < 1e-20);
    assert_true(fabs(ag_item(b) - 0.25) < 1e-9);

    ag_release(X);
    ag_release(w_true);
    ag_release(y);
    ag_release(w);
    ag_release(b);
    assert_int_equal(ag_live_tensors(), live_start);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_loop_memory_is_flat),
    };
    return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
