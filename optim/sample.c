/* optim/sample.c — Hamiltonian Monte Carlo and NUTS (ag_sample) and the effective sample size
 * (ag_ess), following Stan 2.x (src/stan/mcmc/hmc and stan/analyze/mcmc) step by step so that
 * its documented behaviour carries over: the diag_e metric, expl_leapfrog, base_static_hmc,
 * base_nuts (multinomial, generalized criterion with the checks across the subtrees' seams),
 * stepsize_adaptation, windowed_adaptation / var_adaptation and init_stepsize.
 *
 * The chain's state is host f64 (a position of D values, its momentum and gradient): logp
 * itself is the only thing that runs on the parameters' device, so an evaluation is a copy of
 * the position into the parameters, the user's logp, ag_grad and one read of the value and
 * gradient back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astrograd/optim.h"
#include "optim/optim_internal.h"
#include "tensor/layer.h"

#define FN "ag_sample"

static const double MAX_DELTA_H = 1000; /* Stan's max_deltaH: a larger energy error is divergent */

/* ---- random numbers: xoshiro256** seeded through splitmix64 ------------------------------ */
typedef struct rng {
    uint64_t s[4];
    double spare;   /* the second normal of the last Box-Muller pair */
    bool has_spare;
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->has_spare = false;
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t rng_next(rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; } /* [0, 1) */
static double rng_normal(rng *r) {
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u = 1.0 - rng_uniform(r), v = rng_uniform(r); /* u in (0, 1]: log(u) is finite */
    double rad = sqrt(-2.0 * log(u));
    r->spare = rad * sin(2 * M_PI * v);
    r->has_spare = true;
    return rad * cos(2 * M_PI * v);
}

/* ---- the sampler's state ------------------------------------------------------------------ */
typedef struct point { /* q, p, g: D each; g = grad logp */
    double *q, *p, *g;
    double logp;
} point;

typedef struct sampler {
    ag_params params;
    ag_logp_fn fn;
    void *ud;
    int64_t d;
    double *minv;    /* diagonal inverse metric */
    double eps;      /* the step size of the current transition */
    rng r;
    int64_t n_grad;
    bool divergent;  /* set by the last transition */
    int max_depth;
    int depth;       /* NUTS: tree depth of the last transition */
    double accept;   /* acceptance statistic of the last transition */
    double *work;    /* NUTS: the trees' vectors (layout at vec) */
    ag_tensor **grads; /* [params.n]: ag_grad's results during an evaluation */
    point z;         /* the point being integrated */
} sampler;

static double *vec(sampler *S, int k) { return S->work + (size_t)k * (size_t)S->d; }
/* Per NUTS recursion level: 8 vectors (proposal q and g, p_init_end, p_sharp_init_end, rho_init,
 * p_final_beg, p_sharp_final_beg, rho_final), levels 0..max_depth-1; then the top level's
 * TOP_VECS; then one scratch vector. */
enum { LEVEL_VECS = 8, TOP_VECS = 21 };
static double *scratch(sampler *S) { return vec(S, S->max_depth * LEVEL_VECS + TOP_VECS); }
static void vcopy(sampler *S, double *dst, const double *src) { memcpy(dst, src, (size_t)S->d * sizeof *dst); }
static double vdot(int64_t d, const double *a, const double *b) {
    double s = 0;
    for (int64_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}
static void point_copy(sampler *S, point *dst, const point *src, bool with_p) {
    vcopy(S, dst->q, src->q);
    vcopy(S, dst->g, src->g);
    if (with_p) vcopy(S, dst->p, src->p);
    dst->logp = src->logp;
}

/* logp and its gradient at q. A NaN or infinite value is not an error here (the transition
 * treats it as infinite energy); a failed or malformed logp is. */
static int evaluate(sampler *S, const double *q, double *logp, double *g) {
    int rc = ag__params_write(S->params, q);
    if (rc) return rc;
    S->n_grad++;
    ag_scope_begin();
    ag_tensor *r = S->fn(S->ud), **grads = S->grads;
    memset(grads, 0, (size_t)S->params.n * sizeof *grads);
    if (!r)
        rc = ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, FN ": the log-density callback returned NULL");
    else if (ag_numel(r) != 1 || !ag_dtype_is_float(ag_dtype_of(r)))
        rc = ag_set_error(AG_ERR_SHAPE, FN ": the log-density must be a real one-element tensor, given %s of shape %s",
                          ag_dtype_name(ag_dtype_of(r)), AG_SHP(r));
    else
        rc = ag_grad(&r, 1, S->params.t, S->params.n, NULL, false, grads);
    if (!rc) *logp = ag_item(r);
    int64_t off = 0;
    for (int i = 0; i < S->params.n && !rc; i++) {
        ag_tensor *p = S->params.t[i];
        rc = ag_copy_to_buffer(grads[i], g + off, ag_dtype_is_complex(ag_dtype_of(p)) ? AG_C128 : AG_F64);
        off += ag__real_numel(p);
    }
    for (int i = 0; i < S->params.n; i++) ag_release(grads[i]);
    ag_release(r);
    ag_scope_end();
    if (!rc && ag_failed()) rc = ag_error_code();
    return rc;
}

static double kinetic(sampler *S, const double *p) {
    double k = 0;
    for (int64_t i = 0; i < S->d; i++) k += p[i] * p[i] * S->minv[i];
    return 0.5 * k;
}
/* -logp + kinetic energy; NaN counts as infinite (Stan), and so does logp = +inf, which would
 * otherwise be accepted from anywhere and never left */
static double hamiltonian(sampler *S, const point *z) {
    double h = -z->logp + kinetic(S, z->p);
    return isnan(h) || h == -INFINITY ? INFINITY : h;
}
static void sample_momentum(sampler *S, double *p) {
    for (int64_t i = 0; i < S->d; i++) p[i] = rng_normal(&S->r) / sqrt(S->minv[i]);
}
static void dtau_dp(sampler *S, const double *p, double *out) {
    for (int64_t i = 0; i < S->d; i++) out[i] = S->minv[i] * p[i];
}

/* One leapfrog step of size eps (negative: backwards in time). */
static int leapfrog(sampler *S, point *z, double eps) {
    for (int64_t i = 0; i < S->d; i++) z->p[i] += 0.5 * eps * z->g[i];
    for (int64_t i = 0; i < S->d; i++) z->q[i] += eps * S->minv[i] * z->p[i];
    int rc = evaluate(S, z->q, &z->logp, z->g);
    if (rc) return rc;
    for (int64_t i = 0; i < S->d; i++) z->p[i] += 0.5 * eps * z->g[i];
    return 0;
}

/* ---- static HMC (base_static_hmc), with divergences checked after every step -------------- */
static int hmc_transition(sampler *S, point *z, point *init, int n_leapfrog) {
    sample_momentum(S, z->p);
    point_copy(S, init, z, true);
    double h0 = hamiltonian(S, z), h = h0;
    S->divergent = false;
    for (int i = 0; i < n_leapfrog && !S->divergent; i++) {
        int rc = leapfrog(S, z, S->eps);
        if (rc) return rc;
        h = hamiltonian(S, z);
        S->divergent = h - h0 > MAX_DELTA_H;
    }
    double a = S->divergent ? 0 : exp(h0 - h);
    if (a < 1 && rng_uniform(&S->r) > a) point_copy(S, z, init, true);
    S->accept = a > 1 ? 1 : a;
    return 0;
}

/* ---- NUTS (base_nuts) --------------------------------------------------------------------- */
static double log_sum_exp(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log(exp(a - m) + exp(b - m));
}
static bool criterion(sampler *S, const double *p_sharp_minus, const double *p_sharp_plus, const double *rho) {
    return vdot(S->d, p_sharp_plus, rho) > 0 && vdot(S->d, p_sharp_minus, rho) > 0;
}
static void vadd(sampler *S, double *dst, const double *a, const double *b) {
    for (int64_t i = 0; i < S->d; i++) dst[i] = a[i] + b[i];
}

typedef struct tree_acc {
    int n_leapfrog;
    double sum_metro_prob;
    double h0;
} tree_acc;

/* build_tree: the subtree of 2^depth steps from S->z in direction sign. Returns 1 if valid, 0 if
 * it diverged or turned, negative on error. rho gets the subtree's momentum sum added. */
static int build_tree(sampler *S, int depth, point *z_propose, double *p_sharp_beg, double *p_sharp_end, double *rho,
                      double *p_beg, double *p_end, double sign, tree_acc *acc, double *log_sum_weight) {
    point *z = &S->z;
    if (depth == 0) {
        int rc = leapfrog(S, z, sign * S->eps);
        if (rc) return rc;
        acc->n_leapfrog++;
        double h = hamiltonian(S, z);
        if (h - acc->h0 > MAX_DELTA_H) S->divergent = true;
        *log_sum_weight = log_sum_exp(*log_sum_weight, acc->h0 - h);
        acc->sum_metro_prob += acc->h0 - h > 0 ? 1 : exp(acc->h0 - h);
        point_copy(S, z_propose, z, false);
        dtau_dp(S, z->p, p_sharp_beg);
        vcopy(S, p_sharp_end, p_sharp_beg);
        for (int64_t i = 0; i < S->d; i++) rho[i] += z->p[i];
        vcopy(S, p_beg, z->p);
        vcopy(S, p_end, p_beg);
        return !S->divergent;
    }
    int base = (depth - 1) * LEVEL_VECS;
    point z_final = {.q = vec(S, base), .g = vec(S, base + 1)};
    double *p_init_end = vec(S, base + 2), *p_sharp_init_end = vec(S, base + 3), *rho_init = vec(S, base + 4);
    double *p_final_beg = vec(S, base + 5), *p_sharp_final_beg = vec(S, base + 6), *rho_final = vec(S, base + 7);
    memset(rho_init, 0, (size_t)S->d * sizeof *rho_init);
    memset(rho_final, 0, (size_t)S->d * sizeof *rho_final);

    double lsw_init = -INFINITY;
    int ok = build_tree(S, depth - 1, z_propose, p_sharp_beg, p_sharp_init_end, rho_init, p_beg, p_init_end, sign, acc,
                        &lsw_init);
    if (ok <= 0) return ok;
    double lsw_final = -INFINITY;
    ok = build_tree(S, depth - 1, &z_final, p_sharp_final_beg, p_sharp_end, rho_final, p_final_beg, p_end, sign, acc,
                    &lsw_final);
    if (ok <= 0) return ok;

    /* multinomial choice between the two halves */
    double lsw_subtree = log_sum_exp(lsw_init, lsw_final);
    *log_sum_weight = log_sum_exp(*log_sum_weight, lsw_subtree);
    if (lsw_final > lsw_subtree || rng_uniform(&S->r) < exp(lsw_final - lsw_subtree))
        point_copy(S, z_propose, &z_final, false);

    for (int64_t i = 0; i < S->d; i++) rho[i] += rho_init[i] + rho_final[i];
    /* around the merged subtree, then across its seam (each side extended by one point) */
    double *ext = scratch(S);
    vadd(S, ext, rho_init, rho_final);
    bool persist = criterion(S, p_sharp_beg, p_sharp_end, ext);
    vadd(S, ext, rho_init, p_final_beg);
    persist = persist && criterion(S, p_sharp_beg, p_sharp_final_beg, ext);
    vadd(S, ext, rho_final, p_init_end);
    persist = persist && criterion(S, p_sharp_init_end, p_sharp_end, ext);
    return persist;
}

/* One NUTS transition from cur (q, g, logp; its p is overwritten), which receives the draw. */
static int nuts_transition(sampler *S, point *cur) {
    int k = S->max_depth * LEVEL_VECS;
    point z_fwd = {.q = vec(S, k), .p = vec(S, k + 1), .g = vec(S, k + 2)};
    point z_bck = {.q = vec(S, k + 3), .p = vec(S, k + 4), .g = vec(S, k + 5)};
    point z_propose = {.q = vec(S, k + 6), .g = vec(S, k + 7)};
    double *p_fwd_fwd = vec(S, k + 8), *p_sharp_fwd_fwd = vec(S, k + 9), *p_fwd_bck = vec(S, k + 10),
           *p_sharp_fwd_bck = vec(S, k + 11), *p_bck_fwd = vec(S, k + 12), *p_sharp_bck_fwd = vec(S, k + 13),
           *p_bck_bck = vec(S, k + 14), *p_sharp_bck_bck = vec(S, k + 15), *rho = vec(S, k + 16),
           *rho_fwd = vec(S, k + 17), *rho_bck = vec(S, k + 18);
    size_t bytes = (size_t)S->d * sizeof(double);

    sample_momentum(S, cur->p);
    point_copy(S, &z_fwd, cur, true);
    point_copy(S, &z_bck, cur, true);
    dtau_dp(S, cur->p, p_sharp_fwd_fwd);
    vcopy(S, p_sharp_fwd_bck, p_sharp_fwd_fwd);
    vcopy(S, p_sharp_bck_fwd, p_sharp_fwd_fwd);
    vcopy(S, p_sharp_bck_bck, p_sharp_fwd_fwd);
    vcopy(S, p_fwd_fwd, cur->p);
    vcopy(S, p_fwd_bck, cur->p);
    vcopy(S, p_bck_fwd, cur->p);
    vcopy(S, p_bck_bck, cur->p);
    vcopy(S, rho, cur->p);
    /* cur is the sample from here on: its p is no longer needed */
    double log_sum_weight = 0;
    tree_acc acc = {.h0 = hamiltonian(S, cur)};
    S->divergent = false;
    int depth = 0;
    while (depth < S->max_depth) {
        memset(rho_fwd, 0, bytes);
        memset(rho_bck, 0, bytes);
        double lsw_subtree = -INFINITY;
        int ok;
        if (rng_uniform(&S->r) > 0.5) {
            point_copy(S, &S->z, &z_fwd, true);
            vcopy(S, rho_bck, rho);
            vcopy(S, p_bck_fwd, p_fwd_fwd);
            vcopy(S, p_sharp_bck_fwd, p_sharp_fwd_fwd);
            ok = build_tree(S, depth, &z_propose, p_sharp_fwd_bck, p_sharp_fwd_fwd, rho_fwd, p_fwd_bck, p_fwd_fwd, 1,
                            &acc, &lsw_subtree);
            point_copy(S, &z_fwd, &S->z, true);
        } else {
            point_copy(S, &S->z, &z_bck, true);
            vcopy(S, rho_fwd, rho);
            vcopy(S, p_fwd_bck, p_bck_bck);
            vcopy(S, p_sharp_fwd_bck, p_sharp_bck_bck);
            ok = build_tree(S, depth, &z_propose, p_sharp_bck_fwd, p_sharp_bck_bck, rho_bck, p_bck_fwd, p_bck_bck, -1,
                            &acc, &lsw_subtree);
            point_copy(S, &z_bck, &S->z, true);
        }
        if (ok < 0) return ok;
        if (!ok) break;
        depth++;
        if (lsw_subtree > log_sum_weight || rng_uniform(&S->r) < exp(lsw_subtree - log_sum_weight))
            point_copy(S, cur, &z_propose, false);
        log_sum_weight = log_sum_exp(log_sum_weight, lsw_subtree);
        vadd(S, rho, rho_bck, rho_fwd);
        double *ext = scratch(S);
        bool persist = criterion(S, p_sharp_bck_bck, p_sharp_fwd_fwd, rho);
        vadd(S, ext, rho_bck, p_fwd_bck);
        persist = persist && criterion(S, p_sharp_bck_bck, p_sharp_fwd_bck, ext);
        vadd(S, ext, rho_fwd, p_bck_fwd);
        persist = persist && criterion(S, p_sharp_bck_fwd, p_sharp_fwd_fwd, ext);
        if (!persist) break;
    }
    S->depth = depth;
    S->accept = acc.sum_metro_prob / acc.n_leapfrog;
    return 0;
}

/* ---- adaptation ---------------------------------------------------------------------------- */
/* init_stepsize: double or halve eps until the acceptance of one leapfrog step from cur, with
 * fresh momentum, crosses 0.8. cur is left as it was. */
static int init_stepsize(sampler *S, const point *cur) {
    if (S->eps == 0 || S->eps > 1e7 || isnan(S->eps)) return 0;
    point *z = &S->z;
    int direction = 0;
    for (int it = 0;; it++) {
        point_copy(S, z, cur, false);
        sample_momentum(S, z->p);
        double h0 = hamiltonian(S, z);
        int rc = leapfrog(S, z, S->eps);
        if (rc) return rc;
        double dh = h0 - hamiltonian(S, z);
        if (it == 0) {
            direction = dh > log(0.8) ? 1 : -1;
            continue;
        }
        if (direction == 1 && !(dh > log(0.8))) break;
        if (direction == -1 && !(dh < log(0.8))) break;
        S->eps = direction == 1 ? 2 * S->eps : 0.5 * S->eps;
        if (S->eps > 1e7)
            return ag_set_error(AG_ERR_NUMERIC, FN ": the step-size search passed 1e7 (is the density improper, "
                                "e.g. flat in some direction?)");
        if (S->eps == 0)
            return ag_set_error(AG_ERR_NUMERIC, FN ": the step-size search reached 0 (the gradient is not finite "
                                "near the current point?)");
    }
    return 0;
}

/* stepsize_adaptation (dual averaging, Hoffman & Gelman 2014 section 3.2) */
typedef struct dual_avg {
    double mu, delta, s_bar, x_bar;
    int64_t counter;
} dual_avg;
static void da_restart(dual_avg *a) {
    a->counter = 0;
    a->s_bar = a->x_bar = 0;
}
static double da_learn(dual_avg *a, double adapt_stat) {
    const double gamma = 0.05, t0 = 10, kappa = 0.75;
    a->counter++;
    if (adapt_stat > 1) adapt_stat = 1;
    double c = (double)a->counter, eta = 1.0 / (c + t0);
    a->s_bar = (1.0 - eta) * a->s_bar + eta * (a->delta - adapt_stat);
    double x = a->mu - a->s_bar * sqrt(c) / gamma, x_eta = pow(c, -kappa);
    a->x_bar = (1.0 - x_eta) * a->x_bar + x_eta * x;
    return exp(x);
}

/* windowed_adaptation + var_adaptation with a Welford estimator */
typedef struct windows {
    int num_warmup, init_buffer, term_buffer, window_size, next_window, counter;
    bool on;
    int64_t n;
    double *mean, *m2;
} windows;
static void win_init(windows *w, int num_warmup, bool adapt) {
    w->counter = 0;
    w->n = 0;
    w->on = adapt && num_warmup >= 20;
    w->num_warmup = num_warmup;
    w->init_buffer = 75;
    w->term_buffer = 50;
    w->window_size = 25;
    if (w->on && w->init_buffer + w->window_size + w->term_buffer > num_warmup) {
        w->init_buffer = (int)(0.15 * num_warmup);
        w->term_buffer = (int)(0.1 * num_warmup);
        w->window_size = num_warmup - (w->init_buffer + w->term_buffer);
    }
    w->next_window = w->init_buffer + w->window_size - 1;
}
static void win_next(windows *w) {
    int last = w->num_warmup - w->term_buffer - 1;
    if (w->next_window == last) return;
    w->window_size *= 2;
    w->next_window = w->counter + w->window_size;
    if (w->next_window != last && w->next_window + 2 * w->window_size >= w->num_warmup - w->term_buffer)
        w->next_window = last;
}
/* Adds q to the window's estimate; at a window's end sets minv to the regularised variance and
 * returns true. */
static bool win_learn(windows *w, sampler *S, const double *q) {
    if (!w->on) return false;
    bool in_window = w->counter >= w->init_buffer && w->counter < w->num_warmup - w->term_buffer;
    bool updated = false;
    if (in_window) {
        w->n++;
        for (int64_t i = 0; i < S->d; i++) {
            double dlt = q[i] - w->mean[i];
            w->mean[i] += dlt / (double)w->n;
            w->m2[i] += dlt * (q[i] - w->mean[i]);
        }
    }
    if (w->counter == w->next_window) {
        win_next(w);
        double n = (double)w->n;
        for (int64_t i = 0; i < S->d; i++) {
            double var = w->n > 1 ? w->m2[i] / (n - 1) : 0;
            S->minv[i] = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0));
        }
        w->n = 0;
        memset(w->mean, 0, (size_t)S->d * sizeof(double));
        memset(w->m2, 0, (size_t)S->d * sizeof(double));
        updated = true;
    }
    w->counter++;
    return updated;
}

/* ---- the driver ------------------------------------------------------------------------------ */
static int check_params(ag_params params) {
    if (params.n <= 0 || !params.t) return ag_set_error(AG_ERR_INVALID, FN ": empty parameter list");
    for (int i = 0; i < params.n; i++) {
        ag_tensor *p = params.t[i];
        const char *pn = params.names && params.names[i] ? params.names[i] : "";
        const char *sp = *pn ? " " : "";
        if (!p) return ag_set_error(AG_ERR_INVALID, FN ": parameter %d%s%s is NULL", i, sp, pn);
        if (!ag_dtype_is_float(ag_dtype_of(p)))
            return ag_set_error(AG_ERR_DTYPE, FN ": parameter %d%s%s has dtype %s; expected f32, f64, c64 or c128", i,
                                sp, pn, ag_dtype_name(ag_dtype_of(p)));
        if (!ag_requires_grad(p) || !ag_is_leaf(p))
            return ag_set_error(AG_ERR_INVALID, FN ": parameter %d%s%s must be a leaf that requires grad", i, sp, pn);
        for (int j = 0; j < i; j++)
            if (params.t[j] == p)
                return ag_set_error(AG_ERR_INVALID, FN ": parameter %d appears twice (also at %d)", i, j);
    }
    return 0;
}

static int check_opts(ag_sample_opts *o) {
    if (o->algorithm != AG_SAMPLER_NUTS && o->algorithm != AG_SAMPLER_HMC)
        return ag_set_error(AG_ERR_INVALID, FN ": unknown algorithm %d (AG_SAMPLER_NUTS or AG_SAMPLER_HMC)",
                            (int)o->algorithm);
    if (o->n_samples < 1) return ag_set_error(AG_ERR_INVALID, FN ": n_samples must be >= 1, given %d", o->n_samples);
    if (o->n_warmup < 0) return ag_set_error(AG_ERR_INVALID, FN ": n_warmup must be >= 0, given %d", o->n_warmup);
    if (o->step_size == 0) o->step_size = 1;
    if (!(o->step_size > 0) || isinf(o->step_size))
        return ag_set_error(AG_ERR_INVALID, FN ": step_size must be finite and > 0, given %g", o->step_size);
    if (o->target_accept == 0) o->target_accept = 0.8;
    if (!(o->target_accept > 0 && o->target_accept < 1))
        return ag_set_error(AG_ERR_INVALID, FN ": target_accept must be in (0, 1), given %g", o->target_accept);
    if (!(o->step_jitter >= 0 && o->step_jitter <= 1))
        return ag_set_error(AG_ERR_INVALID, FN ": step_jitter must be in [0, 1], given %g", o->step_jitter);
    if (o->n_leapfrog == 0) o->n_leapfrog = 10;
    if (o->n_leapfrog < 0)
        return ag_set_error(AG_ERR_INVALID, FN ": n_leapfrog must be >= 1, given %d", o->n_leapfrog);
    if (o->max_depth == 0) o->max_depth = 10;
    if (o->max_depth < 0 || o->max_depth > 30)
        return ag_set_error(AG_ERR_INVALID, FN ": max_depth must be in [1, 30], given %d", o->max_depth);
    return 0;
}

/* A result tensor: on the CPU, since the draws are the sampler's host state, and owned by the
 * result (a scope the caller has open must not free it). */
static ag_tensor *result_tensor(const int64_t *shape, int ndim, ag_dtype dt, double fill) {
    ag_tensor *t = ag_full_on(shape, ndim, fill, dt, AG_CPU); /* host */
    if (t) ag__unscope(t);
    return t;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(sampler *S, ag_sample_opts o, ag_sample_result *out, double *draws, double *lp, int64_t *depths,
               double *wmean, double *wm2, double *state) {
    int64_t d = S->d;
    point cur = {.q = state, .p = state + d, .g = state + 2 * d};
    int64_t off = 0;
    for (int i = 0; i < S->params.n; i++) {
        ag_tensor *p = S->params.t[i];
        int rc = ag_copy_to_buffer(p, cur.q + off, ag_dtype_is_complex(ag_dtype_of(p)) ? AG_C128 : AG_F64);
        if (rc) return rc;
        off += ag__real_numel(p);
    }
    int rc = evaluate(S, cur.q, &cur.logp, cur.g);
    if (rc) return rc;
    if (isnan(cur.logp) || cur.logp == -INFINITY || cur.logp == INFINITY)
        return ag_set_error(AG_ERR_NUMERIC, FN ": the log density at the initial point is %g; expected a finite value",
                            cur.logp);
    for (int64_t i = 0; i < d; i++)
        if (!isfinite(cur.g[i]))
            return ag_set_error(AG_ERR_NUMERIC, FN ": the gradient of the log density at the initial point has %g at "
                                "element %lld; expected finite values", cur.g[i], (long long)i);

    S->eps = o.step_size;
    dual_avg da = {.mu = log(10 * o.step_size), .delta = o.target_accept};
    da_restart(&da);
    windows w = {.mean = wmean, .m2 = wm2};
    win_init(&w, o.n_warmup, !o.fixed_metric);
    if (o.n_warmup > 0 && (rc = init_stepsize(S, &cur))) return rc;

    double acc_sum = 0;
    for (int it = 0; it < o.n_warmup + o.n_samples; it++) {
        bool warm = it < o.n_warmup;
        double nominal = S->eps;
        if (o.step_jitter > 0) S->eps *= 1 + o.step_jitter * (2 * rng_uniform(&S->r) - 1);
        rc = o.algorithm == AG_SAMPLER_NUTS ? nuts_transition(S, &cur) : hmc_transition(S, &cur, &S->z, o.n_leapfrog);
        S->eps = nominal;
        if (rc) return rc;
        if (warm) {
            out->n_divergent_warmup += S->divergent;
            S->eps = da_learn(&da, S->accept);
            if (win_learn(&w, S, cur.q)) {
                if ((rc = init_stepsize(S, &cur))) return rc;
                da.mu = log(10 * S->eps);
                da_restart(&da);
            }
            if (it == o.n_warmup - 1) S->eps = exp(da.x_bar);
            continue;
        }
        int64_t k = it - o.n_warmup;
        memcpy(draws + k * d, cur.q, (size_t)d * sizeof *draws);
        lp[k] = cur.logp;
        if (depths) depths[k] = S->depth;
        acc_sum += S->accept;
        out->n_divergent += S->divergent;
    }
    out->accept_rate = acc_sum / o.n_samples;
    out->step_size = S->eps;
    /* the parameters end at the last draw, not at the last point a trajectory visited */
    return ag__params_write(S->params, cur.q);
}

int ag_sample(ag_params params, ag_logp_fn logp, void *user_data, ag_sample_opts opts, ag_sample_result *out) {
    if (!out) return ag_set_error(AG_ERR_INVALID, FN ": out (the result) is NULL");
    memset(out, 0, sizeof *out);
    if (ag_failed()) return ag_error_code();
    if (!logp) return ag_set_error(AG_ERR_INVALID, FN ": logp (the log-density callback) is NULL");
    if (!ag_is_grad_enabled())
        return ag_set_error(AG_ERR_AUTOGRAD, FN ": called inside a no-grad region; the gradient of logp is needed");
    int rc = check_params(params);
    if (!rc) rc = check_opts(&opts);
    if (rc) return rc;
    double t0 = now_s();

    sampler S = {.params = params, .fn = logp, .ud = user_data, .max_depth = opts.max_depth};
    for (int i = 0; i < params.n; i++) S.d += ag__real_numel(params.t[i]);
    int64_t d = S.d, n = opts.n_samples;
    size_t nwork = opts.algorithm == AG_SAMPLER_NUTS ? (size_t)(opts.max_depth * LEVEL_VECS + TOP_VECS + 1) : 0;
    rng_seed(&S.r, opts.seed);
    /* f64 host buffers of d: the window's mean and m2, the chain's (q, p, g), S.z (q, p, g), then
     * the NUTS work */
    double *buf = malloc((size_t)d * (8 + nwork) * sizeof *buf);
    S.work = buf ? buf + 8 * d : NULL;
    S.grads = calloc((size_t)params.n, sizeof *S.grads);
    out->samples = result_tensor(AG_SHAPE(n, d), AG_F64, 0);
    out->logp = result_tensor(AG_SHAPE(n), AG_F64, 0);
    out->inv_metric = result_tensor(AG_SHAPE(d), AG_F64, 1);
    if (opts.algorithm == AG_SAMPLER_NUTS) out->tree_depth = result_tensor(AG_SHAPE(n), AG_I64, 0);
    if ((!buf || !S.grads) && !ag_failed()) ag_set_error(AG_ERR_NOMEM, FN ": out of memory (%lld parameters)", (long long)d);
    rc = ag_failed() ? ag_error_code() : 0;
    if (!rc) {
        S.minv = ag_data(out->inv_metric);
        memset(buf, 0, (size_t)d * 8 * sizeof *buf);
        S.z = (point){.q = buf + 5 * d, .p = buf + 6 * d, .g = buf + 7 * d};
        rc = run(&S, opts, out, ag_data(out->samples), ag_data(out->logp),
                 out->tree_depth ? ag_data(out->tree_depth) : NULL, buf, buf + d, buf + 2 * d);
    }
    free(buf);
    free(S.grads);
    if (rc) {
        ag_sample_result_free(out);
        return rc;
    }
    out->n_grad_evals = S.n_grad;
    out->wall_s = now_s() - t0;
    return 0;
}

void ag_sample_result_free(ag_sample_result *r) {
    if (!r) return;
    ag__drop(r->samples);
    ag__drop(r->logp);
    ag__drop(r->tree_depth);
    ag__drop(r->inv_metric);
    memset(r, 0, sizeof *r);
}

/* ---- effective sample size (stan::analyze::compute_effective_sample_size, one chain) ------- */
/* acov(t) = (1/n) sum_i (x_i - m)(x_{i+t} - m), the biased autocovariance Stan takes by FFT */
static double acov(const double *x, int64_t n, int64_t stride, double m, int64_t t) {
    double s = 0;
    for (int64_t i = 0; i + t < n; i++) s += (x[i * stride] - m) * (x[(i + t) * stride] - m);
    return s / (double)n;
}

static double ess_column(const double *x, int64_t n, int64_t stride, double *rho) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m += x[i * stride];
    m /= (double)n;
    double acov0 = acov(x, n, stride, m, 0);
    double mean_var = acov0 * (double)n / (double)(n - 1), var_plus = mean_var * (double)(n - 1) / (double)n;
    if (!(var_plus > 0)) return NAN;
    for (int64_t i = 0; i < n; i++) rho[i] = 0;
    int64_t t = 0;
    double rho_even = 1, rho_odd = 1 - (mean_var - acov(x, n, stride, m, 1)) / var_plus;
    rho[0] = rho_even;
    rho[1] = rho_odd;
    /* Geyer's initial positive sequence */
    while (t < n - 5 && !isnan(rho_even + rho_odd) && rho_even + rho_odd > 0) {
        t += 2;
        rho_even = 1 - (mean_var - acov(x, n, stride, m, t)) / var_plus;
        rho_odd = 1 - (mean_var - acov(x, n, stride, m, t + 1)) / var_plus;
        if (rho_even + rho_odd >= 0) {
            rho[t] = rho_even;
            rho[t + 1] = rho_odd;
        }
    }
    int64_t max_t = t;
    if (rho_even > 0) rho[max_t + 1] = rho_even; /* Stan's improved estimate for antithetic chains */
    /* Geyer's initial monotone sequence */
    for (t = 0; t <= max_t - 4;) {
        t += 2;
        if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]) {
            rho[t] = (rho[t - 1] + rho[t - 2]) / 2;
            rho[t + 1] = rho[t];
        }
    }
    double tau = -1 + rho[max_t + 1];
    for (int64_t i = 0; i < max_t; i++) tau += 2 * rho[i];
    /* Stan's guard: a strongly antithetic chain can make tau tiny or negative */
    tau = fmax(tau, 1 / log10((double)n));
    return (double)n / tau;
}

ag_tensor *ag_ess(ag_tensor *samples) {
    if (!AG_NONNULL("ag_ess", samples)) return NULL;
    if (ag_ndim(samples) != 2)
        return ag_fail(AG_ERR_SHAPE, "ag_ess: expected draws of shape [n, D], given shape %s", AG_SHP(samples));
    ag_dtype dt = ag_dtype_of(samples);
    if (!ag_dtype_is_float(dt) || ag_dtype_is_complex(dt))
        return ag_fail(AG_ERR_DTYPE, "ag_ess: expected real floating draws, given %s", ag_dtype_name(dt));
    int64_t n = ag_size(samples, 0), d = ag_size(samples, 1);
    if (n < 4) return ag_fail(AG_ERR_SHAPE, "ag_ess: expected at least 4 draws, given %lld", (long long)n);
    double *x = malloc((size_t)(n * d + n + d) * sizeof *x);
    if (!x) return ag_fail(AG_ERR_NOMEM, "ag_ess: out of memory (%lld x %lld draws)", (long long)n, (long long)d);
    ag_tensor *r = NULL;
    if (!ag_copy_to_buffer(samples, x, AG_F64)) {
        double *rho = x + n * d, *ess = rho + n;
        for (int64_t j = 0; j < d; j++) ess[j] = ess_column(x + j, n, d, rho);
        r = ag_from_data_on(ess, AG_SHAPE(d), AG_F64, ag_device_of(samples));
    }
    free(x);
    return r;
}
