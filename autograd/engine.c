/* autograd/engine.c — the backward pass: dependency-counted reverse topological order,
 * iterative (no recursion, so graph depth is unbounded), gradients summed to each input's
 * shape, real parts taken for real inputs, leaves accumulated in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

static atomic_ullong epoch_counter = 1;

typedef struct vec { ag_node **v; int64_t n, cap; } vec;
static bool vec_push(vec *s, ag_node *x) {
    if (s->n == s->cap) {
        int64_t nc = s->cap ? s->cap * 2 : 64;
        ag_node **nv = realloc(s->v, (size_t)nc * sizeof *nv);
        if (!nv) return false;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = x;
    return true;
}

/* take ownership of t away from the scope it was registered in */
static ag_tensor *own(ag_tensor *t) { ag__unscope(t); return t; }

/* Sum g down to shape (undoing broadcasting) and to the input's dtype. Result is scoped. */
static ag_tensor *fit_to_input(ag_tensor *g, const int64_t *shape, int ndim, ag_dtype dt) {
    if (!g) return NULL;
    if (ag_dtype_is_complex(g->dtype) && !ag_dtype_is_complex(dt)) g = ag_real(g);
    int lead = g->ndim - ndim;
    int dims[AG_MAX_DIMS], nd = 0;
    for (int i = 0; i < g->ndim; i++) {
        if (i < lead) dims[nd++] = i;
        else if (shape[i - lead] == 1 && g->shape[i] != 1) dims[nd++] = i;
    }
    if (nd) {
        g = ag_sum(g, dims, nd, true);
        if (lead) g = ag_reshape(g, shape, ndim);
    } else if (lead) {
        g = ag_reshape(g, shape, ndim); /* leading dims of size 1 */
    }
    if (g && g->dtype != dt) g = ag_to_dtype(g, dt);
    return g;
}

/* acc (owned) += g (owned); returns the owned sum */
static ag_tensor *accumulate(ag_tensor *acc, ag_tensor *g) {
    if (!acc) return g;
    if (!g) return acc;
    /* in place only into a dense tensor nobody else sees: a gradient may be a broadcast view
     * (stride 0, as sum's backward returns), where an in-place add would hit one element many times */
    if (!acc->requires_grad && !g->requires_grad && atomic_load(&acc->rc) == 1 &&
        atomic_load(&acc->storage->rc) == 1 && acc->dtype == g->dtype &&
        acc->ndim == g->ndim && !memcmp(acc->shape, g->shape, sizeof acc->shape) && ag_is_contiguous(acc)) {
        ag_kview o = ag__view(acc), b = ag__view(g);
        if (ag__kernels(acc)->binary(AG_BIN_ADD, &o, &o, &b) < 0) return NULL;
        ag__drop(g);
        return acc;
    }
    ag_tensor *s = own(ag_add(acc, g));
    ag__drop(acc);
    ag__drop(g);
    return s;
}

static ag_tensor *run_hooks(struct ag_hook *h, ag_tensor *g) {
    for (; h && g; h = h->next) {
        ag_tensor *r = h->fn(g, h->ud);
        if (r) { ag__drop(g); g = own(r); }
    }
    return g;
}

/* Accumulate g (owned) into a leaf's .grad; the leaf gets its own storage (never an alias).
 * Under create_graph g keeps its history and the sum is recorded. */
static int to_leaf(ag_tensor *leaf, ag_tensor *g) {
    if (!g) return ag_failed() ? ag_error_code() : 0;
    if (g->requires_grad || (leaf->grad && leaf->grad->requires_grad)) {
        ag_tensor *s = leaf->grad ? own(ag_add(leaf->grad, g)) : g;
        if (s != g) ag__drop(g);
        if (!s) return ag_error_code();
        ag__drop(leaf->grad);
        leaf->grad = s;
        return 0;
    }
    if (!leaf->grad) {
        if (atomic_load(&g->rc) != 1 || atomic_load(&g->storage->rc) != 1 || !ag_is_contiguous(g)) {
            ag_tensor *c = own(ag_clone(g));
            ag__drop(g);
            if (!c) return ag_error_code();
            g = c;
        }
        g->requires_grad = false;
        leaf->grad = g;
        return 0;
    }
    ag_kview o = ag__view(leaf->grad), b = ag__view(g);
    int rc = ag__kernels(g)->binary(AG_BIN_ADD, &o, &o, &b);
    ag__bump_version(leaf->grad);
    ag__drop(g);
    return rc;
}

typedef struct capture { ag_tensor *const *inputs; int n; ag_tensor **slots; } capture;

static int capture_index(const capture *cap, const ag_tensor *leaf, const ag_node *node) {
    for (int i = 0; i < cap->n; i++) {
        const ag_tensor *x = cap->inputs[i];
        if ((leaf && x == leaf) || (node && x->grad_fn == node)) return i;
    }
    return -1;
}

/* The leaves one pass reaches. Contributions to a leaf are summed and handed on (hooks, then
 * .grad or the ag_grad slot) once, when the last edge into the leaf is done: a hook sees the
 * total gradient once, as in PyTorch. Open addressing on the pointer. */
typedef struct leaf_slot { ag_tensor *leaf; ag_tensor *g; int64_t pending; } leaf_slot;
typedef struct leaf_map { leaf_slot *s; int64_t n, cap; } leaf_map;

static uint64_t ptr_hash(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 33);
}

static leaf_slot *leaf_probe(leaf_slot *s, int64_t cap, const ag_tensor *leaf) {
    uint64_t mask = (uint64_t)cap - 1, i = ptr_hash(leaf) & mask;
    while (s[i].leaf && s[i].leaf != leaf) i = (i + 1) & mask;
    return &s[i];
}

/* the slot of leaf; insert: add it when missing (NULL only when out of memory) */
static leaf_slot *leaf_find(leaf_map *m, ag_tensor *leaf, bool insert) {
    if (insert && (m->n + 1) * 2 > m->cap) {
        int64_t nc = m->cap ? m->cap * 2 : 16;
        leaf_slot *ns = calloc((size_t)nc, sizeof *ns);
        if (!ns) return NULL;
        for (int64_t i = 0; i < m->cap; i++)
            if (m->s[i].leaf) *leaf_probe(ns, nc, m->s[i].leaf) = m->s[i];
        free(m->s);
        m->s = ns;
        m->cap = nc;
    }
    if (!m->cap) return NULL;
    leaf_slot *e = leaf_probe(m->s, m->cap, leaf);
    if (!e->leaf) {
        if (!insert) return NULL;
        e->leaf = leaf;
        m->n++;
    }
    return e;
}

/* The last edge into a leaf is done: run its hooks on the total and store it. */
static int flush_leaf(leaf_slot *e, capture *cap) {
    ag_tensor *g = e->g;
    e->g = NULL;
    if (!g) return 0;
    int ci = cap ? capture_index(cap, e->leaf, NULL) : -1;
    if (cap && ci < 0) { ag__drop(g); return 0; } /* ag_grad: a leaf that is not an input */
    g = run_hooks(e->leaf->hooks, g);
    if (!g) return ag_failed() ? ag_error_code() : 0;
    if (!cap) return to_leaf(e->leaf, g);
    cap->slots[ci] = accumulate(cap->slots[ci], g);
    return 0;
}


static int check_saved(const ag_node *n) {
    if (n->released)
        return ag_set_error(AG_ERR_AUTOGRAD, "ag_backward: trying to backward through the graph a second "
                            "time: the tensors saved by %s were freed; pass retain_graph the first time",
                            n->name);
    for (int i = 0; i < n->n_saved; i++) {
        if (!n->saved[i]) continue;
        unsigned now = atomic_load(&n->saved[i]->storage->version);
        if (now != n->saved_ver[i])
            return ag_set_error(AG_ERR_AUTOGRAD, "ag_backward: a tensor of shape %s saved by %s was "
                                "modified in place (version %u, expected %u)", AG_SHP(n->saved[i]),
                                n->name, now, n->saved_ver[i]);
    }
    return 0;
}

/* After a pass without retain_graph. A node that saved nothing stays usable (as PyTorch: only
 * backward through freed saved tensors is an error), so h = 3x can feed two later losses. */
static void release_saved(ag_node *n) {
    for (int i = 0; i < n->n_saved; i++) {
        if (!n->saved[i]) continue;
        ag__drop(n->saved[i]);
        n->saved[i] = NULL;
        n->released = true;
    }
}

/* roots[i] gets gradient seeds[i] (owned refs, consumed). cap == NULL: accumulate into leaves. */
/* create: run the rules with grad mode on, so the gradients are themselves differentiable
 * (the graph is kept: create implies retain). */
static int run(ag_node **roots, ag_tensor **seeds, int n_roots, bool retain, bool create, capture *cap) {
    if (create) retain = true;
    uint64_t epoch = atomic_fetch_add(&epoch_counter, 1);
    vec all = {0}, ready = {0};
    leaf_map leaves = {0};
    int rc = 0;
    for (int r = 0; r < n_roots; r++) {
        ag_node *n = roots[r];
        if (n->epoch != epoch) {
            n->epoch = epoch;
            n->deps = 0;
            if (!vec_push(&all, n)) { rc = ag_set_error(AG_ERR_NOMEM, "ag_backward: out of memory"); goto done; }
        }
        n->gacc = accumulate(n->gacc, seeds[r]);
        seeds[r] = NULL;
    }
    int64_t n_unique_roots = all.n;
    for (int64_t i = 0; i < all.n && rc == 0; i++) { /* `all` grows while we scan it: a BFS */
        ag_node *n = all.v[i];
        if ((rc = check_saved(n))) break;
        for (int k = 0; k < n->n_in; k++) {
            if (n->in_leaf[k]) {
                leaf_slot *e = leaf_find(&leaves, n->in_leaf[k], true);
                if (!e) { rc = ag_set_error(AG_ERR_NOMEM, "ag_backward: out of memory"); break; }
                e->pending++;
            }
            ag_node *c = n->in_node[k];
            if (!c) continue;
            if (c->epoch != epoch) {
                c->epoch = epoch;
                c->deps = 0;
                if (!vec_push(&all, c)) { rc = ag_set_error(AG_ERR_NOMEM, "ag_backward: out of memory"); break; }
            }
            c->deps++;
        }
    }
    if (rc) goto done;
    /* each root once (an output listed twice must not be run twice); roots reached through
     * another root are pushed when their deps drop to zero */
    for (int64_t r = 0; r < n_unique_roots; r++)
        if (all.v[r]->deps == 0 && !vec_push(&ready, all.v[r])) { rc = ag_set_error(AG_ERR_NOMEM, "ag_backward: out of memory"); goto done; }

    while (ready.n && rc == 0) {
        ag_node *n = ready.v[--ready.n];
        ag_tensor *g = n->gacc;
        n->gacc = NULL;
        if (g) g = run_hooks(n->hooks, g);
        if (cap && g) {
            int ci = capture_index(cap, NULL, n);
            if (ci >= 0) cap->slots[ci] = accumulate(cap->slots[ci], ag_retain(g));
        }
        ag_tensor *gin_buf[8] = {0}, **gin = gin_buf;
        if (n->n_in > 8 && !(gin = calloc((size_t)n->n_in, sizeof *gin))) {
            rc = ag_set_error(AG_ERR_NOMEM, "ag_backward: out of memory");
            ag__drop(g);
            break;
        }
        if (g) {
            ag_scope_begin();
            if (!create) ag_no_grad_begin();
            /* the ops inside a rule are not checked one by one: anomaly mode names the node */
            ag__anomaly_quiet(true);
            /* A saved output is kept without history (no cycle); a rule that uses it under
             * create_graph must see it as this node's output, or the gradient through it is lost:
             * for the rule's duration it is an alias whose grad_fn is n. */
            int so = create ? n->out_saved : -1;
            ag_tensor *plain_out = so >= 0 ? n->saved[so] : NULL;
            if (plain_out) {
                ag_tensor *a = ag__alias(plain_out);
                if (!a) rc = ag_error_code();
                else {
                    a->grad_fn = n;
                    n->rc++;
                    a->requires_grad = true;
                    n->saved[so] = a;
                }
            }
            if (rc == 0) rc = n->def->backward(n, g, gin);
            if (plain_out && n->saved[so] != plain_out) {
                ag__drop(n->saved[so]);
                n->saved[so] = plain_out;
            }
            if (rc == 0 && ag_failed()) rc = ag_error_code();
            /* Rules return op results (owned by this scope) or ag_retain(g) (unscoped):
             * either way the engine takes exactly one reference out of the scope here. */
            for (int k = 0; k < n->n_in; k++) ag__unscope(gin[k]);
            for (int k = 0; k < n->n_in && rc == 0; k++) {
                ag_tensor *gk = gin[k];
                if (!gk) continue;
                if (!n->needs[k]) { ag__drop(gk); gin[k] = NULL; continue; }
                ag_tensor *f = fit_to_input(gk, n->in_shape[k], n->in_ndim[k], n->in_dtype[k]);
                if (!f) { rc = ag_failed() ? ag_error_code() : AG_ERR_AUTOGRAD; break; }
                if (f != gk) { ag__unscope(f); ag__drop(gk); gin[k] = f; }
                if (ag_anomaly_enabled()) {
                    char where[64];
                    snprintf(where, sizeof where, "gradient its backward computed for input %d", k);
                    ag__check_anomaly(n->name, f, where);
                }
                if (ag_failed()) rc = ag_error_code();
            }
            ag__anomaly_quiet(false);
            if (!create) ag_no_grad_end();
            ag_scope_end();
            ag__drop(g);
        }
        for (int k = 0; k < n->n_in; k++) {
            ag_tensor *gk = gin[k];
            if (rc) { ag__drop(gk); continue; }
            if (n->in_node[k]) {
                ag_node *c = n->in_node[k];
                if (gk) c->gacc = accumulate(c->gacc, gk);
                if (--c->deps == 0 && !vec_push(&ready, c)) rc = ag_set_error(AG_ERR_NOMEM, "ag_backward: out of memory");
            } else if (n->in_leaf[k]) {
                leaf_slot *e = leaf_find(&leaves, n->in_leaf[k], false);
                if (gk) e->g = accumulate(e->g, gk);
                if (--e->pending == 0) rc = flush_leaf(e, cap);
            } else {
                ag__drop(gk);
            }
        }
        if (gin != gin_buf) free(gin);
        if (!retain) release_saved(n);
    }
done:
    for (int64_t i = 0; i < all.n; i++) { ag__drop(all.v[i]->gacc); all.v[i]->gacc = NULL; }
    for (int64_t i = 0; i < leaves.cap; i++) ag__drop(leaves.s[i].g);
    for (int r = 0; r < n_roots; r++) ag__drop(seeds[r]);
    free(all.v);
    free(ready.v);
    free(leaves.s);
    return rc;
}

static ag_tensor *seed_for(const char *op, ag_tensor *out, ag_tensor *grad, bool create) {
    if (grad) {
        if (grad->ndim != out->ndim || memcmp(grad->shape, out->shape, sizeof out->shape))
            return ag_fail(AG_ERR_SHAPE, "%s: upstream gradient has shape %s, expected the output's %s",
                           op, AG_SHP(grad), AG_SHP(out));
        if (!ag__same_device(op, out, grad)) return NULL;
        /* the engine hands g to rules that may return it: it must be a struct of its own (with
         * its history under create_graph, so a gradient can be differentiated in grad too) */
        if (create) return own(grad->dtype == out->dtype ? ag__identity(grad, op) : ag_to_dtype(grad, out->dtype));
        return grad->dtype == out->dtype ? ag__alias(grad) : ag__cast(grad, out->dtype);
    }
    if (ag_numel(out) != 1)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a scalar output or an upstream gradient, given "
                       "an output of shape %s", op, AG_SHP(out));
    if (ag_dtype_is_complex(out->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: the output is complex (%s); backward needs a real scalar "
                       "loss or an upstream gradient", op, ag_dtype_name(out->dtype));
    ag_tensor *g = ag__new(out->shape, out->ndim, out->dtype, out->storage->dev, op);
    if (g) {
        ag_kview v = ag__view(g);
        if (ag__kernels(g)->fill(&v, 1.0, 0.0) < 0) { ag__drop(g); return NULL; }
    }
    return g;
}

int ag_backward(ag_tensor *loss) { return ag_backward_ex(loss, (ag_backward_opts){0}); }

/* With an error already pending, a pass could not tell a rule's failure from the old error
 * (the first error sticks), so it does not start: the pending error is returned. */
int ag_backward_ex(ag_tensor *out, ag_backward_opts opts) {
    if (ag_failed()) return ag_error_code();
    if (!out) return ag_set_error(AG_ERR_INVALID, "ag_backward: output is NULL");
    if (!out->requires_grad)
        return ag_set_error(AG_ERR_AUTOGRAD, "ag_backward: the output (shape %s) does not require grad: "
                            "no input of its computation had requires_grad set", AG_SHP(out));
    ag_tensor *g = seed_for("ag_backward", out, opts.grad, opts.create_graph);
    if (!g) return ag_error_code();
    ag_scope_begin();
    int rc;
    if (!out->grad_fn) {
        rc = to_leaf(out, run_hooks(out->hooks, g));
    } else {
        ag_node *root = out->grad_fn;
        rc = run(&root, &g, 1, opts.retain_graph, opts.create_graph, NULL);
    }
    ag_scope_end();
    return rc;
}

int ag_grad(ag_tensor *const *outputs, int n_out, ag_tensor *const *inputs, int n_in,
            ag_tensor *const *grad_outputs, bool retain_graph, ag_tensor **grads) {
    return ag_grad_ex(outputs, n_out, inputs, n_in,
                      (ag_grad_opts){.grad_outputs = grad_outputs, .retain_graph = retain_graph}, grads);
}

int ag_grad_ex(ag_tensor *const *outputs, int n_out, ag_tensor *const *inputs, int n_in, ag_grad_opts opts,
               ag_tensor **grads) {
    ag_tensor *const *grad_outputs = opts.grad_outputs;
    bool create = opts.create_graph;
    if (!outputs || !inputs || !grads || n_out <= 0 || n_in <= 0)
        return ag_set_error(AG_ERR_INVALID, "ag_grad: expected outputs, inputs and grads arrays with "
                            "n_out > 0 and n_in > 0, given n_out=%d n_in=%d", n_out, n_in);
    for (int i = 0; i < n_in; i++) grads[i] = NULL;
    if (ag_failed()) return ag_error_code(); /* as ag_backward_ex */
    for (int i = 0; i < n_out; i++)
        if (!outputs[i]) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_grad: output %d is NULL", i);
    for (int i = 0; i < n_in; i++) {
        if (!inputs[i]) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_grad: input %d is NULL", i);
        if (!inputs[i]->requires_grad)
            return ag_set_error(AG_ERR_AUTOGRAD, "ag_grad: input %d (shape %s) does not require grad", i,
                                AG_SHP(inputs[i]));
    }
    ag_node **roots = calloc((size_t)n_out, sizeof *roots);
    ag_tensor **seeds = calloc((size_t)n_out, sizeof *seeds);
    ag_tensor **slots = calloc((size_t)n_in, sizeof *slots);
    int rc = 0, nr = 0;
    if (!roots || !seeds || !slots) { rc = ag_set_error(AG_ERR_NOMEM, "ag_grad: out of memory"); goto out; }
    capture cap = {inputs, n_in, slots};
    ag_scope_begin();
    for (int i = 0; i < n_out && rc == 0; i++) {
        ag_tensor *o = outputs[i];
        if (!o->requires_grad) {
            rc = ag_set_error(AG_ERR_AUTOGRAD, "ag_grad: output %d does not require grad", i);
            break;
        }
        ag_tensor *g = seed_for("ag_grad", o, grad_outputs ? grad_outputs[i] : NULL, create);
        if (!g) { rc = ag_error_code(); break; }
        if (!o->grad_fn) { /* an output that is itself a leaf input */
            int ci = capture_index(&cap, o, NULL);
            if (ci >= 0) slots[ci] = accumulate(slots[ci], g); else ag__drop(g);
            continue;
        }
        roots[nr] = o->grad_fn;
        seeds[nr++] = g;
    }
    if (rc == 0 && nr) rc = run(roots, seeds, nr, opts.retain_graph, create, &cap);
    else for (int i = 0; i < nr; i++) ag__drop(seeds[i]);
    ag_scope_end();
    for (int i = 0; i < n_in && rc == 0; i++) {
        if (!slots[i]) {
            slots[i] = ag_zeros_like(inputs[i]);
            ag__unscope(slots[i]);
            if (!slots[i]) rc = ag_error_code();
        }
        else if (slots[i]->dtype != inputs[i]->dtype) {
            ag_tensor *c = create ? own(ag_to_dtype(slots[i], inputs[i]->dtype)) : ag__cast(slots[i], inputs[i]->dtype);
            ag__drop(slots[i]);
            slots[i] = c;
        }
    }
    for (int i = 0; i < n_in; i++) {
        if (rc) { ag__drop(slots[i]); continue; }
        if (atomic_load(&slots[i]->rc) > 1) { /* one gradient reached several inputs: give each its own */
            ag_tensor *c = own(ag_clone(slots[i]));
            ag__drop(slots[i]);
            slots[i] = c;
            if (!c) { rc = ag_error_code(); continue; }
        }
        grads[i] = ag__ret(slots[i]);
    }
out:
    free(roots);
    free(seeds);
    free(slots);
    return rc;
}

int ag_register_hook(ag_tensor *t, ag_grad_hook fn, void *user_data) {
    if (!t || !fn) return ag_set_error(AG_ERR_INVALID, "ag_register_hook: tensor and function must not be NULL");
    if (!t->requires_grad)
        return ag_set_error(AG_ERR_AUTOGRAD, "ag_register_hook: the tensor does not require grad");
    struct ag_hook *h = malloc(sizeof *h);
    if (!h) return ag_set_error(AG_ERR_NOMEM, "ag_register_hook: out of memory");
    h->fn = fn;
    h->ud = user_data;
    struct ag_hook **head = t->grad_fn ? &t->grad_fn->hooks : &t->hooks;
    h->next = NULL;
    while (*head) head = &(*head)->next;
    *head = h;
    return 0;
}
