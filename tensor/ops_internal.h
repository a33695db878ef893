/* tensor/ops_internal.h — tensor-level operations that layers above tensor/ (optim/ today)
 * call instead of reaching into the backend table, so that they never see kernel views.
 * A layer's fused kernel (imaging's regularizers and NuFFT next) is an entry of the backend
 * table (backends/kernels.h) with its tensor-level call declared here: the layer defines the
 * differentiable op around it with astrograd/op.h. Private to the library. */
#ifndef AG_TENSOR_OPS_INTERNAL_H
#define AG_TENSOR_OPS_INTERNAL_H

#include "astrograd/tensor.h"

/* ---- fused optimizer updates (tensor/optim_ops.c) ----
 * In-place updates reproducing PyTorch's single-tensor (foreach=False) formulas, one backend
 * kernel each. param is a floating-point tensor; grad and every state tensor given must have
 * param's dtype and shape, live on param's device, be contiguous, and not share storage with
 * each other (complex tensors are updated as their real view, as torch.view_as_real). A state
 * tensor the options do not use must be NULL; one they use must not be. Must be called with
 * grad mode off when param requires grad (as torch.optim's @no_grad step). On success the
 * versions of param and of every state tensor given are bumped and, in anomaly mode, param is
 * checked for NaN/Inf. 0 or a negative ag_status (error set, naming the op); on failure
 * nothing has been written unless the kernel itself failed part-way.
 *
 * hyper[] (doubles; booleans as 0/1):
 *   sgd:     lr, momentum, dampening, weight_decay, nesterov, maximize,
 *            first (1: the momentum buffer is set to the gradient instead of updated)
 *   adam:    lr, beta1, beta2, eps, weight_decay, step (counting this update), amsgrad, maximize,
 *            decoupled (1: AdamW's param *= 1 - lr wd; 0: Adam's grad += wd param)
 *   rmsprop: lr, alpha, eps, weight_decay, momentum, centered, maximize
 * momentum_buf is used when momentum != 0 (sgd) or momentum > 0 (rmsprop); max_sq when amsgrad;
 * grad_avg when centered. */
int ag__sgd_update_(ag_tensor *param, ag_tensor *grad, ag_tensor *momentum_buf, const double *hyper);
int ag__adam_update_(ag_tensor *param, ag_tensor *grad, ag_tensor *exp_avg, ag_tensor *exp_avg_sq,
                     ag_tensor *max_sq, const double *hyper);
int ag__rmsprop_update_(ag_tensor *param, ag_tensor *grad, ag_tensor *square_avg, ag_tensor *grad_avg,
                        ag_tensor *momentum_buf, const double *hyper);

#endif
