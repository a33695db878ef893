/* tensor/internal.h — the structs behind the opaque handles, and the helpers every op
 * front-end uses: error recording, result creation, graph-node recording.
 * Private to the library (tensor/, autograd/, nn/, optim/, imaging/); not installed. */
#ifndef AG_TENSOR_INTERNAL_H
#define AG_TENSOR_INTERNAL_H

#include <stdatomic.h>
#include <stdarg.h>

#include "astrograd/tensor.h"
#include "astrograd/autograd.h"
#include "backends/kernels.h"
#include "core/core.h"

typedef struct ag_storage {
    atomic_int rc;
    ag_device dev;
    size_t nbytes;
    void *data;
    const ag_kernels *k;     /* backend that allocated it */
    atomic_uint version;     /* bumped by every in-place write; checked by backward */
} ag_storage;

typedef struct ag_node ag_node;

struct ag_tensor {
    atomic_int rc;
    ag_dtype dtype;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    int64_t strides[AG_MAX_DIMS];
    int64_t offset;          /* elements */
    ag_storage *storage;
    bool requires_grad;
    ag_tensor *grad;         /* leaves: accumulated gradient, owned */
    ag_node *grad_fn;        /* non-leaves: the node that made it, owned */
    /* Scopes are per thread. scope_depth and scope_slot are read and written by the owning
     * thread only; scope_state tells every thread who owns the tensor: 0 = no scope, else the
     * owning thread's token << 1, with bit 0 set once another thread has given up the scope's
     * claim (the owner's scope end then drops the slot's reference as usual). See tensor.c. */
    int scope_depth;         /* 0 = not owned by a scope of this thread */
    int64_t scope_slot;
    int scope_extra;         /* ag_retain calls of the owning thread while scoped, not yet released */
    atomic_ullong scope_state;
    struct ag_hook *hooks;
};

/* ---- errors (ag_set_error, ag_fail, ag_shape_str: core/core.h) ---- */
/* shape of t as a string in a temporary buffer valid for the current statement */
#define AG_SHP(t) ag_shape_str((t)->shape, (t)->ndim, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF)

/* ---- files ---- */
/* Writes path atomically: fill(ctx, tmp) writes a temporary file next to path, which is then
 * fsynced and renamed over path. On any failure (fill's included: it sets the error) path is
 * untouched and the temporary removed. fn names the public function in messages. */
int ag__write_file_atomic(const char *fn, const char *path, int (*fill)(void *ctx, const char *tmp), void *ctx);

/* ---- tensor internals ---- */
/* New tensor on dev, contiguous, uninitialised, NOT registered in a scope. */
ag_tensor *ag__new(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev, const char *op);
/* New view struct over t's storage (retained), NOT registered. */
ag_tensor *ag__alias(const ag_tensor *t);
/* Register t (a fresh result) in the current scope if any; returns t. Every public op
 * passes its result through this before returning it. */
ag_tensor *ag__ret(ag_tensor *t);
/* Remove t from the scope that owns it: the caller now owns that reference. */
void ag__unscope(ag_tensor *t);
/* A reference the library holds for itself (saved tensors, leaf edges, casts). It must not
 * count as one of the user's extra references to a scoped tensor, which ag_release tells
 * apart from the scope's own (tensor.c), so inside the library ag_retain means this. */
ag_tensor *ag__retain(ag_tensor *t);
#define ag_retain(t) ag__retain(t)
/* Drop a reference held by library internals (nodes, .grad, engine): never touches scopes
 * unless the tensor dies. ag_release is the user's call: it also gives up the scope's claim. */
void ag__drop(ag_tensor *t);
/* Fresh alias of t recorded as an identity op (what an op returns instead of its input). */
ag_tensor *ag__identity(ag_tensor *t, const char *op);
void ag__contiguous_strides(const int64_t *shape, int ndim, int64_t *strides);
int64_t ag__numel(const int64_t *shape, int ndim);
ag_kview ag__view(const ag_tensor *t);
const ag_kernels *ag__kernels(const ag_tensor *t);
/* Check inputs share a device; error names op. Returns false (error set) otherwise. */
bool ag__same_device(const char *op, const ag_tensor *a, const ag_tensor *b);
/* Broadcast two shapes (NumPy rules). false + error naming op when they do not fit. */
bool ag__broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b, int nb,
                          int64_t *out, int *nout);
/* View of t broadcast to shape (stride 0 on new/expanded dims). t's shape must fit. */
ag_kview ag__view_bcast(const ag_tensor *t, const int64_t *shape, int ndim);
/* Cast to dt when needed (new ref either way; not recorded in autograd). */
ag_tensor *ag__cast(ag_tensor *t, ag_dtype dt);
int ag__normalize_dim(const char *op, int dim, int ndim); /* <0 on error (error set) */
void ag__bump_version(ag_tensor *t);
static inline bool ag__is_cpu(const ag_tensor *t) { return t->storage->dev.kind == AG_DEV_CPU; }

/* ---- autograd recording (lives here because every op records) ---- */
#define AG_MAX_IN 4
#define AG_MAX_SAVED 6

typedef struct ag_node ag_node;
/* Backward rule: given the gradient of the node's output (g, same shape/dtype as the output),
 * set gin[i] (new reference, or NULL for no gradient) for each input with n->needs[i].
 * Rules use ag ops; the engine runs them with grad mode off inside a scope, sums each gin to
 * its input's shape and takes the real part for real inputs. Return 0 or negative status. */
typedef int (*ag_backward_fn)(ag_node *n, ag_tensor *g, ag_tensor **gin);

/* Room for two values per dim (a permutation, pads before/after) at AG_MAX_DIMS dims; with
 * 6 slots an 8-d permutation overwrote the node's next fields. */
typedef union ag_op_params {
    double d[2 * AG_MAX_DIMS];
    int64_t i[2 * AG_MAX_DIMS];
    struct { int dims[AG_MAX_DIMS]; int ndims; bool keepdim; } red;
} ag_op_params;

struct ag_node {
    int rc;
    const char *name;        /* op name for messages */
    ag_backward_fn backward;
    uint64_t seq;            /* creation order */
    int n_in;
    ag_node *in_node[AG_MAX_IN];   /* input's grad_fn (owned ref) or NULL */
    ag_tensor *in_leaf[AG_MAX_IN]; /* leaf input requiring grad (owned ref) or NULL */
    bool needs[AG_MAX_IN];
    /* input metadata for reducing gradients to the input's shape */
    int in_ndim[AG_MAX_IN];
    int64_t in_shape[AG_MAX_IN][AG_MAX_DIMS];
    ag_dtype in_dtype[AG_MAX_IN];
    /* output metadata */
    int out_ndim;
    int64_t out_shape[AG_MAX_DIMS];
    ag_dtype out_dtype;
    int n_saved;
    ag_tensor *saved[AG_MAX_SAVED];
    unsigned saved_ver[AG_MAX_SAVED];
    bool released;           /* saved tensors dropped after backward */
    ag_op_params p;
    /* engine state during one backward pass */
    uint64_t epoch;
    int deps;
    ag_tensor *gacc;
    struct ag_hook *hooks;   /* hooks of the output tensor (non-leaf) */
};

bool ag__grad_enabled(void);
/* true when recording is on and any of the inputs requires grad */
bool ag__needs_grad(ag_tensor *const *in, int n);
/* Record node on result r. saved tensors are retained (saving the output itself is allowed:
 * pass it and the node stores a detached alias, so no reference cycle forms).
 * Returns 0 or a negative status (r is left untouched on failure). */
int ag__record(ag_tensor *r, const char *name, ag_backward_fn bw, ag_tensor *const *in, int n_in,
               ag_tensor *const *saved, int n_saved, const ag_op_params *p);
/* The end of every op front-end: record the node when grad is needed (bw may be NULL for
 * non-differentiable ops), check for NaN/Inf in anomaly mode, register the result in the
 * current scope. Drops r and returns NULL on failure. */
ag_tensor *ag__finish(ag_tensor *r, const char *op, ag_backward_fn bw, ag_tensor *const *in, int n_in,
                      ag_tensor *const *saved, int n_saved, const ag_op_params *p);
#define AG_IN(...) ((ag_tensor *const[]){__VA_ARGS__}), \
    ((int)(sizeof((ag_tensor *const[]){__VA_ARGS__}) / sizeof(ag_tensor *)))
#define AG_NONE NULL, 0
void ag__node_release(ag_node *n);
/* 0 when t (floating point) has no NaN/Inf; otherwise AG_ERR_NUMERIC naming op, the first such
 * element and where. Computed with t's backend kernels on t's device. */
int ag__check_anomaly(const char *op, const ag_tensor *t, const char *where);
bool ag__anomaly(void);     /* anomaly mode on and not inside a backward rule */
void ag__anomaly_quiet(bool on); /* engine: nestable, suspends per-op checks in backward rules */

/* ---- hooks ---- */
struct ag_hook { ag_grad_hook fn; void *ud; struct ag_hook *next; };

#endif
