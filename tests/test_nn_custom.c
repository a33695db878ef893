/* tests/test_nn_custom.c — a user-written module, as the README shows it: scarlet2's Source,
 * a spectrum [C] times a morphology [H, W], fitted to an observed cube with plain gradient
 * steps (no optimizer), checking that gradients reach both parameters and the loss falls. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <astrograd.h>

/* the device the test runs on: AG_DEVICE ("cpu", "test", "cuda"), the CPU when unset */
static ag_device DEV;

/* ---- the module (what the README shows) ---- */
static ag_tensor *source_forward(ag_module *m, ag_tensor *x) {
    (void)x;
    ag_tensor *s = ag_module_value(m, "spectrum");      /* [C] */
    ag_tensor *mo = ag_module_value(m, "morphology");   /* [H, W] */
    return ag_mul(ag_reshape(s, AG_SHAPE(-1, 1, 1)), ag_unsqueeze(mo, 0));
}
static const ag_module_class source_class = {.name = "Source", .forward = source_forward};

static ag_module *source_new(int64_t C, int64_t H, int64_t W) {
    ag_module *m = ag_module_new(&source_class);
    if (ag_module_add_param_constrained(m, "spectrum", ag_ones(AG_SHAPE(C), AG_F64), AG_POSITIVE) < 0 ||
        ag_module_add_param(m, "morphology", ag_full(AG_SHAPE(H, W), 0.1, AG_F64)) < 0) {
        ag_module_free(m);
        return NULL;
    }
    return m;
}
/* ---- end of the module ---- */

static void test_source_fit(void **st) {
    (void)st;
    int64_t live0 = ag_live_tensors();
    ag_manual_seed(5);
    const int64_t C = 3, H = 8, W = 8;
    ag_module *src = source_new(C, H, W);
    assert_non_null(src);
    assert_int_equal(ag_module_to(src, DEV), 0);
    ag_params p = ag_module_params(src);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.names[0], "spectrum");

    /* the observation: a true spectrum times a Gaussian blob, plus a little noise */
    ag_scope_begin();
    ag_tensor *yy = ag_reshape(ag_arange_on(0, (double)H, 1, AG_F64, DEV), AG_SHAPE(-1, 1));
    ag_tensor *xx = ag_arange_on(0, (double)W, 1, AG_F64, DEV);
    ag_tensor *r2 = ag_add(ag_square(ag_add_s(yy, -3.5)), ag_square(ag_add_s(xx, -4.0)));
    ag_tensor *blob = ag_exp(ag_mul_s(r2, -1.0 / (2 * 1.5 * 1.5)));
    ag_tensor *spec = ag_from_data_on((double[]){2.0, 1.0, 0.5}, AG_SHAPE(3), AG_F64, DEV);
    ag_tensor *obs = ag_add(ag_mul(ag_reshape(spec, AG_SHAPE(-1, 1, 1)), ag_unsqueeze(blob, 0)),
                            ag_mul_s(ag_randn_on(AG_SHAPE(C, H, W), AG_F64, DEV), 0.01));
    ag_keep(obs);
    ag_scope_end();

    double first = 0, last = 0;
    for (int step = 0; step < 200; step++) {
        ag_scope_begin();
        ag_module_zero_grad(src);
        ag_tensor *model = ag_forward(src, NULL);
        assert_non_null(model);
        assert_int_equal(ag_ndim(model), 3);
        ag_tensor *loss = ag_mse_loss(model, obs, AG_REDUCE_SUM);
        double l = ag_item(loss);
        if (step == 0) first = l;
        last = l;
        assert_int_equal(ag_backward(loss), 0);
        ag_no_grad_begin();
        for (int i = 0; i < p.n; i++) {
            ag_tensor *g = ag_grad_of(p.t[i]);
            assert_non_null(g); /* gradients reach both parameters */
            ag_copy_(p.t[i], ag_sub(p.t[i], ag_mul_s(g, 0.02)));
        }
        ag_no_grad_end();
        ag_scope_end();
    }
    assert_true(last < 0.02 * first);
    /* the constrained spectrum stays positive and, up to the spectrum/morphology degeneracy, has
     * the true ratios */
    ag_tensor *s = ag_module_value(src, "spectrum");
    double sv[3];
    ag_copy_to_buffer(s, sv, AG_F64);
    assert_true(sv[0] > 0 && sv[1] > 0 && sv[2] > 0);
    assert_true(fabs(sv[0] / sv[1] - 2.0) < 0.05 && fabs(sv[2] / sv[1] - 0.5) < 0.05);
    ag_release(s);
    ag_release(obs);
    ag_module_free(src);
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

int main(void) {
    DEV = ag_device_default();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_source_fit)};
    return cmocka_run_group_tests_name("nn_custom", tests, NULL, NULL);
}
