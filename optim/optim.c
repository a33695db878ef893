/* optim/optim.c — the optimizer object: construction and validation of the parameter list,
 * accessors, the named per-parameter state and its enumeration (checkpoints), and dispatch
 * through the optimizer's vtable. The optimizers themselves: optim/first_order.c (SGD, Adam,
 * AdamW, RMSprop) and optim/lbfgs.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim_internal.h"

/* ---- construction ----------------------------------------------------------------------- */
static void optim_destroy(ag_optim *o) {
    if (!o) return;
    if (o->vt && o->vt->free) o->vt->free(o);
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

ag_optim *ag__optim_new(const ag_optim_vtable *vt, ag_params params, double lr, const char *ctor) {
    if (params.n <= 0 || !params.t)
        return ag_fail(AG_ERR_INVALID, "%s: empty parameter list", ctor);
    if (!(lr >= 0) || isinf(lr))
        return ag_fail(AG_ERR_INVALID, "%s: invalid learning rate %g (must be finite and >= 0)", ctor, lr);
    for (int i = 0; i < params.n; i++) {
        ag_tensor *p = params.t[i];
        const char *pn = params.names && params.names[i] ? params.names[i] : "";
        if (!p) return ag_fail(AG_ERR_INVALID, "%s: parameter %d%s%s is NULL", ctor, i, *pn ? " " : "", pn);
        if (!ag_dtype_is_float(ag_dtype_of(p)))
            return ag_fail(AG_ERR_DTYPE, "%s: parameter %d%s%s has dtype %s; expected f32, f64, c64 or c128",
                           ctor, i, *pn ? " " : "", pn, ag_dtype_name(ag_dtype_of(p)));
        if (!ag_requires_grad(p))
            return ag_fail(AG_ERR_INVALID, "%s: parameter %d%s%s does not require grad", ctor, i,
                           *pn ? " " : "", pn);
        if (!ag_is_leaf(p))
            return ag_fail(AG_ERR_INVALID, "%s: parameter %d%s%s is not a leaf tensor", ctor, i, *pn ? " " : "", pn);
        for (int j = 0; j < i; j++)
            if (params.t[j] == p)
                return ag_fail(AG_ERR_INVALID, "%s: parameter %d appears twice (also at %d)", ctor, i, j);
    }
    ag_optim *o = calloc(1, sizeof *o);
    if (!o) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", ctor);
    o->vt = vt;
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
const char *ag_optim_name(const ag_optim *o) { return o ? o->vt->name : NULL; }
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

void ag__optim_clear_state(ag_optim *o) {
    for (int i = 0; i < o->params.n; i++) {
        for (int k = 0; k < AG_OPTIM_MAX_KEYS; k++) {
            ag__drop(o->slots[i].st[k]);
            o->slots[i].st[k] = NULL;
        }
        o->slots[i].has_state = false;
    }
}

int ag_optim_init_state(ag_optim *o) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_init_state: NULL optimizer");
    return o->vt->init_state(o);
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

int ag__optim_load_copy(ag_optim *o, int pi, int k, ag_tensor *value) {
    const char *f = "ag_optim_load_state_at";
    ag_tensor *dst = o->slots[pi].st[k];
    const char *nm = o->slots[pi].names[k];
    if (ag_dtype_of(value) != ag_dtype_of(dst))
        return ag_set_error(AG_ERR_DTYPE, "%s: state '%s' has dtype %s, given %s", f, nm, ag_dtype_name(ag_dtype_of(dst)),
                            ag_dtype_name(ag_dtype_of(value)));
    if (ag_ndim(value) != ag_ndim(dst) || memcmp(ag_shape(value), ag_shape(dst), (size_t)ag_ndim(dst) * sizeof(int64_t)))
        return ag_set_error(AG_ERR_SHAPE, "%s: state '%s' has shape %s, given %s", f, nm, AG_SHP(dst), AG_SHP(value));
    ag_tensor *src = value, *moved = NULL;
    ag_device dd = ag_device_of(dst), vd = ag_device_of(value);
    if (vd.kind != dd.kind || vd.index != dd.index) {
        moved = ag_to(value, dd);
        if (!moved) return ag_error_code();
        src = moved;
    }
    ag_no_grad_begin();
    int rc = ag_copy_(dst, src);
    ag_no_grad_end();
    ag_release(moved);
    return rc;
}

int ag_optim_load_state_at(ag_optim *o, int i, ag_tensor *value) {
    const char *f = "ag_optim_load_state_at";
    if (!o || !value) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: NULL argument", f);
    int pi, k;
    if (!state_locate(o, i, &pi, &k))
        return ag_set_error(AG_ERR_INDEX, "%s: index %d out of range [0, %d)%s", f, i, ag_optim_num_state(o),
                            ag_optim_num_state(o) == 0 ? " (call ag_optim_init_state before loading)" : "");
    return o->vt->load_state ? o->vt->load_state(o, pi, k, value) : ag__optim_load_copy(o, pi, k, value);
}

/* ---- stepping ----------------------------------------------------------------------------- */
int ag_optim_step(ag_optim *o) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_step: NULL optimizer");
    if (!o->vt->step)
        return ag_set_error(AG_ERR_INVALID, "ag_optim_step: %s needs a closure that recomputes the loss; "
                            "use ag_optim_step_closure", o->vt->name);
    if (ag_failed()) return ag_error_code();
    return o->vt->step(o);
}

int ag_optim_step_closure(ag_optim *o, ag_closure_fn closure, void *ud) {
    if (!o) return ag_set_error(AG_ERR_INVALID, "ag_optim_step_closure: NULL optimizer");
    if (!closure)
        return ag_set_error(AG_ERR_INVALID, "ag_optim_step_closure: closure is NULL%s",
                            o->vt->step_closure ? " (this optimizer needs a closure that recomputes the loss)" : "");
    if (o->vt->step_closure) return o->vt->step_closure(o, closure, ud);
    ag_scope_begin(); /* the closure's temporaries go at once, as in ag_lbfgs */
    ag_tensor *loss = closure(ud);
    if (loss) o->last_loss = ag_item(loss);
    ag_release(loss);
    ag_scope_end();
    if (!loss)
        return ag_failed() ? ag_error_code()
                           : ag_set_error(AG_ERR_INVALID, "ag_optim_step_closure: the closure returned NULL");
    return ag_optim_step(o);
}

int64_t ag__real_numel(const ag_tensor *t) {
    return ag_numel(t) * (ag_dtype_is_complex(ag_dtype_of(t)) ? 2 : 1);
}

int ag__params_write(ag_params ps, const double *x) {
    int64_t off = 0;
    int rc = 0;
    ag_no_grad_begin();
    for (int i = 0; i < ps.n && !rc; i++) {
        ag_tensor *p = ps.t[i];
        /* the host values, uploaded to the parameter's device */
        ag_tensor *h = ag_from_data_on(x + off, ag_shape(p), ag_ndim(p),
                                       ag_dtype_is_complex(ag_dtype_of(p)) ? AG_C128 : AG_F64, ag_device_of(p));
        rc = h ? ag_copy_(p, h) : ag_error_code();
        ag_release(h);
        off += ag__real_numel(p);
    }
    ag_no_grad_end();
    return rc;
}
