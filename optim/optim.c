/* optim/optim.c — the optimizer object: construction and validation, per-parameter state,
 * the state enumeration used by checkpoints, and the steps of SGD, Adam, AdamW and RMSprop.
 *
 * The updates themselves are one fused backend kernel per optimizer (backends/kernels.h:
 * sgd_step, adam_step, rmsprop_step) reproducing PyTorch's single-tensor formulas; this file
 * only prepares views (complex parameters as their real view, non-contiguous parameters through
 * a contiguous copy), keeps the state tensors and the step counters, and bumps versions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim_internal.h"

/* ---- option defaults --------------------------------------------------------------------- */
/* 0 means "the default"; AG_EXPLICIT_ZERO (-0.0) means an actual zero. */
static double dflt(double v, double d) {
    if (v == 0) return signbit(v) ? 0.0 : d;
    return v;
}

/* ---- construction ----------------------------------------------------------------------- */
static void optim_destroy(ag_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->params.n; i++) {
        if (o->slots) {
            for (int k = 0; k < AG_OPTIM_MAX_KEYS; k++) {
                ag__drop(o->slots[i].st[k]);
                free(o->slots[i].names[k]);
            }
        }
        if (o->params.t) ag__drop(o->params.t[i]);
        if (o->params.names) free((char *)o->params.names[i]);
    }
    free(o->slots);
    free(o->params.t);
    free((void *)o->params.names);
    free(o);
}

ag_optim *ag__optim_new(ag_optim_kind kind, const char *name, ag_params params, double lr, const char *ctor) {
    if (params.n <= 0 || !params.t)
        return ag_fail(AG_ERR_INVALID, "%s: empty parameter list", ctor);
    if (!(lr >= 0) || isinf(lr))
        return ag_fail(AG_ERR_INVALID, "%s: invalid learning rate %g (must be finite and >= 0)", ctor, lr);
    for (int i = 0; i < params.n; i++) {
        ag_tensor *p = params.t[i];
        const char *pn = params.names && params.names[i] ? params.names[i] : "";
        if (!p) return ag_fail(AG_ERR_INVALID, "%s: parameter %d%s%s is NULL", ctor, i, *pn ? " " : "", pn);
        if (!ag_dtype_is_float(p->dtype))
            return ag_fail(AG_ERR_DTYPE, "%s: parameter %d%s%s has dtype %s; expected f32, f64, c64 or c128",
                           ctor, i, *pn ? " " : "", pn, ag_dtype_name(p->dtype));
        if (!p->requires_grad)
            return ag_fail(AG_ERR_INVALID, "%s: parameter %d%s%s does not require grad", ctor, i,
                           *pn ? " " : "", pn);
        if (p->grad_fn)
            return ag_fail(AG_ERR_INVALID, "%s: parameter %d%s%s is not a leaf tensor", ctor, i, *pn ? " " : "", pn);
        for (int j = 0; j < i; j++)
            if (params.t[j] == p)
                return ag_fail(AG_ERR_INVALID, "%s: parameter %d appears twice (also at %d)", ctor, i, j);
    }
    ag_optim *o = calloc(1, sizeof *o);
    if (!o) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", ctor);
    o->kind = kind;
    o->name = name;
    o->lr = lr;
    o->last_loss = NAN;
    o->params.n = params.n;
    o->params.t = calloc((size_t)params.n, sizeof *o->params.t);
    o->slots = calloc((size_t)params.n, sizeof *o->slots);
    if (params.names) o->params.names = calloc((size_t)params.n, sizeof *o->params.names);
    if (!o->params.t || !o->slots || (params.names && !o->params.names)) {
        optim_destroy(o);
        return ag_fail(AG_ERR_NOMEM, "%s: out of memory", ctor);
    }
    for (int i = 0; i < params.n; i++) {
        o->params.t[i] = ag_retain(params.t[i]);
        if (params.names && params.names[i]) o->params.names[i] = strdup(params.names[i]);
    }
    return o;
}

ag_optim *ag_sgd(ag_params params, ag_sgd_opts opts) {
    const char *f = "ag_sgd";
    opts.lr = dflt(opts.lr, 1e-3);
    if (!(opts.momentum >= 0)) return ag_fail(AG_ERR_INVALID, "%s: invalid momentum %g (must be >= 0)", f, opts.momentum);
    if (!(opts.weight_decay >= 0))
        return ag_fail(AG_ERR_INVALID, "%s: invalid weight_decay %g (must be >= 0)", f, opts.weight_decay);
    if (!(opts.dampening >= 0 || opts.dampening < 0) )
        return ag_fail(AG_ERR_INVALID, "%s: dampening is NaN", f);
    if (opts.nesterov && (opts.momentum <= 0 || opts.dampening != 0))
        return ag_fail(AG_ERR_INVALID, "%s: nesterov momentum requires a momentum > 0 and zero dampening "
                       "(given momentum %g, dampening %g)", f, opts.momentum, opts.dampening);
    ag_optim *o = ag__optim_new(AG_OPT_SGD, "sgd", params, opts.lr, f);
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
    ag_optim *o = ag__optim_new(w ? AG_OPT_ADAMW : AG_OPT_ADAM, w ? "adamw" : "adam", params, opts.lr, f);
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
    ag_optim *o = ag__optim_new(AG_OPT_RMSPROP, "rmsprop", params, opts.lr, f);
    if (!o) return NULL;
    o->o.rms = opts;
    o->keys[o->nkeys++] = "step";
    o->keys[o->nkeys++] = "square_avg";
    if (opts.momentum > 0) o->keys[o->nkeys++] = "momentum_buffer";
    if (opts.centered) o->keys[o->nkeys++] = "grad_avg";
    return o;
}

void ag_optim_free(ag_optim *o) { optim_destroy(o); }

/* ---- accessors ---------------------------------------------------------------------------- */
double ag_optim_get_lr(const ag_optim *o) { return o ? o->lr : NAN; }
int ag_optim_set_lr(ag_optim *o, double lr) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_set_lr: NULL optimizer");
    if (!(lr >= 0) || isinf(lr))
        return ag_set_error(AG_ERR_INVALID, "ag_optim_set_lr: invalid learning rate %g (must be finite and >= 0)", lr);
    o->lr = lr;
    return 0;
}
const char *ag_optim_name(const ag_optim *o) { return o ? o->name : NULL; }
ag_params ag_optim_params(const ag_optim *o) {
    if (!o) return (ag_params){0};
    return o->params;
}
double ag_optim_last_loss(const ag_optim *o) { return o ? o->last_loss : NAN; }

void ag_optim_zero_grad(ag_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->params.n; i++) ag_zero_grad(o->params.t[i]);
}

/* ---- state ------------------------------------------------------------------------------ */
int ag__optim_slot_names(ag_optim *o, int i) {
    for (int k = 0; k < o->nkeys; k++) {
        if (o->slots[i].names[k]) continue;
        size_t n = strlen(o->keys[k]) + 24;
        o->slots[i].names[k] = malloc(n);
        if (!o->slots[i].names[k]) return ag_set_error(AG_ERR_NOMEM, "optimizer state: out of memory");
        snprintf(o->slots[i].names[k], n, "%d.%s", i, o->keys[k]);
    }
    return 0;
}

/* Create parameter i's state as a first step would (zeros, step 0). */
static int slot_init(ag_optim *o, int i) {
    ag_optim_slot *s = &o->slots[i];
    if (s->has_state) return 0;
    int rc = ag__optim_slot_names(o, i);
    if (rc) return rc;
    ag_tensor *p = o->params.t[i];
    for (int k = 0; k < o->nkeys; k++) {
        ag_tensor *t;
        if (!strcmp(o->keys[k], "step")) t = ag_scalar(0.0, AG_F64);
        else {
            t = ag__new(p->shape, p->ndim, p->dtype, p->storage->dev, "optimizer state");
            if (t) {
                ag_kview v = ag__view(t);
                const ag_kernels *kt = ag__kernels(t);
                if (kt->fill(&v, 0, 0)) { ag__drop(t); t = NULL; }
            }
        }
        if (!t) {
            for (int j = 0; j < k; j++) { ag__drop(s->st[j]); s->st[j] = NULL; }
            return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_NOMEM, "optimizer state: out of memory");
        }
        if (t->scope_depth) ag__unscope(t);
        s->st[k] = t;
    }
    s->has_state = true;
    return 0;
}

int ag_optim_init_state(ag_optim *o) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_init_state: NULL optimizer");
    if (o->kind == AG_OPT_LBFGS) return ag__lbfgs_init_state(o);
    for (int i = 0; i < o->params.n; i++) {
        int rc = slot_init(o, i);
        if (rc) return rc;
    }
    return 0;
}

int ag_optim_num_state(const ag_optim *o) {
    if (!o) return 0;
    int n = 0;
    for (int i = 0; i < o->params.n; i++)
        if (o->slots[i].has_state) n += o->nkeys;
    return n;
}

static bool state_locate(const ag_optim *o, int idx, int *pi, int *pk) {
    if (idx < 0) return false;
    for (int i = 0; i < o->params.n; i++) {
        if (!o->slots[i].has_state) continue;
        if (idx < o->nkeys) { *pi = i; *pk = idx; return true; }
        idx -= o->nkeys;
    }
    return false;
}

ag_tensor *ag_optim_state_at(ag_optim *o, int i, const char **name) {
    if (!o) return ag_fail(AG_ERR_INVALID, "ag_optim_state_at: NULL optimizer");
    int pi, k;
    if (!state_locate(o, i, &pi, &k))
        return ag_fail(AG_ERR_INDEX, "ag_optim_state_at: index %d out of range [0, %d)", i, ag_optim_num_state(o));
    if (name) *name = o->slots[pi].names[k];
    return o->slots[pi].st[k];
}

int ag_optim_find_state(const ag_optim *o, const char *name) {
    if (!o || !name) return -1;
    int idx = 0;
    for (int i = 0; i < o->params.n; i++) {
        if (!o->slots[i].has_state) continue;
        for (int k = 0; k < o->nkeys; k++, idx++)
            if (!strcmp(o->slots[i].names[k], name)) return idx;
    }
    return -1;
}

int ag_optim_load_state_at(ag_optim *o, int i, ag_tensor *value) {
    const char *f = "ag_optim_load_state_at";
    if (!o || !value) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL argument", f);
    int pi, k;
    if (!state_locate(o, i, &pi, &k))
        return ag_set_error(AG_ERR_INDEX, "%s: index %d out of range [0, %d)%s", f, i, ag_optim_num_state(o),
                            ag_optim_num_state(o) == 0 ? " (call ag_optim_init_state before loading)" : "");
    int hr = ag__lbfgs_load_hist(o, k, value);
    if (hr) return hr < 0 ? hr : 0;
    ag_tensor *dst = o->slots[pi].st[k];
    const char *nm = o->slots[pi].names[k];
    if (value->dtype != dst->dtype)
        return ag_set_error(AG_ERR_DTYPE, "%s: state '%s' has dtype %s, given %s", f, nm, ag_dtype_name(dst->dtype),
                            ag_dtype_name(value->dtype));
    if (value->ndim != dst->ndim || memcmp(value->shape, dst->shape, (size_t)dst->ndim * sizeof(int64_t)))
        return ag_set_error(AG_ERR_SHAPE, "%s: state '%s' has shape %s, given %s", f, nm, AG_SHP(dst), AG_SHP(value));
    ag_tensor *src = value, *moved = NULL;
    if (src->storage->dev.kind != dst->storage->dev.kind || src->storage->dev.index != dst->storage->dev.index) {
        moved = ag_to(value, dst->storage->dev);
        if (!moved) return ag_error_code();
        src = moved;
    }
    ag_no_grad_begin();
    int rc = ag_copy_(dst, src);
    ag_no_grad_end();
    ag_release(moved);
    return rc;
}

/* ---- stepping ----------------------------------------------------------------------------- */
/* Real 1-d view of a contiguous tensor (complex -> 2n reals). */
static ag_kview flat_real(const ag_tensor *t) {
    ag_kview v = ag__view(t);
    bool c = ag_dtype_is_complex(t->dtype);
    v.dtype = ag_dtype_to_real(t->dtype);
    v.ndim = 1;
    v.shape[0] = ag__numel(t->shape, t->ndim) * (c ? 2 : 1);
    v.strides[0] = 1;
    return v;
}

static int step_param(ag_optim *o, int i, const char *f) {
    ag_tensor *p = o->params.t[i];
    ag_tensor *g = p->grad;
    if (!g) return 0;
    if (g->dtype != p->dtype)
        return ag_set_error(AG_ERR_DTYPE, "%s: parameter %d has dtype %s but its grad %s", f, i,
                            ag_dtype_name(p->dtype), ag_dtype_name(g->dtype));
    if (g->ndim != p->ndim || memcmp(g->shape, p->shape, (size_t)p->ndim * sizeof(int64_t)))
        return ag_set_error(AG_ERR_SHAPE, "%s: parameter %d has shape %s but its grad %s", f, i, AG_SHP(p), AG_SHP(g));
    if (!ag__same_device(f, p, g)) return ag_error_code();
    ag_optim_slot *s = &o->slots[i];
    bool first = !s->has_state;
    int rc = slot_init(o, i);
    if (rc) return rc;
    const ag_kernels *k = ag__kernels(p);
    ag_tensor *gc = ag_contiguous(g), *pc = ag_contiguous(p);
    if (gc && gc->scope_depth) ag__unscope(gc);
    if (pc && pc->scope_depth) ag__unscope(pc);
    if (!gc || !pc) { ag__drop(gc); ag__drop(pc); return ag_error_code(); }
    ag_kview pv = flat_real(pc), gv = flat_real(gc), none = {0};
    ag_kview sv[AG_OPTIM_MAX_KEYS];
    for (int j = 0; j < o->nkeys; j++) sv[j] = strcmp(o->keys[j], "step") ? flat_real(s->st[j]) : none;
    double h[12] = {0};
    switch (o->kind) {
    case AG_OPT_SGD: {
        const ag_sgd_opts *q = &o->o.sgd;
        h[0] = o->lr; h[1] = q->momentum; h[2] = q->dampening; h[3] = q->weight_decay;
        h[4] = q->nesterov; h[5] = q->maximize; h[6] = first;
        if (!k->sgd_step) rc = ag_set_error(AG_ERR_NOTIMPL, "%s: no sgd_step kernel on the %s backend", f, k->name);
        else rc = k->sgd_step(&pv, &gv, q->momentum != 0 ? &sv[0] : &none, h);
        break;
    }
    case AG_OPT_ADAM: case AG_OPT_ADAMW: {
        const ag_adam_opts *q = &o->o.adam;
        double *step = (double *)ag_data(s->st[0]);
        h[0] = o->lr; h[1] = q->beta1; h[2] = q->beta2; h[3] = q->eps; h[4] = q->weight_decay;
        h[5] = *step + 1; h[6] = q->amsgrad; h[7] = q->maximize; h[8] = o->kind == AG_OPT_ADAMW;
        if (!k->adam_step) rc = ag_set_error(AG_ERR_NOTIMPL, "%s: no adam_step kernel on the %s backend", f, k->name);
        else rc = k->adam_step(&pv, &gv, &sv[1], &sv[2], q->amsgrad ? &sv[3] : &none, h);
        if (!rc) { *step += 1; ag__bump_version(s->st[0]); }
        break;
    }
    case AG_OPT_RMSPROP: {
        const ag_rmsprop_opts *q = &o->o.rms;
        double *step = (double *)ag_data(s->st[0]);
        int j = 2;
        const ag_kview *mb = &none, *ga = &none;
        if (q->momentum > 0) mb = &sv[j++];
        if (q->centered) ga = &sv[j++];
        h[0] = o->lr; h[1] = q->alpha; h[2] = q->eps; h[3] = q->weight_decay; h[4] = q->momentum;
        h[5] = q->centered; h[6] = q->maximize;
        if (!k->rmsprop_step) rc = ag_set_error(AG_ERR_NOTIMPL, "%s: no rmsprop_step kernel on the %s backend", f, k->name);
        else rc = k->rmsprop_step(&pv, &gv, &sv[1], ga, mb, h);
        if (!rc) { *step += 1; ag__bump_version(s->st[0]); }
        break;
    }
    default:
        rc = ag_set_error(AG_ERR_INVALID, "%s: not a first-order optimizer", f);
    }
    if (!rc) {
        for (int j = 0; j < o->nkeys; j++) ag__bump_version(s->st[j]);
        if (pc != p) {
            ag_no_grad_begin();
            rc = ag_copy_(p, pc);
            ag_no_grad_end();
        } else {
            ag__bump_version(p);
        }
        if (!rc && ag__anomaly()) ag__check_anomaly(f, p, "the optimizer update");
    }
    ag__drop(gc);
    ag__drop(pc);
    return rc ? rc : (ag_failed() ? ag_error_code() : 0);
}

int ag_optim_step(ag_optim *o) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_step: NULL optimizer");
    if (o->kind == AG_OPT_LBFGS)
        return ag_set_error(AG_ERR_INVALID, "ag_optim_step: L-BFGS needs a closure that recomputes the loss; "
                            "use ag_optim_step_closure");
    if (ag_failed()) return ag_error_code();
    ag_no_grad_begin();
    int rc = 0;
    for (int i = 0; i < o->params.n && !rc; i++) rc = step_param(o, i, "ag_optim_step");
    ag_no_grad_end();
    return rc;
}

int ag_optim_step_closure(ag_optim *o, ag_closure_fn closure, void *ud) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_step_closure: NULL optimizer");
    if (!closure)
        return ag_set_error(AG_ERR_INVALID, "ag_optim_step_closure: closure is NULL%s",
                            o->kind == AG_OPT_LBFGS ? " (L-BFGS needs a closure that recomputes the loss)" : "");
    if (o->kind == AG_OPT_LBFGS) return ag__lbfgs_step(o, closure, ud);
    ag_tensor *loss = closure(ud);
    if (!loss)
        return ag_failed() ? ag_error_code()
                           : ag_set_error(AG_ERR_INVALID, "ag_optim_step_closure: the closure returned NULL");
    o->last_loss = ag_item(loss);
    ag_release(loss);
    return ag_optim_step(o);
}
