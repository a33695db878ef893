/* optim/optim_internal.h — the optimizer object shared by the files of optim/, and the vtable
 * through which optim.c reaches each optimizer. Private. */
#ifndef AG_OPTIM_INTERNAL_H
#define AG_OPTIM_INTERNAL_H

#include "astrograd/optim.h"
#include "tensor/layer.h"
#include "tensor/ops_internal.h"

#define AG_OPTIM_MAX_KEYS 12

typedef struct ag_optim_slot {
    bool has_state;
    ag_tensor *st[AG_OPTIM_MAX_KEYS];   /* owned */
    char *names[AG_OPTIM_MAX_KEYS];     /* "<i>.<key>" */
} ag_optim_slot;

/* What differs between optimizers. optim.c owns everything else (parameters, lr, the named
 * state slots and their enumeration, checkpoints through optim/checkpoint.c). zero_grad is not
 * here: every optimizer drops the grads the same way (set_to_none), as in PyTorch. */
typedef struct ag_optim_vtable {
    const char *name;   /* "sgd", "adam", ...: ag_optim_name and the checkpoint's optimizer attribute */
    /* One update from the parameters' current grads. NULL: the optimizer needs a closure
     * (ag_optim_step then fails with a message saying so). */
    int (*step)(ag_optim *o);
    /* A step that may re-evaluate the loss. NULL: call the closure once, record its loss, then
     * step (the first-order optimizers, as PyTorch). */
    int (*step_closure)(ag_optim *o, ag_closure_fn closure, void *ud);
    /* Create the state a first step would create, for every parameter that has none. */
    int (*init_state)(ag_optim *o);
    /* Load value into state entry k of parameter slot pi. NULL: ag__optim_load_copy (same
     * dtype and shape, copied in place). */
    int (*load_state)(ag_optim *o, int pi, int k, ag_tensor *value);
    /* Whether load_state takes an f64 value of this shape for entry k of slot pi although it
     * differs from the current one (checkpoint reads check shapes before anything changes).
     * NULL: only the current shape. */
    bool (*load_shape_ok)(ag_optim *o, int pi, int k, const int64_t *shape, int ndim);
    /* Free what the optimizer keeps in o->priv. NULL: nothing kept. */
    void (*free)(ag_optim *o);
} ag_optim_vtable;

struct ag_optim {
    const ag_optim_vtable *vt;
    ag_params params;          /* copied arrays; tensors retained; names strdup'ed */
    double lr;
    union {
        ag_sgd_opts sgd;
        ag_adam_opts adam;
        ag_rmsprop_opts rms;
        ag_lbfgs_opts lbfgs;
    } o;
    int nkeys;
    const char *keys[AG_OPTIM_MAX_KEYS];
    ag_optim_slot *slots;      /* one per parameter */
    double last_loss;
    void *priv;                /* the optimizer's own data (vt->free releases it) */
};

/* optim.c */
ag_optim *ag__optim_new(const ag_optim_vtable *vt, ag_params params, double lr, const char *ctor);
int ag__optim_slot_names(ag_optim *o, int i);
/* The default load_state: value (any device) copied into the entry after dtype/shape checks. */
int ag__optim_load_copy(ag_optim *o, int pi, int k, ag_tensor *value);
/* Drop every parameter's state (back to a fresh optimizer's: no entries). */
void ag__optim_clear_state(ag_optim *o);

/* Flat f64 views of a parameter list, shared by L-BFGS and the samplers: a parameter counts
 * ag_numel reals, twice that when complex (its (re, im) pairs). ag__params_write copies x into
 * the parameters (their dtype and device) under no-grad, since they are leaves that require
 * grad and in-place writes would refuse; 0 or a negative ag_status. */
int64_t ag__real_numel(const ag_tensor *t);
int ag__params_write(ag_params ps, const double *x);

#endif
