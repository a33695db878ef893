/* optim/optim_internal.h — the optimizer struct shared by the files of optim/. Private. */
#ifndef AG_OPTIM_INTERNAL_H
#define AG_OPTIM_INTERNAL_H

#include "astrograd/optim.h"
#include "tensor/internal.h"

#define AG_OPTIM_MAX_KEYS 12

typedef enum ag_optim_kind { AG_OPT_SGD, AG_OPT_ADAM, AG_OPT_ADAMW, AG_OPT_RMSPROP, AG_OPT_LBFGS } ag_optim_kind;

typedef struct ag_optim_slot {
    bool has_state;
    ag_tensor *st[AG_OPTIM_MAX_KEYS];   /* owned */
    char *names[AG_OPTIM_MAX_KEYS];     /* "<i>.<key>" */
} ag_optim_slot;

struct ag_optim {
    ag_optim_kind kind;
    const char *name;
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
    int64_t lbfgs_n;           /* total real numel (L-BFGS) */
};

/* optim.c */
ag_optim *ag__optim_new(ag_optim_kind kind, const char *name, ag_params params, double lr, const char *ctor);
int ag__optim_slot_names(ag_optim *o, int i);
/* lbfgs.c */
int ag__lbfgs_init_state(ag_optim *o);
int ag__lbfgs_step(ag_optim *o, ag_closure_fn closure, void *ud);
/* 1 when it replaced history entry k with value (another number of rows), 0 if not applicable */
int ag__lbfgs_load_hist(ag_optim *o, int k, ag_tensor *value);

#endif
