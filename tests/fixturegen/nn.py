"""nn: activations, linear, normalisation layers, losses (torch.nn.functional), embedding, and BatchNorm2d's
running statistics after three training steps (C side: the ag_nn_batchnorm2d module)."""
import math

import torch
import torch.nn.functional as F

from .common import Row

FAMILY = "nn"
REAL = ("f32", "f64")
X = ((3, 4, 5), "n")


def bn_train(x, rm, rv, w, b):
    return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=True, momentum=0.2, eps=1e-4)


def bn_module_steps(x1, x2, x3, x4, what):
    m = torch.nn.BatchNorm2d(3).to(x1.dtype)
    m.train()
    for x in (x1, x2, x3):
        m(x)
    if what == "mean":
        return m.running_mean.detach().clone()
    if what == "var":
        return m.running_var.detach().clone()
    m.eval()
    return m(x4).detach()


def cauchy(x, t, c):
    return torch.log1p(((x - t) / c) ** 2)


def log_cosh(x, t):
    return torch.log(torch.cosh(x - t))


BN_IN = [((4, 3, 2, 2), "n")] * 4

ROWS = [
    Row("relu", F.relu, [X], REAL),
    Row("relu_squared", lambda x: F.relu(x) ** 2, [X], REAL),
    Row("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [X], REAL),
    Row("elu", lambda x: F.elu(x, 1.3), [X], REAL),
    Row("gelu", lambda x: F.gelu(x), [X], REAL),
    Row("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [X], REAL),
    Row("silu", F.silu, [X], REAL),
    Row("softmax_d1", lambda x: F.softmax(x, 1), [X], REAL),
    Row("log_softmax_d2", lambda x: F.log_softmax(x, 2), [X], REAL),
    Row("linear", F.linear, [((5, 3, 4), "n"), ((6, 4), "n"), ((6,), "n")], REAL),
    Row("linear_nobias", F.linear, [((7, 4), "n"), ((6, 4), "n")], REAL),
    Row("batch_norm_train", bn_train, [((4, 3, 5, 5), "n"), ((3,), "n"), ((3,), "p"), ((3,), "n"), ((3,), "n")],
        REAL, grad=[0, 3, 4]),
    Row("batch_norm_eval", lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-3),
        [((4, 3, 5, 5), "n"), ((3,), "n"), ((3,), "p"), ((3,), "n"), ((3,), "n")], REAL, grad=[0, 3, 4]),
    Row("group_norm", lambda x, w, b: F.group_norm(x, 3, w, b, 1e-5), [((2, 6, 3, 3), "n"), ((6,), "n"), ((6,), "n")], REAL),
    Row("layer_norm", lambda x, w, b: F.layer_norm(x, (4, 5), w, b, 1e-5), [((3, 4, 5), "n"), ((4, 5), "n"), ((4, 5), "n")], REAL),
    Row("bn_module_mean", lambda a, b, c, d: bn_module_steps(a, b, c, d, "mean"), BN_IN, REAL, grad=[]),
    Row("bn_module_var", lambda a, b, c, d: bn_module_steps(a, b, c, d, "var"), BN_IN, REAL, grad=[]),
    Row("bn_module_eval", lambda a, b, c, d: bn_module_steps(a, b, c, d, "eval"), BN_IN, REAL, grad=[]),
    Row("mse_mean", lambda x, t: F.mse_loss(x, t), [X, X], REAL),
    Row("mse_sum", lambda x, t: F.mse_loss(x, t, reduction="sum"), [X, X], REAL),
    Row("mse_none", lambda x, t: F.mse_loss(x, t, reduction="none"), [X, X], REAL),
    Row("l1_mean", lambda x, t: F.l1_loss(x, t), [X, X], REAL),
    Row("huber_mean", lambda x, t: F.huber_loss(x, t, delta=0.7), [X, X], REAL),
    Row("huber_none", lambda x, t: F.huber_loss(x, t, reduction="none", delta=0.7), [X, X], REAL),
    Row("smooth_l1_sum", lambda x, t: F.smooth_l1_loss(x, t, reduction="sum", beta=0.6), [X, X], REAL),
    Row("cauchy_mean", lambda x, t: cauchy(x, t, 0.8).mean(), [X, X], REAL),
    Row("log_cosh_none", log_cosh, [X, X], REAL),
    Row("log_cosh_mean", lambda x, t: log_cosh(x, t).mean(), [X, X], REAL),
    Row("gaussian_nll_mean", lambda x, t, v: F.gaussian_nll_loss(x, t, v), [X, X, ((3, 4, 5), "p")], REAL),
    Row("gaussian_nll_full_sum", lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True, reduction="sum"),
        [X, X, ((3, 4, 5), "p")], REAL),
    Row("gaussian_nll_var_lastdim", lambda x, t, v: F.gaussian_nll_loss(x, t, v, reduction="none"),
        [X, X, ((3, 4), "p")], REAL),
    Row("cross_entropy_mean", lambda x, t: F.cross_entropy(x, t), [((6, 5), "n"), ((6,), "i")], REAL, grad=[0]),
    Row("cross_entropy_nd_none", lambda x, t: F.cross_entropy(x, t, reduction="none"),
        [((3, 5, 2), "n"), ((3, 2), "i")], REAL, grad=[0]),
    Row("cross_entropy_probs_sum", lambda x, t: F.cross_entropy(x, F.softmax(t, 1), reduction="sum"),
        [((4, 5), "n"), ((4, 5), "n")], REAL, grad=[0]),
    Row("bce_mean", lambda x, t: F.binary_cross_entropy(torch.sigmoid(x), torch.sigmoid(t)), [X, X], REAL),
    Row("bce_weight_sum", lambda x, t, w: F.binary_cross_entropy(torch.sigmoid(x), torch.sigmoid(t), w, reduction="sum"),
        [X, X, ((5,), "p")], REAL, grad=[0, 1]),
    Row("bce_none", lambda x, t: F.binary_cross_entropy(torch.sigmoid(x), torch.sigmoid(t), reduction="none"),
        [((4, 3), "n"), ((4, 3), "n")], REAL),
    Row("bce_logits_mean", lambda x, t: F.binary_cross_entropy_with_logits(x * 8, torch.sigmoid(t)), [X, X], REAL),
    Row("bce_logits_weights_sum",
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x * 8, torch.sigmoid(t), w, reduction="sum", pos_weight=pw),
        [X, X, ((4, 1), "p"), ((5,), "p")], REAL, grad=[0, 1]),
    Row("bce_logits_none", lambda x, t, pw: F.binary_cross_entropy_with_logits(x, torch.sigmoid(t), reduction="none",
                                                                              pos_weight=pw),
        [((4, 3), "n"), ((4, 3), "n"), ((3,), "p")], REAL, grad=[0, 1]),
    Row("nll_mean", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), [((6, 5), "n"), ((6,), "i5")], REAL, grad=[0]),
    Row("nll_weight_ignore_mean", lambda x, t, w: F.nll_loss(F.log_softmax(x, 1), t, w, ignore_index=2),
        [((7, 4), "n"), ((7,), "i4"), ((4,), "p")], REAL, grad=[0]),
    Row("nll_nd_sum", lambda x, t: F.nll_loss(x, t, reduction="sum", ignore_index=-1),
        [((3, 5, 2, 2), "n"), ((3, 2, 2), "si1")], REAL, grad=[0]),
    Row("nll_nd_none", lambda x, t, w: F.nll_loss(x, t, w, reduction="none"),
        [((2, 4, 3), "n"), ((2, 3), "i4"), ((4,), "p")], REAL, grad=[0]),
    Row("nll_unbatched", lambda x, t: F.nll_loss(x, t), [((5,), "n"), ((), "i5")], REAL, grad=[0]),
    Row("kl_div_batchmean", lambda x, t: F.kl_div(x, t, reduction="batchmean"), [X, ((3, 4, 5), "p")], REAL),
    Row("kl_div_mean", lambda x, t: F.kl_div(x, t, reduction="mean"), [X, ((3, 4, 5), "p")], REAL),
    Row("kl_div_sum_zeros", lambda x, t: F.kl_div(x, t.relu(), reduction="sum"), [X, ((3, 4, 5), "n")], REAL),
    Row("kl_div_log_target_none", lambda x, t: F.kl_div(x, t, reduction="none", log_target=True), [X, X], REAL),
    Row("kl_div_log_target_batchmean", lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True), [X, X], REAL),
    Row("embedding", lambda w, i: F.embedding(i, w), [((6, 4), "n"), ((2, 3), "i6")], REAL, grad=[0]),
    Row("embedding_1d", lambda w, i: F.embedding(i, w), [((5, 3), "n"), ((7,), "i5")], REAL, grad=[0]),
]
