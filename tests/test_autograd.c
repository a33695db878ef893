/* tests/test_autograd.c — the backward engine beyond single ops (those are in the op table):
 * accumulation, shared subexpressions, retain_graph, misuse errors, version counters, detach,
 * no-grad, ag_grad, hooks, deep graphs, graph lifetime and anomaly mode.
 * Every test checks that no tensor outlives it (ag_live_tensors before == after). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <astrograd.h>

/* ---- helpers -------------------------------------------------------------------- */
static int64_t live0;

static int setup(void **state) {
    (void)state;
    ag_clear_error();
    live0 = ag_live_tensors();
    return 0;
}
static int teardown(void **state) {
    (void)state;
    /* a failed test jumps out of its scopes and no-grad regions: close them for the next */
    int open_scopes = ag_scope_depth();
    bool grad_off = !ag_is_grad_enabled();
    while (ag_scope_depth() > 0) ag_scope_end();
    while (!ag_is_grad_enabled()) ag_no_grad_end();
    ag_set_anomaly(false);
    assert_int_equal(open_scopes, 0);
    assert_false(grad_off);
    if (ag_live_tensors() != live0)
        fail_msg("leak: %lld tensors alive at the end, %lld at the start", (long long)ag_live_tensors(),
                 (long long)live0);
    ag_clear_error();
    return 0;
}

static ag_tensor *vec(int n, const double *v) { return ag_from_data(v, (int64_t[]){n}, 1, AG_F64); }
#define VEC(...) vec((int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), (double[]){__VA_ARGS__})
static ag_tensor *leaf(ag_tensor *t) { return ag_set_requires_grad(t, true); }
static ag_tensor *sum(ag_tensor *t) { return ag_sum(t, AG_ALL_DIMS, false); }

/* element i of a real tensor (any dtype, any strides) */
static double at(ag_tensor *t, int64_t i) {
    assert_non_null(t);
    double buf[64];
    assert_true(ag_numel(t) <= 64);
    assert_int_equal(ag_copy_to_buffer(t, buf, AG_F64), 0);
    return buf[i];
}

static void assert_values(ag_tensor *t, int n, const double *expect, double tol) {
    assert_non_null(t);
    assert_int_equal(ag_numel(t), n);
    for (int i = 0; i < n; i++)
        if (!(fabs(at(t, i) - expect[i]) <= tol))
            fail_msg("element %d: got %.17g, expected %.17g", i, at(t, i), expect[i]);
}
#define ASSERT_VALUES(t, tol, ...) \
    assert_values((t), (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), (double[]){__VA_ARGS__}, (tol))

static void assert_error(ag_status code, const char *needle) {
    if (!ag_failed()) fail_msg("expected an error containing \"%s\", got none", needle);
    if (ag_error_code() != code)
        fail_msg("expected %s, got %s: %s", ag_status_str(code), ag_status_str(ag_error_code()), ag_last_error());
    if (!strstr(ag_last_error(), needle))
        fail_msg("error \"%s\" does not mention \"%s\"", ag_last_error(), needle);
    ag_clear_error();
}

/* ---- accumulation and shared subexpressions ---------------------------------------- */
static void test_accumulates_across_backward_calls(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, -2, 3));
    assert_int_equal(ag_backward(sum(ag_square(x))), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 2, -4, 6);
    ag_tensor *g1 = ag_grad_of(x);
    /* a second, fresh graph adds to .grad in place (as PyTorch) */
    assert_int_equal(ag_backward(sum(ag_mul_s(x, 3.0))), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 5, -1, 9);
    assert_ptr_equal(ag_grad_of(x), g1);
    /* .grad never carries history */
    assert_false(ag_requires_grad(ag_grad_of(x)));
    assert_true(ag_is_leaf(ag_grad_of(x)));
    ag_zero_grad(x);
    assert_null(ag_grad_of(x));
    assert_int_equal(ag_backward(sum(x)), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 1, 1, 1);
    ag_scope_end();
}

static void test_diamond_sums_paths(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(0.5, -1.5, 2));
    /* x -> a = 2x, b = x + 1 -> L = sum(a * b) = sum(2x^2 + 2x): dL/dx = 4x + 2 */
    ag_tensor *a = ag_mul_s(x, 2.0), *b = ag_add_s(x, 1.0);
    assert_int_equal(ag_backward(sum(ag_mul(a, b))), 0);
    ASSERT_VALUES(ag_grad_of(x), 1e-15, 4, -4, 10);
    /* the same tensor twice in one op: d/dx sum(x * x) = 2x */
    ag_zero_grad(x);
    assert_int_equal(ag_backward(sum(ag_mul(x, x))), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 1, -3, 4);
    /* many uses: L = sum(x + x + x + x) */
    ag_zero_grad(x);
    assert_int_equal(ag_backward(sum(ag_add(ag_add(x, x), ag_add(x, x)))), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 4, 4, 4);
    ag_scope_end();
}

/* An intermediate h reached along two paths whose first gradient is a broadcast view
 * (sum's backward expands): the second must not be added into that view in place. */
static void test_accumulate_into_broadcast_gradient(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2, 3));
    ag_tensor *h = ag_mul_s(x, 1.0);
    ag_tensor *w = VEC(10, 20, 30);
    /* L = sum(h) + sum(h * w): dL/dh = 1 + w */
    ag_tensor *L = ag_add(sum(ag_mul(h, w)), sum(h));
    assert_int_equal(ag_backward(L), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 11, 21, 31);
    /* both orders */
    ag_zero_grad(x);
    L = ag_add(sum(h), sum(ag_mul(h, w)));
    assert_int_equal(ag_backward(L), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 11, 21, 31);
    /* two broadcast gradients meeting */
    ag_zero_grad(x);
    L = ag_add(sum(h), ag_mul_s(sum(h), 2.0));
    assert_int_equal(ag_backward(L), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 3, 3, 3);
    ag_scope_end();
}

/* ---- retain_graph -------------------------------------------------------------------- */
static void test_retain_graph(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(0, 1));
    ag_tensor *L = sum(ag_exp(x));
    assert_int_equal(ag_backward_ex(L, (ag_backward_opts){.retain_graph = true}), 0);
    ASSERT_VALUES(ag_grad_of(x), 1e-15, 1, M_E);
    assert_int_equal(ag_backward_ex(L, (ag_backward_opts){.retain_graph = false}), 0);
    ASSERT_VALUES(ag_grad_of(x), 1e-15, 2, 2 * M_E);
    /* the graph is freed now: a third pass fails, naming the op and retain_graph */
    assert_int_equal(ag_backward(L), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "retain_graph");
    /* and it did not touch .grad */
    ASSERT_VALUES(ag_grad_of(x), 1e-15, 2, 2 * M_E);
    ag_scope_end();
}

static void test_second_backward_without_retain_fails(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(2, 3));
    ag_tensor *L = sum(ag_mul(x, x));
    assert_int_equal(ag_backward(L), 0);
    int rc = ag_backward(L);
    assert_int_equal(rc, AG_ERR_AUTOGRAD);
    assert_true(strstr(ag_last_error(), "second time") != NULL);
    assert_error(AG_ERR_AUTOGRAD, "retain_graph");
    ASSERT_VALUES(ag_grad_of(x), 0, 4, 6);
    ag_scope_end();
}

/* ---- misuse errors --------------------------------------------------------------------- */
static void test_backward_non_scalar_needs_gradient(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(ag_ones(AG_SHAPE(2, 3), AG_F64));
    ag_tensor *y = ag_mul_s(x, 2.0);
    assert_int_equal(ag_backward(y), AG_ERR_SHAPE);
    assert_error(AG_ERR_SHAPE, "[2,3]");
    assert_null(ag_grad_of(x));
    /* with an upstream gradient of the right shape it works */
    ag_tensor *up = ag_full(AG_SHAPE(2, 3), 0.5, AG_F64);
    assert_int_equal(ag_backward_ex(y, (ag_backward_opts){.grad = up}), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 1, 1, 1, 1, 1, 1);
    /* a wrong-shaped upstream gradient names both shapes */
    ag_tensor *y2 = ag_mul_s(x, 2.0);
    assert_int_equal(ag_backward_ex(y2, (ag_backward_opts){.grad = ag_ones(AG_SHAPE(3, 2), AG_F64)}), AG_ERR_SHAPE);
    assert_true(strstr(ag_last_error(), "[3,2]") != NULL);
    assert_error(AG_ERR_SHAPE, "[2,3]");
    ag_scope_end();
}

static void test_backward_without_requires_grad(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = VEC(1, 2);
    ag_tensor *L = sum(ag_square(x));
    assert_false(ag_requires_grad(L));
    assert_int_equal(ag_backward(L), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "does not require grad");
    assert_int_equal(ag_backward(NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "NULL");
    ag_scope_end();
}

static void test_backward_complex_scalar_fails(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *z = leaf(ag_full_complex(AG_SHAPE(3), 1.0, 2.0, AG_C128));
    ag_tensor *s = sum(ag_mul(z, z));
    assert_int_equal(ag_backward(s), AG_ERR_DTYPE);
    assert_error(AG_ERR_DTYPE, "complex");
    assert_null(ag_grad_of(z));
    /* a real loss of the same z works */
    assert_int_equal(ag_backward(ag_real(s)), 0);
    assert_non_null(ag_grad_of(z));
    ag_scope_end();
}

/* abs and angle are not differentiable at 0; PyTorch defines their gradients there as 0
 * (issues 96543, 98276), so a loss touching an exact zero stays finite. */
static void test_complex_abs_angle_gradient_at_zero(void **state) {
    (void)state;
    ag_scope_begin();
    double zv[] = {0, 0, 3, -4}; /* z = {0, 3 - 4i} */
    ag_tensor *z = leaf(ag_from_data(zv, AG_SHAPE(2), AG_C128));
    ag_tensor *g[1];
    assert_int_equal(ag_grad((ag_tensor *[]){sum(ag_abs(z))}, 1, &z, 1, NULL, false, g), 0);
    double gb[4];
    assert_int_equal(ag_copy_to_buffer(g[0], gb, AG_C128), 0);
    assert_true(gb[0] == 0 && gb[1] == 0);                     /* not NaN */
    assert_true(fabs(gb[2] - 0.6) < 1e-15 && fabs(gb[3] + 0.8) < 1e-15); /* z / |z| */
    assert_int_equal(ag_grad((ag_tensor *[]){sum(ag_angle(z))}, 1, &z, 1, NULL, false, g), 0);
    assert_int_equal(ag_copy_to_buffer(g[0], gb, AG_C128), 0);
    assert_true(gb[0] == 0 && gb[1] == 0);
    /* d angle = i z / |z|^2 = i (3 - 4i) / 25 = (4 + 3i) / 25 */
    assert_true(fabs(gb[2] - 0.16) < 1e-15 && fabs(gb[3] - 0.12) < 1e-15);
    /* real inputs: abs'(0) = 0 (sign(0)), angle of a real is piecewise constant */
    ag_tensor *x = leaf(VEC(0, -2));
    assert_int_equal(ag_backward(ag_add(sum(ag_abs(x)), sum(ag_angle(x)))), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 0, -1);
    ag_scope_end();
}

/* PyTorch's std backward is 0 where the result is 0 (a constant input), not 0 * 1/(2*0) */
static void test_std_var_of_constant_gradient_is_zero(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *g[1];
    for (int c = 0; c <= 1; c++) {
        ag_tensor *x = leaf(VEC(2, 2, 2, 2));
        assert_int_equal(ag_grad((ag_tensor *[]){ag_std(x, AG_ALL_DIMS, c, false)}, 1, &x, 1, NULL, false, g), 0);
        ASSERT_VALUES(g[0], 0, 0, 0, 0, 0);
        assert_int_equal(ag_grad((ag_tensor *[]){ag_var(x, AG_ALL_DIMS, c, false)}, 1, &x, 1, NULL, false, g), 0);
        ASSERT_VALUES(g[0], 0, 0, 0, 0, 0);
    }
    /* one constant row next to a varying one: only the constant row's gradient is masked */
    ag_tensor *y = leaf(ag_from_data((double[]){1, 1, 1, 0, 1, 2}, AG_SHAPE(2, 3), AG_F64));
    assert_int_equal(ag_grad((ag_tensor *[]){sum(ag_std(y, AG_DIMS(1), 1, false))}, 1, &y, 1, NULL, false, g), 0);
    ASSERT_VALUES(g[0], 1e-15, 0, 0, 0, -0.5, 0, 0.5); /* (x - mean) / ((n - 1) std), std = 1 */
    ag_tensor *z = leaf(ag_from_data((double[]){1, -1, 1, -1}, AG_SHAPE(2), AG_C128));
    assert_int_equal(ag_grad((ag_tensor *[]){ag_std(z, AG_ALL_DIMS, 1, false)}, 1, &z, 1, NULL, false, g), 0);
    double gb[4];
    assert_int_equal(ag_copy_to_buffer(g[0], gb, AG_C128), 0);
    for (int i = 0; i < 4; i++) assert_true(gb[i] == 0);
    ag_scope_end();
}

/* ---- version counters ----------------------------------------------------------------- */
static void test_inplace_on_saved_tensor_fails(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *a = leaf(VEC(1, 2)), *b = leaf(VEC(3, 4));
    ag_tensor *L = sum(ag_mul(a, b)); /* ag_mul saves a and b */
    ag_no_grad_begin();
    assert_int_equal(ag_fill_(a, 5.0), 0);
    ag_no_grad_end();
    assert_int_equal(ag_backward(L), AG_ERR_AUTOGRAD);
    assert_true(strstr(ag_last_error(), "ag_mul") != NULL);
    assert_error(AG_ERR_AUTOGRAD, "modified in place");
    assert_null(ag_grad_of(a));
    assert_null(ag_grad_of(b));

    /* ag_copy_ into the other input, through a view of it */
    L = sum(ag_mul(a, b));
    ag_no_grad_begin();
    ag_tensor *view = ag_narrow(b, 0, 1, 1);
    assert_int_equal(ag_copy_(view, VEC(9)), 0);
    ag_no_grad_end();
    assert_int_equal(ag_backward(L), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "modified in place");

    /* in place writes to a tensor that was not saved are fine */
    ag_tensor *c = VEC(1, 1);
    L = sum(ag_add(a, c)); /* add saves nothing */
    assert_int_equal(ag_fill_(c, 7.0), 0);
    assert_int_equal(ag_backward(L), 0);
    ASSERT_VALUES(ag_grad_of(a), 0, 1, 1);

    /* writing into a leaf that requires grad outside no-grad is refused */
    assert_int_equal(ag_fill_(a, 1.0), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "no_grad");
    assert_int_equal(ag_copy_(a, c), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "no_grad");
    ag_scope_end();
}

/* ---- detach and no-grad ------------------------------------------------------------------ */
static void test_detach_stops_gradients(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(2, -3));
    ag_tensor *y = ag_square(x);
    ag_tensor *d = ag_detach(y);
    assert_false(ag_requires_grad(d));
    assert_true(ag_is_leaf(d));
    assert_true(ag_shares_storage(d, y));
    /* L = sum(detach(x^2) * x): dL/dx = x^2 only (no 2x * x term) */
    assert_int_equal(ag_backward(sum(ag_mul(d, x))), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 4, 9);
    /* a loss built only from detached values cannot backpropagate */
    assert_int_equal(ag_backward(sum(d)), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "does not require grad");
    ag_scope_end();
}

static void test_no_grad_records_nothing(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2));
    assert_true(ag_is_grad_enabled());
    ag_no_grad_begin();
    assert_false(ag_is_grad_enabled());
    ag_no_grad_begin(); /* nests */
    ag_tensor *y = ag_exp(ag_mul(x, x));
    ag_no_grad_end();
    assert_false(ag_is_grad_enabled());
    ag_tensor *z = ag_sum(ag_reshape(ag_transpose(ag_unsqueeze(x, 0), 0, 1), AG_SHAPE(2)), AG_ALL_DIMS, false);
    ag_no_grad_end();
    assert_true(ag_is_grad_enabled());
    assert_true(ag_is_leaf(y));
    assert_false(ag_requires_grad(y));
    assert_true(ag_is_leaf(z));
    assert_false(ag_requires_grad(z));
    assert_int_equal(ag_backward(z), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "does not require grad");
    /* unbalanced end is an error, not a negative depth */
    ag_no_grad_end();
    assert_error(AG_ERR_INVALID, "no no-grad region");
    assert_true(ag_is_grad_enabled());
    /* recording resumes */
    ag_tensor *w = ag_mul(x, x);
    assert_false(ag_is_leaf(w));
    assert_true(ag_requires_grad(w));
    ag_scope_end();
}

/* ---- ag_grad ------------------------------------------------------------------------------ */
static void test_grad_leaves_dot_grad_alone(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2, 3)), *unused = leaf(VEC(7, 8));
    ag_tensor *L = sum(ag_pow_s(x, 3.0));
    ag_tensor *g[2];
    assert_int_equal(ag_grad(&L, 1, (ag_tensor *[]){x, unused}, 2, NULL, false, g), 0);
    ASSERT_VALUES(g[0], 1e-13, 3, 12, 27);
    ASSERT_VALUES(g[1], 0, 0, 0);          /* unused input: zeros of its shape */
    assert_int_equal(ag_ndim(g[1]), 1);
    assert_int_equal(ag_dtype_of(g[1]), AG_F64);
    assert_null(ag_grad_of(x));
    assert_null(ag_grad_of(unused));
    assert_false(ag_requires_grad(g[0]));
    ag_scope_end();
}

static void test_grad_multiple_outputs_and_intermediates(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, -2));
    ag_tensor *h = ag_mul_s(x, 3.0);                 /* intermediate */
    ag_tensor *L1 = sum(ag_square(h));               /* dL1/dh = 2h, dL1/dx = 18x */
    ag_tensor *L2 = sum(ag_mul(h, x));               /* 3x^2: dL2/dh = x, dL2/dx = 6x (through h and directly) */
    ag_tensor *g[2];
    assert_int_equal(ag_grad((ag_tensor *[]){L1, L2}, 2, (ag_tensor *[]){x, h}, 2, NULL, true, g), 0);
    ASSERT_VALUES(g[0], 1e-13, 24, -48);             /* 18x + 6x */
    ASSERT_VALUES(g[1], 1e-13, 7, -14);              /* 2h + x */
    assert_null(ag_grad_of(x));
    /* weighted outputs */
    ag_tensor *w[2] = {ag_scalar(2.0, AG_F64), ag_scalar(-1.0, AG_F64)};
    assert_int_equal(ag_grad((ag_tensor *[]){L1, L2}, 2, (ag_tensor *[]){x}, 1, w, true, g), 0);
    ASSERT_VALUES(g[0], 1e-13, 30, -60);             /* 36x - 6x */
    /* the same output twice counts twice */
    assert_int_equal(ag_grad((ag_tensor *[]){L1, L1}, 2, (ag_tensor *[]){h}, 1, NULL, true, g), 0);
    ASSERT_VALUES(g[0], 1e-13, 12, -24);
    /* a repeated output next to another output using the same intermediate */
    ag_tensor *S1 = sum(h), *S2 = sum(h);
    assert_int_equal(ag_grad((ag_tensor *[]){S1, S2, S2}, 3, (ag_tensor *[]){h, x}, 2, NULL, true, g), 0);
    ASSERT_VALUES(g[0], 0, 3, 3);
    ASSERT_VALUES(g[1], 0, 9, 9);
    /* an intermediate as its own output and input: the upstream gradient itself */
    ag_tensor *up = VEC(5, 6);
    assert_int_equal(ag_grad(&h, 1, &h, 1, &up, true, g), 0);
    ASSERT_VALUES(g[0], 0, 5, 6);
    /* a non-leaf input the outputs do not depend on */
    ag_tensor *other = ag_exp(x);
    assert_int_equal(ag_grad(&L1, 1, (ag_tensor *[]){other, x}, 2, NULL, false, g), 0);
    ASSERT_VALUES(g[0], 0, 0, 0);
    ASSERT_VALUES(g[1], 1e-13, 18, -36);
    /* errors */
    ag_tensor *c = VEC(1, 1);
    assert_int_equal(ag_grad(&L2, 1, &c, 1, NULL, false, g), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "does not require grad");
    assert_null(g[0]);
    assert_int_equal(ag_grad(&h, 1, &x, 1, NULL, false, g), AG_ERR_SHAPE);
    assert_error(AG_ERR_SHAPE, "[2]");
    ag_scope_end();
}

/* ---- hooks --------------------------------------------------------------------------------- */
typedef struct hook_log { int calls; double seen[8]; double scale; } hook_log;

static ag_tensor *observe_and_scale(ag_tensor *g, void *ud) {
    hook_log *h = ud;
    int n = (int)ag_numel(g);
    assert_true(n <= 8);
    double buf[8];
    assert_int_equal(ag_copy_to_buffer(g, buf, AG_F64), 0);
    for (int i = 0; i < n; i++) h->seen[i] = buf[i];
    h->calls++;
    return h->scale != 1.0 ? ag_mul_s(g, h->scale) : NULL;
}

static void test_hooks_on_leaf(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2));
    hook_log log = {.scale = 1.0};
    assert_int_equal(ag_register_hook(x, observe_and_scale, &log), 0);
    /* x reaches the loss along two paths: the hook sees the total gradient once (as PyTorch) */
    assert_int_equal(ag_backward(sum(ag_add(ag_mul_s(x, 3.0), ag_square(x)))), 0);
    assert_int_equal(log.calls, 1);
    assert_true(log.seen[0] == 5 && log.seen[1] == 7);
    ASSERT_VALUES(ag_grad_of(x), 0, 5, 7);
    /* replacing */
    ag_zero_grad(x);
    log.scale = 10;
    assert_int_equal(ag_backward(sum(ag_mul(x, x))), 0);
    assert_int_equal(log.calls, 2);
    ASSERT_VALUES(ag_grad_of(x), 0, 20, 40);
    /* ag_grad runs the hook too and leaves .grad alone */
    ag_tensor *g;
    assert_int_equal(ag_grad((ag_tensor *[]){sum(x)}, 1, &x, 1, NULL, false, &g), 0);
    assert_int_equal(log.calls, 3);
    ASSERT_VALUES(g, 0, 10, 10);
    ASSERT_VALUES(ag_grad_of(x), 0, 20, 40);
    /* errors */
    assert_int_equal(ag_register_hook(VEC(1), observe_and_scale, &log), AG_ERR_AUTOGRAD);
    assert_error(AG_ERR_AUTOGRAD, "does not require grad");
    assert_int_equal(ag_register_hook(x, NULL, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "NULL");
    ag_scope_end();
}

static void test_hooks_on_intermediate(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2));
    ag_tensor *h = ag_mul_s(x, 3.0);
    hook_log log = {.scale = 1.0}, log2 = {.scale = 0.5};
    assert_int_equal(ag_register_hook(h, observe_and_scale, &log), 0);
    assert_int_equal(ag_register_hook(h, observe_and_scale, &log2), 0); /* hooks chain in order */
    ag_tensor *L = ag_add(sum(ag_square(h)), sum(h)); /* dL/dh = 2h + 1 = 7, 13 */
    assert_int_equal(ag_backward(L), 0);
    assert_int_equal(log.calls, 1);
    assert_true(log.seen[0] == 7 && log.seen[1] == 13);
    assert_int_equal(log2.calls, 1);
    /* dL/dx = 3 * 0.5 * (2h + 1) */
    ASSERT_VALUES(ag_grad_of(x), 1e-14, 10.5, 19.5);
    ag_scope_end();
}

/* ---- deep graphs and graph lifetime ----------------------------------------------------- */
static void test_deep_chain_is_iterative(void **state) {
    (void)state;
    int64_t start = ag_live_tensors();
    ag_tensor *x = leaf(ag_scalar(1.0, AG_F64));
    ag_tensor *y = ag_retain(x);
    const int N = 100000;
    for (int i = 0; i < N; i++) { /* 2 * 10^5 nodes, each step releases its input */
        ag_tensor *t = ag_mul_s(y, 1.0001);
        ag_release(y);
        y = ag_add_s(t, 0.0);
        ag_release(t);
    }
    assert_non_null(y);
    assert_int_equal(ag_live_tensors(), start + 2); /* x and y: the nodes hold the history */
    assert_int_equal(ag_backward(y), 0);
    double expect = pow(1.0001, N);
    assert_true(fabs(ag_item(ag_grad_of(x)) - expect) < 1e-9 * expect);
    ag_release(y);
    ag_release(x);
    assert_int_equal(ag_live_tensors(), start);

    /* a chain of binary ops whose nodes save their inputs, released without backward */
    x = leaf(ag_scalar(0.5, AG_F64));
    ag_tensor *c = ag_scalar(1.0, AG_F64);
    y = ag_retain(x);
    for (int i = 0; i < N; i++) {
        ag_tensor *t = ag_mul(y, c);
        ag_release(y);
        y = t;
    }
    assert_int_equal(ag_live_tensors(), start + N + 2); /* each node keeps its input alive */
    ag_release(y);
    assert_int_equal(ag_live_tensors(), start + 2);
    ag_release(x);
    ag_release(c);
    assert_int_equal(ag_live_tensors(), start);
}

static void test_release_without_backward_frees_graph(void **state) {
    (void)state;
    int64_t start = ag_live_tensors();
    ag_tensor *x = leaf(VEC(1, 2, 3));
    ag_scope_begin();
    ag_tensor *L = sum(ag_mul(ag_exp(x), ag_sin(x)));
    ag_keep(L);
    ag_scope_end();
    assert_true(ag_live_tensors() > start + 2); /* saved tensors keep intermediates alive */
    ag_release(L);
    assert_int_equal(ag_live_tensors(), start + 1);
    /* retained graph released after a backward with retain_graph */
    ag_tensor *e = ag_exp(x), *m = ag_mul(x, e);
    L = sum(m);
    ag_release(e);
    ag_release(m);
    ag_tensor *L2 = ag_retain(L);
    assert_int_equal(ag_backward_ex(L, (ag_backward_opts){.retain_graph = true}), 0);
    ag_release(L);
    assert_true(ag_live_tensors() > start + 2);
    ag_release(L2);
    ag_release(x); /* its .grad goes with it */
    assert_int_equal(ag_live_tensors(), start);
}

/* ---- anomaly mode ---------------------------------------------------------------------- */
static void test_anomaly_forward(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, -1));
    /* off: NaN passes silently */
    ag_tensor *y = ag_log(x);
    assert_non_null(y);
    assert_true(isnan(at(y, 1)));
    ag_set_anomaly(true);
    assert_true(ag_anomaly_enabled());
    y = ag_log(x);
    assert_null(y);
    assert_true(strstr(ag_last_error(), "NaN") != NULL);
    assert_true(strstr(ag_last_error(), "element 1") != NULL);
    assert_error(AG_ERR_NUMERIC, "ag_log");
    ag_set_anomaly(false);
    ag_scope_end();
}

static void test_anomaly_backward(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(4, 0));
    ag_set_anomaly(true);
    ag_tensor *L = sum(ag_sqrt(x)); /* forward is finite: sqrt(0) = 0 */
    assert_non_null(L);
    assert_false(ag_failed());
    assert_int_equal(ag_backward(L), AG_ERR_NUMERIC);
    /* the op whose backward produced the Inf is named, not the ops inside its rule */
    assert_true(strstr(ag_last_error(), "Inf") != NULL);
    assert_true(strstr(ag_last_error(), "backward") != NULL);
    assert_error(AG_ERR_NUMERIC, "ag_sqrt");
    /* off: the same backward gives inf */
    ag_set_anomaly(false);
    ag_zero_grad(x);
    L = sum(ag_sqrt(x));
    assert_int_equal(ag_backward(L), 0);
    assert_true(at(ag_grad_of(x), 0) == 0.25);
    assert_true(isinf(at(ag_grad_of(x), 1)));
    ag_scope_end();
}

/* An error already recorded in the thread is not the check's own finding: ops whose results
 * are finite still return them, and a real anomaly is still caught (the first error stays). */
static void test_anomaly_ignores_earlier_error(void **state) {
    (void)state;
    ag_scope_begin();
    ag_set_anomaly(true);
    ag_tensor *x = VEC(1, 2, 3);
    assert_null(ag_matmul(x, VEC(1, 2))); /* inner dimensions differ: a sticky error */
    assert_true(ag_failed());
    ag_tensor *y = ag_add(x, x);
    assert_non_null(y);
    ASSERT_VALUES(y, 0, 2, 4, 6);
    assert_non_null(ag_exp(y));
    assert_null(ag_log(ag_neg(x)));        /* NaN: still refused */
    assert_error(AG_ERR_SHAPE, "ag_matmul"); /* the first error is the one kept */
    ag_set_anomaly(false);
    ag_scope_end();
}

static void test_anomaly_dtypes_and_views(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *z = ag_complex(VEC(1, 2, 3), VEC(0, 0, NAN));
    ag_set_anomaly(true);
    /* finite values whose sum overflows are not an anomaly */
    assert_non_null(ag_mul_s(VEC(1.7e308, 1.7e308, -1e308), 1.0));
    assert_false(ag_failed());
    /* c128: a NaN in the imaginary part only */
    assert_non_null(z);
    assert_null(ag_add(z, z)); /* componentwise: the real parts stay finite */
    assert_true(strstr(ag_last_error(), "NaN at element 2") != NULL);
    assert_error(AG_ERR_NUMERIC, "ag_add");
    /* f32 overflow to Inf */
    ag_tensor *f = ag_from_data((float[]){0, 100}, (int64_t[]){2}, 1, AG_F32);
    assert_null(ag_exp(f));
    assert_true(strstr(ag_last_error(), "Inf at element 1") != NULL);
    assert_error(AG_ERR_NUMERIC, "ag_exp");
    /* a strided tensor: elements are counted in its own row-major order, not storage order.
     * The transpose's backward returns a transposed view of G, whose storage holds the NaN
     * first while the view meets the Inf first. */
    ag_tensor *x = leaf(ag_from_data((double[]){1, 2, 3, 4, 5, 6}, (int64_t[]){2, 3}, 2, AG_F64));
    ag_tensor *G = ag_from_data((double[]){1, NAN, INFINITY, 1, 1, 1}, (int64_t[]){3, 2}, 2, AG_F64);
    ag_tensor *xt = ag_transpose(x, 0, 1);
    assert_non_null(xt);
    assert_int_equal(ag_backward_ex(xt, (ag_backward_opts){.grad = G}), AG_ERR_NUMERIC);
    assert_true(strstr(ag_last_error(), "Inf at element 1") != NULL);
    assert_error(AG_ERR_NUMERIC, "ag_permute");
    ag_set_anomaly(false);
    ag_scope_end();
}

/* ---- the op-author API (astrograd/op.h) ------------------------------------------ */
/* A custom op with a payload: y = s * sum_k x_k (any number of inputs), s in the payload. */
static int payload_frees;
static void free_scale(void *p) { payload_frees++; free(p); }
static int wsum_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    double s = *(double *)ag_node_payload(n);
    for (int k = 0; k < ag_node_n_inputs(n); k++)
        if (ag_node_needs_grad(n, k)) gin[k] = ag_mul_s(g, s);
    return 0;
}
static const ag_opdef wsum_op = {"my_wsum", wsum_backward, AG_DIFF_ALL};
static ag_tensor *wsum(ag_tensor *const *x, int n, double s) {
    ag_no_grad_begin();
    ag_tensor *y = ag_mul_s(x[0], 0.0);
    for (int k = 0; k < n; k++) y = ag_add(y, x[k]);
    y = ag_mul_s(y, s);
    ag_no_grad_end();
    double *ps = malloc(sizeof *ps);
    if (ps) *ps = s;
    ag_payload *pl = ag_payload_new(ps, free_scale);
    y = ag_op_finish(y, &wsum_op, x, n, NULL, 0, pl);
    ag_payload_release(pl);
    return y;
}
static ag_tensor *wsum_gc(ag_tensor *const *in, int n, void *ud) { (void)ud; return wsum(in, n, 1.5); }

static void test_op_author_custom_op(void **state) {
    (void)state;
    payload_frees = 0;
    ag_scope_begin();
    enum { N = 12 }; /* more inputs than any built-in op */
    ag_tensor *x[N];
    for (int k = 0; k < N; k++) x[k] = ag_keep(leaf(VEC(k, 2 * k, 1)));
    ag_scope_begin();
    ag_tensor *y = wsum(x, N, 0.5);
    assert_non_null(y);
    ASSERT_VALUES(y, 1e-15, 33, 66, 6);
    assert_int_equal(ag_backward(sum(y)), 0);
    for (int k = 0; k < N; k++) ASSERT_VALUES(ag_grad_of(x[k]), 0, 0.5, 0.5, 0.5);
    assert_int_equal(payload_frees, 0); /* the node holds the payload while y lives */
    ag_scope_end();
    assert_int_equal(payload_frees, 1); /* freed with the graph */
    /* gradcheck through the custom rule, with the inputs of several shapes broadcast */
    ag_tensor *a = leaf(ag_randn((int64_t[]){3, 4}, 2, AG_F64)), *b = leaf(ag_randn((int64_t[]){4}, 1, AG_F64));
    ag_gradcheck_report rep;
    assert_int_equal(ag_gradcheck(wsum_gc, NULL, (ag_tensor *const[]){a, b}, 2, NULL, &rep), 1);
    /* no node without grad: the payload is released at once by its creator */
    int frees = payload_frees;
    ag_no_grad_begin();
    ag_tensor *z = wsum(x, 2, 2.0);
    ag_no_grad_end();
    assert_non_null(z);
    assert_false(ag_requires_grad(z));
    assert_int_equal(payload_frees, frees + 1);
    ag_scope_end();
    for (int k = 0; k < N; k++) ag_release(x[k]);
    assert_false(ag_failed());
}

static int bad_rule(ag_node *n, ag_tensor *g, ag_tensor **gin) { (void)n; (void)g; (void)gin; return 0; }
static void test_op_author_errors(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2));
    /* a result that already has a history */
    static const ag_opdef op = {"my_op", bad_rule, AG_DIFF(0)};
    assert_null(ag_op_finish(ag_mul_s(x, 2.0), &op, AG_INPUTS(x), NULL, 0, NULL));
    assert_error(AG_ERR_AUTOGRAD, "my_op: the result already has a history (recorded by ag_mul_s)");
    ag_clear_error();
    /* an incomplete definition */
    static const ag_opdef nameless = {NULL, bad_rule, AG_DIFF(0)};
    assert_null(ag_op_finish(ag_detach(x), &nameless, AG_INPUTS(x), NULL, 0, NULL));
    assert_error(AG_ERR_INVALID, "expected an op definition");
    ag_clear_error();
    assert_null(ag_op_finish(ag_detach(x), &op, AG_INPUTS(x), (ag_tensor *const[]){NULL}, 1, NULL));
    assert_error(AG_ERR_INVALID, "my_op: saved tensor 0 is NULL");
    ag_clear_error();
    /* a NULL result keeps the error that made it */
    assert_null(ag_op_finish(ag_matmul(x, VEC(1, 2, 3)), &op, AG_INPUTS(x), NULL, 0, NULL));
    assert_error(AG_ERR_SHAPE, "ag_matmul");
    ag_clear_error();
    /* payloads */
    assert_null(ag_payload_new(NULL, free));
    assert_error(AG_ERR_INVALID, "ag_payload_new");
    ag_clear_error();
    ag_payload_release(NULL);
    assert_null(ag_payload_data(NULL));
    /* an input outside def->diff gets no gradient and no edge */
    static const ag_opdef first_only = {"my_first", wsum_backward, AG_DIFF(0)};
    ag_tensor *w = leaf(VEC(5, 6));
    double *ps = malloc(sizeof *ps);
    *ps = 1.0;
    ag_payload *pl = ag_payload_new(ps, free);
    ag_no_grad_begin();
    ag_tensor *r = ag_add(x, w);
    ag_no_grad_end();
    r = ag_op_finish(r, &first_only, AG_INPUTS(x, w), AG_INPUTS(x), pl);
    ag_payload_release(pl);
    assert_non_null(r);
    assert_int_equal(ag_backward(sum(r)), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 1, 1);
    assert_null(ag_grad_of(w));
    ag_scope_end();
    assert_false(ag_failed());
}

/* The registry lists each op once, by name; cat of many inputs is one node (op counting). */
static void test_registry_and_counting(void **state) {
    (void)state;
    assert_true(ag_op_count() > 50);
    const ag_opdef *d = ag_op_find("ag_cat");
    assert_non_null(d);
    assert_true(d->diff == AG_DIFF_ALL);
    assert_null(ag_op_find("no_such_op"));
    assert_null(ag_op_at(-1));
    assert_null(ag_op_at(ag_op_count()));
    int cat_i = -1, add_i = -1;
    for (int i = 0; i < ag_op_count(); i++) {
        assert_non_null(ag_op_at(i)->backward);
        for (int j = 0; j < i; j++) assert_true(strcmp(ag_op_at(i)->name, ag_op_at(j)->name) != 0);
        if (ag_op_at(i) == d) cat_i = i;
        if (!strcmp(ag_op_at(i)->name, "ag_add")) add_i = i;
    }
    assert_true(cat_i >= 0 && add_i >= 0);
    ag_scope_begin();
    enum { N = 1000 };
    static ag_tensor *x[N];
    for (int k = 0; k < N; k++) x[k] = leaf(VEC(k));
    ag_op_counting(true);
    ag_tensor *c = ag_cat(x, N, 0);
    ag_tensor *s = ag_add(c, c);
    ag_op_counting(false);
    int64_t rec = -1, gc = -1;
    assert_int_equal(ag_op_counts(cat_i, &rec, &gc), 0);
    assert_int_equal(rec, 1);
    assert_int_equal(gc, 0);
    assert_int_equal(ag_op_counts(add_i, &rec, NULL), 0);
    assert_int_equal(rec, 1);
    assert_int_equal(ag_op_counts(ag_op_count(), &rec, NULL), -1);
    assert_int_equal(ag_backward(sum(ag_mul(s, c))), 0); /* d/dx_k (2 x_k^2) = 4 x_k */
    for (int k = 0; k < N; k += 97) ASSERT_VALUES(ag_grad_of(x[k]), 0, 4.0 * k);
    ag_scope_end();
    assert_false(ag_failed());
}

/* A pending error is not mistaken for a rule's failure: backward does not start. */
static void test_backward_with_pending_error(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2));
    ag_tensor *l = sum(ag_mul(x, x));
    assert_null(ag_matmul(x, VEC(1, 2, 3)));
    assert_int_equal(ag_backward(l), AG_ERR_SHAPE);
    assert_null(ag_grad_of(x));
    ag_clear_error();
    assert_int_equal(ag_backward(l), 0);
    ASSERT_VALUES(ag_grad_of(x), 0, 2, 4);
    ag_scope_end();
}

/* ---- higher-order gradients (create_graph) --------------------------------------- */
/* Hessian-vector product of f(x) = sum(x^3) + x0 x1: H v = 6 x v + [v1, v0] */
static void test_hessian_vector_product(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(VEC(1, 2, -3));
    ag_tensor *v = VEC(0.5, -1, 2);
    ag_tensor *f = ag_add(sum(ag_pow_s(x, 3)), ag_mul(ag_select(x, 0, 0), ag_select(x, 0, 1)));
    ag_tensor *g = NULL;
    assert_int_equal(ag_grad_ex(&f, 1, &x, 1, (ag_grad_opts){.create_graph = true}, &g), 0);
    ASSERT_VALUES(g, 1e-14, 3 + 2, 12 + 1, 27);
    assert_true(ag_requires_grad(g)); /* the gradient has a history of its own */
    ag_tensor *gv = sum(ag_mul(g, v)), *hv = NULL;
    assert_int_equal(ag_grad(&gv, 1, &x, 1, NULL, false, &hv), 0);
    ASSERT_VALUES(hv, 1e-14, 6 * 0.5 - 1, 6 * 2 * -1 + 0.5, 6 * -3 * 2);
    assert_false(ag_requires_grad(hv)); /* without create_graph: a plain tensor */
    /* backward with create_graph: .grad keeps its history, and can be differentiated */
    ag_tensor *y = leaf(VEC(2, 3));
    assert_int_equal(ag_backward_ex(sum(ag_pow_s(y, 3)), (ag_backward_opts){.create_graph = true}), 0);
    ag_tensor *gy = ag_retain(ag_grad_of(y));
    ASSERT_VALUES(gy, 1e-14, 12, 27);
    ag_zero_grad(y);
    assert_int_equal(ag_backward(sum(gy)), 0);
    ASSERT_VALUES(ag_grad_of(y), 1e-14, 12, 18);
    ag_release(gy);
    ag_scope_end();
    assert_false(ag_failed());
}

/* Second derivatives through a saved output (exp saves its result) and through a custom op */
static ag_tensor *exp_sin(ag_tensor *const *in, int n, void *ud) { (void)n; (void)ud; return ag_exp(ag_sin(in[0])); }
static void test_gradgradcheck(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *x = leaf(ag_randn((int64_t[]){3, 2}, 2, AG_F64));
    ag_gradcheck_report rep;
    assert_int_equal(ag_gradgradcheck(exp_sin, NULL, &x, 1, NULL, &rep), 1);
    ag_tensor *a = leaf(ag_randn((int64_t[]){3, 4}, 2, AG_F64)), *b = leaf(ag_randn((int64_t[]){4}, 1, AG_F64));
    assert_int_equal(ag_gradgradcheck(wsum_gc, NULL, (ag_tensor *const[]){a, b}, 2, NULL, &rep), 1);
    /* through a kernel backward (max pooling): d/dx of the gradient of sum(pool(x)^2) is
     * 2 at each window's maximum (2x2 windows, stride 2: every element is in one window) */
    ag_tensor *img = leaf(ag_from_data((double[]){1, 5, 2, 0, 3, 4, 8, 6, 0, 1, 2, 3, 9, 7, 4, 5},
                                       (int64_t[]){1, 1, 4, 4}, 4, AG_F64));
    ag_tensor *l = sum(ag_square(ag_max_pool2d(img, (int64_t[]){2, 2}, NULL, NULL)));
    ag_tensor *gi = NULL, *hi = NULL;
    assert_int_equal(ag_grad_ex(&l, 1, &img, 1, (ag_grad_opts){.create_graph = true}, &gi), 0);
    ag_tensor *s2 = sum(gi);
    assert_int_equal(ag_grad(&s2, 1, &img, 1, NULL, false, &hi), 0);
    ASSERT_VALUES(hi, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 2, 0, 0, 2);
    ag_scope_end();
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_accumulates_across_backward_calls),
        T(test_diamond_sums_paths),
        T(test_accumulate_into_broadcast_gradient),
        T(test_retain_graph),
        T(test_second_backward_without_retain_fails),
        T(test_backward_non_scalar_needs_gradient),
        T(test_backward_without_requires_grad),
        T(test_backward_complex_scalar_fails),
        T(test_complex_abs_angle_gradient_at_zero),
        T(test_std_var_of_constant_gradient_is_zero),
        T(test_inplace_on_saved_tensor_fails),
        T(test_detach_stops_gradients),
        T(test_no_grad_records_nothing),
        T(test_grad_leaves_dot_grad_alone),
        T(test_grad_multiple_outputs_and_intermediates),
        T(test_hooks_on_leaf),
        T(test_hooks_on_intermediate),
        T(test_deep_chain_is_iterative),
        T(test_release_without_backward_frees_graph),
        T(test_anomaly_forward),
        T(test_anomaly_backward),
        T(test_anomaly_ignores_earlier_error),
        T(test_anomaly_dtypes_and_views),
        T(test_op_author_custom_op),
        T(test_op_author_errors),
        T(test_registry_and_counting),
        T(test_backward_with_pending_error),
        T(test_hessian_vector_product),
        T(test_gradgradcheck),
#undef T
    };
    return cmocka_run_group_tests_name("autograd", tests, NULL, NULL);
}
