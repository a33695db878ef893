/* tensor/internal.h — the structs behind the opaque handles, and the helpers every op
 * front-end uses: error recording, result creation, graph-node recording.
 * Private to tensor/ and autograd/ (nn/, optim/, imaging/ use tensor/layer.h); not installed. */
#ifndef AG_TENSOR_INTERNAL_H
#define AG_TENSOR_INTERNAL_H

#include <stdatomic.h>
#include <stdarg.h>

#include "astrograd/tensor.h"
#include "astrograd/autograd.h"
#include "astrograd/op.h"
#include "backends/kernels.h"
#include "core/core.h"
#include "tensor/layer.h" /* what nn/, optim/, imaging/ may use; declared once there */

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

/* ---- tensor internals (those the layers above use: tensor/layer.h) ---- */
/* New tensor on dev, contiguous, uninitialised, NOT registered in a scope. */
ag_tensor *ag__new(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev, const char *op);
/* New view struct over t's storage (retained), NOT registered. */
ag_tensor *ag__alias(const ag_tensor *t);
/* Register t (a fresh result) in the current scope if any; returns t. Every public op
 * passes its result through this before returning it. */
ag_tensor *ag__ret(ag_tensor *t);
void ag__contiguous_strides(const int64_t *shape, int ndim, int64_t *strides);
/* contiguous tensor with t's values (t itself, retained, when already contiguous), for a kernel
 * that needs dense inputs; not recorded. NULL (error set) on failure; NULL t gives NULL. */
ag_tensor *ag__dense(ag_tensor *t, const char *op);
ag_kview ag__view(const ag_tensor *t);
const ag_kernels *ag__kernels(const ag_tensor *t);
/* t's kernels when entry (a member of them) is implemented; NULL with AG_ERR_NOTIMPL naming op and name */
const ag_kernels *ag__kernels_with(const char *op, const ag_tensor *t, const void *entry, const char *name);
/* View of t broadcast to shape (stride 0 on new/expanded dims). t's shape must fit. */
ag_kview ag__view_bcast(const ag_tensor *t, const int64_t *shape, int ndim);
/* Cast to dt when needed (new ref either way; not recorded in autograd). */
ag_tensor *ag__cast(ag_tensor *t, ag_dtype dt);
/* i32 and u8 are storage dtypes: the arithmetic kernels lack them, so the front ends compute
 * through i64 (ag__wide) and cast the result back (narrowing wraps, as PyTorch). */
static inline bool ag__narrow_int(ag_dtype dt) { return dt == AG_I32 || dt == AG_U8; }
static inline ag_dtype ag__wide(ag_dtype dt) { return ag__narrow_int(dt) ? AG_I64 : dt; }
/* w (owned, may be NULL) cast to dt; w is dropped */
static inline ag_tensor *ag__narrow(ag_tensor *w, ag_dtype dt) {
    if (!w || w->dtype == dt) return w;
    ag_tensor *r = ag__cast(w, dt);
    ag__drop(w);
    return r;
}
static inline bool ag__is_cpu(const ag_tensor *t) { return t->storage->dev.kind == AG_DEV_CPU; }

/* ---- autograd recording (lives here because every op records) ---- */
/* Room for two values per dim (a permutation, pads before/after) at AG_MAX_DIMS dims; with
 * 6 slots an 8-d permutation overwrote the node's next fields. */
typedef union ag_op_params {
    double d[2 * AG_MAX_DIMS];
    int64_t i[2 * AG_MAX_DIMS];
    struct { int dims[AG_MAX_DIMS]; int ndims; bool keepdim; } red;
} ag_op_params;

#include "tensor/registry.h"

/* A recorded op. The per-input and per-saved arrays live in the node's own allocation, sized
 * at record time, so a node holds any number of inputs (cat of 1000 tensors is one node). */
struct ag_node {
    int rc;
    const ag_opdef *def;     /* name, differentiable inputs, backward rule */
    const char *name;        /* for messages: the public function that recorded it */
    uint64_t seq;            /* creation order */
    int n_in;
    ag_node **in_node;       /* input's grad_fn (owned ref) or NULL */
    ag_tensor **in_leaf;     /* leaf input requiring grad (owned ref) or NULL */
    bool *needs;
    /* input metadata for reducing gradients to the input's shape */
    int *in_ndim;
    int64_t (*in_shape)[AG_MAX_DIMS];
    ag_dtype *in_dtype;
    /* output metadata */
    int out_ndim;
    int64_t out_shape[AG_MAX_DIMS];
    ag_dtype out_dtype;
    int n_saved;
    ag_tensor **saved;
    unsigned *saved_ver;
    int out_saved;           /* index of the output among saved (a history-free alias), or -1 */
    bool released;           /* saved tensors dropped after backward */
    ag_op_params p;
    ag_payload *payload;     /* owned ref or NULL */
    /* engine state during one backward pass */
    uint64_t epoch;
    int deps;
    ag_tensor *gacc;
    struct ag_hook *hooks;   /* hooks of the output tensor (non-leaf) */
};

bool ag__grad_enabled(void);
/* true when recording is on and any of the inputs requires grad */
bool ag__needs_grad(ag_tensor *const *in, int n);
/* Record a node of op def on result r; name labels it in messages (NULL: def->name). Inputs
 * outside def->diff are never differentiated. saved tensors are retained (saving the output
 * itself is allowed: pass it and the node stores a detached alias, so no reference cycle
 * forms). Returns 0 or a negative status (r is left untouched on failure). */
int ag__record(ag_tensor *r, const char *name, const ag_opdef *def, ag_tensor *const *in, int n_in,
               ag_tensor *const *saved, int n_saved, const ag_op_params *p);
/* The end of every op front-end: record the node when grad is needed (def NULL for
 * non-differentiable ops), check for NaN/Inf in anomaly mode, register the result in the
 * current scope. Drops r and returns NULL on failure. */
ag_tensor *ag__finish(ag_tensor *r, const char *op, const ag_opdef *def, ag_tensor *const *in, int n_in,
                      ag_tensor *const *saved, int n_saved, const ag_op_params *p);
#define AG_IN(...) ((ag_tensor *const[]){__VA_ARGS__}), \
    ((int)(sizeof((ag_tensor *const[]){__VA_ARGS__}) / sizeof(ag_tensor *)))
#define AG_NONE NULL, 0
void ag__node_release(ag_node *n);
/* autograd/gradcheck.c: nodes recorded meanwhile count as gradchecked (ag_op_counting) */
void ag__gradcheck_scope(bool on);
/* 0 when t (floating point) has no NaN/Inf; otherwise AG_ERR_NUMERIC naming op, the first such
 * element and where. Computed with t's backend kernels on t's device. */
int ag__check_anomaly(const char *op, const ag_tensor *t, const char *where);
bool ag__anomaly(void);     /* anomaly mode on and not inside a backward rule */
void ag__anomaly_quiet(bool on); /* engine: nestable, suspends per-op checks in backward rules */

/* ---- hooks ---- */
struct ag_hook { ag_grad_hook fn; void *ud; struct ag_hook *next; };

#endif
