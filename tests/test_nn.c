/* tests/test_nn.c — modules: the tree (names, look-ups, listings, ownership), layers (init
 * statistics, module forward = functional forward, train/eval), gradcheck through modules,
 * constrained parameters and priors, error messages, and no leaks. Values against PyTorch are
 * in the op table (tests/ops_nn.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <astrograd.h>

/* the device the tests run on: AG_DEVICE ("cpu", "test", "cuda"), the CPU when unset */
static ag_device DEV;
/* m moved to DEV (NULL stays NULL) */
static ag_module *on_dev(ag_module *m) {
    if (m && ag_module_to(m, DEV) < 0) fail_msg("ag_module_to: %s", ag_last_error());
    return m;
}
static int64_t live0;
static int setup(void **st) { (void)st; ag_clear_error(); live0 = ag_live_tensors(); return 0; }
static int teardown(void **st) {
    (void)st;
    if (ag_live_tensors() != live0) fail_msg("leak: %lld tensors alive, expected %lld", (long long)ag_live_tensors(), (long long)live0);
    ag_clear_error();
    return 0;
}

#define OK(expr) do { if ((expr) < 0) fail_msg("%s failed: %s", #expr, ag_last_error()); } while (0)
#define NN(expr) do { if (!(expr)) fail_msg("%s gave NULL: %s", #expr, ag_last_error()); } while (0)
#define EXPECT_ERR(expr, substr) do { \
        ag_clear_error(); (void)(expr); \
        if (!ag_failed()) fail_msg("%s: expected an error", #expr); \
        if (!strstr(ag_last_error(), substr)) fail_msg("%s: error '%s' lacks '%s'", #expr, ag_last_error(), substr); \
        ag_clear_error(); } while (0)

static double maxabs_diff(ag_tensor *a, ag_tensor *b) {
    ag_scope_begin();
    double d = ag_item(ag_amax(ag_abs(ag_sub(a, b)), AG_ALL_DIMS, false));
    ag_scope_end();
    return d;
}

static ag_module *mlp(void) {
    return on_dev(AG_SEQUENTIAL(ag_nn_linear(4, 8, true), ag_nn_tanh(), ag_nn_linear(8, 3, true)));
}

static void test_tree(void **st) {
    (void)st;
    ag_manual_seed(1);
    ag_module *enc = mlp();
    NN(enc);
    ag_module *root = AG_SEQUENTIAL(ag_nn_identity());
    OK(ag_module_add(root, "encoder", enc));
    ag_params p = ag_module_params(root);
    assert_int_equal(p.n, 4);
    assert_string_equal(p.names[0], "encoder.0.weight");
    assert_string_equal(p.names[1], "encoder.0.bias");
    assert_string_equal(p.names[3], "encoder.2.bias");
    assert_ptr_equal(p.t[2], ag_module_param(root, "encoder.2.weight"));
    assert_int_equal(ag_size(p.t[2], 0), 3);
    assert_int_equal(ag_module_num_params(root), 4 * 8 + 8 + 8 * 3 + 3);
    assert_true(ag_requires_grad(p.t[0]));
    assert_ptr_equal(ag_module_child(root, "encoder.1"), ag_module_child_at(enc, 1));
    assert_string_equal(ag_module_type(ag_module_child(root, "encoder.1")), "Tanh");
    /* listings are cached and stay valid while nothing changes */
    ag_params p2 = ag_module_params(root);
    assert_ptr_equal(p.t, p2.t);

    EXPECT_ERR(ag_module_param(root, "encoder.0.nope"), "no parameter 'encoder.0.nope'");
    EXPECT_ERR(ag_module_param(root, "decoder.0.weight"), "has no child 'decoder'");
    EXPECT_ERR(ag_module_add_param(enc, "0", ag_zeros_on(AG_SHAPE(2), AG_F64, DEV)), "already has a member named '0'");
    EXPECT_ERR(ag_module_add_param(enc, "a.b", ag_zeros_on(AG_SHAPE(2), AG_F64, DEV)), "contains '.'");
    EXPECT_ERR(ag_module_add_param(enc, "ints", ag_zeros_on(AG_SHAPE(2), AG_I64, DEV)), "must be floating point");
    EXPECT_ERR(ag_module_add(enc, "again", ag_module_child(root, "encoder.0")), "already belongs to a module");
    EXPECT_ERR(ag_module_add(enc, "self", root), "cannot contain itself");
    assert_int_equal(ag_module_params(root).n, 4);

    /* train/eval recurse; zero_grad drops grads */
    ag_module_eval(root);
    assert_false(ag_module_is_training(ag_module_child(root, "encoder.2")));
    ag_module_train(root, true);
    assert_true(ag_module_is_training(ag_module_child(root, "encoder.2")));

    ag_scope_begin();
    ag_tensor *x = ag_randn_on(AG_SHAPE(5, 4), AG_F64, DEV);
    ag_tensor *y = ag_forward(root, x);
    NN(y);
    assert_int_equal(ag_size(y, 1), 3);
    OK(ag_backward(ag_sum(y, AG_ALL_DIMS, false)));
    assert_non_null(ag_grad_of(p.t[0]));
    ag_module_zero_grad(root);
    assert_null(ag_grad_of(p.t[0]));
    ag_scope_end();

    /* devices: the current device is a no-op that keeps the tensors; cuda fails cleanly, leaving the module */
    ag_tensor *w0 = p.t[0];
    OK(ag_module_to(root, DEV));
    assert_ptr_equal(ag_module_param(root, "encoder.0.weight"), w0);
#ifndef AG_HAVE_CUDA
    EXPECT_ERR(ag_module_to(root, ((ag_device){AG_DEV_CUDA, 0})), "cuda:0 is not available: this build has no CUDA backend");
    assert_ptr_equal(ag_module_param(root, "encoder.0.weight"), w0);
#endif
    /* dtype conversion */
    OK(ag_module_to_dtype(root, AG_F32));
    assert_int_equal(ag_dtype_of(ag_module_param(root, "encoder.0.weight")), AG_F32);
    assert_true(ag_requires_grad(ag_module_param(root, "encoder.0.weight")));
    assert_true(ag_is_leaf(ag_module_param(root, "encoder.0.weight")));

    /* printing */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    OK(ag_module_fprint(f, root));
    fclose(f);
    assert_non_null(strstr(buf, "(encoder): Sequential(\n"));
    assert_non_null(strstr(buf, "(0): Linear(in_features=4, out_features=8, bias=true)"));
    assert_non_null(strstr(buf, "(1): Tanh()"));
    free(buf);
    ag_module_free(root);
}

/* constructors taking modules take them over even on failure */
static void test_ownership_on_error(void **st) {
    (void)st;
    ag_module *s = AG_SEQUENTIAL(ag_nn_linear(2, 3, true), ag_nn_linear(-1, 2, true), ag_nn_relu());
    assert_null(s);
    assert_non_null(strstr(ag_last_error(), "ag_nn_linear: expected positive sizes"));
    ag_clear_error();
    ag_module *m = ag_module_new(&(ag_module_class){0});
    assert_null(m);
    ag_clear_error();
    /* a parameter passed to a NULL module is released */
    assert_true(ag_module_add_param(NULL, "w", ag_zeros_on(AG_SHAPE(3), AG_F64, DEV)) < 0);
    ag_clear_error();
}

static void test_linear_init(void **st) {
    (void)st;
    ag_manual_seed(42);
    ag_module *l = on_dev(ag_nn_linear(100, 200, true));
    NN(l);
    ag_tensor *w = ag_module_param(l, "weight"), *b = ag_module_param(l, "bias");
    double bound = 1.0 / sqrt(100.0);
    ag_scope_begin();
    double mx = ag_item(ag_amax(w, AG_ALL_DIMS, false)), mn = ag_item(ag_amin(w, AG_ALL_DIMS, false));
    double mean = ag_item(ag_mean(w, AG_ALL_DIMS, false)), var = ag_item(ag_var(w, AG_ALL_DIMS, 0, false));
    assert_true(mx < bound && mn >= -bound);
    assert_true(mx > 0.99 * bound && mn < -0.99 * bound);   /* 20000 draws fill the interval */
    assert_true(fabs(mean) < 0.01 * bound * 3);
    assert_true(fabs(var / (bound * bound / 3) - 1) < 0.05);  /* uniform variance bound^2/3 */
    assert_true(ag_item(ag_amax(ag_abs(b), AG_ALL_DIMS, false)) < bound);
    ag_scope_end();
    /* reproducible through ag_manual_seed */
    ag_manual_seed(42);
    ag_module *l2 = on_dev(ag_nn_linear(100, 200, true));
    assert_true(maxabs_diff(w, ag_module_param(l2, "weight")) == 0);
    ag_module_free(l);
    ag_module_free(l2);
}

static void test_conv_layers(void **st) {
    (void)st;
    ag_manual_seed(3);
    ag_module *c = on_dev(ag_nn_conv2d(4, 6, 3, 3, true, &(ag_conv_opts){.padding = {1, 1}}));
    NN(c);
    ag_tensor *w = ag_module_param(c, "weight");
    assert_int_equal(ag_ndim(w), 4);
    assert_int_equal(ag_size(w, 0), 6);
    assert_int_equal(ag_size(w, 1), 4);
    double bound = 1.0 / sqrt(4.0 * 9.0);
    ag_scope_begin();
    assert_true(ag_item(ag_amax(ag_abs(w), AG_ALL_DIMS, false)) < bound);
    ag_tensor *x = ag_randn_on(AG_SHAPE(2, 4, 5, 5), AG_F64, DEV);
    ag_tensor *y = ag_forward(c, x);
    NN(y);
    assert_int_equal(ag_size(y, 1), 6);
    assert_int_equal(ag_size(y, 2), 5);
    ag_tensor *ref = ag_conv2d(x, w, ag_module_param(c, "bias"), &(ag_conv_opts){.padding = {1, 1}});
    assert_true(maxabs_diff(y, ref) == 0);
    ag_scope_end();
    ag_module *t = on_dev(ag_nn_conv_transpose2d(6, 4, 2, 2, false, &(ag_conv_opts){.stride = {2, 2}}));
    NN(t);
    assert_int_equal(ag_size(ag_module_param(t, "weight"), 0), 6);
    assert_int_equal(ag_module_params(t).n, 1);
    ag_scope_begin();
    ag_tensor *z = ag_forward(t, ag_randn_on(AG_SHAPE(1, 6, 3, 3), AG_F64, DEV));
    NN(z);
    assert_int_equal(ag_size(z, 1), 4);
    assert_int_equal(ag_size(z, 2), 6);
    ag_scope_end();
    ag_module_free(c);
    ag_module_free(t);
}

static void test_activation_modules(void **st) {
    (void)st;
    ag_module *mods[] = {ag_nn_relu(), ag_nn_leaky_relu(0.2), ag_nn_elu(1.0), ag_nn_gelu(AG_GELU_TANH), ag_nn_silu(),
                         ag_nn_softplus(2.0, 20.0), ag_nn_sigmoid(), ag_nn_tanh(), ag_nn_identity()};
    ag_scope_begin();
    ag_tensor *x = ag_linspace_on(-3, 3, 13, AG_F64, DEV);
    ag_tensor *refs[] = {ag_relu(x), ag_leaky_relu(x, 0.2), ag_elu(x, 1.0), ag_gelu(x, AG_GELU_TANH), ag_silu(x),
                         ag_softplus(x, 2.0, 20.0), ag_sigmoid(x), ag_tanh(x), x};
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
        NN(mods[i]);
        ag_tensor *y = ag_forward(mods[i], x);
        NN(y);
        assert_true(maxabs_diff(y, refs[i]) == 0);
        ag_module_free(mods[i]);
    }
    /* Flatten */
    ag_module *fl = ag_nn_flatten(1, -1);
    ag_tensor *y = ag_forward(fl, ag_zeros_on(AG_SHAPE(2, 3, 4, 5), AG_F64, DEV));
    assert_int_equal(ag_ndim(y), 2);
    assert_int_equal(ag_size(y, 1), 60);
    ag_module_free(fl);
    EXPECT_ERR(ag_relu(ag_zeros_on(AG_SHAPE(2), AG_C128, DEV)), "ag_relu: expected a real tensor");
    ag_scope_end();
}

static void test_dropout(void **st) {
    (void)st;
    ag_module *d = ag_nn_dropout(0.3);
    ag_scope_begin();
    ag_tensor *x = ag_ones_on(AG_SHAPE(100, 100), AG_F64, DEV);
    ag_manual_seed(7);
    ag_tensor *y = ag_forward(d, x);
    double zeros = ag_item(ag_sum(ag_to_dtype(ag_eq(y, ag_zeros_like(y)), AG_F64), AG_ALL_DIMS, false)) / 1e4;
    assert_true(fabs(zeros - 0.3) < 0.02);
    /* survivors scaled by 1/(1-p): the mean stays 1 */
    assert_true(fabs(ag_item(ag_mean(y, AG_ALL_DIMS, false)) - 1) < 0.03);
    assert_true(fabs(ag_item(ag_amax(y, AG_ALL_DIMS, false)) - 1 / 0.7) < 1e-12);
    ag_manual_seed(7);
    assert_true(maxabs_diff(ag_forward(d, x), y) == 0); /* seeded */
    ag_module_eval(d);
    assert_true(maxabs_diff(ag_forward(d, x), x) == 0); /* identity in eval */
    ag_scope_end();
    ag_module_free(d);
    EXPECT_ERR(ag_nn_dropout(1.5), "expected 0 <= p <= 1");
}

static void test_batchnorm_modes(void **st) {
    (void)st;
    ag_module *bn = on_dev(ag_nn_batchnorm2d(3, (ag_norm_opts){0}));
    NN(bn);
    ag_params b = ag_module_buffers(bn);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.names[2], "num_batches_tracked");
    ag_scope_begin();
    ag_tensor *x = ag_add_s(ag_mul_s(ag_randn_on(AG_SHAPE(8, 3, 4, 4), AG_F64, DEV), 2.0), 5.0);
    ag_tensor *y = ag_forward(bn, x);
    /* training: per-channel batch statistics -> mean 0, var 1 */
    assert_true(fabs(ag_item(ag_mean(y, AG_ALL_DIMS, false))) < 1e-12);
    assert_int_equal((int)ag_item(ag_module_buffer(bn, "num_batches_tracked")), 1);
    double rm = ag_item(ag_mean(ag_module_buffer(bn, "running_mean"), AG_ALL_DIMS, false));
    assert_true(rm > 0.4 && rm < 0.6); /* 0.9 * 0 + 0.1 * ~5 */
    ag_module_eval(bn);
    ag_tensor *ye = ag_forward(bn, x);
    assert_true(maxabs_diff(ye, y) > 0.1); /* running statistics in eval mode */
    assert_int_equal((int)ag_item(ag_module_buffer(bn, "num_batches_tracked")), 1);
    EXPECT_ERR(ag_forward(bn, ag_zeros_on(AG_SHAPE(2, 3), AG_F64, DEV)), "BatchNorm2d: expected an input [N, C, H, W]");
    EXPECT_ERR(ag_forward(bn, ag_zeros_on(AG_SHAPE(2, 4, 2, 2), AG_F64, DEV)), "expected running_mean of shape [4]");
    ag_scope_end();
    ag_module_free(bn);
    /* GroupNorm / LayerNorm modules match the functional forms */
    ag_module *gn = on_dev(ag_nn_groupnorm(2, 4, (ag_norm_opts){.eps = 1e-3}));
    ag_module *ln = on_dev(ag_nn_layernorm(AG_SHAPE(4), (ag_norm_opts){.no_affine = true}));
    assert_int_equal(ag_module_params(ln).n, 0);
    ag_scope_begin();
    ag_tensor *z = ag_randn_on(AG_SHAPE(3, 4, 2), AG_F64, DEV);
    assert_true(maxabs_diff(ag_forward(gn, z), ag_group_norm(z, 2, NULL, NULL, 1e-3)) < 1e-15);
    ag_tensor *zt = ag_transpose(z, 1, 2);
    assert_true(maxabs_diff(ag_forward(ln, zt), ag_layer_norm(zt, AG_SHAPE(4), NULL, NULL, 1e-5)) == 0);
    ag_scope_end();
    ag_module_free(gn);
    ag_module_free(ln);
}

/* ag_gradcheck perturbs host tensors: these stay on the CPU whatever DEV is.
 * gradcheck through a module: fn ignores its inputs' identity and calls the module, whose
 * parameters are the inputs being perturbed */
typedef struct gc { ag_module *m; ag_tensor *x; } gc;
static ag_tensor *gc_module(ag_tensor *const *in, int n, void *ud) {
    (void)in; (void)n;
    gc *c = ud;
    return ag_forward(c->m, c->x);
}
static void test_gradcheck_modules(void **st) {
    (void)st;
    ag_manual_seed(11);
    ag_module *m = AG_SEQUENTIAL(ag_nn_linear(3, 5, true), ag_nn_gelu(AG_GELU_EXACT), ag_nn_layernorm(AG_SHAPE(5), (ag_norm_opts){0}),
                                 ag_nn_linear(5, 4, true), ag_nn_silu(), ag_nn_linear(4, 2, false));
    NN(m);
    ag_scope_begin();
    gc c = {m, ag_set_requires_grad(ag_randn(AG_SHAPE(6, 3), AG_F64), true)};
    ag_params p = ag_module_params(m);
    ag_tensor *ins[16];
    int n = 0;
    ins[n++] = c.x;
    for (int i = 0; i < p.n; i++) ins[n++] = p.t[i];
    ag_gradcheck_report rep;
    int ok = ag_gradcheck(gc_module, &c, ins, n, &(ag_gradcheck_opts){1e-6, 1e-6, 1e-4, false}, &rep);
    if (ok != 1) fail_msg("gradcheck: %s %s", rep.message, ag_last_error());
    ag_scope_end();
    ag_module_free(m);

    /* batchnorm in training mode (batch statistics) and groupnorm */
    m = AG_SEQUENTIAL(ag_nn_conv2d(2, 4, 3, 3, true, NULL), ag_nn_batchnorm2d(4, (ag_norm_opts){.no_running_stats = true}),
                      ag_nn_elu(1.0), ag_nn_groupnorm(2, 4, (ag_norm_opts){0}), ag_nn_flatten(1, -1), ag_nn_linear(16, 2, true));
    NN(m);
    ag_scope_begin();
    c = (gc){m, ag_set_requires_grad(ag_randn(AG_SHAPE(3, 2, 4, 4), AG_F64), true)};
    p = ag_module_params(m);
    n = 0;
    ins[n++] = c.x;
    for (int i = 0; i < p.n; i++) ins[n++] = p.t[i];
    ok = ag_gradcheck(gc_module, &c, ins, n, &(ag_gradcheck_opts){1e-6, 1e-6, 1e-4, false}, &rep);
    if (ok != 1) fail_msg("gradcheck (conv/bn): %s %s", rep.message, ag_last_error());
    ag_scope_end();
    ag_module_free(m);
}

/* ---- constrained parameters and priors ---- */
static ag_tensor *pass_fwd(ag_module *m, ag_tensor *x) { (void)x; return ag_module_value(m, "p"); }
static const ag_module_class holder = {.name = "Holder", .forward = pass_fwd};

static void test_constraints(void **st) {
    (void)st;
    struct { ag_transform tr; double vals[3]; } cases[] = {
        {AG_POSITIVE, {0.5, 2.0, 30.0}}, {AG_POSITIVE_EXP, {0.1, 1.0, 5.0}}, {AG_INTERVAL(-1, 3), {-0.5, 0.0, 2.9}},
        {AG_SIMPLEX, {0.2, 0.3, 0.5}}, {AG_NORMALIZED, {0.2, 0.3, 0.5}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ag_module *m = ag_module_new(&holder);
        OK(ag_module_add_param_constrained(m, "p", ag_from_data_on(cases[i].vals, AG_SHAPE(3), AG_F64, DEV), cases[i].tr));
        ag_scope_begin();
        ag_tensor *v = ag_forward(m, NULL);
        ag_tensor *expect = ag_from_data_on(cases[i].vals, AG_SHAPE(3), AG_F64, DEV);
        if (maxabs_diff(v, expect) > 1e-12) fail_msg("transform %zu: value does not round-trip", i);
        /* the stored leaf is unconstrained; gradients flow to it */
        ag_tensor *u = ag_module_param(m, "p");
        assert_true(ag_is_leaf(u) && ag_requires_grad(u));
        OK(ag_backward(ag_sum(ag_mul(v, ag_arange_on(1, 4, 1, AG_F64, DEV)), AG_ALL_DIMS, false)));
        assert_non_null(ag_grad_of(u));
        ag_scope_end();
        ag_module_free(m);
    }
    ag_module *m = ag_module_new(&holder);
    EXPECT_ERR(ag_module_add_param_constrained(m, "p", ag_full_on(AG_SHAPE(2), -1.0, AG_F64, DEV), AG_POSITIVE),
               "positive constraint needs finite values > 0, given -1 at element 0");
    EXPECT_ERR(ag_module_add_param_constrained(m, "p", ag_full_on(AG_SHAPE(2), 3.0, AG_F64, DEV), AG_INTERVAL(0, 3)),
               "interval constraint needs values strictly inside");
    assert_int_equal(ag_module_params(m).n, 0);
    ag_module_free(m);
}

static void test_priors(void **st) {
    (void)st;
    ag_module *m = ag_module_new(&holder);
    double v[2] = {0.5, 2.0};
    OK(ag_module_add_param_constrained(m, "p", ag_from_data_on(v, AG_SHAPE(2), AG_F64, DEV), AG_POSITIVE));
    ag_module *root = AG_SEQUENTIAL(m);
    OK(ag_module_set_prior(root, "0.p", AG_PRIOR_LOGNORMAL(0.1, 0.7)));
    ag_scope_begin();
    /* log N(log x; mu, s) - log x, summed */
    double expect = 0;
    for (int i = 0; i < 2; i++) {
        double z = (log(v[i]) - 0.1) / 0.7;
        expect += -0.5 * z * z - log(0.7) - 0.5 * log(2 * M_PI) - log(v[i]);
    }
    ag_tensor *lp = ag_module_log_prior(root);
    NN(lp);
    assert_int_equal(ag_ndim(lp), 0);
    assert_true(fabs(ag_item(lp) - expect) < 1e-12);
    /* gradient wrt the stored parameter = d/dx logp * dx/du (dx/du = sigmoid(u) = 1 - exp(-x)) */
    OK(ag_backward(lp));
    ag_tensor *g = ag_grad_of(ag_module_param(root, "0.p"));
    double gv[2];
    ag_copy_to_buffer(g, gv, AG_F64);
    for (int i = 0; i < 2; i++) {
        double dlp = -(log(v[i]) - 0.1) / (0.7 * 0.7 * v[i]) - 1 / v[i];
        assert_true(fabs(gv[i] - dlp * (1 - exp(-v[i]))) < 1e-9);
    }
    /* normal and uniform */
    ag_tensor *x = ag_from_data_on((double[]){-1.0, 0.5, 4.0}, AG_SHAPE(3), AG_F64, DEV);
    double nv[3], uv[3];
    ag_copy_to_buffer(ag_prior_log_prob(AG_PRIOR_NORMAL(1.0, 2.0), x), nv, AG_F64);
    ag_copy_to_buffer(ag_prior_log_prob(AG_PRIOR_UNIFORM(0.0, 2.0), x), uv, AG_F64);
    assert_true(fabs(nv[0] - (-0.5 - log(2.0) - 0.5 * log(2 * M_PI))) < 1e-12);
    assert_true(isinf(uv[0]) && uv[0] < 0 && fabs(uv[1] + log(2.0)) < 1e-15 && isinf(uv[2]));
    ag_scope_end();
    EXPECT_ERR(ag_module_set_prior(root, "0.p", AG_PRIOR_NORMAL(0, -1)), "sigma > 0");
    EXPECT_ERR(ag_module_set_prior(root, "0.q", AG_PRIOR_NORMAL(0, 1)), "no parameter '0.q'");
    /* no priors: 0 */
    ag_module *l = on_dev(ag_nn_linear(2, 2, true));
    ag_tensor *z = ag_module_log_prior(l);
    assert_true(ag_item(z) == 0);
    ag_release(z);
    ag_module_free(l);
    ag_module_free(root);
}

static void test_loss_errors(void **st) {
    (void)st;
    ag_scope_begin();
    ag_tensor *a = ag_zeros_on(AG_SHAPE(4, 3), AG_F64, DEV);
    EXPECT_ERR(ag_mse_loss(a, ag_zeros_on(AG_SHAPE(5), AG_F64, DEV), AG_REDUCE_MEAN), "ag_mse_loss");
    EXPECT_ERR(ag_cross_entropy(a, ag_full_on(AG_SHAPE(4), 3, AG_I64, DEV), AG_REDUCE_MEAN), "target 3 at element 0 is out of range for 3 classes");
    EXPECT_ERR(ag_cross_entropy(a, ag_zeros_on(AG_SHAPE(5), AG_I64, DEV), AG_REDUCE_MEAN), "does not fit logits");
    EXPECT_ERR(ag_gaussian_nll_loss(a, a, ag_full_on(AG_SHAPE(4, 3), -1, AG_F64, DEV), false, 0, AG_REDUCE_MEAN), "var has a negative entry");
    EXPECT_ERR(ag_gaussian_nll_loss(a, a, ag_ones_on(AG_SHAPE(3, 4), AG_F64, DEV), false, 0, AG_REDUCE_MEAN), "var [3,4] must have");
    EXPECT_ERR(ag_huber_loss(a, a, 0, AG_REDUCE_SUM), "expected delta > 0");
    /* bce, bce with logits, nll, kl_div */
    ag_tensor *h = ag_full_on(AG_SHAPE(4, 3), 0.5, AG_F64, DEV);
    EXPECT_ERR(ag_binary_cross_entropy(h, ag_zeros_on(AG_SHAPE(3), AG_F64, DEV), NULL, AG_REDUCE_MEAN),
               "ag_binary_cross_entropy: expected a target of the input's shape [4,3], given [3]");
    EXPECT_ERR(ag_binary_cross_entropy(h, h, ag_ones_on(AG_SHAPE(4), AG_F64, DEV), AG_REDUCE_MEAN),
               "ag_binary_cross_entropy");
    EXPECT_ERR(ag_binary_cross_entropy(h, h, ag_ones_on(AG_SHAPE(4, 1, 1), AG_F64, DEV), AG_REDUCE_MEAN),
               "weight of shape [4,1,1] does not broadcast to the input's shape [4,3]");
    EXPECT_ERR(ag_binary_cross_entropy(h, h, NULL, AG_REDUCE_BATCHMEAN), "expected AG_REDUCE_MEAN, AG_REDUCE_SUM or AG_REDUCE_NONE");
    EXPECT_ERR(ag_binary_cross_entropy(NULL, h, NULL, AG_REDUCE_MEAN), "ag_binary_cross_entropy: argument 1 (p) is NULL");
    EXPECT_ERR(ag_binary_cross_entropy_with_logits(h, h, NULL, ag_ones_on(AG_SHAPE(3), AG_I64, DEV), AG_REDUCE_SUM),
               "ag_binary_cross_entropy_with_logits: expected a real floating-point pos_weight, given i64");
    EXPECT_ERR(ag_binary_cross_entropy_with_logits(h, ag_zeros_on(AG_SHAPE(4, 3), AG_I64, DEV), NULL, NULL, AG_REDUCE_SUM),
               "ag_binary_cross_entropy_with_logits: expected a real floating-point target, given i64");
    EXPECT_ERR(ag_nll_loss(a, ag_full_on(AG_SHAPE(4), 3, AG_I64, DEV), NULL, -100, AG_REDUCE_MEAN),
               "ag_nll_loss: target 3 at element 0 is out of range for 3 classes");
    EXPECT_ERR(ag_nll_loss(a, ag_full_on(AG_SHAPE(4), -1, AG_I64, DEV), NULL, -100, AG_REDUCE_MEAN),
               "ag_nll_loss: target -1 at element 0 is out of range");
    EXPECT_ERR(ag_nll_loss(a, ag_zeros_on(AG_SHAPE(4), AG_F64, DEV), NULL, -100, AG_REDUCE_MEAN),
               "ag_nll_loss: expected i64 class indices as target, given f64");
    EXPECT_ERR(ag_nll_loss(a, ag_zeros_on(AG_SHAPE(3), AG_I64, DEV), NULL, -100, AG_REDUCE_MEAN),
               "ag_nll_loss: target [3] does not fit input [4,3]");
    EXPECT_ERR(ag_nll_loss(a, ag_zeros_on(AG_SHAPE(4), AG_I64, DEV), ag_ones_on(AG_SHAPE(4), AG_F64, DEV), -100, AG_REDUCE_MEAN),
               "ag_nll_loss: expected a weight of shape [3] (one per class), given [4]");
    EXPECT_ERR(ag_kl_div(a, a, (ag_reduction)7, false), "ag_kl_div: expected AG_REDUCE_MEAN");
    EXPECT_ERR(ag_kl_div(a, ag_zeros_on(AG_SHAPE(5), AG_F64, DEV), AG_REDUCE_BATCHMEAN, false), "ag_kl_div");
    EXPECT_ERR(ag_kl_div(a, NULL, AG_REDUCE_SUM, true), "ag_kl_div: argument 2 (t) is NULL");
    {
        /* the ignored targets may lie outside [0, C); the mean is over the counted ones */
        ag_tensor *lp = ag_from_data_on((double[]){-1, -2, -3, -4, -5, -6}, AG_SHAPE(2, 3), AG_F64, DEV);
        ag_tensor *l = ag_nll_loss(lp, ag_from_data_on((int64_t[]){-100, 2}, AG_SHAPE(2), AG_I64, DEV), NULL, -100,
                                   AG_REDUCE_MEAN);
        NN(l);
        assert_true(ag_item(l) == 6);
    }
    EXPECT_ERR(ag_linear(a, ag_zeros_on(AG_SHAPE(2, 4), AG_F64, DEV), NULL), "input [4,3] has 3 features in its last dim, weight [2,4] expects 4");
    /* a NULL input with no error pending is reported, naming the op */
    EXPECT_ERR(assert_null(ag_mse_loss(NULL, a, AG_REDUCE_MEAN)), "ag_mse_loss: argument 1 (x) is NULL");
    /* gradient of a mean-reduced loss matches the hand formula */
    ag_tensor *p = ag_set_requires_grad(ag_from_data_on((double[]){1, 2, 3}, AG_SHAPE(3), AG_F64, DEV), true);
    ag_tensor *t = ag_zeros_on(AG_SHAPE(3), AG_F64, DEV);
    OK(ag_backward(ag_mse_loss(p, t, AG_REDUCE_MEAN)));
    double g[3];
    ag_copy_to_buffer(ag_grad_of(p), g, AG_F64);
    assert_true(fabs(g[2] - 2.0) < 1e-15); /* 2 * 3 / 3 */
    ag_scope_end();
}

/* Embedding: N(0, 1) init, forward = rows of weight for an index of any shape, padding_idx's row
 * zero at the start and without gradient */
static void test_embedding(void **st) {
    (void)st;
    ag_manual_seed(5);
    ag_module *m = on_dev(ag_nn_embedding(1000, 8, AG_NO_PADDING_IDX));
    NN(m);
    ag_scope_begin();
    ag_tensor *w = ag_module_param(m, "weight");
    assert_int_equal(ag_ndim(w), 2);
    assert_true(ag_shape(w)[0] == 1000 && ag_shape(w)[1] == 8);
    double mean = ag_item(ag_mean(w, AG_ALL_DIMS, false)), sd = ag_item(ag_std(w, AG_ALL_DIMS, 1, false));
    assert_true(fabs(mean) < 0.05 && fabs(sd - 1) < 0.05);
    ag_tensor *idx = ag_from_data_on((int64_t[]){3, 999, 0, 3, 7, 1}, AG_SHAPE(2, 1, 3), AG_I64, DEV);
    ag_tensor *y = ag_forward(m, idx);
    NN(y);
    assert_int_equal(ag_ndim(y), 4);
    assert_true(ag_shape(y)[0] == 2 && ag_shape(y)[1] == 1 && ag_shape(y)[2] == 3 && ag_shape(y)[3] == 8);
    ag_tensor *rows = ag_index_select(w, 0, ag_reshape(idx, AG_SHAPE(-1)));
    assert_true(maxabs_diff(ag_reshape(y, AG_SHAPE(6, 8)), rows) == 0);
    assert_true(maxabs_diff(ag_embedding(w, idx), y) == 0);
    /* a 0-d index gives one row */
    ag_tensor *y0 = ag_forward(m, ag_scalar_on(7, AG_I64, DEV));
    assert_true(ag_ndim(y0) == 1 && ag_shape(y0)[0] == 8);
    EXPECT_ERR(ag_forward(m, ag_ones_on(AG_SHAPE(2), AG_F64, DEV)), "ag_embedding: expected an i64 index tensor, given f64");
    EXPECT_ERR(ag_forward(m, ag_full_on(AG_SHAPE(2), 1000, AG_I64, DEV)), "index 1000 out of range for dim 0 of size 1000");
    EXPECT_ERR(ag_embedding(ag_ones_on(AG_SHAPE(3), AG_F64, DEV), ag_zeros_on(AG_SHAPE(2), AG_I64, DEV)),
               "ag_embedding: expected a weight [num, dim], given [3]");
    ag_scope_end();
    ag_module_free(m);
    EXPECT_ERR(ag_nn_embedding(0, 3, AG_NO_PADDING_IDX), "ag_nn_embedding: expected positive sizes");
    EXPECT_ERR(ag_nn_embedding(5, 3, 5), "ag_nn_embedding: padding_idx 5 is out of range for 5 embeddings");
    EXPECT_ERR(ag_nn_embedding(5, 3, -6), "padding_idx -6 is out of range");

    /* padding_idx -1 = row 4: zero, and no gradient through it */
    m = on_dev(ag_nn_embedding(5, 3, -1));
    NN(m);
    ag_scope_begin();
    w = ag_module_param(m, "weight");
    double wv[15];
    ag_copy_to_buffer(w, wv, AG_F64);
    assert_true(wv[12] == 0 && wv[13] == 0 && wv[14] == 0 && wv[0] != 0);
    idx = ag_from_data_on((int64_t[]){4, 1, 4, 1}, AG_SHAPE(2, 2), AG_I64, DEV);
    y = ag_forward(m, idx);
    NN(y);
    OK(ag_backward(ag_sum(ag_mul(y, y), AG_ALL_DIMS, false)));
    double g[15];
    ag_copy_to_buffer(ag_grad_of(w), g, AG_F64);
    for (int j = 0; j < 3; j++) {
        assert_true(g[12 + j] == 0 && g[j] == 0);
        assert_true(fabs(g[3 + j] - 4 * wv[3 + j]) < 1e-14); /* two reads of row 1, d(y^2) = 2y each */
    }
    ag_scope_end();
    ag_module_free(m);
}

int main(void) {
    DEV = ag_device_default();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership_on_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linear_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activation_modules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batchnorm_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gradcheck_modules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loss_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedding, setup, teardown),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
