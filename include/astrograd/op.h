/* astrograd/op.h — defining a differentiable op: the API that nn/, optim/ and imaging/ use,
 * and that a user's own op uses (what torch.autograd.Function is to PyTorch).
 *
 * An op is a forward function plus an ag_opdef: its name, which inputs are differentiable and
 * its backward rule. The forward computes its result with grad mode off (ag ops, or host code
 * on data it copies in and out), then hands the result to ag_op_finish, which records the
 * graph node when grad mode is on and a differentiable input requires grad:
 *
 *     static int scale_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
 *         double *s = ag_node_payload(n);
 *         gin[0] = ag_mul_s(g, *s);
 *         return 0;
 *     }
 *     static const ag_opdef scale_op = {"my_scale", scale_backward, AG_DIFF_ALL};
 *
 *     ag_tensor *my_scale(ag_tensor *x, double s) {
 *         ag_no_grad_begin();
 *         ag_tensor *y = ag_mul_s(x, s);
 *         ag_no_grad_end();
 *         double *ps = malloc(sizeof *ps);   // owned by the payload from here on
 *         if (ps) *ps = s;
 *         ag_payload *pl = ag_payload_new(ps, free);
 *         y = ag_op_finish(y, &scale_op, AG_INPUTS(x), NULL, 0, pl);
 *         ag_payload_release(pl);            // the node holds its own reference
 *         return y;
 *     }
 *
 * The backward rule receives the gradient g of the node's output (its shape and dtype) and sets
 * gin[i] (a new reference, or NULL for no gradient) for each input i with ag_node_needs_grad.
 * Rules are written with ag ops; the engine runs them with grad mode off inside a scope, sums
 * each gin[i] down to input i's shape (undoing broadcasting) and takes the real part for a real
 * input. A rule returns 0 or a negative ag_status (the error recorded).
 *
 * The library's own ops are listed in one registry (ag_op_count/ag_op_at): each op's name,
 * differentiable inputs and backward rule. Nodes carry any number of inputs and saved tensors.
 */
#ifndef ASTROGRAD_OP_H
#define ASTROGRAD_OP_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_node ag_node;   /* a recorded op: opaque, seen by backward rules */
typedef int (*ag_backward_fn)(ag_node *n, ag_tensor *g, ag_tensor **gin);

#define AG_DIFF_ALL (~0u)         /* every input differentiable */
#define AG_DIFF(i) (1u << (i))    /* input i differentiable (inputs 32 and up: AG_DIFF_ALL) */

typedef struct ag_opdef {
    const char *name;         /* in messages, e.g. "ag_conv2d" */
    ag_backward_fn backward;
    unsigned diff;            /* bit i: input i is differentiable */
} ag_opdef;

/* ---- payloads: an opaque, refcounted object a node holds (an FFT or NuFFT plan, a gridding
 * index, scalars of the op) and frees with free_fn when the last reference goes ---- */
typedef struct ag_payload ag_payload;
/* New payload holding data (one reference, the caller's). free_fn(data) runs when the last
 * reference is released (free_fn may be NULL). data NULL, or out of memory: NULL with the error
 * set, and free_fn(data) has run, so data never leaks. */
AG_API ag_payload *ag_payload_new(void *data, void (*free_fn)(void *data));
AG_API ag_payload *ag_payload_retain(ag_payload *p);   /* NULL-safe; returns p */
AG_API void ag_payload_release(ag_payload *p);         /* NULL-safe */
AG_API void *ag_payload_data(const ag_payload *p);     /* NULL-safe */

/* ---- recording ---- */
/* Ends an op's forward: result (a new reference the caller owns, with no history: computed with
 * grad mode off) becomes the op's output. When grad mode is on and some input i with
 * AG_DIFF(i) in def->diff requires grad, a node is recorded on result: it holds in[0..n_in)
 * (NULL entries allowed, never differentiated), retains saved[0..n_saved) (saving result itself
 * is allowed and makes no cycle) and payload (NULL: none); saved tensors' versions are checked
 * when backward runs. In anomaly mode the result is checked for NaN/Inf. Returns result, or
 * NULL with the error set (result NULL on entry: the error already set is kept), in which case
 * result has been released. def must outlive every node recorded with it (a static). */
AG_API ag_tensor *ag_op_finish(ag_tensor *result, const ag_opdef *def, ag_tensor *const *in, int n_in,
                               ag_tensor *const *saved, int n_saved, ag_payload *payload);
#define AG_INPUTS(...) ((ag_tensor *const[]){__VA_ARGS__}), \
    ((int)(sizeof((ag_tensor *const[]){__VA_ARGS__}) / sizeof(ag_tensor *)))

/* ---- inside a backward rule ---- */
AG_API const char *ag_node_name(const ag_node *n);
AG_API int ag_node_n_inputs(const ag_node *n);
AG_API bool ag_node_needs_grad(const ag_node *n, int i);  /* input i wants a gradient */
/* shape of input i as recorded (ndim returned, shape[AG_MAX_DIMS] filled); -1 out of range */
AG_API int ag_node_input_shape(const ag_node *n, int i, int64_t *shape);
AG_API ag_dtype ag_node_input_dtype(const ag_node *n, int i);
AG_API int ag_node_n_saved(const ag_node *n);
AG_API ag_tensor *ag_node_saved(const ag_node *n, int i);  /* borrowed; NULL out of range */
AG_API void *ag_node_payload(const ag_node *n);            /* the payload's data, or NULL */

/* ---- the registry of the library's ops ---- */
AG_API int ag_op_count(void);
AG_API const ag_opdef *ag_op_at(int i);               /* NULL out of range */
AG_API const ag_opdef *ag_op_find(const char *name);  /* NULL when no op has that name */
/* Op counting, per thread: ag_op_counting(true) zeroes the counts and starts counting the nodes
 * recorded for each registered op, separately for those recorded while ag_gradcheck runs;
 * false stops. Profiles a step ("how many nodes of each op") and lets a test check that every
 * differentiable op was exercised and gradchecked. */
AG_API void ag_op_counting(bool on);
AG_API int ag_op_counts(int i, int64_t *recorded, int64_t *gradchecked); /* 0, or -1 out of range */

#ifdef __cplusplus
}
#endif

#endif
