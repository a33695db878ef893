/* tensor/graph.c — recording graph nodes, grad mode and anomaly checks.
 * Lives in tensor/ because every op front-end records; the engine that walks the graph is
 * autograd/engine.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

static _Thread_local int no_grad_depth;
static bool anomaly_mode;
static atomic_ullong node_seq;

void ag_no_grad_begin(void) { no_grad_depth++; }
void ag_no_grad_end(void) {
    if (no_grad_depth == 0) {
        ag_set_error(AG_ERR_INVALID, "ag_no_grad_end: no no-grad region is open");
        return;
    }
    no_grad_depth--;
}
bool ag_is_grad_enabled(void) { return no_grad_depth == 0; }
bool ag__grad_enabled(void) { return no_grad_depth == 0; }
void ag_set_anomaly(bool on) { anomaly_mode = on; }
bool ag_anomaly_enabled(void) { return anomaly_mode; }
/* while the engine runs a backward rule, the ops inside it are not checked one by one: the
 * engine checks the rule's results and names the node (see autograd/engine.c) */
static _Thread_local int anomaly_quiet;
void ag__anomaly_quiet(bool on) { anomaly_quiet += on ? 1 : -1; }
bool ag__anomaly(void) { return anomaly_mode && !anomaly_quiet; }

bool ag__needs_grad(ag_tensor *const *in, int n) {
    if (no_grad_depth) return false;
    for (int i = 0; i < n; i++)
        if (in[i] && in[i]->requires_grad) return true;
    return false;
}

ag_tensor *ag_set_requires_grad(ag_tensor *t, bool on) {
    if (!AG_NONNULL("ag_set_requires_grad", t)) return NULL;
    if (t->grad_fn) {
        if (!on) return ag_fail(AG_ERR_AUTOGRAD, "ag_set_requires_grad: expected a leaf tensor, given the "
                                "result of %s (use ag_detach)", t->grad_fn->name);
        return t;
    }
    if (on && !ag_dtype_is_float(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_set_requires_grad: only floating point and complex tensors "
                       "can require gradients, given %s", ag_dtype_name(t->dtype));
    t->requires_grad = on;
    return t;
}
bool ag_requires_grad(const ag_tensor *t) { return t && t->requires_grad; }
bool ag_is_leaf(const ag_tensor *t) { return t && !t->grad_fn; }
ag_tensor *ag_grad_of(const ag_tensor *t) { return t ? t->grad : NULL; }

void ag_zero_grad(ag_tensor *t) {
    if (!t) return;
    ag__drop(t->grad);
    t->grad = NULL;
}

ag_tensor *ag_detach(ag_tensor *t) {
    if (!AG_NONNULL("ag_detach", t)) return NULL;
    return ag__ret(ag__alias(t));
}

/* ---- the registry ---- */
const ag_opdef ag__ops[AG_OP__COUNT] = {
#define AG_OP_ENTRY(id, nm, diff, rule) [AG_OP_##id] = {nm, ag__bw_##rule, diff},
    AG_OPS(AG_OP_ENTRY)
#undef AG_OP_ENTRY
};

int ag_op_count(void) { return AG_OP__COUNT; }
const ag_opdef *ag_op_at(int i) { return i >= 0 && i < AG_OP__COUNT ? &ag__ops[i] : NULL; }
const ag_opdef *ag_op_find(const char *name) {
    for (int i = 0; name && i < AG_OP__COUNT; i++)
        if (!strcmp(ag__ops[i].name, name)) return &ag__ops[i];
    return NULL;
}

/* counting is per thread and off unless asked for: one thread-local test per record */
static _Thread_local struct { bool on; int gradcheck; int64_t rec[AG_OP__COUNT], gc[AG_OP__COUNT]; } counts;
void ag_op_counting(bool on) {
    if (on) memset(counts.rec, 0, sizeof counts.rec), memset(counts.gc, 0, sizeof counts.gc);
    counts.on = on;
}
int ag_op_counts(int i, int64_t *recorded, int64_t *gradchecked) {
    if (i < 0 || i >= AG_OP__COUNT) return -1;
    if (recorded) *recorded = counts.rec[i];
    if (gradchecked) *gradchecked = counts.gc[i];
    return 0;
}
void ag__gradcheck_scope(bool on) { counts.gradcheck += on ? 1 : -1; }
static void count(const ag_opdef *def) {
    uintptr_t d = (uintptr_t)def, lo = (uintptr_t)ag__ops;
    if (d < lo || d >= (uintptr_t)(ag__ops + AG_OP__COUNT)) return; /* an op defined outside tensor/ */
    size_t i = (d - lo) / sizeof *def;
    counts.rec[i]++;
    if (counts.gradcheck) counts.gc[i]++;
}

/* ---- payloads ---- */
struct ag_payload { atomic_int rc; void *data; void (*free_fn)(void *); };
ag_payload *ag_payload_new(void *data, void (*free_fn)(void *)) {
    if (!data) return ag_fail(AG_ERR_INVALID, "ag_payload_new: expected data, given NULL");
    ag_payload *p = malloc(sizeof *p);
    if (!p) {
        if (free_fn) free_fn(data);
        return ag_fail(AG_ERR_NOMEM, "ag_payload_new: out of memory");
    }
    atomic_init(&p->rc, 1);
    p->data = data;
    p->free_fn = free_fn;
    return p;
}
ag_payload *ag_payload_retain(ag_payload *p) {
    if (p) atomic_fetch_add(&p->rc, 1);
    return p;
}
void ag_payload_release(ag_payload *p) {
    if (!p || atomic_fetch_sub(&p->rc, 1) != 1) return;
    if (p->free_fn) p->free_fn(p->data);
    free(p);
}
void *ag_payload_data(const ag_payload *p) { return p ? p->data : NULL; }

/* ---- recording ---- */
static bool differentiable(const ag_opdef *def, int i) {
    return i < 32 ? (def->diff >> i) & 1u : def->diff == AG_DIFF_ALL;
}

/* One allocation: the node, then its per-input and per-saved arrays, widest members first. */
static ag_node *node_alloc(int n_in, int n_saved) {
    size_t ni = (size_t)n_in, ns = (size_t)n_saved;
    size_t sz = sizeof(ag_node) + ni * (sizeof(ag_node *) + sizeof(ag_tensor *) + sizeof(int64_t[AG_MAX_DIMS]) +
                                        sizeof(int) + sizeof(ag_dtype) + sizeof(bool)) +
                ns * (sizeof(ag_tensor *) + sizeof(unsigned));
    ag_node *n = calloc(1, sz);
    if (!n) return NULL;
    char *q = (char *)(n + 1);
    n->in_node = (ag_node **)q;             q += ni * sizeof(ag_node *);
    n->in_leaf = (ag_tensor **)q;           q += ni * sizeof(ag_tensor *);
    n->saved = (ag_tensor **)q;             q += ns * sizeof(ag_tensor *);
    n->in_shape = (int64_t(*)[AG_MAX_DIMS])q; q += ni * sizeof(int64_t[AG_MAX_DIMS]);
    n->in_ndim = (int *)q;                  q += ni * sizeof(int);
    n->in_dtype = (ag_dtype *)q;            q += ni * sizeof(ag_dtype);
    n->saved_ver = (unsigned *)q;           q += ns * sizeof(unsigned);
    n->needs = (bool *)q;
    return n;
}

int ag__record(ag_tensor *r, const char *name, const ag_opdef *def, ag_tensor *const *in, int n_in,
               ag_tensor *const *saved, int n_saved, const ag_op_params *p) {
    if (!name) name = def->name;
    if (n_in < 0 || n_saved < 0)
        return ag_set_error(AG_ERR_INVALID, "%s: internal: negative input or saved count", name);
    ag_node *n = node_alloc(n_in, n_saved);
    if (!n) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory recording the graph", name);
    n->rc = 1;
    n->def = def;
    n->name = name;
    n->seq = atomic_fetch_add(&node_seq, 1);
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        ag_tensor *x = in[i];
        if (!x) continue;
        n->in_ndim[i] = x->ndim;
        memcpy(n->in_shape[i], x->shape, sizeof x->shape);
        n->in_dtype[i] = x->dtype;
        if (!x->requires_grad || !differentiable(def, i)) continue;
        n->needs[i] = true;
        if (x->grad_fn) {
            n->in_node[i] = x->grad_fn;
            x->grad_fn->rc++;
        } else {
            n->in_leaf[i] = ag_retain(x);
        }
    }
    n->out_saved = -1;
    for (int i = 0; i < n_saved; i++) {
        ag_tensor *s = saved[i];
        if (!s) continue;
        if (s == r) n->out_saved = i;
        /* the output itself is saved as a history-free alias to avoid a cycle */
        ag_tensor *keep = s == r ? ag__alias(r) : ag_retain(s);
        if (!keep) { n->n_saved = i; ag__node_release(n); return ag_error_code(); }
        n->saved[i] = keep;
        n->saved_ver[i] = atomic_load(&s->storage->version);
    }
    n->n_saved = n_saved;
    if (p) n->p = *p;
    n->out_ndim = r->ndim;
    memcpy(n->out_shape, r->shape, sizeof r->shape);
    n->out_dtype = r->dtype;
    r->grad_fn = n;
    r->requires_grad = true;
    if (counts.on) count(def);
    return 0;
}

/* grad is needed for this op: recording on, and a differentiable input requires grad */
static bool needs_grad_def(const ag_opdef *def, ag_tensor *const *in, int n) {
    if (no_grad_depth) return false;
    for (int i = 0; i < n; i++)
        if (in[i] && in[i]->requires_grad && differentiable(def, i)) return true;
    return false;
}

ag_tensor *ag__finish(ag_tensor *r, const char *op, const ag_opdef *def, ag_tensor *const *in, int n_in,
                      ag_tensor *const *saved, int n_saved, const ag_op_params *p) {
    if (!r) return NULL;
    if (def && needs_grad_def(def, in, n_in) && ag__record(r, op, def, in, n_in, saved, n_saved, p) < 0) {
        ag__drop(r);
        return NULL;
    }
    if (ag__anomaly() && ag__check_anomaly(op ? op : def->name, r, "result") < 0) {
        ag__drop(r);
        return NULL;
    }
    return ag__ret(r);
}

/* ---- the op-author API ---- */
ag_tensor *ag_op_finish(ag_tensor *r, const ag_opdef *def, ag_tensor *const *in, int n_in,
                        ag_tensor *const *saved, int n_saved, ag_payload *payload) {
    if (!r) return NULL;
    const char *op = def && def->name ? def->name : "ag_op_finish";
    int rc = 0;
    if (!def || !def->name || !def->backward)
        rc = ag_set_error(AG_ERR_INVALID, "ag_op_finish: expected an op definition with a name and a backward rule");
    else if (n_in < 0 || n_saved < 0 || (n_in && !in) || (n_saved && !saved))
        rc = ag_set_error(AG_ERR_INVALID, "%s: expected input and saved arrays with their counts, given %d "
                          "inputs and %d saved", op, n_in, n_saved);
    else if (r->grad_fn)
        rc = ag_set_error(AG_ERR_AUTOGRAD, "%s: the result already has a history (recorded by %s): compute "
                          "it with grad mode off", op, r->grad_fn->name);
    for (int i = 0; rc == 0 && i < n_saved; i++)
        if (!saved[i]) rc = ag_set_error(AG_ERR_INVALID, "%s: saved tensor %d is NULL", op, i);
    if (rc == 0 && needs_grad_def(def, in, n_in)) {
        rc = ag__record(r, op, def, in, n_in, saved, n_saved, NULL);
        if (rc == 0) r->grad_fn->payload = ag_payload_retain(payload);
    }
    if (rc == 0 && ag__anomaly()) rc = ag__check_anomaly(op, r, "result");
    if (rc < 0) {
        ag_release(r);
        return NULL;
    }
    return r;
}

const char *ag_node_name(const ag_node *n) { return n ? n->name : NULL; }
int ag_node_n_inputs(const ag_node *n) { return n ? n->n_in : 0; }
bool ag_node_needs_grad(const ag_node *n, int i) { return n && i >= 0 && i < n->n_in && n->needs[i]; }
int ag_node_input_shape(const ag_node *n, int i, int64_t *shape) {
    if (!n || i < 0 || i >= n->n_in) return -1;
    if (shape) memcpy(shape, n->in_shape[i], sizeof n->in_shape[i]);
    return n->in_ndim[i];
}
ag_dtype ag_node_input_dtype(const ag_node *n, int i) {
    return n && i >= 0 && i < n->n_in ? n->in_dtype[i] : AG_F64;
}
int ag_node_n_saved(const ag_node *n) { return n ? n->n_saved : 0; }
ag_tensor *ag_node_saved(const ag_node *n, int i) { return n && i >= 0 && i < n->n_saved ? n->saved[i] : NULL; }
void *ag_node_payload(const ag_node *n) { return n ? ag_payload_data(n->payload) : NULL; }

/* Frees a node and, iteratively, every input node it was the last holder of
 * (a recursive free would overflow the stack on a 10^5-node chain). */
void ag__node_release(ag_node *n) {
    ag_node *stack_buf[64];
    ag_node **stack = stack_buf;
    int sp = 0, cap = 64;
    if (!n) return;
    stack[sp++] = n;
    while (sp) {
        ag_node *x = stack[--sp];
        if (--x->rc > 0) continue;
        for (int i = 0; i < x->n_in; i++) {
            ag__drop(x->in_leaf[i]);
            if (!x->in_node[i]) continue;
            if (sp == cap) {
                int nc = cap * 2;
                ag_node **ns = malloc((size_t)nc * sizeof *ns);
                if (!ns) abort(); /* internal invariant: cannot free without memory */
                memcpy(ns, stack, (size_t)sp * sizeof *ns);
                if (stack != stack_buf) free(stack);
                stack = ns;
                cap = nc;
            }
            stack[sp++] = x->in_node[i];
        }
        for (int i = 0; i < x->n_saved; i++) ag__drop(x->saved[i]);
        ag__drop(x->gacc);
        ag_payload_release(x->payload);
        for (struct ag_hook *h = x->hooks, *nx; h; h = nx) { nx = h->next; free(h); }
        free(x);
    }
    if (stack != stack_buf) free(stack);
}

/* contiguous 1-d view of all n elements of a contiguous tensor */
static ag_kview flat_view(const ag_tensor *c, int64_t n) {
    ag_kview v = ag__view(c);
    v.ndim = 1;
    v.shape[0] = n;
    v.strides[0] = 1;
    return v;
}

/* Finds the first (row-major) non-finite element of t, which the caller knows has one, and
 * words the error. Runs on t's device like the check itself; only the index and that one
 * element come to the host. */
static int report_anomaly(const char *op, const ag_tensor *t, const ag_tensor *d, int64_t n, const char *where) {
    ag_device dev = t->storage->dev;
    const ag_kernels *k = ag__kernels(t);
    int rc = 0;
    ag_tensor *mask = ag__new((int64_t[]){n}, 1, AG_BOOL, dev, op);
    ag_tensor *mx = ag__new((int64_t[]){1}, 1, AG_BOOL, dev, op);
    ag_tensor *ix = ag__new((int64_t[]){1}, 1, AG_I64, dev, op);
    ag_tensor *el = ag__new(NULL, 0, t->dtype, dev, op);
    if (!mask || !mx || !ix || !el) { rc = ag_error_code(); goto done; }
    ag_kview dv = flat_view(d, n), mv = flat_view(mask, n), mxv = ag__view(mx), ixv = ag__view(ix);
    /* d = x - x is NaN exactly where x is not finite, and NaN != NaN */
    if ((rc = k->binary(AG_BIN_NE, &mv, &dv, &dv)) < 0) goto done;
    if ((rc = k->reduce(AG_RED_MAX, &mxv, &ixv, &mv)) < 0) goto done; /* the first true wins */
    double fi = 0;
    if ((rc = ag_item_complex(ix, &fi, NULL)) < 0) goto done;
    int64_t i = (int64_t)fi, off = 0, r = i;
    for (int dim = t->ndim - 1; dim >= 0; dim--) {
        off += (r % t->shape[dim]) * t->strides[dim];
        r /= t->shape[dim];
    }
    ag_kview sv = ag__view(t), ev = ag__view(el);
    sv.data = (char *)sv.data + off * (int64_t)ag_dtype_size(t->dtype);
    sv.ndim = 0;
    if ((rc = k->copy(&ev, &sv)) < 0) goto done;
    double re = 0, im = 0;
    if ((rc = ag_item_complex(el, &re, &im)) < 0) goto done;
    rc = ag_set_error(AG_ERR_NUMERIC, "%s: anomaly: %s at element %lld of the %s (shape %s, %s)", op,
                      isnan(re) || isnan(im) ? "NaN" : "Inf", (long long)i, where, AG_SHP(t),
                      ag_dtype_name(t->dtype));
done:
    ag__drop(mask);
    ag__drop(mx);
    ag__drop(ix);
    ag__drop(el);
    return rc;
}

/* Returns 0, or a negative status with the error set, from its own work only: an error that
 * was already sticky in this thread must not make a finite result look anomalous. */
int ag__check_anomaly(const char *op, const ag_tensor *t, const char *where) {
    if (!t || !ag_dtype_is_float(t->dtype)) return 0;
    int64_t n = ag_numel(t);
    if (n == 0) return 0;
    const ag_kernels *k = ag__kernels(t);
    if (!k->binary || !k->reduce)
        return ag_set_error(AG_ERR_NOTIMPL, "%s: anomaly check: the %s backend has no binary or reduce kernel",
                            op, k->name);
    ag_device dev = t->storage->dev;
    int rc = 0;
    /* x - x is 0 for finite x and NaN for NaN and +-Inf (componentwise for complex), so its sum
     * is NaN exactly when some element is not finite and never overflows */
    ag_tensor *d = ag__new(t->shape, t->ndim, t->dtype, dev, op);
    ag_tensor *s = ag__new((int64_t[]){1}, 1, t->dtype, dev, op);
    if (!d || !s) { rc = ag_error_code(); goto done; }
    ag_kview tv = ag__view(t), dv = ag__view(d), sv = ag__view(s);
    if ((rc = k->binary(AG_BIN_SUB, &dv, &tv, &tv)) < 0) goto done;
    ag_kview df = flat_view(d, n);
    if ((rc = k->reduce(AG_RED_SUM, &sv, NULL, &df)) < 0) goto done;
    double re = 0, im = 0;
    if ((rc = ag_item_complex(s, &re, &im)) < 0) goto done;
    if (isnan(re) || isnan(im)) rc = report_anomaly(op, t, d, n, where);
done:
    ag__drop(d);
    ag__drop(s);
    return rc;
}
