/* optim/first_order.c — SGD, Adam, AdamW and RMSprop: option checks, their state keys, and a
 * step that runs one fused tensor-level update per parameter (tensor/ops_internal.h) reproducing
 * PyTorch's single-tensor formulas. This file keeps what the update op does not: the lazily
 * created state, the step counters, and the contiguous copy a strided parameter is updated
 * through (written back afterwards, which bumps the parameter's version). */
#include <math.h>
#include <string.h>

#include "optim/optim_internal.h"

/* 0 means "the default"; AG_EXPLICIT_ZERO (-0.0) means an actual zero. */
static double dflt(double v, double d) {
    if (v == 0) return signbit(v) ? 0.0 : d;
    return v;
}

/* ---- state ------------------------------------------------------------------------------ */
/* Create parameter i's state as a first step would (zeros, step 0). */
static int slot_init(ag_optim *o, int i) {
    ag_optim_slot *s = &o->slots[i];
    if (s->has_state) return 0;
    int rc = ag__optim_slot_names(o, i);
    if (rc) return rc;
    ag_tensor *p = o->params.t[i];
    for (int k = 0; k < o->nkeys; k++) {
        /* state lives with the parameter (its device, dtype, shape); the step count on the host */
        ag_tensor *t = !strcmp(o->keys[k], "step") ? ag_scalar(0.0, AG_F64) /* host */ : ag_zeros_like(p);
        if (!t) {
            for (int j = 0; j < k; j++) { ag__drop(s->st[j]); s->st[j] = NULL; }
            return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_NOMEM, "optimizer state: out of memory");
        }
        /* the optimizer owns it: a scope the caller has open must not free it */
        ag__unscope(t);
        s->st[k] = t;
    }
    s->has_state = true;
    return 0;
}

static int first_order_init_state(ag_optim *o) {
    for (int i = 0; i < o->params.n; i++) {
        int rc = slot_init(o, i);
        if (rc) return rc;
    }
    return 0;
}

/* ---- stepping ----------------------------------------------------------------------------- */
/* The update of one parameter: p (contiguous), g (contiguous), st = its state tensors in key
 * order, first = the state was created for this step. */
typedef int (*update_fn)(ag_optim *o, ag_tensor *p, ag_tensor *g, ag_tensor *const *st, bool first);

static int step_param(ag_optim *o, int i, update_fn update, const char *f) {
    ag_tensor *p = o->params.t[i];
    ag_tensor *g = ag_grad_of(p);
    if (!g) return 0;
    if (ag_dtype_of(g) != ag_dtype_of(p))
        return ag_set_error(AG_ERR_DTYPE, "%s: parameter %d has dtype %s but its grad %s", f, i,
                            ag_dtype_name(ag_dtype_of(p)), ag_dtype_name(ag_dtype_of(g)));
    if (ag_ndim(g) != ag_ndim(p) || memcmp(ag_shape(g), ag_shape(p), (size_t)ag_ndim(p) * sizeof(int64_t)))
        return ag_set_error(AG_ERR_SHAPE, "%s: parameter %d has shape %s but its grad %s", f, i, AG_SHP(p), AG_SHP(g));
    if (!ag__same_device(f, p, g)) return ag_error_code();
    bool first = !o->slots[i].has_state;
    int rc = slot_init(o, i);
    if (rc) return rc;
    ag_tensor *gc = ag_contiguous(g), *pc = ag_contiguous(p);
    ag__unscope(gc); /* no-op for NULL or an unscoped tensor */
    ag__unscope(pc);
    if (!gc || !pc) { ag__drop(gc); ag__drop(pc); return ag_error_code(); }
    rc = update(o, pc, gc, o->slots[i].st, first);
    if (!rc && pc != p) rc = ag_copy_(p, pc); /* bumps p's version: a graph that saved p sees it */
    ag__drop(gc);
    ag__drop(pc);
    return rc ? rc : (ag_failed() ? ag_error_code() : 0);
}

static int step_all(ag_optim *o, update_fn update) {
    ag_no_grad_begin();
    int rc = 0;
    for (int i = 0; i < o->params.n && !rc; i++) rc = step_param(o, i, update, "ag_optim_step");
    ag_no_grad_end();
    return rc;
}

/* step: state "step" (0-d f64 on the host); the update sees the count including itself */
static int count_step(ag_tensor *step, int rc) {
    return rc ? rc : ag_fill_(step, ag_item(step) + 1);
}

static int sgd_update(ag_optim *o, ag_tensor *p, ag_tensor *g, ag_tensor *const *st, bool first) {
    const ag_sgd_opts *q = &o->o.sgd;
    double h[7] = {o->lr, q->momentum, q->dampening, q->weight_decay, q->nesterov, q->maximize, first};
    return ag__sgd_update_(p, g, q->momentum != 0 ? st[0] : NULL, h);
}
static int adam_update(ag_optim *o, ag_tensor *p, ag_tensor *g, ag_tensor *const *st, bool decoupled) {
    const ag_adam_opts *q = &o->o.adam;
    double h[9] = {o->lr, q->beta1, q->beta2, q->eps, q->weight_decay, ag_item(st[0]) + 1, q->amsgrad, q->maximize,
                   decoupled};
    return count_step(st[0], ag__adam_update_(p, g, st[1], st[2], q->amsgrad ? st[3] : NULL, h));
}
static int adam_upd(ag_optim *o, ag_tensor *p, ag_tensor *g, ag_tensor *const *st, bool first) {
    (void)first;
    return adam_update(o, p, g, st, false);
}
static int adamw_upd(ag_optim *o, ag_tensor *p, ag_tensor *g, ag_tensor *const *st, bool first) {
    (void)first;
    return adam_update(o, p, g, st, true);
}
static int rmsprop_update(ag_optim *o, ag_tensor *p, ag_tensor *g, ag_tensor *const *st, bool first) {
    (void)first;
    const ag_rmsprop_opts *q = &o->o.rms;
    int j = 2; /* keys: step, square_avg, [momentum_buffer], [grad_avg] */
    ag_tensor *mb = q->momentum > 0 ? st[j++] : NULL;
    ag_tensor *ga = q->centered ? st[j++] : NULL;
    double h[7] = {o->lr, q->alpha, q->eps, q->weight_decay, q->momentum, q->centered, q->maximize};
    return count_step(st[0], ag__rmsprop_update_(p, g, st[1], ga, mb, h));
}

static int sgd_step(ag_optim *o) { return step_all(o, sgd_update); }
static int adam_step(ag_optim *o) { return step_all(o, adam_upd); }
static int adamw_step(ag_optim *o) { return step_all(o, adamw_upd); }
static int rmsprop_step(ag_optim *o) { return step_all(o, rmsprop_update); }

static const ag_optim_vtable sgd_vt = {.name = "sgd", .step = sgd_step, .init_state = first_order_init_state};
static const ag_optim_vtable adam_vt = {.name = "adam", .step = adam_step, .init_state = first_order_init_state};
static const ag_optim_vtable adamw_vt = {.name = "adamw", .step = adamw_step, .init_state = first_order_init_state};
static const ag_optim_vtable rmsprop_vt = {.name = "rmsprop", .step = rmsprop_step, .init_state = first_order_init_state};

/* ---- constructors ------------------------------------------------------------------------ */
ag_optim *ag_sgd(ag_params params, ag_sgd_opts opts) {
    const char *f = "ag_sgd";
    opts.lr = dflt(opts.lr, 1e-3);
    if (!(opts.momentum >= 0)) return ag_fail(AG_ERR_INVALID, "%s: invalid momentum %g (must be >= 0)", f, opts.momentum);
    if (!(opts.weight_decay >= 0))
        return ag_fail(AG_ERR_INVALID, "%s: invalid weight_decay %g (must be >= 0)", f, opts.weight_decay);
    if (isnan(opts.dampening)) return ag_fail(AG_ERR_INVALID, "%s: dampening is NaN", f);
    if (opts.nesterov && (opts.momentum <= 0 || opts.dampening != 0))
        return ag_fail(AG_ERR_INVALID, "%s: nesterov momentum requires a momentum > 0 and zero dampening "
                       "(given momentum %g, dampening %g)", f, opts.momentum, opts.dampening);
    ag_optim *o = ag__optim_new(&sgd_vt, params, opts.lr, f);
    if (!o) return NULL;
    o->o.sgd = opts;
    if (opts.momentum != 0) o->keys[o->nkeys++] = "momentum_buffer";
    return o;
}

static ag_optim *adam_common(ag_params params, ag_adam_opts opts, bool w) {
    const char *f = w ? "ag_adamw" : "ag_adam";
    opts.lr = dflt(opts.lr, 1e-3);
    opts.beta1 = dflt(opts.beta1, 0.9);
    opts.beta2 = dflt(opts.beta2, 0.999);
    opts.eps = dflt(opts.eps, 1e-8);
    if (w) opts.weight_decay = dflt(opts.weight_decay, 1e-2);
    if (!(opts.eps >= 0)) return ag_fail(AG_ERR_INVALID, "%s: invalid epsilon %g (must be >= 0)", f, opts.eps);
    if (!(opts.beta1 >= 0 && opts.beta1 < 1))
        return ag_fail(AG_ERR_INVALID, "%s: invalid beta1 %g (must be in [0, 1))", f, opts.beta1);
    if (!(opts.beta2 >= 0 && opts.beta2 < 1))
        return ag_fail(AG_ERR_INVALID, "%s: invalid beta2 %g (must be in [0, 1))", f, opts.beta2);
    if (!(opts.weight_decay >= 0))
        return ag_fail(AG_ERR_INVALID, "%s: invalid weight_decay %g (must be >= 0)", f, opts.weight_decay);
    ag_optim *o = ag__optim_new(w ? &adamw_vt : &adam_vt, params, opts.lr, f);
    if (!o) return NULL;
    o->o.adam = opts;
    o->keys[o->nkeys++] = "step";
    o->keys[o->nkeys++] = "exp_avg";
    o->keys[o->nkeys++] = "exp_avg_sq";
    if (opts.amsgrad) o->keys[o->nkeys++] = "max_exp_avg_sq";
    return o;
}
ag_optim *ag_adam(ag_params params, ag_adam_opts opts) { return adam_common(params, opts, false); }
ag_optim *ag_adamw(ag_params params, ag_adam_opts opts) { return adam_common(params, opts, true); }

ag_optim *ag_rmsprop(ag_params params, ag_rmsprop_opts opts) {
    const char *f = "ag_rmsprop";
    opts.lr = dflt(opts.lr, 1e-2);
    opts.alpha = dflt(opts.alpha, 0.99);
    opts.eps = dflt(opts.eps, 1e-8);
    if (!(opts.eps >= 0)) return ag_fail(AG_ERR_INVALID, "%s: invalid epsilon %g (must be >= 0)", f, opts.eps);
    if (!(opts.alpha >= 0 && opts.alpha <= 1))
        return ag_fail(AG_ERR_INVALID, "%s: invalid alpha %g (must be in [0, 1])", f, opts.alpha);
    if (!(opts.momentum >= 0)) return ag_fail(AG_ERR_INVALID, "%s: invalid momentum %g (must be >= 0)", f, opts.momentum);
    if (!(opts.weight_decay >= 0))
        return ag_fail(AG_ERR_INVALID, "%s: invalid weight_decay %g (must be >= 0)", f, opts.weight_decay);
    ag_optim *o = ag__optim_new(&rmsprop_vt, params, opts.lr, f);
    if (!o) return NULL;
    o->o.rms = opts;
    o->keys[o->nkeys++] = "step";
    o->keys[o->nkeys++] = "square_avg";
    if (opts.momentum > 0) o->keys[o->nkeys++] = "momentum_buffer";
    if (opts.centered) o->keys[o->nkeys++] = "grad_avg";
    return o;
}
