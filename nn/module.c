/* nn/module.c — the module tree: named parameters (optionally constrained, with priors),
 * buffers and children; recursive listings for optimizers and checkpoints; train/eval,
 * device/dtype moves, printing. Everything here uses the public tensor API; the only
 * internals used are ag__unscope (to take over a reference a scope holds) and ag__identity. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/nn.h"
#include "nn/internal.h"
#include "tensor/layer.h"

typedef struct slot {
    char *name;
    ag_tensor *t;
    ag_transform tr;     /* parameters only */
    bool has_prior;
    ag_prior prior;
} slot;

typedef struct kid { char *name; ag_module *m; } kid;

/* a cached recursive listing (ag_params arrays and the name strings they point to) */
typedef struct listing { ag_tensor **t; const char **names; int n; uint64_t ver; bool valid; } listing;

struct ag_module {
    const ag_module_class *cls;
    void *self;
    ag_module *parent;
    slot *params, *bufs;
    int n_params, n_bufs, cap_params, cap_bufs;
    kid *kids;
    int n_kids, cap_kids;
    bool training;
    char *extra;
    uint64_t ver;              /* structure version; bumped up the tree on every change */
    listing lp, lb;
};

static atomic_ullong version_counter = 1;

static void bump(ag_module *m) {
    uint64_t v = atomic_fetch_add(&version_counter, 1) + 1;
    for (; m; m = m->parent) m->ver = v;
}

/* fail with `code` unless an error is already recorded (a NULL argument from a failed call) */
static int pass_or_fail(const char *fn, const char *what) {
    if (ag_failed()) return ag_error_code();
    return ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, what);
}

ag_module *ag_module_new(const ag_module_class *cls) {
    if (!cls) return ag_fail(AG_ERR_INVALID, "ag_module_new: NULL class");
    if (!cls->name || !cls->forward)
        return ag_fail(AG_ERR_INVALID, "ag_module_new: the class needs a name and a forward function");
    ag_module *m = calloc(1, sizeof *m);
    if (!m) return ag_fail(AG_ERR_NOMEM, "ag_module_new: out of memory");
    if (cls->self_size && !(m->self = calloc(1, cls->self_size))) {
        free(m);
        return ag_fail(AG_ERR_NOMEM, "ag_module_new: out of memory");
    }
    m->cls = cls;
    m->training = true;
    m->ver = atomic_fetch_add(&version_counter, 1) + 1;
    return m;
}

static void listing_clear(listing *l) {
    for (int i = 0; i < l->n; i++) free((char *)l->names[i]);
    free(l->t);
    free(l->names);
    memset(l, 0, sizeof *l);
}

void ag_module_free(ag_module *m) {
    if (!m) return;
    if (m->cls->free) m->cls->free(m);
    for (int i = 0; i < m->n_kids; i++) {
        m->kids[i].m->parent = NULL;
        ag_module_free(m->kids[i].m);
        free(m->kids[i].name);
    }
    for (int i = 0; i < m->n_params; i++) { ag__drop(m->params[i].t); free(m->params[i].name); }
    for (int i = 0; i < m->n_bufs; i++) { ag__drop(m->bufs[i].t); free(m->bufs[i].name); }
    listing_clear(&m->lp);
    listing_clear(&m->lb);
    free(m->params);
    free(m->bufs);
    free(m->kids);
    free(m->extra);
    free(m->self);
    free(m);
}

void *ag_module_self(ag_module *m) { return m ? m->self : NULL; }
const char *ag_module_type(const ag_module *m) { return m ? m->cls->name : NULL; }

ag_tensor *ag_forward(ag_module *m, ag_tensor *x) {
    if (!m) { pass_or_fail("ag_forward", "module"); return NULL; }
    ag_scope_begin();
    ag_tensor *r = m->cls->forward(m, x);
    if (r) ag_keep(r);
    ag_scope_end();
    if (!r && !ag_failed() && x)
        ag_set_error(AG_ERR_INVALID, "ag_forward: %s's forward returned NULL without an error", m->cls->name);
    return r;
}

/* ---- registration ------------------------------------------------------------------------ */

static bool name_taken(const ag_module *m, const char *name) {
    for (int i = 0; i < m->n_params; i++) if (!strcmp(m->params[i].name, name)) return true;
    for (int i = 0; i < m->n_bufs; i++) if (!strcmp(m->bufs[i].name, name)) return true;
    for (int i = 0; i < m->n_kids; i++) if (!strcmp(m->kids[i].name, name)) return true;
    return false;
}

static int check_name(const char *fn, const ag_module *m, const char *name) {
    if (!name || !*name) return ag_set_error(AG_ERR_INVALID, "%s: expected a non-empty name", fn);
    if (strchr(name, '.')) return ag_set_error(AG_ERR_INVALID, "%s: name '%s' contains '.'; add a child module instead", fn, name);
    if (strchr(name, '/')) return ag_set_error(AG_ERR_INVALID, "%s: name '%s' contains '/'", fn, name);
    if (name_taken(m, name)) return ag_set_error(AG_ERR_INVALID, "%s: %s already has a member named '%s'", fn, m->cls->name, name);
    return 0;
}

/* take over the caller's reference (also from a scope) */
static ag_tensor *adopt(ag_tensor *t) {
    ag__unscope(t);
    return t;
}

static int grow(void **arr, int *cap, int n, size_t sz) {
    if (n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, (size_t)nc * sz);
    if (!p) return ag_set_error(AG_ERR_NOMEM, "ag_module: out of memory");
    *arr = p;
    *cap = nc;
    return 0;
}

static int add_slot(const char *fn, ag_module *m, const char *name, ag_tensor *t, bool param, ag_transform tr) {
    if (!m || !t) {
        int rc = pass_or_fail(fn, m ? "tensor" : "module");
        if (t) ag_release(t);
        return rc;
    }
    adopt(t);
    int rc = check_name(fn, m, name);
    if (!rc && param) {
        if (!ag_dtype_is_float(ag_dtype_of(t)))
            rc = ag_set_error(AG_ERR_DTYPE, "%s: parameter '%s' must be floating point, given %s", fn, name,
                              ag_dtype_name(ag_dtype_of(t)));
        else if (!ag_is_leaf(t))
            rc = ag_set_error(AG_ERR_AUTOGRAD, "%s: parameter '%s' must be a leaf tensor (pass ag_detach(t))", fn, name);
    }
    if (!rc) rc = param ? grow((void **)&m->params, &m->cap_params, m->n_params, sizeof(slot))
                        : grow((void **)&m->bufs, &m->cap_bufs, m->n_bufs, sizeof(slot));
    char *nm = rc ? NULL : strdup(name);
    if (!rc && !nm) rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (rc) { ag__drop(t); return rc; }
    if (param) ag_set_requires_grad(t, true);
    slot s = {.name = nm, .t = t, .tr = tr};
    if (param) m->params[m->n_params++] = s;
    else m->bufs[m->n_bufs++] = s;
    bump(m);
    return 0;
}

int ag_module_add_param(ag_module *m, const char *name, ag_tensor *t) {
    return add_slot("ag_module_add_param", m, name, t, true, AG_UNCONSTRAINED);
}
int ag_module_add_buffer(ag_module *m, const char *name, ag_tensor *t) {
    return add_slot("ag_module_add_buffer", m, name, t, false, AG_UNCONSTRAINED);
}

int ag_module_add_param_constrained(ag_module *m, const char *name, ag_tensor *value, ag_transform tr) {
    const char *fn = "ag_module_add_param_constrained";
    if (!m || !value) {
        int rc = pass_or_fail(fn, m ? "tensor" : "module");
        if (value) ag_release(value);
        return rc;
    }
    adopt(value);
    ag_tensor *u = ag_transform_inverse(tr, value);
    if (u) adopt(u);
    ag__drop(value);
    if (!u) {
        /* name the parameter in the message the inverse left */
        return ag_error_code();
    }
    ag_tensor *leaf = ag_detach(u); /* a fresh leaf */
    ag__drop(u);
    if (leaf) adopt(leaf);
    return add_slot(fn, m, name, leaf, true, tr);
}

int ag_module_add(ag_module *parent, const char *name, ag_module *child) {
    const char *fn = "ag_module_add";
    if (!parent || !child) {
        int rc = pass_or_fail(fn, parent ? "child module" : "module");
        if (child && !child->parent) ag_module_free(child);
        return rc;
    }
    if (child->parent)
        return ag_set_error(AG_ERR_INVALID, "%s: the %s already belongs to a module", fn, child->cls->name);
    for (ag_module *p = parent; p; p = p->parent)
        if (p == child) return ag_set_error(AG_ERR_INVALID, "%s: a module cannot contain itself", fn);
    int rc = check_name(fn, parent, name);
    if (!rc) rc = grow((void **)&parent->kids, &parent->cap_kids, parent->n_kids, sizeof(kid));
    char *nm = rc ? NULL : strdup(name);
    if (!rc && !nm) rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (rc) { ag_module_free(child); return rc; }
    parent->kids[parent->n_kids++] = (kid){nm, child};
    child->parent = parent;
    child->training = parent->training;
    bump(parent);
    return 0;
}

/* ---- look-ups ------------------------------------------------------------------------------ */

/* Walk "a.b.c" down children to the module holding the last component; *leaf = that component. */
static ag_module *walk(ag_module *m, const char *name, const char **leaf, const char *fn, const char *what) {
    const char *p = name;
    const char *dot;
    while ((dot = strchr(p, '.'))) {
        size_t len = (size_t)(dot - p);
        ag_module *next = NULL;
        for (int i = 0; i < m->n_kids; i++)
            if (strlen(m->kids[i].name) == len && !strncmp(m->kids[i].name, p, len)) { next = m->kids[i].m; break; }
        if (!next)
            return ag_fail(AG_ERR_INDEX, "%s: no %s '%s' (%s has no child '%.*s')", fn, what, name, m->cls->name,
                           (int)len, p);
        m = next;
        p = dot + 1;
    }
    *leaf = p;
    return m;
}

static slot *find_slot(ag_module *m, const char *name, bool param, const char *fn) {
    if (!m || !name) {
        pass_or_fail(fn, m ? "name" : "module");
        return NULL;
    }
    const char *what = param ? "parameter" : "buffer";
    const char *leaf;
    ag_module *o = walk(m, name, &leaf, fn, what);
    if (!o) return NULL;
    slot *s = param ? o->params : o->bufs;
    int n = param ? o->n_params : o->n_bufs;
    for (int i = 0; i < n; i++) if (!strcmp(s[i].name, leaf)) return &s[i];
    ag_fail(AG_ERR_INDEX, "%s: no %s '%s' in %s", fn, what, name, m->cls->name);
    return NULL;
}

ag_tensor *ag_module_param(ag_module *m, const char *name) {
    slot *s = find_slot(m, name, true, "ag_module_param");
    return s ? s->t : NULL;
}
ag_tensor *ag_module_buffer(ag_module *m, const char *name) {
    slot *s = find_slot(m, name, false, "ag_module_buffer");
    return s ? s->t : NULL;
}
ag_module *ag_module_child(ag_module *m, const char *name) {
    if (!m || !name) { pass_or_fail("ag_module_child", m ? "name" : "module"); return NULL; }
    const char *leaf;
    ag_module *o = walk(m, name, &leaf, "ag_module_child", "child");
    if (!o) return NULL;
    for (int i = 0; i < o->n_kids; i++) if (!strcmp(o->kids[i].name, leaf)) return o->kids[i].m;
    return ag_fail(AG_ERR_INDEX, "ag_module_child: no child '%s' in %s", name, m->cls->name);
}
int ag_module_num_children(const ag_module *m) { return m ? m->n_kids : 0; }
ag_module *ag_module_child_at(ag_module *m, int i) {
    if (!m || i < 0 || i >= m->n_kids) return NULL;
    return m->kids[i].m;
}

ag_tensor *ag_module_value(ag_module *m, const char *name) {
    slot *s = find_slot(m, name, true, "ag_module_value");
    if (!s) return NULL;
    if (s->tr.kind == AG_TRANSFORM_NONE) return ag__identity(s->t, "ag_module_value");
    return ag_transform_forward(s->tr, s->t);
}

/* ---- listings --------------------------------------------------------------------------------- */

typedef struct walker { ag_tensor **t; const char **names; int n, cap; bool param; bool fail; } walker;

static void collect(ag_module *m, const char *prefix, walker *w) {
    int n = w->param ? m->n_params : m->n_bufs;
    slot *s = w->param ? m->params : m->bufs;
    for (int i = 0; i < n && !w->fail; i++) {
        if (w->n == w->cap) {
            int nc = w->cap ? w->cap * 2 : 16;
            ag_tensor **nt = realloc(w->t, (size_t)nc * sizeof *nt);
            if (nt) w->t = nt;
            const char **nn = nt ? realloc(w->names, (size_t)nc * sizeof *nn) : NULL;
            if (nn) w->names = nn;
            if (!nt || !nn) { w->fail = true; return; }
            w->cap = nc;
        }
        size_t len = strlen(prefix) + strlen(s[i].name) + 1;
        char *full = malloc(len);
        if (!full) { w->fail = true; return; }
        snprintf(full, len, "%s%s", prefix, s[i].name);
        w->t[w->n] = s[i].t;
        w->names[w->n++] = full;
    }
    for (int k = 0; k < m->n_kids && !w->fail; k++) {
        size_t len = strlen(prefix) + strlen(m->kids[k].name) + 2;
        char *pre = malloc(len);
        if (!pre) { w->fail = true; return; }
        snprintf(pre, len, "%s%s.", prefix, m->kids[k].name);
        collect(m->kids[k].m, pre, w);
        free(pre);
    }
}

static ag_params listing_get(ag_module *m, bool param, const char *fn) {
    if (!m) { pass_or_fail(fn, "module"); return (ag_params){0}; }
    listing *l = param ? &m->lp : &m->lb;
    if (!l->valid || l->ver != m->ver) {
        walker w = {.param = param};
        collect(m, "", &w);
        if (w.fail) {
            for (int i = 0; i < w.n; i++) free((char *)w.names[i]);
            free(w.t);
            free(w.names);
            ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
            return (ag_params){0};
        }
        listing_clear(l);
        l->t = w.t;
        l->names = w.names;
        l->n = w.n;
        l->ver = m->ver;
        l->valid = true;
    }
    return (ag_params){l->t, l->names, l->n};
}

ag_params ag_module_params(ag_module *m) { return listing_get(m, true, "ag_module_params"); }
ag_params ag_module_buffers(ag_module *m) { return listing_get(m, false, "ag_module_buffers"); }

int64_t ag_module_num_params(ag_module *m) {
    ag_params p = ag_module_params(m);
    int64_t n = 0;
    for (int i = 0; i < p.n; i++) n += ag_numel(p.t[i]);
    return n;
}

/* ---- modes, grads, devices ------------------------------------------------------------------- */

void ag_module_train(ag_module *m, bool on) {
    if (!m) return;
    m->training = on;
    for (int i = 0; i < m->n_kids; i++) ag_module_train(m->kids[i].m, on);
}
void ag_module_eval(ag_module *m) { ag_module_train(m, false); }
bool ag_module_is_training(const ag_module *m) { return m && m->training; }

void ag_module_zero_grad(ag_module *m) {
    if (!m) return;
    for (int i = 0; i < m->n_params; i++) ag_zero_grad(m->params[i].t);
    for (int i = 0; i < m->n_kids; i++) ag_module_zero_grad(m->kids[i].m);
}

/* Convert every slot of the tree with conv(); all or nothing. */
typedef ag_tensor *(*conv_fn)(ag_tensor *t, const void *arg);

static int count_slots(ag_module *m) {
    int n = m->n_params + m->n_bufs;
    for (int i = 0; i < m->n_kids; i++) n += count_slots(m->kids[i].m);
    return n;
}
static int convert_all(ag_module *m, ag_tensor **out, int *k, conv_fn conv, const void *arg) {
    for (int pass = 0; pass < 2; pass++) {
        slot *s = pass ? m->bufs : m->params;
        int n = pass ? m->n_bufs : m->n_params;
        for (int i = 0; i < n; i++) {
            ag_tensor *r = conv(s[i].t, arg);
            if (!r) return ag_error_code();
            adopt(r);
            if (!pass && r != s[i].t) {
                ag_tensor *leaf = ag_detach(r);
                ag__drop(r);
                if (!leaf) return ag_error_code();
                r = adopt(leaf);
                ag_set_requires_grad(r, true);
            }
            out[(*k)++] = r;
        }
    }
    for (int i = 0; i < m->n_kids; i++) {
        int rc = convert_all(m->kids[i].m, out, k, conv, arg);
        if (rc) return rc;
    }
    return 0;
}
static void install_all(ag_module *m, ag_tensor **out, int *k) {
    for (int pass = 0; pass < 2; pass++) {
        slot *s = pass ? m->bufs : m->params;
        int n = pass ? m->n_bufs : m->n_params;
        for (int i = 0; i < n; i++) {
            ag__drop(s[i].t);
            s[i].t = out[(*k)++];
        }
    }
    for (int i = 0; i < m->n_kids; i++) install_all(m->kids[i].m, out, k);
    bump(m);
}

static int convert_tree(const char *fn, ag_module *m, conv_fn conv, const void *arg) {
    if (!m) return pass_or_fail(fn, "module");
    int n = count_slots(m), k = 0;
    ag_tensor **out = calloc((size_t)(n ? n : 1), sizeof *out);
    if (!out) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    ag_no_grad_begin();
    int rc = convert_all(m, out, &k, conv, arg);
    ag_no_grad_end();
    if (rc) {
        for (int i = 0; i < k; i++) ag__drop(out[i]);
    } else {
        k = 0;
        install_all(m, out, &k);
    }
    free(out);
    return rc;
}

static ag_tensor *conv_device(ag_tensor *t, const void *arg) {
    const ag_device *d = arg;
    ag_device cur = ag_device_of(t);
    if (cur.kind == d->kind && cur.index == d->index) return ag_retain(t); /* keep the same tensor */
    return ag_to(t, *d);
}
static ag_tensor *conv_dtype(ag_tensor *t, const void *arg) {
    ag_dtype dt = *(const ag_dtype *)arg;
    ag_dtype cur = ag_dtype_of(t);
    if (cur == dt || !ag_dtype_is_float(cur)) return ag_retain(t);
    if (ag_dtype_is_complex(cur)) dt = ag_dtype_to_complex(dt);
    if (cur == dt) return ag_retain(t);
    return ag_to_dtype(t, dt);
}

int ag_module_to(ag_module *m, ag_device dev) { return convert_tree("ag_module_to", m, conv_device, &dev); }
int ag_module_to_dtype(ag_module *m, ag_dtype dt) {
    if (dt != AG_F32 && dt != AG_F64)
        return ag_set_error(AG_ERR_DTYPE, "ag_module_to_dtype: expected f32 or f64, given %s", ag_dtype_name(dt));
    return convert_tree("ag_module_to_dtype", m, conv_dtype, &dt);
}

/* ---- printing -------------------------------------------------------------------------------- */

int ag_module_set_extra_repr(ag_module *m, const char *fmt, ...) {
    if (!m) return pass_or_fail("ag_module_set_extra_repr", "module");
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (rc < 0) return ag_set_error(AG_ERR_NOMEM, "ag_module_set_extra_repr: out of memory");
    free(m->extra);
    m->extra = s;
    return 0;
}

static void print_rec(FILE *f, const ag_module *m, int indent) {
    fprintf(f, "%s(%s", m->cls->name, m->extra ? m->extra : "");
    if (!m->n_kids && !m->n_params && !m->n_bufs) { fputc(')', f); return; }
    bool leafy = !m->n_kids && m->extra; /* built-in layers: the extra repr says it all */
    if (leafy) { fputc(')', f); return; }
    fputc('\n', f);
    if (!m->extra) {
        for (int i = 0; i < m->n_params; i++) {
            fprintf(f, "%*s%s: parameter %s ", indent + 2, "", m->params[i].name, ag_dtype_name(ag_dtype_of(m->params[i].t)));
            char buf[AG_SHAPE_BUF];
            fputs(ag_shape_str(ag_shape(m->params[i].t), ag_ndim(m->params[i].t), buf, sizeof buf), f);
            fputc('\n', f);
        }
        for (int i = 0; i < m->n_bufs; i++) {
            fprintf(f, "%*s%s: buffer %s ", indent + 2, "", m->bufs[i].name, ag_dtype_name(ag_dtype_of(m->bufs[i].t)));
            char buf[AG_SHAPE_BUF];
            fputs(ag_shape_str(ag_shape(m->bufs[i].t), ag_ndim(m->bufs[i].t), buf, sizeof buf), f);
            fputc('\n', f);
        }
    }
    for (int i = 0; i < m->n_kids; i++) {
        fprintf(f, "%*s(%s): ", indent + 2, "", m->kids[i].name);
        print_rec(f, m->kids[i].m, indent + 2);
        fputc('\n', f);
    }
    fprintf(f, "%*s)", indent, "");
}

int ag_module_fprint(FILE *f, const ag_module *m) {
    if (!f || !m) return pass_or_fail("ag_module_fprint", m ? "file" : "module");
    print_rec(f, m, 0);
    fputc('\n', f);
    return ferror(f) ? ag_set_error(AG_ERR_IO, "ag_module_fprint: write failed") : 0;
}
int ag_module_print(const ag_module *m) { return ag_module_fprint(stdout, m); }

char *ag__module_repr(const ag_module *m) {
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    print_rec(f, m, 0);
    fclose(f);
    return s;
}

/* ---- priors ------------------------------------------------------------------------------------ */

int ag_module_set_prior(ag_module *m, const char *name, ag_prior p) {
    slot *s = find_slot(m, name, true, "ag_module_set_prior");
    if (!s) return ag_error_code();
    switch (p.kind) {
    case AG_PRIOR_KIND_NORMAL:
    case AG_PRIOR_KIND_LOGNORMAL:
        if (!(p.b > 0) || !isfinite(p.a) || !isfinite(p.b))
            return ag_set_error(AG_ERR_INVALID, "ag_module_set_prior: expected a finite mu and sigma > 0, given mu=%g sigma=%g", p.a, p.b);
        break;
    case AG_PRIOR_KIND_UNIFORM:
        if (!(p.a < p.b) || !isfinite(p.a) || !isfinite(p.b))
            return ag_set_error(AG_ERR_INVALID, "ag_module_set_prior: expected finite bounds low < high, given %g, %g", p.a, p.b);
        break;
    default:
        return ag_set_error(AG_ERR_INVALID, "ag_module_set_prior: unknown prior kind %d", (int)p.kind);
    }
    s->prior = p;
    s->has_prior = true;
    return 0;
}

static ag_tensor *add_priors(ag_module *m, ag_tensor *acc) {
    for (int i = 0; i < m->n_params && acc; i++) {
        slot *s = &m->params[i];
        if (!s->has_prior) continue;
        ag_tensor *v = s->tr.kind == AG_TRANSFORM_NONE ? s->t : ag_transform_forward(s->tr, s->t);
        ag_tensor *lp = ag_sum(ag_prior_log_prob(s->prior, v), AG_ALL_DIMS, false);
        acc = ag_add(acc, ag_to_dtype(lp, ag_dtype_of(acc)));
    }
    for (int i = 0; i < m->n_kids && acc; i++) acc = add_priors(m->kids[i].m, acc);
    return acc;
}

ag_tensor *ag_module_log_prior(ag_module *m) {
    if (!m) { pass_or_fail("ag_module_log_prior", "module"); return NULL; }
    ag_params p = ag_module_params(m);
    ag_dtype dt = p.n ? ag_dtype_to_real(ag_dtype_of(p.t[0])) : ag_get_default_dtype();
    ag_scope_begin();
    /* the accumulator on the parameters' device (ag_device_of(NULL): the CPU, for no parameters) */
    ag_tensor *acc = add_priors(m, ag_scalar_on(0.0, dt, ag_device_of(p.n ? p.t[0] : NULL)));
    if (acc) ag_keep(acc);
    ag_scope_end();
    return acc;
}
