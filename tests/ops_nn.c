/* tests/ops_nn.c — op-table rows for nn/ (fixtures: fixturegen/nn.py): activations, linear,
 * normalisations and losses through their functional forms (weights as inputs, so gradcheck
 * covers them), and BatchNorm2d's running statistics after three training steps. */
#include "op_table.h"

OPFN(relu, ag_relu(x[0]))
OPFN(relu_squared, ag_square(ag_relu(x[0]))) /* second derivatives through relu's backward */
OPFN(leaky_relu, ag_leaky_relu(x[0], 0.1))
OPFN(elu, ag_elu(x[0], 1.3))
OPFN(gelu, ag_gelu(x[0], AG_GELU_EXACT))
OPFN(gelu_tanh, ag_gelu(x[0], AG_GELU_TANH))
OPFN(silu, ag_silu(x[0]))
OPFN(softmax_d1, ag_softmax(x[0], D(1)))
OPFN(log_softmax_d2, ag_log_softmax(x[0], D(2)))
/* optional arguments (bias, weights, running statistics) may be NULL by design: the rows mark
 * them (OPT), and the runner's NULL-input check skips them */
#define OPT(...) .optional = (__VA_ARGS__)
OPFN(linear, ag_linear(x[0], x[1], x[2]))
OPFN(linear_nobias, ag_linear(x[0], x[1], NULL))

/* the running stats are inputs of the fixture: work on copies so that rows stay repeatable */
static ag_tensor *f_batch_norm_train(ag_tensor *const *x, int n, void *ud) {
    (void)n; (void)ud;
    ag_scope_begin();
    ag_tensor *rm = ag_clone(ag_detach(x[1])), *rv = ag_clone(ag_detach(x[2]));
    ag_tensor *y = ag_keep(ag_batch_norm(x[0], rm, rv, x[3], x[4], true, 0.2, 1e-4));
    ag_scope_end();
    return y;
}
OPFN(batch_norm_eval, ag_batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-3))
OPFN(group_norm, ag_group_norm(x[0], 3, x[1], x[2], 1e-5))
OPFN(layer_norm, ag_layer_norm(x[0], AG_SHAPE(4, 5), x[1], x[2], 1e-5))

/* ag_nn_batchnorm2d(3): three training steps on x[0..2], then running_mean / running_var /
 * the eval-mode output on x[3] */
static ag_tensor *bn_module(ag_tensor *const *x, int what) {
    const ag_tensor *ref = x[0] ? x[0] : x[1]; /* the NULL-input check passes one NULL */
    ag_module *m = ag_nn_batchnorm2d(3, (ag_norm_opts){0});
    ag_module_to_dtype(m, ag_dtype_of(ref));
    ag_module_to(m, ag_device_of(ref));
    ag_tensor *r = NULL;
    ag_scope_begin();
    for (int i = 0; i < 3; i++) ag_forward(m, x[i]);
    if (what == 0) r = ag_clone(ag_module_buffer(m, "running_mean"));
    else if (what == 1) r = ag_clone(ag_module_buffer(m, "running_var"));
    else {
        ag_module_eval(m);
        r = ag_forward(m, x[3]);
    }
    if (ag_failed()) r = NULL; /* a step failed: the buffers are not the row's result */
    ag_keep(r);
    ag_scope_end();
    ag_module_free(m);
    return r;
}
OPFN(bn_module_mean, bn_module(x, 0))
OPFN(bn_module_var, bn_module(x, 1))
OPFN(bn_module_eval, bn_module(x, 2))

OPFN(mse_mean, ag_mse_loss(x[0], x[1], AG_REDUCE_MEAN))
OPFN(mse_sum, ag_mse_loss(x[0], x[1], AG_REDUCE_SUM))
OPFN(mse_none, ag_mse_loss(x[0], x[1], AG_REDUCE_NONE))
OPFN(l1_mean, ag_l1_loss(x[0], x[1], AG_REDUCE_MEAN))
OPFN(huber_mean, ag_huber_loss(x[0], x[1], 0.7, AG_REDUCE_MEAN))
OPFN(huber_none, ag_huber_loss(x[0], x[1], 0.7, AG_REDUCE_NONE))
OPFN(smooth_l1_sum, ag_smooth_l1_loss(x[0], x[1], 0.6, AG_REDUCE_SUM))
OPFN(cauchy_mean, ag_cauchy_loss(x[0], x[1], 0.8, AG_REDUCE_MEAN))
OPFN(log_cosh_none, ag_log_cosh_loss(x[0], x[1], AG_REDUCE_NONE))
OPFN(log_cosh_mean, ag_log_cosh_loss(x[0], x[1], AG_REDUCE_MEAN))
OPFN(gaussian_nll_mean, ag_gaussian_nll_loss(x[0], x[1], x[2], false, 0, AG_REDUCE_MEAN))
OPFN(gaussian_nll_full_sum, ag_gaussian_nll_loss(x[0], x[1], x[2], true, 0, AG_REDUCE_SUM))
OPFN(gaussian_nll_var_lastdim, ag_gaussian_nll_loss(x[0], x[1], x[2], false, 0, AG_REDUCE_NONE))
OPFN(cross_entropy_mean, ag_cross_entropy(x[0], x[1], AG_REDUCE_MEAN))
OPFN(cross_entropy_nd_none, ag_cross_entropy(x[0], x[1], AG_REDUCE_NONE))
OPFN(cross_entropy_probs_sum, ag_cross_entropy(x[0], ag_softmax(x[1], D(1)), AG_REDUCE_SUM))
OPFN(bce_mean, ag_binary_cross_entropy(ag_sigmoid(x[0]), ag_sigmoid(x[1]), NULL, AG_REDUCE_MEAN))
OPFN(bce_weight_sum, ag_binary_cross_entropy(ag_sigmoid(x[0]), ag_sigmoid(x[1]), x[2], AG_REDUCE_SUM))
OPFN(bce_none, ag_binary_cross_entropy(ag_sigmoid(x[0]), ag_sigmoid(x[1]), NULL, AG_REDUCE_NONE))
OPFN(bce_logits_mean, ag_binary_cross_entropy_with_logits(ag_mul_s(x[0], 8), ag_sigmoid(x[1]), NULL, NULL, AG_REDUCE_MEAN))
OPFN(bce_logits_weights_sum,
     ag_binary_cross_entropy_with_logits(ag_mul_s(x[0], 8), ag_sigmoid(x[1]), x[2], x[3], AG_REDUCE_SUM))
OPFN(bce_logits_none, ag_binary_cross_entropy_with_logits(x[0], ag_sigmoid(x[1]), NULL, x[2], AG_REDUCE_NONE))
OPFN(nll_mean, ag_nll_loss(ag_log_softmax(x[0], D(1)), x[1], NULL, -100, AG_REDUCE_MEAN))
OPFN(nll_weight_ignore_mean, ag_nll_loss(ag_log_softmax(x[0], D(1)), x[1], x[2], 2, AG_REDUCE_MEAN))
OPFN(nll_nd_sum, ag_nll_loss(x[0], x[1], NULL, -1, AG_REDUCE_SUM))
OPFN(nll_nd_none, ag_nll_loss(x[0], x[1], x[2], -100, AG_REDUCE_NONE))
OPFN(nll_unbatched, ag_nll_loss(x[0], x[1], NULL, -100, AG_REDUCE_MEAN))
OPFN(kl_div_batchmean, ag_kl_div(x[0], x[1], AG_REDUCE_BATCHMEAN, false))
OPFN(kl_div_mean, ag_kl_div(x[0], x[1], AG_REDUCE_MEAN, false))
OPFN(kl_div_sum_zeros, ag_kl_div(x[0], ag_relu(x[1]), AG_REDUCE_SUM, false))
OPFN(kl_div_log_target_none, ag_kl_div(x[0], x[1], AG_REDUCE_NONE, true))
OPFN(kl_div_log_target_batchmean, ag_kl_div(x[0], x[1], AG_REDUCE_BATCHMEAN, true))
OPFN(embedding, ag_embedding(x[0], x[1]))
OPFN(embedding_1d, ag_embedding(x[0], x[1]))

#define ROW(nm, nin, ...) {.name = #nm, .fn = f_##nm, .n_in = nin, .dtypes = DT_REAL, __VA_ARGS__}
#define LOOSE TOL(1e-11, 1e-4)
const op_row ops_nn[] = {
    ROW(relu, 1), ROW(relu_squared, 1), ROW(leaky_relu, 1), ROW(elu, 1, LOOSE), ROW(gelu, 1, LOOSE), ROW(gelu_tanh, 1, LOOSE),
    ROW(silu, 1, LOOSE), ROW(softmax_d1, 1, LOOSE), ROW(log_softmax_d2, 1, LOOSE),
    ROW(linear, 3, LOOSE, OPT(1u << 2)), ROW(linear_nobias, 2, LOOSE),
    ROW(batch_norm_train, 5, LOOSE, OPT(0x1e)), ROW(batch_norm_eval, 5, LOOSE, OPT(0x1e)),
    ROW(group_norm, 3, LOOSE, OPT(0x6)), ROW(layer_norm, 3, LOOSE, OPT(0x6)),
    ROW(bn_module_mean, 4, LOOSE, OPT(1u << 3)), ROW(bn_module_var, 4, LOOSE, OPT(1u << 3)), /* x[3]: eval only */
    ROW(bn_module_eval, 4, LOOSE),
    ROW(mse_mean, 2, LOOSE), ROW(mse_sum, 2, LOOSE), ROW(mse_none, 2, LOOSE), ROW(l1_mean, 2, LOOSE),
    ROW(huber_mean, 2, LOOSE), ROW(huber_none, 2, LOOSE), ROW(smooth_l1_sum, 2, LOOSE), ROW(cauchy_mean, 2, LOOSE),
    ROW(log_cosh_none, 2, LOOSE), ROW(log_cosh_mean, 2, LOOSE),
    ROW(gaussian_nll_mean, 3, LOOSE), ROW(gaussian_nll_full_sum, 3, LOOSE), ROW(gaussian_nll_var_lastdim, 3, LOOSE),
    ROW(cross_entropy_mean, 2, LOOSE), ROW(cross_entropy_nd_none, 2, LOOSE), ROW(cross_entropy_probs_sum, 2, LOOSE),
    ROW(bce_mean, 2, LOOSE), ROW(bce_weight_sum, 3, LOOSE, OPT(1u << 2)), ROW(bce_none, 2, LOOSE),
    ROW(bce_logits_mean, 2, LOOSE), ROW(bce_logits_weights_sum, 4, LOOSE, OPT(0xc)),
    ROW(bce_logits_none, 3, LOOSE, OPT(1u << 2)),
    ROW(nll_mean, 2, LOOSE), ROW(nll_weight_ignore_mean, 3, LOOSE, OPT(1u << 2)), ROW(nll_nd_sum, 2, LOOSE),
    ROW(nll_nd_none, 3, LOOSE, OPT(1u << 2)), ROW(nll_unbatched, 2, LOOSE),
    ROW(kl_div_batchmean, 2, LOOSE), ROW(kl_div_mean, 2, LOOSE),
    ROW(kl_div_sum_zeros, 2, LOOSE),
    ROW(kl_div_log_target_none, 2, LOOSE), ROW(kl_div_log_target_batchmean, 2, LOOSE),
    ROW(embedding, 2), ROW(embedding_1d, 2),
    {0},
};
