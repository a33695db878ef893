/* imaging/closure.c — gain-invariant VLBI data products: a minimal independent set of closure
 * phases and log closure amplitudes per channel and time stamp (built once, on the host, from
 * an ag_vis), and the differentiable closure quantities and EHT χ² losses of a model, composed
 * from tensor ops so they run on any device and differentiate through autograd. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#define RANK_TOL 1e-9

void ag_closure_set_free(ag_closure_set *set) {
    if (!set) return;
    ag_tensor *ts[] = {set->cp_index, set->cp_sign, set->cp_stations, set->cp_obs, set->cp_sigma,
                       set->lca_index, set->lca_sign, set->lca_stations, set->lca_obs, set->lca_sigma};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) ag__drop(ts[i]);
    free(set);
}

/* growable rows of one closure kind: k baselines each */
typedef struct rows {
    int k;
    int64_t n, cap;
    int64_t *idx, *st;
    double *sign, *obs, *sig;
} rows;

static bool rows_push(rows *r, const int64_t *idx, const double *sign, const int64_t *st, int nst, double obs, double sig) {
    if (r->n == r->cap) {
        int64_t c = r->cap ? 2 * r->cap : 64;
        int64_t *i2 = realloc(r->idx, (size_t)(c * r->k) * sizeof *i2);
        if (i2) r->idx = i2;
        int64_t *s2 = realloc(r->st, (size_t)(c * r->k) * sizeof *s2);
        if (s2) r->st = s2;
        double *g2 = realloc(r->sign, (size_t)(c * r->k) * sizeof *g2);
        if (g2) r->sign = g2;
        double *o2 = realloc(r->obs, (size_t)c * sizeof *o2);
        if (o2) r->obs = o2;
        double *q2 = realloc(r->sig, (size_t)c * sizeof *q2);
        if (q2) r->sig = q2;
        if (!i2 || !s2 || !g2 || !o2 || !q2) return false;
        r->cap = c;
    }
    memcpy(r->idx + r->n * r->k, idx, (size_t)r->k * sizeof *idx);
    memcpy(r->sign + r->n * r->k, sign, (size_t)r->k * sizeof *sign);
    memcpy(r->st + r->n * r->k, st, (size_t)nst * sizeof *st);
    r->obs[r->n] = obs, r->sig[r->n] = sig;
    r->n++;
    return true;
}

static void rows_free(rows *r) { free(r->idx), free(r->st), free(r->sign), free(r->obs), free(r->sig); }

/* Incremental rank test: basis holds reduced rows (pivot entry 1, zero in earlier pivots).
 * Returns true and adds w when w is independent of the basis. */
typedef struct basis { int nb, n; double *rows; int *piv; } basis;

static bool basis_add(basis *B, double *w) {
    for (int i = 0; i < B->n; i++) {
        double f = w[B->piv[i]];
        if (f != 0)
            for (int j = 0; j < B->nb; j++) w[j] -= f * B->rows[i * B->nb + j];
    }
    int p = -1;
    for (int j = 0; j < B->nb && p < 0; j++)
        if (fabs(w[j]) > RANK_TOL) p = j;
    if (p < 0) return false;
    double d = w[p];
    for (int j = 0; j < B->nb; j++) w[j] /= d;
    /* keep earlier rows zero at the new pivot so the reduction stays one pass */
    for (int i = 0; i < B->n; i++) {
        double f = B->rows[i * B->nb + p];
        if (f != 0)
            for (int j = 0; j < B->nb; j++) B->rows[i * B->nb + j] -= f * w[j];
    }
    memcpy(B->rows + B->n * B->nb, w, (size_t)B->nb * sizeof *w);
    B->piv[B->n++] = p;
    return true;
}

typedef struct quad { double sig; int64_t order; int64_t st[4]; } quad;
static int quad_cmp(const void *a, const void *b) {
    const quad *x = a, *y = b;
    if (x->sig != y->sig) return x->sig < y->sig ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* host copies of what the selection reads */
typedef struct host {
    int64_t nchan, nvis, nst;
    double *time, *u, *v, *sigma;
    int64_t *a1, *a2;
    double complex *data;
} host;

static void host_free(host *h) { free(h->time), free(h->u), free(h->v), free(h->sigma), free(h->a1), free(h->a2), free(h->data); }

static int host_read(const char *fn, const ag_vis *vis, host *h) {
    memset(h, 0, sizeof *h);
    if (!vis) return ag_set_error(AG_ERR_INVALID, "%s: vis is NULL", fn);
    const char *miss = !vis->time ? "time" : !vis->ant1 ? "ant1" : !vis->ant2 ? "ant2" : !vis->sigma ? "sigma" : NULL;
    if (miss)
        return ag_set_error(AG_ERR_INVALID, "%s: expected a visibility set with time, ant1, ant2 and sigma (as "
                            "ag_read_uvfits gives), given one without %s", fn, miss);
    int64_t nc = vis->nchan, nv = vis->nvis, n = nc * nv;
    ag_tensor *per_vis[3] = {vis->time, vis->ant1, vis->ant2};
    const char *nm[3] = {"time", "ant1", "ant2"};
    for (int i = 0; i < 3; i++)
        if (ag_numel(per_vis[i]) != nv)
            return ag_set_error(AG_ERR_SHAPE, "%s: expected %s of shape (%lld), given %s", fn, nm[i], (long long)nv,
                                AG_SHP(per_vis[i]));
    if (ag_numel(vis->sigma) != n)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected sigma of shape (%lld, %lld), given %s", fn, (long long)nc,
                            (long long)nv, AG_SHP(vis->sigma));
    h->nchan = nc, h->nvis = nv;
    h->time = malloc((size_t)(nv ? nv : 1) * sizeof *h->time);
    h->a1 = malloc((size_t)(nv ? nv : 1) * sizeof *h->a1), h->a2 = malloc((size_t)(nv ? nv : 1) * sizeof *h->a2);
    h->u = malloc((size_t)(n ? n : 1) * sizeof *h->u), h->v = malloc((size_t)(n ? n : 1) * sizeof *h->v);
    h->sigma = malloc((size_t)(n ? n : 1) * sizeof *h->sigma);
    h->data = malloc((size_t)(n ? n : 1) * sizeof *h->data);
    if (!h->time || !h->a1 || !h->a2 || !h->u || !h->v || !h->sigma || !h->data)
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (ag_copy_to_buffer(vis->time, h->time, AG_F64) < 0 || ag_copy_to_buffer(vis->ant1, h->a1, AG_I64) < 0 ||
        ag_copy_to_buffer(vis->ant2, h->a2, AG_I64) < 0 || ag_copy_to_buffer(vis->u, h->u, AG_F64) < 0 ||
        ag_copy_to_buffer(vis->v, h->v, AG_F64) < 0 || ag_copy_to_buffer(vis->sigma, h->sigma, AG_F64) < 0 ||
        ag_copy_to_buffer(vis->data, h->data, AG_C128) < 0)
        return ag_error_code();
    h->nst = vis->stations ? vis->nstations : 0;
    for (int64_t k = 0; k < nv; k++) {
        int64_t m = h->a1[k] > h->a2[k] ? h->a1[k] : h->a2[k];
        if (h->a1[k] < 0 || h->a2[k] < 0 || (vis->stations && m >= vis->nstations))
            return ag_set_error(AG_ERR_INVALID, "%s: expected station indices in [0, %d), given ant1 %lld, ant2 %lld "
                                "at visibility %lld", fn, vis->stations ? vis->nstations : INT32_MAX,
                                (long long)h->a1[k], (long long)h->a2[k], (long long)k);
        if (!vis->stations && m + 1 > h->nst) h->nst = m + 1;
    }
    for (int64_t i = 0; i < n; i++)
        if (!(h->sigma[i] > 0) || !isfinite(h->sigma[i]))
            return ag_set_error(AG_ERR_INVALID, "%s: expected sigma finite and > 0, given %g at %lld", fn, h->sigma[i],
                                (long long)i);
    return 0;
}

/* The closures of one channel c at one time stamp t (the rule in imaging.h). */
static int one_group(const host *h, int64_t c, double t, double minbl, rows *cp, rows *lca) {
    int64_t ns = h->nst, nv = h->nvis;
    int64_t *bl = malloc((size_t)(ns * ns) * sizeof *bl), *key = malloc((size_t)(ns * ns) * sizeof *key);
    double *snr = calloc((size_t)ns, sizeof *snr);
    int64_t *st = malloc((size_t)ns * sizeof *st);
    quad *qs = NULL;
    basis B = {0};
    double *w = NULL;
    int rc = 0;
    if (!bl || !key || !snr || !st) { rc = ag_set_error(AG_ERR_NOMEM, "ag_closure_set_new: out of memory"); goto out; }
    for (int64_t i = 0; i < ns * ns; i++) bl[i] = -1, key[i] = -1;
    for (int64_t k = 0; k < nv; k++) {
        int64_t a = h->a1[k], b = h->a2[k], p = c * nv + k;
        if (h->time[k] != t || a == b || !(hypot(h->u[p], h->v[p]) > minbl)) continue;
        int64_t lo = a < b ? a : b, hi = a < b ? b : a;
        if (bl[lo * ns + hi] < 0) bl[lo * ns + hi] = k;
    }
    int nb = 0, n = 0;
    for (int64_t a = 0; a < ns; a++)
        for (int64_t b = a + 1; b < ns; b++)
            if (bl[a * ns + b] >= 0) {
                key[a * ns + b] = nb++;
                int64_t p = c * nv + bl[a * ns + b];
                double s = cabs(h->data[p]) / h->sigma[p];
                snr[a] += s, snr[b] += s;
            }
    for (int64_t a = 0; a < ns; a++) {
        bool in = false;
        for (int64_t b = 0; b < ns && !in; b++) in = b != a && bl[(a < b ? a : b) * ns + (a < b ? b : a)] >= 0;
        if (in) st[n++] = a;
    }
    if (n < 3) goto out;
    int64_t ref = st[0];
    for (int i = 1; i < n; i++)
        if (snr[st[i]] > snr[ref]) ref = st[i];
    B.nb = nb;
    B.rows = malloc((size_t)(nb * nb) * sizeof *B.rows), B.piv = malloc((size_t)nb * sizeof *B.piv);
    w = malloc((size_t)nb * sizeof *w);
    int64_t nq = (int64_t)n * (n - 1) * (n - 2) * (n - 3) / 8 + 1; /* 3 per 4-subset */
    qs = malloc((size_t)nq * sizeof *qs);
    if (!B.rows || !B.piv || !w || !qs) { rc = ag_set_error(AG_ERR_NOMEM, "ag_closure_set_new: out of memory"); goto out; }
#define BL(x, y) bl[((x) < (y) ? (x) : (y)) * ns + ((x) < (y) ? (y) : (x))]
#define KEY(x, y) key[((x) < (y) ? (x) : (y)) * ns + ((x) < (y) ? (y) : (x))]
    /* closure phases: pass 0 the triangles (ref, b, c), once per pair b < c (l stays at j);
     * pass 1 the triangles without ref, lexicographic */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                for (int l = pass ? j + 1 : j; l < n; l++) {
                    int64_t tri[3];
                    if (!pass) {
                        if (st[i] == ref || st[j] == ref || l != j) continue;
                        tri[0] = ref, tri[1] = st[i], tri[2] = st[j];
                    } else {
                        if (st[i] == ref || st[j] == ref || st[l] == ref) continue;
                        tri[0] = st[i], tri[1] = st[j], tri[2] = st[l];
                    }
                    int64_t idx[3];
                    double sg[3], var = 0;
                    double complex prod = 1;
                    bool ok = true;
                    memset(w, 0, (size_t)nb * sizeof *w);
                    for (int e = 0; e < 3 && ok; e++) {
                        int64_t x = tri[e], y = tri[(e + 1) % 3];
                        if (BL(x, y) < 0) { ok = false; break; }
                        int64_t k = BL(x, y), p = c * nv + k;
                        w[KEY(x, y)] += x < y ? 1 : -1;
                        idx[e] = p, sg[e] = h->a1[k] == x ? 1 : -1;
                        prod *= sg[e] > 0 ? h->data[p] : conj(h->data[p]);
                        double r = h->sigma[p] / cabs(h->data[p]);
                        var += r * r;
                    }
                    if (ok && basis_add(&B, w) && !rows_push(cp, idx, sg, tri, 3, carg(prod), sqrt(var))) {
                        rc = ag_set_error(AG_ERR_NOMEM, "ag_closure_set_new: out of memory");
                        goto out;
                    }
                }
    /* log closure amplitudes: candidates by σ ascending (stable), kept when independent */
    int64_t m = 0;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            for (int cc = b + 1; cc < n; cc++)
                for (int d = cc + 1; d < n; d++) {
                    int64_t S[3][4] = {{st[a], st[b], st[cc], st[d]}, {st[a], st[b], st[d], st[cc]},
                                       {st[a], st[cc], st[d], st[b]}};
                    for (int q = 0; q < 3; q++) {
                        int64_t *s = S[q];
                        int64_t E[4][2] = {{s[0], s[1]}, {s[2], s[3]}, {s[0], s[2]}, {s[1], s[3]}};
                        double var = 0;
                        bool ok = true;
                        for (int e = 0; e < 4 && ok; e++) {
                            if (BL(E[e][0], E[e][1]) < 0) { ok = false; break; }
                            int64_t p = c * nv + BL(E[e][0], E[e][1]);
                            double r = h->sigma[p] / cabs(h->data[p]);
                            var += r * r;
                        }
                        if (!ok) continue;
                        qs[m].sig = sqrt(var), qs[m].order = m;
                        memcpy(qs[m].st, s, sizeof qs[m].st);
                        m++;
                    }
                }
    qsort(qs, (size_t)m, sizeof *qs, quad_cmp);
    B.n = 0;
    for (int64_t i = 0; i < m; i++) {
        int64_t *s = qs[i].st, E[4][2] = {{s[0], s[1]}, {s[2], s[3]}, {s[0], s[2]}, {s[1], s[3]}}, idx[4];
        double sg[4] = {1, 1, -1, -1}, obs = 0;
        memset(w, 0, (size_t)nb * sizeof *w);
        for (int e = 0; e < 4; e++) {
            int64_t x = E[e][0], y = E[e][1], p = c * nv + BL(x, y);
            w[KEY(x, y)] += sg[e] * (x < y ? 1 : -1);
            idx[e] = p;
            obs += sg[e] * log(cabs(h->data[p]));
        }
        if (basis_add(&B, w) && !rows_push(lca, idx, sg, s, 4, obs, qs[i].sig)) {
            rc = ag_set_error(AG_ERR_NOMEM, "ag_closure_set_new: out of memory");
            goto out;
        }
    }
#undef BL
#undef KEY
out:
    free(bl), free(key), free(snr), free(st), free(qs), free(B.rows), free(B.piv), free(w);
    return rc;
}

static ag_tensor *own(ag_tensor *t) {
    if (t) ag__unscope(t);
    return t;
}

ag_closure_set *ag_closure_set_new(const ag_vis *vis, const ag_closure_opts *opts) {
    const char *fn = "ag_closure_set_new";
    double minbl = opts ? opts->min_baseline_lambda : 1e8;
    host h;
    rows cp = {.k = 3}, lca = {.k = 4};
    ag_closure_set *set = NULL;
    double *times = NULL;
    if (host_read(fn, vis, &h) < 0) goto out;
    if (!isfinite(minbl) || minbl < 0) {
        ag_set_error(AG_ERR_INVALID, "%s: expected min_baseline_lambda finite and >= 0, given %g", fn, minbl);
        goto out;
    }
    times = malloc((size_t)(h.nvis ? h.nvis : 1) * sizeof *times);
    if (!times) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto out; }
    memcpy(times, h.time, (size_t)h.nvis * sizeof *times);
    qsort(times, (size_t)h.nvis, sizeof *times, cmp_double);
    for (int64_t c = 0; c < h.nchan; c++)
        for (int64_t i = 0; i < h.nvis; i++) {
            if (i && times[i] == times[i - 1]) continue;
            if (one_group(&h, c, times[i], minbl, &cp, &lca) < 0) goto out;
        }
    if (!(set = calloc(1, sizeof *set))) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto out; }
    set->nchan = h.nchan, set->nvis = h.nvis, set->ncp = cp.n, set->nlca = lca.n;
    rows *R[2] = {&cp, &lca};
    ag_device dev = ag_device_of(vis->data);
    ag_tensor **T[2][5] = {{&set->cp_index, &set->cp_sign, &set->cp_stations, &set->cp_obs, &set->cp_sigma},
                           {&set->lca_index, &set->lca_sign, &set->lca_stations, &set->lca_obs, &set->lca_sigma}};
    /* on the visibilities' device; the set owns them, also when made inside a caller's scope */
    for (int i = 0; i < 2; i++) {
        int64_t n = R[i]->n, k = R[i]->k;
        static const double none[1]; /* ag_from_data of 0 elements still wants a pointer */
        if (!n) R[i]->idx = R[i]->st = (int64_t *)none, R[i]->sign = R[i]->obs = R[i]->sig = (double *)none;
        *T[i][0] = own(ag_from_data_on(R[i]->idx, AG_SHAPE(n, k), AG_I64, dev));
        *T[i][1] = own(ag_from_data_on(R[i]->sign, AG_SHAPE(n, k), AG_F64, dev));
        *T[i][2] = own(ag_from_data_on(R[i]->st, AG_SHAPE(n, k), AG_I64, dev));
        *T[i][3] = own(ag_from_data_on(R[i]->obs, AG_SHAPE(n), AG_F64, dev));
        *T[i][4] = own(ag_from_data_on(R[i]->sig, AG_SHAPE(n), AG_F64, dev));
    }
    for (int i = 0; i < 2; i++)
        if (!R[i]->n) R[i]->idx = R[i]->st = NULL, R[i]->sign = R[i]->obs = R[i]->sig = NULL;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++)
            if (!*T[i][j]) { ag_closure_set_free(set), set = NULL; goto out; }
out:
    host_free(&h), rows_free(&cp), rows_free(&lca), free(times);
    return set;
}

/* ---- differentiable products of a model ---- */

/* model as a flat (nchan · nvis) complex tensor, checked against set's sizes */
static ag_tensor *flat_model(const char *fn, ag_tensor *model, int64_t nchan, int64_t nvis) {
    if (!model) return ag_failed() ? NULL : (ag_set_error(AG_ERR_INVALID, "%s: model is NULL", fn), NULL);
    ag_dtype dt = ag_dtype_of(model);
    if (dt != AG_C128 && dt != AG_C64)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a complex (c64 or c128) model, given %s", fn, ag_dtype_name(dt)), NULL;
    bool ok = ag_ndim(model) == 2 ? ag_shape(model)[0] == nchan && ag_shape(model)[1] == nvis
                                  : ag_ndim(model) == 1 && nchan == 1 && ag_shape(model)[0] == nvis;
    if (!ok)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected a model of the visibilities' shape (%lld, %lld)%s, given %s", fn,
                            (long long)nchan, (long long)nvis, nchan == 1 ? " or (nvis)" : "", AG_SHP(model)), NULL;
    return ag_reshape(model, AG_SHAPE(-1));
}

static bool check_set(const char *fn, const ag_closure_set *set) {
    if (set) return true;
    if (!ag_failed()) ag_set_error(AG_ERR_INVALID, "%s: closure set is NULL", fn);
    return false;
}

/* a constant of the set moved to the model's device, in the model's real dtype (idx: as is) */
static ag_tensor *like(ag_tensor *c, ag_tensor *model, bool index) {
    ag_tensor *t = ag_to(c, ag_device_of(model));
    return index ? t : ag_to_dtype(t, ag_dtype_to_real(ag_dtype_of(model)));
}

/* ψ = arg Π V^{±1}: the oriented phases summed and wrapped to (-π, π] through atan2 */
static ag_tensor *phases(ag_tensor *m, const ag_closure_set *set) {
    ag_tensor *s = ag_sum(ag_mul(ag_angle(ag_take(m, like(set->cp_index, m, true))), like(set->cp_sign, m, false)),
                          AG_DIMS(1), false);
    return ag_atan2(ag_sin(s), ag_cos(s));
}

static ag_tensor *lcas(ag_tensor *m, const ag_closure_set *set) {
    return ag_sum(ag_mul(ag_log(ag_abs(ag_take(m, like(set->lca_index, m, true)))), like(set->lca_sign, m, false)),
                  AG_DIMS(1), false);
}

ag_tensor *ag_closure_phases(ag_tensor *model, const ag_closure_set *set) {
    const char *fn = "ag_closure_phases";
    if (!check_set(fn, set)) return NULL;
    ag_scope_begin();
    ag_tensor *m = flat_model(fn, model, set->nchan, set->nvis);
    ag_tensor *r = m ? ag_keep(phases(m, set)) : NULL;
    ag_scope_end();
    return r;
}

ag_tensor *ag_log_closure_amps(ag_tensor *model, const ag_closure_set *set) {
    const char *fn = "ag_log_closure_amps";
    if (!check_set(fn, set)) return NULL;
    ag_scope_begin();
    ag_tensor *m = flat_model(fn, model, set->nchan, set->nvis);
    ag_tensor *r = m ? ag_keep(lcas(m, set)) : NULL;
    ag_scope_end();
    return r;
}

ag_tensor *ag_chi2_cp(ag_tensor *model, const ag_closure_set *set) {
    const char *fn = "ag_chi2_cp";
    if (!check_set(fn, set)) return NULL;
    if (!set->ncp) return ag_set_error(AG_ERR_INVALID, "%s: the closure set has no closure phases", fn), NULL;
    ag_scope_begin();
    ag_tensor *m = flat_model(fn, model, set->nchan, set->nvis), *r = NULL;
    if (m) {
        ag_tensor *d = ag_rsub_s(1.0, ag_cos(ag_sub(like(set->cp_obs, m, false), phases(m, set))));
        ag_tensor *s = like(set->cp_sigma, m, false);
        r = ag_keep(ag_mul_s(ag_sum(ag_div(d, ag_square(s)), AG_ALL_DIMS, false), 2.0 / (double)set->ncp));
    }
    ag_scope_end();
    return r;
}

ag_tensor *ag_chi2_lca(ag_tensor *model, const ag_closure_set *set) {
    const char *fn = "ag_chi2_lca";
    if (!check_set(fn, set)) return NULL;
    if (!set->nlca) return ag_set_error(AG_ERR_INVALID, "%s: the closure set has no log closure amplitudes", fn), NULL;
    ag_scope_begin();
    ag_tensor *m = flat_model(fn, model, set->nchan, set->nvis), *r = NULL;
    if (m) {
        ag_tensor *z = ag_div(ag_sub(like(set->lca_obs, m, false), lcas(m, set)), like(set->lca_sigma, m, false));
        r = ag_keep(ag_mean(ag_square(z), AG_ALL_DIMS, false));
    }
    ag_scope_end();
    return r;
}

ag_tensor *ag_chi2_amp(ag_tensor *model, const ag_vis *vis) {
    const char *fn = "ag_chi2_amp";
    if (!vis) return ag_failed() ? NULL : (ag_set_error(AG_ERR_INVALID, "%s: vis is NULL", fn), NULL);
    if (!vis->sigma)
        return ag_set_error(AG_ERR_INVALID, "%s: expected a visibility set with sigma, given one without", fn), NULL;
    ag_scope_begin();
    ag_tensor *m = flat_model(fn, model, vis->nchan, vis->nvis), *r = NULL;
    if (m && ag__same_device(fn, m, vis->data)) {
        ag_dtype rt = ag_dtype_to_real(ag_dtype_of(m));
        ag_tensor *obs = ag_to_dtype(ag_abs(ag_reshape(vis->data, AG_SHAPE(-1))), rt);
        ag_tensor *s = ag_to_dtype(ag_reshape(vis->sigma, AG_SHAPE(-1)), rt);
        r = ag_keep(ag_mean(ag_square(ag_div(ag_sub(obs, ag_abs(m)), s)), AG_ALL_DIMS, false));
    }
    ag_scope_end();
    return r;
}

/* ---- scan averaging ---- */

typedef struct avg_key { int64_t scan, a1, a2, first; } avg_key;
static int key_cmp(const void *x, const void *y) {
    const avg_key *a = x, *b = y;
    if (a->scan != b->scan) return a->scan < b->scan ? -1 : 1;
    if (a->a1 != b->a1) return a->a1 < b->a1 ? -1 : 1;
    if (a->a2 != b->a2) return a->a2 < b->a2 ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

static char *dup_str(const char *s) {
    if (!s) return NULL;
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

ag_vis *ag_vis_scan_average(const ag_vis *vis, double gap_s) {
    const char *fn = "ag_vis_scan_average";
    if (!vis) return ag_set_error(AG_ERR_INVALID, "%s: vis is NULL", fn), NULL;
    if (!vis->time || !vis->ant1 || !vis->ant2)
        return ag_set_error(AG_ERR_INVALID, "%s: expected a visibility set with time, ant1 and ant2, given one without %s",
                            fn, !vis->time ? "time" : !vis->ant1 ? "ant1" : "ant2"), NULL;
    if (!(gap_s >= 0) || !isfinite(gap_s))
        return ag_set_error(AG_ERR_INVALID, "%s: expected gap_s finite and >= 0, given %g", fn, gap_s), NULL;
    int64_t nc = vis->nchan, nv = vis->nvis, n = nc * nv;
    if (ag_numel(vis->time) != nv || ag_numel(vis->ant1) != nv || ag_numel(vis->ant2) != nv)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected time, ant1 and ant2 of shape (%lld)", fn, (long long)nv), NULL;
    size_t a = (size_t)(n ? n : 1), b = (size_t)(nv ? nv : 1);
    double *t = malloc(b * sizeof *t), *ts = malloc(b * sizeof *ts), *u = malloc(a * sizeof *u), *v = malloc(a * sizeof *v);
    double *w = malloc(a * sizeof *w), *ou = calloc(a, sizeof *ou), *ov = calloc(a, sizeof *ov), *ow = calloc(a, sizeof *ow);
    double *ot = calloc(b, sizeof *ot), *st = calloc(b, sizeof *st), *cnt = calloc(b, sizeof *cnt);
    int64_t *a1 = malloc(b * sizeof *a1), *a2 = malloc(b * sizeof *a2), *scan = malloc(b * sizeof *scan);
    int64_t *row = malloc(b * sizeof *row), *o1 = malloc(b * sizeof *o1), *o2 = malloc(b * sizeof *o2);
    double complex *d = malloc(a * sizeof *d), *od = calloc(a, sizeof *od);
    avg_key *keys = malloc(b * sizeof *keys);
    ag_vis *out = NULL;
    if (!t || !ts || !u || !v || !w || !ou || !ov || !ow || !ot || !st || !cnt || !a1 || !a2 || !scan || !row || !o1 ||
        !o2 || !d || !od || !keys) {
        ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (ag_copy_to_buffer(vis->time, t, AG_F64) < 0 || ag_copy_to_buffer(vis->ant1, a1, AG_I64) < 0 ||
        ag_copy_to_buffer(vis->ant2, a2, AG_I64) < 0 || ag_copy_to_buffer(vis->u, u, AG_F64) < 0 ||
        ag_copy_to_buffer(vis->v, v, AG_F64) < 0 || ag_copy_to_buffer(vis->weight, w, AG_F64) < 0 ||
        ag_copy_to_buffer(vis->data, d, AG_C128) < 0)
        goto done;
    /* scans: a new one wherever consecutive distinct times are more than gap_s apart */
    memcpy(ts, t, (size_t)nv * sizeof *ts);
    qsort(ts, (size_t)nv, sizeof *ts, cmp_double);
    for (int64_t k = 0; k < nv; k++) {
        int64_t lo = 0, hi = nv - 1, s = 0;
        while (lo < hi) { /* first index with ts >= t[k] */
            int64_t mid = (lo + hi) / 2;
            if (ts[mid] < t[k]) lo = mid + 1; else hi = mid;
        }
        for (int64_t i = 1; i <= lo; i++) s += ts[i] - ts[i - 1] > gap_s;
        scan[k] = s;
        keys[k] = (avg_key){s, a1[k], a2[k], k};
    }
    qsort(keys, (size_t)nv, sizeof *keys, key_cmp);
    int64_t m = 0;
    for (int64_t i = 0; i < nv; i++) {
        if (!i || keys[i].scan != keys[i - 1].scan || keys[i].a1 != keys[i - 1].a1 || keys[i].a2 != keys[i - 1].a2)
            o1[m] = keys[i].a1, o2[m] = keys[i].a2, scan[m] = keys[i].scan, m++;
        row[keys[i].first] = m - 1;
    }
    /* the scan's mean time over all its rows, so every baseline of a scan is simultaneous */
    for (int64_t i = 0; i < nv; i++) st[keys[i].scan] += t[keys[i].first], cnt[keys[i].scan] += 1;
    for (int64_t r = 0; r < m; r++) ot[r] = st[scan[r]] / cnt[scan[r]];
    for (int64_t c = 0; c < nc; c++)
        for (int64_t k = 0; k < nv; k++) {
            int64_t p = c * nv + k, q = c * m + row[k];
            ow[q] += w[p], od[q] += w[p] * d[p], ou[q] += w[p] * u[p], ov[q] += w[p] * v[p];
        }
    for (int64_t q = 0; q < nc * m; q++) od[q] /= ow[q], ou[q] /= ow[q], ov[q] /= ow[q];
    ag_device dev = ag_device_of(vis->data);
    ag_dtype rt = ag_dtype_of(vis->u), ct = ag_dtype_of(vis->data);
    ag_scope_begin();
    ag_tensor *W = ag_to_dtype(ag_from_data_on(ow, AG_SHAPE(nc, m), AG_F64, dev), rt);
    out = ag_vis_new(ag_to_dtype(ag_from_data_on(ou, AG_SHAPE(nc, m), AG_F64, dev), rt),
                     ag_to_dtype(ag_from_data_on(ov, AG_SHAPE(nc, m), AG_F64, dev), rt),
                     ag_to_dtype(ag_from_data_on(od, AG_SHAPE(nc, m), AG_C128, dev), ct), W);
    if (out) {
        out->time = own(ag_to_dtype(ag_from_data_on(ot, AG_SHAPE(m), AG_F64, dev), ag_dtype_of(vis->time)));
        out->ant1 = own(ag_from_data_on(o1, AG_SHAPE(m), AG_I64, dev));
        out->ant2 = own(ag_from_data_on(o2, AG_SHAPE(m), AG_I64, dev));
        out->sigma = own(ag_rsqrt(W));
        out->freq = vis->freq ? own(ag_clone(vis->freq)) : NULL;
        out->fourier_sign = vis->fourier_sign, out->ref_freq = vis->ref_freq, out->ra = vis->ra, out->dec = vis->dec;
        out->source = dup_str(vis->source), out->date_obs = dup_str(vis->date_obs);
        if (vis->stations && (out->stations = calloc((size_t)vis->nstations, sizeof *out->stations))) {
            out->nstations = vis->nstations;
            for (int i = 0; i < vis->nstations; i++) out->stations[i] = dup_str(vis->stations[i]);
        }
        if (!out->time || !out->ant1 || !out->ant2 || !out->sigma || (vis->freq && !out->freq)) {
            ag_vis_free(out);
            out = NULL;
        }
    }
    ag_scope_end();
done:
    free(t), free(ts), free(u), free(v), free(w), free(ou), free(ov), free(ow), free(ot), free(st), free(cnt);
    free(a1), free(a2), free(scan), free(row), free(o1), free(o2), free(d), free(od), free(keys);
    return out;
}
