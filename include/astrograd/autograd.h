/* astrograd/autograd.h — reverse-mode differentiation over the tape that ops record.
 *
 * Every op whose inputs require grad records a node while grad mode is on. ag_backward
 * walks the nodes in reverse topological order (iteratively: graphs of any depth) and
 * accumulates into the .grad of leaves. Complex gradients follow PyTorch: for a real loss L
 * of a complex z, grad = dL/dRe z + i dL/dIm z.
 */
#ifndef ASTROGRAD_AUTOGRAD_H
#define ASTROGRAD_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A list of parameters as a module hands them to an optimizer: borrowed pointers, valid while
 * the owner lives; names are hierarchical ("encoder.0.weight") or NULL. */
typedef struct ag_params {
    ag_tensor **t;
    const char **names;
    int n;
} ag_params;

typedef struct ag_backward_opts {
    ag_tensor *grad;     /* upstream gradient (same shape as the output); NULL = 1 for a scalar */
    bool retain_graph;   /* keep saved tensors so backward can run again */
    bool create_graph;   /* record the backward pass: .grad gets a history (implies retain_graph) */
} ag_backward_opts;

/* Backpropagate from a real scalar; frees the graph. Returns 0 or a negative ag_status.
 * With an error pending (ag_failed), ag_backward and ag_grad return its code and do nothing:
 * check, or ag_clear_error, before. */
AG_API int ag_backward(ag_tensor *loss);
AG_API int ag_backward_ex(ag_tensor *out, ag_backward_opts opts);

/* Gradients of outputs w.r.t. inputs, returned in grads[n_in] (new references; an input that
 * the outputs do not depend on gets zeros), without touching any .grad.
 * grad_outputs may be NULL (all outputs must then be real scalars). */
AG_API int ag_grad(ag_tensor *const *outputs, int n_out, ag_tensor *const *inputs, int n_in,
                   ag_tensor *const *grad_outputs, bool retain_graph, ag_tensor **grads);
/* Same with options. create_graph records the backward pass, so the gradients returned can be
 * differentiated again (Hessian-vector products: differentiate <grad, v>); it implies
 * retain_graph. Every op's backward is itself differentiable (test_op_table gradgradchecks
 * them all). */
typedef struct ag_grad_opts {
    ag_tensor *const *grad_outputs; /* NULL: every output a real scalar, seeded with 1 */
    bool retain_graph;
    bool create_graph;
} ag_grad_opts;
AG_API int ag_grad_ex(ag_tensor *const *outputs, int n_out, ag_tensor *const *inputs, int n_in, ag_grad_opts opts,
                      ag_tensor **grads);

AG_API ag_tensor *ag_detach(ag_tensor *t);   /* shares storage, no history */
AG_API void ag_zero_grad(ag_tensor *t);      /* drops .grad (PyTorch set_to_none) */

/* Grad mode: nestable no-grad regions. */
AG_API void ag_no_grad_begin(void);
AG_API void ag_no_grad_end(void);
AG_API bool ag_is_grad_enabled(void);

/* Anomaly mode: check every forward result, backward gradient and optimizer update for
 * NaN/Inf, and fail with the op, its shapes and where it was recorded. */
AG_API void ag_set_anomaly(bool on);
AG_API bool ag_anomaly_enabled(void);

/* Gradient hooks: called with each gradient computed for t during backward; may return a
 * replacement gradient (new reference) or NULL to keep it. */
typedef ag_tensor *(*ag_grad_hook)(ag_tensor *grad, void *user_data);
AG_API int ag_register_hook(ag_tensor *t, ag_grad_hook fn, void *user_data);

/* gradcheck: central finite differences in f64/c128 against the analytic gradient.
 * fn maps inputs to one output tensor (any shape, real or complex); the check uses a
 * random projection <w, out> (real part), as PyTorch's fast mode, unless full_jacobian. */
typedef ag_tensor *(*ag_gradcheck_fn)(ag_tensor *const *inputs, int n, void *user_data);
typedef struct ag_gradcheck_opts {
    double eps;           /* 1e-6 by default */
    double atol, rtol;    /* 1e-5, 1e-3 by default */
    bool full_jacobian;   /* check each output element separately (slow, exact) */
} ag_gradcheck_opts;
typedef struct ag_gradcheck_report {
    double max_abs_err;   /* worst |analytic - numeric| */
    int worst_input;      /* which input */
    int64_t worst_index;  /* flat element index (complex: the element) */
    double analytic, numeric;
    char message[256];
} ag_gradcheck_report;
/* Returns 1 if the gradients agree, 0 if not (report says where), negative on error. */
AG_API int ag_gradcheck(ag_gradcheck_fn fn, void *user_data, ag_tensor *const *inputs, int n,
                        const ag_gradcheck_opts *opts, ag_gradcheck_report *report);
/* Second derivatives: gradcheck of the first gradient x -> d<u, fn(x)>/dx (u a fixed random
 * projection), taken with create_graph, so every backward rule's own gradient is checked against
 * finite differences. Same inputs, options and results as ag_gradcheck (at most 16 inputs). */
AG_API int ag_gradgradcheck(ag_gradcheck_fn fn, void *user_data, ag_tensor *const *inputs, int n,
                            const ag_gradcheck_opts *opts, ag_gradcheck_report *report);

#ifdef __cplusplus
}
#endif
#endif
