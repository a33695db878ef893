/* tests/test_memory.c — long-running memory behaviour: a scoped training loop of 10^4
 * iterations (forward, backward, SGD update under no-grad, zero_grad) must not grow the
 * resident set nor the number of live tensors; tensors of one thread's scope released or kept
 * by other threads (scopes are per thread). */
#include <math.h>
#include <pthread.h>
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

/* ---- scopes across threads ----------------------------------------------------------
 * cmocka's asserts jump and are not for other threads: workers record what they saw and the
 * test thread asserts it. */
typedef struct worker {
    ag_tensor **ts;      /* tensors of the test thread's scope */
    int n, first, step;  /* which of ts this worker takes */
    bool keep;           /* ag_keep (the worker then owns them) instead of ag_release */
    bool hold;           /* with keep: leave the kept references to the test thread */
    pthread_barrier_t *go;
    int64_t own_left;    /* live tensors its own scope left behind (expect 0) */
    int depth_after;     /* its scope depth at the end (expect 0) */
    bool failed;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    if (w->go) pthread_barrier_wait(w->go);
    /* a scope of its own with tensors at the same depth and slots as the owner's: the other
     * thread's release must not touch them */
    ag_scope_begin();
    ag_tensor *mine[4];
    for (int i = 0; i < 4; i++) mine[i] = ag_full(AG_SHAPE(1), i, AG_F64);
    for (int i = w->first; i < w->n; i += w->step) {
        if (w->keep) {
            ag_tensor *k = ag_keep(w->ts[i]);
            if (k != w->ts[i]) w->failed = true;
            if (!w->hold) ag_release(k);
        } else {
            ag_release(w->ts[i]);
        }
    }
    for (int i = 0; i < 4; i++)
        if (ag_item(mine[i]) != i) w->failed = true;
    int64_t before_end = ag_live_tensors();
    ag_scope_end();
    /* only its own four die at its scope end (the other threads may be creating meanwhile, so
     * this is checked only when it runs alone) */
    w->own_left = w->go ? 0 : 4 - (before_end - ag_live_tensors());
    w->depth_after = ag_scope_depth();
    if (ag_failed()) w->failed = true;
    ag_clear_error();
    return NULL;
}

static void run_worker(worker *w) {
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, worker_main, w), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_false(w->failed);
    assert_int_equal(w->own_left, 0);
    assert_int_equal(w->depth_after, 0);
}

/* ag_release from another thread gives up the owner scope's claim: the tensor lives while
 * other references do, the owner's scope end does not release it twice, and the other
 * thread's own scope is untouched. */
static void test_release_from_another_thread(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *t = ag_ones(AG_SHAPE(1), AG_F64);
    ag_retain(t);            /* the test's own reference, beside the scope's */
    ag_tensor *u = ag_ones(AG_SHAPE(3), AG_F64); /* only the scope's: released by the worker */
    worker w = {.ts = (ag_tensor *[]){t, u}, .n = 2, .first = 0, .step = 1};
    run_worker(&w);
    assert_int_equal(ag_live_tensors(), live0 + 2); /* both wait for this scope's end */
    ag_scope_end();
    assert_int_equal(ag_live_tensors(), live0 + 1); /* t: the reference of its own */
    assert_true(ag_item(t) == 1.0);
    ag_release(t);
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

/* ag_keep from another thread hands that thread a reference: the tensor outlives the owner's
 * scope, and the owner's scope end does not free it under the keeper. */
static void test_keep_from_another_thread(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *t = ag_full(AG_SHAPE(1), 2.0, AG_F64);
    worker w = {.ts = &t, .n = 1, .first = 0, .step = 1, .keep = true, .hold = true};
    run_worker(&w); /* the worker's kept reference is now ours */
    ag_scope_end();
    assert_int_equal(ag_live_tensors(), live0 + 1);
    assert_true(ag_item(t) == 2.0);
    ag_release(t);
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

/* Owner and other threads at once: the owner keeps registering results (its slot array
 * grows and moves), releases some tensors it also handed out, while two threads release
 * or keep the handed-out ones. Every tensor dies exactly once. */
static void test_scopes_concurrent_threads(void **state) {
    (void)state;
    ag_clear_error();
    enum { N = 20000 };
    int64_t live0 = ag_live_tensors();
    ag_tensor **ts = malloc(N * sizeof *ts);
    assert_non_null(ts);
    ag_scope_begin();
    for (int i = 0; i < N; i++) {
        ts[i] = ag_full(AG_SHAPE(1), i, AG_F64);
        if (i % 3 == 0) ag_retain(ts[i]); /* the owner releases these too, racing the workers */
    }
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 3), 0);
    worker w[2] = {{.ts = ts, .n = N, .first = 0, .step = 2, .go = &go},
                   {.ts = ts, .n = N, .first = 1, .step = 2, .keep = true, .go = &go}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++) assert_int_equal(pthread_create(&th[k], NULL, worker_main, &w[k]), 0);
    pthread_barrier_wait(&go);
    for (int i = 0; i < N; i++) {
        ag_tensor *x = ag_add_s(ag_ones(AG_SHAPE(1), AG_F64), 1.0); /* two more slots */
        if (i % 2) ag_release(x);
        if (i % 3 == 0) ag_release(ts[i]);
    }
    for (int k = 0; k < 2; k++) assert_int_equal(pthread_join(th[k], NULL), 0);
    pthread_barrier_destroy(&go);
    for (int k = 0; k < 2; k++) {
        assert_false(w[k].failed);
        assert_int_equal(w[k].depth_after, 0);
    }
    ag_scope_end();
    free(ts);
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

/* An extra reference taken with ag_retain inside a scope is the caller's: releasing it leaves
 * the scope's claim, so the scope still frees the tensor. A release while the scope's is the
 * only reference still gives the claim up (the tensor dies at once). */
static void test_retain_release_in_scope(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_scope_begin();
    ag_tensor *t = ag_ones(AG_SHAPE(2), AG_F64);
    ag_retain(t);
    ag_release(t);
    ag_tensor *u = ag_ones(AG_SHAPE(2), AG_F64);
    ag_release(u); /* only the scope's reference: gone now */
    assert_int_equal(ag_live_tensors(), live0 + 1);
    /* two extra references, released in the scope; then one that outlives it */
    ag_tensor *v = ag_mul_s(t, 2.0);
    ag_retain(v);
    ag_retain(v);
    ag_release(v);
    ag_release(v);
    ag_tensor *w = ag_retain(ag_add_s(t, 1.0));
    ag_scope_end();
    assert_int_equal(ag_live_tensors(), live0 + 1);
    double wv[2] = {0};
    assert_int_equal(ag_copy_to_buffer(w, wv, AG_F64), 0);
    assert_true(wv[0] == 2.0 && wv[1] == 2.0);
    ag_release(w);
    assert_int_equal(ag_live_tensors(), live0);
    /* ag_keep moves the claim outward and the extra reference stays the caller's */
    ag_scope_begin();
    ag_scope_begin();
    ag_tensor *k = ag_retain(ag_ones(AG_SHAPE(1), AG_F64));
    ag_keep(k);
    ag_scope_end();
    ag_release(k);
    assert_true(ag_item(k) == 1.0);
    ag_scope_end();
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

/* The closure's loss belongs to the caller's scope; returning ag_retain(L) hands L-BFGS an
 * extra reference, which it releases. Each step must leave nothing behind. */
static ag_tensor *quad_closure(void *ud) {
    ag_tensor *w = ud;
    ag_zero_grad(w);
    ag_tensor *L = ag_sum(ag_square(ag_add_s(w, -3.0)), AG_ALL_DIMS, false);
    if (ag_backward(L)) return NULL;
    return ag_retain(L);
}

static void test_lbfgs_closure_retain_in_scope(void **state) {
    (void)state;
    ag_clear_error();
    int64_t live0 = ag_live_tensors();
    ag_tensor *w = ag_set_requires_grad(ag_zeros(AG_SHAPE(3), AG_F64), true);
    ag_optim *o = ag_lbfgs((ag_params){&w, NULL, 1}, (ag_lbfgs_opts){.max_iter = 2});
    assert_non_null(o);
    int64_t live1 = 0; /* after the first step, which creates the optimizer's state tensors */
    for (int it = 0; it < 4; it++) {
        ag_scope_begin();
        assert_int_equal(ag_optim_step_closure(o, quad_closure, w), 0);
        ag_scope_end();
        ag_zero_grad(w);
        if (it == 0) live1 = ag_live_tensors();
        if (ag_live_tensors() != live1)
            fail_msg("step %d: %lld tensors alive, %lld before", it, (long long)ag_live_tensors(), (long long)live1);
    }
    double wv[3];
    assert_int_equal(ag_copy_to_buffer(w, wv, AG_F64), 0);
    for (int i = 0; i < 3; i++) assert_true(fabs(wv[i] - 3.0) < 1e-6);
    ag_optim_free(o);
    ag_release(w);
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_loop_memory_is_flat),
        cmocka_unit_test(test_retain_release_in_scope),
        cmocka_unit_test(test_lbfgs_closure_retain_in_scope),
        cmocka_unit_test(test_release_from_another_thread),
        cmocka_unit_test(test_keep_from_another_thread),
        cmocka_unit_test(test_scopes_concurrent_threads),
    };
    return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
