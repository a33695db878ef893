/* optim/lbfgs.c — L-BFGS, a line-by-line port of torch/optim/lbfgs.py (PyTorch 1.13/2.x):
 * the two-loop recursion, the stopping rules, and _strong_wolfe/_cubic_interpolate with their
 * Python semantics (min/max return the first argument on ties, the line search always uses its
 * own tolerance_change of 1e-9, as PyTorch's step() does not pass the option through).
 *
 * The algorithm runs on the host in f64 over the flattened parameters (complex parameters as
 * their real view, (re, im) interleaved): parameters are read into a flat vector, and written
 * back (converted to their dtype and device) whenever the closure must see new values. For f64
 * parameters this reproduces PyTorch's trajectory (p.add_(d, alpha=t) and q.add_(y, alpha=-a) are
 * fused multiply-adds, as PyTorch's AVX2 kernels compute them; dots are sequential sums); f32 parameters are optimised in
 * f64 arithmetic and rounded when written.
 *
 * State (all f64 cpu tensors, kept under parameter 0, as PyTorch): func_evals, n_iter, d, t,
 * H_diag, prev_flat_grad, prev_loss (0-d or [N]), and the history old_dirs [m, N], old_stps
 * [m, N], ro [m] with m <= history_size rows, oldest first (they grow as PyTorch's lists do).
 *
 * The optimizer's own data (o->priv) is the flat length and the step's work buffers, made at
 * the first step and kept, so a step does not allocate in proportion to N. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim_internal.h"

enum { K_FEVALS, K_NITER, K_D, K_T, K_HDIAG, K_PREVG, K_PREVLOSS, K_DIRS, K_STPS, K_RO, K_COUNT };
static const char *const lbfgs_keys[K_COUNT] = {"func_evals", "n_iter", "d", "t", "H_diag",
                                                "prev_flat_grad", "prev_loss", "old_dirs", "old_stps", "ro"};

typedef struct lbfgs_priv {
    int64_t n;                            /* total real numel of the parameters */
    double *x, *g, *w, *al, *gout;        /* work: x, g, 5n for the line search, history_size + 1, n */
    /* The history during a step, as a ring of cap rows (grown by doubling up to history_size):
     * row i (oldest first) of m is at (r0 + i) % cap. The state tensors old_dirs, old_stps, ro
     * are written from it once at the end of a step, not rebuilt at every iteration. */
    double *rd, *rs, *rr;
    int64_t cap, r0, m;
} lbfgs_priv;

static lbfgs_priv *priv(ag_optim *o) { return o->priv; }

static void lbfgs_free(ag_optim *o) {
    lbfgs_priv *P = priv(o);
    if (!P) return;
    free(P->x); free(P->g); free(P->w); free(P->al); free(P->gout);
    free(P->rd); free(P->rs); free(P->rr);
    free(P);
    o->priv = NULL;
}

static int lbfgs_init_state(ag_optim *o);
static int lbfgs_step(ag_optim *o, ag_closure_fn closure, void *ud);
static int lbfgs_load_state(ag_optim *o, int pi, int k, ag_tensor *value);
static bool lbfgs_load_shape_ok(ag_optim *o, int pi, int k, const int64_t *shape, int ndim);

/* no .step: every L-BFGS step re-evaluates the loss */
static const ag_optim_vtable lbfgs_vt = {.name = "lbfgs", .step_closure = lbfgs_step, .init_state = lbfgs_init_state,
                                         .load_state = lbfgs_load_state, .load_shape_ok = lbfgs_load_shape_ok,
                                         .free = lbfgs_free};

ag_optim *ag_lbfgs(ag_params params, ag_lbfgs_opts opts) {
    const char *f = "ag_lbfgs";
    opts.lr = opts.lr == 0 && !signbit(opts.lr) ? 1.0 : opts.lr;
    if (opts.max_iter < 0) return ag_fail(AG_ERR_INVALID, "%s: invalid max_iter %d (must be >= 0)", f, opts.max_iter);
    if (opts.max_iter == 0) opts.max_iter = 20;
    if (opts.max_eval < 0) return ag_fail(AG_ERR_INVALID, "%s: invalid max_eval %d (must be >= 0)", f, opts.max_eval);
    if (opts.max_eval == 0) opts.max_eval = opts.max_iter * 5 / 4;
    if (opts.tolerance_grad == 0 && !signbit(opts.tolerance_grad)) opts.tolerance_grad = 1e-7;
    if (opts.tolerance_change == 0 && !signbit(opts.tolerance_change)) opts.tolerance_change = 1e-9;
    if (!(opts.tolerance_grad >= 0) || !(opts.tolerance_change >= 0))
        return ag_fail(AG_ERR_INVALID, "%s: tolerances must be >= 0 (given %g, %g)", f, opts.tolerance_grad,
                       opts.tolerance_change);
    if (opts.history_size < 0)
        return ag_fail(AG_ERR_INVALID, "%s: invalid history_size %d (must be >= 0)", f, opts.history_size);
    if (opts.history_size == 0) opts.history_size = 100;
    if (opts.line_search != AG_LINE_SEARCH_NONE && opts.line_search != AG_LINE_SEARCH_STRONG_WOLFE)
        return ag_fail(AG_ERR_INVALID, "%s: unknown line search %d (only strong Wolfe is supported)", f,
                       (int)opts.line_search);
    ag_optim *o = ag__optim_new(&lbfgs_vt, params, opts.lr, f);
    if (!o) return NULL;
    o->o.lbfgs = opts;
    for (int k = 0; k < K_COUNT; k++) o->keys[o->nkeys++] = lbfgs_keys[k];
    lbfgs_priv *P = calloc(1, sizeof *P);
    if (!P) {
        ag_optim_free(o);
        return ag_fail(AG_ERR_NOMEM, "%s: out of memory", f);
    }
    for (int i = 0; i < o->params.n; i++) P->n += ag__real_numel(o->params.t[i]);
    o->priv = P;
    return o;
}

static ag_tensor *f64_new(int ndim, int64_t r, int64_t c) {
    int64_t shp[2];
    if (ndim == 1) shp[0] = r;
    if (ndim == 2) { shp[0] = r; shp[1] = c; }
    ag_tensor *t = ag_zeros_on(shp, ndim, AG_F64, AG_CPU);
    ag__unscope(t); /* the optimizer owns it: a scope the caller has open must not free it */
    return t;
}

static int lbfgs_init_state(ag_optim *o) {
    ag_optim_slot *s = &o->slots[0];
    if (s->has_state) return 0;
    int rc = ag__optim_slot_names(o, 0);
    if (rc) return rc;
    int64_t n = priv(o)->n;
    for (int k = 0; k < K_COUNT; k++) {
        ag_tensor *t;
        switch (k) {
        case K_D: case K_PREVG: t = f64_new(1, n, 0); break;
        case K_DIRS: case K_STPS: t = f64_new(2, 0, n); break;
        case K_RO: t = f64_new(1, 0, 0); break;
        default: t = f64_new(0, 0, 0); break;
        }
        if (!t) {
            for (int j = 0; j < k; j++) { ag__drop(s->st[j]); s->st[j] = NULL; }
            return ag_error_code();
        }
        s->st[k] = t;
    }
    *(double *)ag_data(s->st[K_HDIAG]) = 1;
    s->has_state = true;
    return 0;
}

/* ---- flat parameter/gradient transfer ---------------------------------------------------- */
static int gather(ag_optim *o, bool grads, double *out) {
    int64_t off = 0;
    for (int i = 0; i < o->params.n; i++) {
        ag_tensor *p = o->params.t[i];
        int64_t n = ag__real_numel(p);
        ag_tensor *src = grads ? ag_grad_of(p) : p;
        if (!src) {
            memset(out + off, 0, (size_t)n * sizeof(double));
        } else {
            if (grads &&
                (ag_ndim(src) != ag_ndim(p) || memcmp(ag_shape(src), ag_shape(p), (size_t)ag_ndim(p) * sizeof(int64_t))))
                return ag_set_error(AG_ERR_SHAPE, "ag_lbfgs: parameter %d has shape %s but its grad %s", i,
                                    AG_SHP(p), AG_SHP(src));
            /* ag_copy_to_buffer transfers from any device */
            int rc = ag_copy_to_buffer(src, out + off, ag_dtype_is_complex(ag_dtype_of(p)) ? AG_C128 : AG_F64);
            if (rc) return rc;
        }
        off += n;
    }
    return 0;
}

typedef struct lb {
    ag_optim *o;
    ag_closure_fn fn;
    void *ud;
    int64_t n;
} lb;

/* Each closure call runs in its own scope: a step calls it up to max_eval times, and the
 * temporaries of every call would otherwise pile up in the caller's scope until it ends. */
static int evaluate(lb *L, double *loss, double *g) {
    ag_scope_begin();
    ag_tensor *r = L->fn(L->ud);
    int rc = 0;
    if (!r) rc = ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_lbfgs: the closure returned NULL");
    else if (ag_numel(r) != 1)
        rc = ag_set_error(AG_ERR_SHAPE, "ag_lbfgs: the closure must return a scalar loss, given shape %s", AG_SHP(r));
    else *loss = ag_item(r);
    ag_release(r);
    ag_scope_end();
    if (rc) return rc;
    if (ag_failed()) return ag_error_code();
    return gather(L->o, true, g);
}

/* Dots and axpys are most of a step at N ~ 10^4 with a full history (2m of each per iteration):
 * the dot keeps four partial sums (a sequential sum is bound by the add latency; PyTorch's dot
 * is a BLAS one, not sequential either, from 16 elements on), and the axpy is compiled a second time for CPUs with
 * the FMA instruction (without it, each fma() is a call into libm). fma is correctly rounded
 * either way, so the result does not depend on the machine. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define LBFGS_CLONES __attribute__((target_clones("fma", "default")))
#endif
#endif
#ifndef LBFGS_CLONES
#define LBFGS_CLONES
#endif
LBFGS_CLONES static double dot(const double *a, const double *b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    /* short vectors are summed in order, as OpenBLAS's ddot does below 16 elements */
    for (; n >= 16 && i + 4 <= n; i += 4) s0 += a[i] * b[i], s1 += a[i + 1] * b[i + 1], s2 += a[i + 2] * b[i + 2], s3 += a[i + 3] * b[i + 3];
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}
/* y = fma(a, x, y), PyTorch's y.add_(x, alpha=a) */
LBFGS_CLONES static void axpy(int64_t n, double a, const double *x, double *y) {
    for (int64_t j = 0; j < n; j++) y[j] = fma(a, x[j], y[j]);
}

/* x + t d into the parameters, closure, gradient, then the parameters back to x. */
static int directional_evaluate(lb *L, const double *x, double t, const double *d, double *tmp, double *loss,
                                double *g) {
    memcpy(tmp, x, (size_t)L->n * sizeof *tmp);
    axpy(L->n, t, d, tmp);
    int rc = ag__params_write(L->o->params, tmp);
    if (!rc) rc = evaluate(L, loss, g);
    int rc2 = ag__params_write(L->o->params, x);
    return rc ? rc : rc2;
}

static double absmax(const double *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = fabs(a[i]);
        if (v > m || v != v) m = v;
    }
    return m;
}
/* Python's max(a, b) / min(a, b): the first argument unless the second is strictly better. */
static double pymax(double a, double b) { return b > a ? b : a; }
static double pymin(double a, double b) { return b < a ? b : a; }

static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2, const double *bounds) {
    double xmin_bound, xmax_bound;
    if (bounds) { xmin_bound = bounds[0]; xmax_bound = bounds[1]; }
    else if (x1 <= x2) { xmin_bound = x1; xmax_bound = x2; }
    else { xmin_bound = x2; xmax_bound = x1; }
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2_square = d1 * d1 - g1 * g2;
    if (d2_square >= 0) {
        double d2 = sqrt(d2_square), min_pos;
        if (x1 <= x2) min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
        else min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        return pymin(pymax(min_pos, xmin_bound), xmax_bound);
    }
    return (xmin_bound + xmax_bound) / 2.;
}

/* _strong_wolfe. g (in) is the gradient at x; on return g_out holds the chosen gradient. */
static int strong_wolfe(lb *L, const double *x, double *t_io, const double *d, double f, const double *g, double gtd,
                        double *f_out, double *g_out, int *evals_out, double *w) {
    const double c1 = 1e-4, c2 = 0.9, tolerance_change = 1e-9;
    const int max_ls = 25;
    int64_t n = L->n;
    double *tmp = w, *g_new = w + n, *g_prev = w + 2 * n, *bg[2] = {w + 3 * n, w + 4 * n};
    double t = *t_io, d_norm = absmax(d, n);
    double f_new;
    int rc = directional_evaluate(L, x, t, d, tmp, &f_new, g_new);
    if (rc) return rc;
    int ls_func_evals = 1;
    double gtd_new = dot(g_new, d, n);
    double t_prev = 0, f_prev = f, gtd_prev = gtd;
    memcpy(g_prev, g, (size_t)n * sizeof(double));
    bool done = false;
    int ls_iter = 0, nb = 0;
    double bracket[2] = {0}, bracket_f[2] = {0}, bracket_gtd[2] = {0};
    while (ls_iter < max_ls) {
        if (f_new > (f + c1 * t * gtd) || (ls_iter > 1 && f_new >= f_prev)) {
            nb = 2;
            bracket[0] = t_prev; bracket[1] = t;
            bracket_f[0] = f_prev; bracket_f[1] = f_new;
            memcpy(bg[0], g_prev, (size_t)n * sizeof(double));
            memcpy(bg[1], g_new, (size_t)n * sizeof(double));
            bracket_gtd[0] = gtd_prev; bracket_gtd[1] = gtd_new;
            break;
        }
        if (fabs(gtd_new) <= -c2 * gtd) {
            nb = 1;
            bracket[0] = t; bracket_f[0] = f_new;
            memcpy(bg[0], g_new, (size_t)n * sizeof(double));
            done = true;
            break;
        }
        if (gtd_new >= 0) {
            nb = 2;
            bracket[0] = t_prev; bracket[1] = t;
            bracket_f[0] = f_prev; bracket_f[1] = f_new;
            memcpy(bg[0], g_prev, (size_t)n * sizeof(double));
            memcpy(bg[1], g_new, (size_t)n * sizeof(double));
            bracket_gtd[0] = gtd_prev; bracket_gtd[1] = gtd_new;
            break;
        }
        double min_step = t + 0.01 * (t - t_prev);
        double max_step = t * 10;
        double tmp_t = t;
        double bounds[2] = {min_step, max_step};
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds);
        t_prev = tmp_t;
        f_prev = f_new;
        memcpy(g_prev, g_new, (size_t)n * sizeof(double));
        gtd_prev = gtd_new;
        rc = directional_evaluate(L, x, t, d, tmp, &f_new, g_new);
        if (rc) return rc;
        ls_func_evals++;
        gtd_new = dot(g_new, d, n);
        ls_iter++;
    }
    if (ls_iter == max_ls) {
        nb = 2;
        bracket[0] = 0; bracket[1] = t;
        bracket_f[0] = f; bracket_f[1] = f_new;
        memcpy(bg[0], g, (size_t)n * sizeof(double));
        memcpy(bg[1], g_new, (size_t)n * sizeof(double));
    }
    bool insuf_progress = false;
    int low_pos = 0, high_pos = 1;
    if (!(bracket_f[0] <= bracket_f[nb - 1])) { low_pos = 1; high_pos = 0; }
    while (!done && ls_iter < max_ls) {
        if (fabs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1], NULL);
        double bmax = pymax(bracket[0], bracket[1]), bmin = pymin(bracket[0], bracket[1]);
        double eps = 0.1 * (bmax - bmin);
        if (pymin(bmax - t, t - bmin) < eps) {
            if (insuf_progress || t >= bmax || t <= bmin) {
                if (fabs(t - bmax) < fabs(t - bmin)) t = bmax - eps;
                else t = bmin + eps;
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        rc = directional_evaluate(L, x, t, d, tmp, &f_new, g_new);
        if (rc) return rc;
        ls_func_evals++;
        gtd_new = dot(g_new, d, n);
        ls_iter++;
        if (f_new > (f + c1 * t * gtd) || f_new >= bracket_f[low_pos]) {
            bracket[high_pos] = t;
            bracket_f[high_pos] = f_new;
            memcpy(bg[high_pos], g_new, (size_t)n * sizeof(double));
            bracket_gtd[high_pos] = gtd_new;
            if (bracket_f[0] <= bracket_f[1]) { low_pos = 0; high_pos = 1; }
            else { low_pos = 1; high_pos = 0; }
        } else {
            if (fabs(gtd_new) <= -c2 * gtd) {
                done = true;
            } else if (gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0) {
                bracket[high_pos] = bracket[low_pos];
                bracket_f[high_pos] = bracket_f[low_pos];
                memcpy(bg[high_pos], bg[low_pos], (size_t)n * sizeof(double));
                bracket_gtd[high_pos] = bracket_gtd[low_pos];
            }
            bracket[low_pos] = t;
            bracket_f[low_pos] = f_new;
            memcpy(bg[low_pos], g_new, (size_t)n * sizeof(double));
            bracket_gtd[low_pos] = gtd_new;
        }
    }
    *t_io = bracket[low_pos];
    *f_out = bracket_f[low_pos];
    memcpy(g_out, bg[low_pos], (size_t)n * sizeof(double));
    *evals_out = ls_func_evals;
    return 0;
}

static int64_t ring_row(const lbfgs_priv *P, int64_t i) { return (P->r0 + i) % P->cap; }

/* room for c rows (the ring is not wrapped while it grows: r0 is 0 until it is full) */
static int ring_grow(lbfgs_priv *P, int64_t c, int64_t n) {
    double *d2 = realloc(P->rd, (size_t)(c * n) * sizeof(double));
    if (d2) P->rd = d2;
    double *s2 = d2 ? realloc(P->rs, (size_t)(c * n) * sizeof(double)) : NULL;
    if (s2) P->rs = s2;
    double *r2 = s2 ? realloc(P->rr, (size_t)c * sizeof(double)) : NULL;
    if (r2) P->rr = r2;
    if (!d2 || !s2 || !r2) return ag_set_error(AG_ERR_NOMEM, "ag_lbfgs: out of memory for the history");
    P->cap = c;
    return 0;
}

/* Appends (y, s, 1/ys), dropping the oldest row when history_size rows are kept (PyTorch's
 * list pop(0) and append). */
static int ring_push(lbfgs_priv *P, int64_t hist, const double *y, const double *sv, double ro, int64_t n) {
    int rc;
    if (P->m == hist) P->r0 = (P->r0 + 1) % P->cap;
    else {
        if (P->m == P->cap && (rc = ring_grow(P, P->cap ? (2 * P->cap < hist ? 2 * P->cap : hist) : (hist < 8 ? hist : 8), n)))
            return rc;
        P->m++;
    }
    int64_t r = ring_row(P, P->m - 1);
    memcpy(P->rd + r * n, y, (size_t)n * sizeof(double));
    memcpy(P->rs + r * n, sv, (size_t)n * sizeof(double));
    P->rr[r] = ro;
    return 0;
}

/* the state's history (m <= history_size rows, oldest first) into the ring */
static int ring_load(lbfgs_priv *P, ag_optim_slot *s, int64_t hist, int64_t m, int64_t n) {
    P->r0 = 0, P->m = 0;
    const double *dirs = ag_data(s->st[K_DIRS]), *stps = ag_data(s->st[K_STPS]), *ro = ag_data(s->st[K_RO]);
    for (int64_t i = 0; i < m; i++) {
        int rc = ring_push(P, hist, dirs + i * n, stps + i * n, ro[i], n);
        if (rc) return rc;
    }
    return 0;
}

/* the ring back into the state tensors, oldest first */
static int ring_store(const lbfgs_priv *P, ag_optim_slot *s, int64_t n) {
    ag_tensor *t[3] = {f64_new(2, P->m, n), f64_new(2, P->m, n), f64_new(1, P->m, 0)};
    if (!t[0] || !t[1] || !t[2]) {
        for (int k = 0; k < 3; k++) ag__drop(t[k]);
        return ag_error_code();
    }
    for (int64_t i = 0; i < P->m; i++) {
        int64_t r = ring_row(P, i);
        memcpy((double *)ag_data(t[0]) + i * n, P->rd + r * n, (size_t)n * sizeof(double));
        memcpy((double *)ag_data(t[1]) + i * n, P->rs + r * n, (size_t)n * sizeof(double));
        ((double *)ag_data(t[2]))[i] = P->rr[r];
    }
    const int ks[3] = {K_DIRS, K_STPS, K_RO};
    for (int k = 0; k < 3; k++) ag__drop(s->st[ks[k]]), s->st[ks[k]] = t[k];
    return 0;
}

static int lbfgs_step(ag_optim *o, ag_closure_fn closure, void *ud) {
    const ag_lbfgs_opts *q = &o->o.lbfgs;
    if (ag_failed()) return ag_error_code();
    int rc = lbfgs_init_state(o);
    if (rc) return rc;
    ag_optim_slot *s = &o->slots[0];
    lbfgs_priv *P = priv(o);
    const int64_t n = P->n;
    int64_t m = ag_shape(s->st[K_DIRS])[0];
    if (ag_shape(s->st[K_STPS])[0] != m || ag_shape(s->st[K_RO])[0] != m)
        return ag_set_error(AG_ERR_SHAPE, "ag_lbfgs: inconsistent history in the state (old_dirs %lld rows, "
                            "old_stps %lld, ro %lld)", (long long)m, (long long)ag_shape(s->st[K_STPS])[0],
                            (long long)ag_shape(s->st[K_RO])[0]);
    lb L = {o, closure, ud, n};
    size_t nb = (size_t)(n ? n : 1) * sizeof(double);
    if (!P->x) {
        P->x = malloc(nb); P->g = malloc(nb); P->w = malloc(5 * nb); P->gout = malloc(nb);
        P->al = malloc((size_t)(q->history_size + 1) * sizeof(double));
        if (!P->x || !P->g || !P->w || !P->gout || !P->al) {
            free(P->x); free(P->g); free(P->w); free(P->gout); free(P->al);
            P->x = P->g = P->w = P->gout = P->al = NULL;
            return ag_set_error(AG_ERR_NOMEM, "ag_lbfgs: out of memory");
        }
    }
    if ((rc = ring_load(P, s, q->history_size, m, n))) return rc;
    double *x = P->x, *g = P->g, *w = P->w, *al = P->al;
    double *sc = (double *)ag_data(s->st[K_FEVALS]), *si = (double *)ag_data(s->st[K_NITER]);
    double *d = (double *)ag_data(s->st[K_D]), *prev = (double *)ag_data(s->st[K_PREVG]);
    double t = *(double *)ag_data(s->st[K_T]), H_diag = *(double *)ag_data(s->st[K_HDIAG]);
    double prev_loss = *(double *)ag_data(s->st[K_PREVLOSS]);
    const double lr = o->lr;

    double loss;
    rc = gather(o, false, x);
    if (!rc) rc = evaluate(&L, &loss, g);
    if (rc) goto out;
    o->last_loss = loss;
    int current_evals = 1;
    *sc += 1;
    bool opt_cond = absmax(g, n) <= q->tolerance_grad;
    if (opt_cond) goto out;

    int n_iter = 0;
    while (n_iter < q->max_iter) {
        n_iter++;
        *si += 1;
        if (*si == 1) {
            for (int64_t j = 0; j < n; j++) d[j] = -g[j];
            P->m = 0, P->r0 = 0;
            H_diag = 1;
        } else {
            double *y = w, *sv = w + n;
            for (int64_t j = 0; j < n; j++) y[j] = g[j] - prev[j];
            for (int64_t j = 0; j < n; j++) sv[j] = d[j] * t;
            double ys = dot(y, sv, n);
            if (ys > 1e-10) {
                if ((rc = ring_push(P, q->history_size, y, sv, 1. / ys, n))) goto out;
                H_diag = ys / dot(y, y, n);
            }
            double *qv = d; /* q, then r = d */
            for (int64_t j = 0; j < n; j++) qv[j] = -g[j];
            for (int64_t i = P->m - 1; i >= 0; i--) {
                int64_t r = ring_row(P, i);
                al[i] = dot(P->rs + r * n, qv, n) * P->rr[r];
                const double a = -al[i];
                axpy(n, a, P->rd + r * n, qv);
            }
            for (int64_t j = 0; j < n; j++) d[j] = qv[j] * H_diag;
            for (int64_t i = 0; i < P->m; i++) {
                int64_t r = ring_row(P, i);
                double be_i = dot(P->rd + r * n, d, n) * P->rr[r];
                const double a = al[i] - be_i;
                axpy(n, a, P->rs + r * n, d);
            }
        }
        memcpy(prev, g, (size_t)n * sizeof(double));
        prev_loss = loss;
        if (*si == 1) {
            double sum = 0;
            for (int64_t j = 0; j < n; j++) sum += fabs(g[j]);
            double r = 1. / sum;
            t = (r < 1. ? r : 1.) * lr;
        } else {
            t = lr;
        }
        double gtd = dot(g, d, n);
        if (gtd > -q->tolerance_change) break;
        int ls_func_evals = 0;
        if (q->line_search == AG_LINE_SEARCH_STRONG_WOLFE) {
            rc = strong_wolfe(&L, x, &t, d, loss, g, gtd, &loss, P->gout, &ls_func_evals, w);
            memcpy(g, P->gout, nb);
            if (rc) goto out;
            axpy(n, t, d, x);
            if ((rc = ag__params_write(o->params, x))) goto out;
            opt_cond = absmax(g, n) <= q->tolerance_grad;
        } else {
            axpy(n, t, d, x);
            if ((rc = ag__params_write(o->params, x))) goto out;
            if (n_iter != q->max_iter) {
                if ((rc = evaluate(&L, &loss, g))) goto out;
                opt_cond = absmax(g, n) <= q->tolerance_grad;
                ls_func_evals = 1;
            }
        }
        current_evals += ls_func_evals;
        *sc += ls_func_evals;
        if (n_iter == q->max_iter) break;
        if (current_evals >= q->max_eval) break;
        if (opt_cond) break;
        double dt = 0;
        for (int64_t j = 0; j < n; j++) {
            double v = fabs(d[j] * t);
            if (v > dt || v != v) dt = v;
        }
        if (dt <= q->tolerance_change) break;
        if (fabs(loss - prev_loss) < q->tolerance_change) break;
    }
    *(double *)ag_data(s->st[K_T]) = t;
    *(double *)ag_data(s->st[K_HDIAG]) = H_diag;
    *(double *)ag_data(s->st[K_PREVLOSS]) = prev_loss;
out:;
    int rc2 = ring_store(P, s, n);
    for (int k = 0; k < K_COUNT; k++) ag__bump_version(s->st[k]);
    return rc ? rc : rc2;
}

/* Loading a saved history of another length replaces the tensor (rows <= history_size);
 * everything else is the default copy, with its dtype and shape checks. */
static bool lbfgs_load_shape_ok(ag_optim *o, int pi, int k, const int64_t *shape, int ndim) {
    const ag_tensor *dst = o->slots[pi].st[k];
    return (k == K_DIRS || k == K_STPS || k == K_RO) && ndim == ag_ndim(dst) && (k == K_RO || shape[1] == ag_shape(dst)[1]) &&
           shape[0] <= o->o.lbfgs.history_size;
}

static int lbfgs_load_state(ag_optim *o, int pi, int k, ag_tensor *value) {
    ag_tensor *dst = o->slots[pi].st[k];
    if (ag_dtype_of(value) != AG_F64 || ag_shape(value)[0] == ag_shape(dst)[0] ||
        !lbfgs_load_shape_ok(o, pi, k, ag_shape(value), ag_ndim(value)))
        return ag__optim_load_copy(o, pi, k, value);
    ag_tensor *t = f64_new(ag_ndim(dst), ag_shape(value)[0], k == K_RO ? 0 : ag_shape(dst)[1]);
    int rc = t ? ag_copy_to_buffer(value, ag_data(t), AG_F64) : ag_error_code(); /* from any device */
    if (rc) { ag__drop(t); return rc; }
    ag__drop(dst);
    o->slots[pi].st[k] = t;
    return 0;
}
