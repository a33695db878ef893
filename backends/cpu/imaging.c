/* backends/cpu/imaging.c — fused visibility losses and image regularizers (MPoL's losses.py),
 * forward and backward, one pass each.
 *
 * Sums are deterministic whatever the thread count: the rows (or elements) are cut into at most
 * NBLK blocks whose bounds depend only on the size, each block is summed in order by whichever
 * thread takes it, and the block sums are added in block order. Accumulation is in double for
 * f32 too. The backward kernels gather (each output element reads its neighbours' terms), so
 * they write without races and need no workspace. */
#include <math.h>
#include <stdbool.h>

#include "backends/cpu/cpu.h"

/* as backends/cpu/unary.c: loops with sqrt and selects vectorize only without errno and trap
 * flags to keep; the values are the same */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno", "fp-contract=off")
#endif
#include "backends/cpu/vmath.h" /* after the pragma: its functions must inline into the loops */

#define NBLK 256
#define TWO_PI 6.283185307179586476925286766559

/* [b, e) of block i of n items in nb blocks */
static inline void block(int64_t n, int nb, int i, int64_t *b, int64_t *e) {
    *b = n * i / nb;
    *e = n * (i + 1) / nb;
}
static inline int nblocks(int64_t n) { return n < NBLK ? (n > 0 ? (int)n : 1) : NBLK; }

static inline double rd(const ag_kview *v, int64_t off) {
    return v->dtype == AG_F32 ? (double)((const float *)v->data)[off] : ((const double *)v->data)[off];
}
static inline void wr(const ag_kview *v, int64_t off, double x) {
    if (v->dtype == AG_F32) ((float *)v->data)[off] = (float)x;
    else ((double *)v->data)[off] = x;
}
/* complex element i of a contiguous c64/c128 view */
static inline void rdc(const ag_kview *v, int64_t i, double *re, double *im) {
    if (v->dtype == AG_C64) {
        const float *p = (const float *)v->data + 2 * i;
        *re = p[0], *im = p[1];
    } else {
        const double *p = (const double *)v->data + 2 * i;
        *re = p[0], *im = p[1];
    }
}
static inline void wrc(const ag_kview *v, int64_t i, double re, double im) {
    if (v->dtype == AG_C64) {
        float *p = (float *)v->data + 2 * i;
        p[0] = (float)re, p[1] = (float)im;
    } else {
        double *p = (double *)v->data + 2 * i;
        p[0] = re, p[1] = im;
    }
}
static inline bool sel(const ag_kview *mask, int64_t off) { return !mask || !mask->data || ((const bool *)mask->data)[off]; }
#define AT(v, c, j, k) ((c) * (v)->strides[0] + (j) * (v)->strides[1] + (k) * (v)->strides[2])
static inline bool sel3(const ag_kview *mask, int64_t c, int64_t j, int64_t k) {
    return !mask || !mask->data || ((const bool *)mask->data)[AT(mask, c, j, k)];
}

/* ---- visibility losses ---------------------------------------------------------------------- */

static int check_vis(const char *k, const ag_kview *m, const ag_kview *d, const ag_kview *w, const ag_kview *mask) {
    int64_t n = m->shape[0];
    bool ok = m->ndim == 1 && d->ndim == 1 && w->ndim == 1 && d->shape[0] == n && w->shape[0] == n &&
              m->strides[0] == 1 && d->strides[0] == 1 && w->strides[0] == 1 && ag_dtype_is_complex(m->dtype) &&
              d->dtype == m->dtype && w->dtype == ag_dtype_to_real(m->dtype) &&
              (!mask || !mask->data || (mask->ndim == 1 && mask->shape[0] == n && mask->strides[0] == 1 && mask->dtype == AG_BOOL));
    return ok ? 0 : ag_set_error(AG_ERR_INVALID, "%s: expected contiguous 1-d views of one length (m, d complex, w real, mask bool)", k);
}

int ag_cpu_vis_loss(const char *op, ag_vis_loss_op kind, const ag_kview *out, const ag_kview *aux, const ag_kview *m,
                    const ag_kview *d, const ag_kview *w, const ag_kview *mask) {
    int rc = check_vis("vis_loss", m, d, w, mask);
    if (rc) return rc;
    int64_t n = m->shape[0];
    int nb = nblocks(n);
    double chi[NBLK], lnw[NBLK];
    int64_t cnt[NBLK], bad[NBLK];
    bool logs = kind == AG_VL_LOGLIK || kind == AG_VL_NLL_AVG;
#pragma omp parallel for schedule(static) if (n >= AG_CPU_PAR_MIN && ag_cpu_max_threads() > 1)
    for (int ib = 0; ib < nb; ib++) {
        int64_t b, e;
        block(n, nb, ib, &b, &e);
        double c = 0, l = 0;
        int64_t k = 0, first_bad = -1;
        for (int64_t i = b; i < e; i++) {
            if (!sel(mask, i)) continue;
            double mr, mi, dr, di, wi = rd(w, i);
            if (first_bad < 0 && !(logs ? wi > 0 : wi >= 0)) first_bad = i; /* NaN fails both */
            rdc(m, i, &mr, &mi);
            rdc(d, i, &dr, &di);
            double er = dr - mr, ei = di - mi;
            c += wi * (er * er + ei * ei);
            if (logs) l += log(wi);
            k++;
        }
        chi[ib] = c, lnw[ib] = l, cnt[ib] = k, bad[ib] = first_bad;
    }
    double c = 0, l = 0;
    int64_t cnt_all = 0;
    for (int ib = 0; ib < nb; ib++) {
        if (bad[ib] >= 0)
            return ag_set_error(AG_ERR_INVALID, "%s: expected weights %s, given weight %g at flat index %lld", op,
                                logs ? "> 0 (their logarithm enters the likelihood)" : ">= 0", rd(w, bad[ib]),
                                (long long)bad[ib]);
        c += chi[ib], l += lnw[ib], cnt_all += cnt[ib];
    }
    double N = (double)cnt_all;
    if (kind != AG_VL_CHI2 && cnt_all == 0)
        return ag_set_error(AG_ERR_INVALID, "%s: expected at least one visibility (the loss divides by their number), given none%s",
                            op, mask && mask->data ? " selected by the mask" : "");
    double r = 0;
    switch (kind) {
    case AG_VL_CHI2: r = c; break;
    case AG_VL_RCHI2: r = c / (2 * N); break;
    case AG_VL_LOGLIK: r = -N * log(TWO_PI) + l - 0.5 * c; break;
    case AG_VL_NLL_AVG: r = -(-N * log(TWO_PI) + l - 0.5 * c) / (2 * N); break;
    }
    wr(out, 0, r);
    wr(aux, 0, N);
    return 0;
}

int ag_cpu_vis_loss_backward(ag_vis_loss_op kind, const ag_kview *gm, const ag_kview *gw, const ag_kview *g,
                             const ag_kview *aux, const ag_kview *m, const ag_kview *d, const ag_kview *w,
                             const ag_kview *mask) {
    int rc = check_vis("vis_loss_backward", m, d, w, mask);
    if (rc) return rc;
    int64_t n = m->shape[0];
    double gg = rd(g, 0), N = rd(aux, 0);
    /* L = a chi2 + b sum ln w (+ const): dL/dm = 2 a w (m - d), dL/dw = a |d - m|^2 + b / w */
    double a = 1, b = 0;
    switch (kind) {
    case AG_VL_CHI2: break;
    case AG_VL_RCHI2: a = 1 / (2 * N); break;
    case AG_VL_LOGLIK: a = -0.5, b = 1; break;
    case AG_VL_NLL_AVG: a = 1 / (4 * N), b = -1 / (2 * N); break;
    }
    a *= gg, b *= gg;
    bool want_w = gw && gw->data;
#pragma omp parallel for schedule(static) if (n >= AG_CPU_PAR_MIN && ag_cpu_max_threads() > 1)
    for (int64_t i = 0; i < n; i++) {
        if (!sel(mask, i)) {
            wrc(gm, i, 0, 0);
            if (want_w) wr(gw, i, 0);
            continue;
        }
        double mr, mi, dr, di, wi = rd(w, i);
        rdc(m, i, &mr, &mi);
        rdc(d, i, &dr, &di);
        double er = mr - dr, ei = mi - di;
        wrc(gm, i, 2 * a * wi * er, 2 * a * wi * ei);
        if (want_w) wr(gw, i, a * (er * er + ei * ei) + b / wi);
    }
    return 0;
}

/* ---- image regularizers ----------------------------------------------------------------------- */

static int check_img(const char *k, const ag_kview *s, const ag_kview *p, const ag_kview *mask) {
    bool ok = s->ndim == 3 && (s->dtype == AG_F32 || s->dtype == AG_F64);
    for (int i = 0; ok && i < 3; i++) {
        if (p && p->data) ok = p->ndim == 3 && p->shape[i] == s->shape[i] && p->dtype == s->dtype;
        if (ok && mask && mask->data) ok = mask->ndim == 3 && mask->shape[i] == s->shape[i] && mask->dtype == AG_BOOL;
    }
    return ok ? 0 : ag_set_error(AG_ERR_INVALID, "%s: expected 3-d f32/f64 views, prior and mask of the image's shape", k);
}

/* the forward term of row r (of C*H rows; TV_CHANNEL: of (C-1)*H) and, for the checks, the flat
 * index of the first bad element of that row (-1: none) */
static double row_term(ag_prior_op kind, const ag_kview *s, const ag_kview *p, const ag_kview *mask, double param,
                       int64_t r, int64_t *bad) {
    int64_t H = s->shape[1], W = s->shape[2], c = r / H, j = r % H;
    double acc = 0;
    switch (kind) {
    case AG_PRIOR_TV_IMAGE:
    case AG_PRIOR_TSV:
        if (j == H - 1) break;
        for (int64_t k = 0; k + 1 < W; k++) {
            double x = rd(s, AT(s, c, j, k)), dl = rd(s, AT(s, c, j, k + 1)) - x, dm = rd(s, AT(s, c, j + 1, k)) - x;
            acc += kind == AG_PRIOR_TSV ? dl * dl + dm * dm : sqrt(dl * dl + dm * dm + param);
        }
        break;
    case AG_PRIOR_TV_CHANNEL:
        for (int64_t k = 0; k < W; k++) {
            double dv = rd(s, AT(s, c + 1, j, k)) - rd(s, AT(s, c, j, k));
            acc += sqrt(dv * dv + param);
        }
        break;
    case AG_PRIOR_ENTROPY:
        for (int64_t k = 0; k < W; k++) {
            double x = rd(s, AT(s, c, j, k)), pr = rd(p, AT(p, c, j, k));
            if (*bad < 0 && !(x >= 0 && pr > 0)) *bad = (c * H + j) * W + k;
            acc += x * vlog(x / pr);
        }
        break;
    case AG_PRIOR_SPARSITY: { /* four partial sums (fixed by k): a sum of |x| is add-latency bound */
        double a[4] = {0, 0, 0, 0};
        for (int64_t k = 0; k < W; k++)
            if (sel3(mask, c, j, k)) a[k & 3] += fabs(rd(s, AT(s, c, j, k)));
        acc = (a[0] + a[1]) + (a[2] + a[3]);
        break;
    }
    case AG_PRIOR_SUM: break; /* its own rows: prior_sum_fw_row */
    case AG_PRIOR_EDGE_CLAMP:
        for (int64_t k = 0; k < W; k++) {
            double x = rd(s, AT(s, c, j, k));
            int times = (j == 0) + (j == H - 1) + (k == 0) + (k == W - 1);
            acc += times * x * x;
        }
        break;
    }
    return acc;
}

static bool dense3(const ag_kview *v) {
    return !v || !v->data || (v->strides[2] == 1 && v->strides[1] == v->shape[2] && v->strides[0] == v->shape[1] * v->shape[2]);
}
static bool scalar3(const ag_kview *v) { return v && v->data && !v->strides[0] && !v->strides[1] && !v->strides[2]; }

/* The entropy's per-pixel logarithms, CHUNK pixels at a time into a buffer: alone in its loop
 * vlog vectorizes (the sums and TV's carried terms around it do not). t[k] = x ln(x/p) (terms)
 * or ln(x/p) + 1 (grads), p one value (p_scalar) or one per pixel. */
#define CHUNK 256
#define ENT_CHUNKS(T)                                                                                                 \
    AG_CPU_CLONES static void ent_terms_##T(double *t, const T *x, const T *p, bool p_scalar, int64_t n) {          \
        if (p_scalar) {                                                                                               \
            double pr = p[0];                                                                                         \
            for (int64_t k = 0; k < n; k++) { double xv = x[k]; t[k] = xv * vlog(xv / pr); }                          \
        } else {                                                                                                      \
            for (int64_t k = 0; k < n; k++) { double xv = x[k]; t[k] = xv * vlog(xv / (double)p[k]); }                \
        }                                                                                                             \
    }                                                                                                                 \
    AG_CPU_CLONES static void ent_grads_##T(double *t, const T *x, const T *p, bool p_scalar, int64_t n) {          \
        if (p_scalar) {                                                                                               \
            double pr = p[0];                                                                                         \
            for (int64_t k = 0; k < n; k++) t[k] = vlog((double)x[k] / pr) + 1;                                       \
        } else {                                                                                                      \
            for (int64_t k = 0; k < n; k++) t[k] = vlog((double)x[k] / (double)p[k]) + 1;                             \
        }                                                                                                             \
    }
ENT_CHUNKS(float)
ENT_CHUNKS(double)

/* The forward of TV/TSV, entropy and sparsity on contiguous images (what the front end passes):
 * row r's term as row_term computes it, in the same order, from plain row pointers. */
#define PRIOR_FW_ROW(T)                                                                                               \
    static double prior_fw_row_##T(ag_prior_op kind, const T *s, const T *p, bool p_scalar, const bool *mask,      \
                                   double param, int64_t H, int64_t W, int64_t r, int64_t *bad) {                   \
        const T *x = s + r * W;                                                                                       \
        double acc = 0;                                                                                               \
        switch (kind) {                                                                                               \
        case AG_PRIOR_TV_IMAGE:                                                                                       \
        case AG_PRIOR_TSV:                                                                                            \
            if (r % H == H - 1) break;                                                                                \
            for (int64_t k = 0; k + 1 < W; k++) {                                                                     \
                double dl = (double)x[k + 1] - x[k], dm = (double)x[k + W] - x[k];                                    \
                acc += kind == AG_PRIOR_TSV ? dl * dl + dm * dm : sqrt(dl * dl + dm * dm + param);                    \
            }                                                                                                         \
            break;                                                                                                    \
        case AG_PRIOR_ENTROPY: {                                                                                      \
            const T *pp = p_scalar ? p : p + r * W;                                                                   \
            double t[CHUNK];                                                                                          \
            for (int64_t k0 = 0; k0 < W; k0 += CHUNK) {                                                               \
                int64_t n = W - k0 < CHUNK ? W - k0 : CHUNK;                                                          \
                ent_terms_##T(t, x + k0, p_scalar ? pp : pp + k0, p_scalar, n);                                       \
                for (int64_t k = 0; k < n; k++) {                                                                     \
                    double xv = x[k0 + k], pr = p_scalar ? (double)pp[0] : (double)pp[k0 + k];                        \
                    if (*bad < 0 && !(xv >= 0 && pr > 0)) *bad = r * W + k0 + k;                                      \
                    acc += t[k];                                                                                      \
                }                                                                                                     \
            }                                                                                                         \
            break;                                                                                                    \
        }                                                                                                             \
        case AG_PRIOR_SPARSITY: {                                                                                     \
            const bool *m = mask ? mask + r * W : NULL;                                                               \
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                                                    \
            int64_t k = 0;                                                                                            \
            for (; k + 4 <= W; k += 4) {                                                                              \
                a0 += !m || m[k] ? fabs((double)x[k]) : 0;                                                            \
                a1 += !m || m[k + 1] ? fabs((double)x[k + 1]) : 0;                                                    \
                a2 += !m || m[k + 2] ? fabs((double)x[k + 2]) : 0;                                                    \
                a3 += !m || m[k + 3] ? fabs((double)x[k + 3]) : 0;                                                    \
            }                                                                                                         \
            for (; k < W; k++) {                                                                                      \
                double v = !m || m[k] ? fabs((double)x[k]) : 0;                                                       \
                if ((k & 3) == 0) a0 += v;                                                                            \
                else if ((k & 3) == 1) a1 += v;                                                                       \
                else a2 += v;                                                                                         \
            }                                                                                                         \
            acc = (a0 + a1) + (a2 + a3);                                                                              \
            break;                                                                                                    \
        }                                                                                                             \
        default: break;                                                                                               \
        }                                                                                                             \
        return acc;                                                                                                   \
    }
PRIOR_FW_ROW(float)
PRIOR_FW_ROW(double)

/* AG_PRIOR_SUM (ag_image_priors) on a contiguous image: row r's weighted terms in one pass.
 * TV and TSV share their differences; the entropy's prior is one value. */
#define PRIOR_SUM_ROWS(T)                                                                                             \
    static double prior_sum_fw_row_##T(const T *s, double pr, const double *w, int64_t H, int64_t W, int64_t r,     \
                                       int64_t *bad) {                                                               \
        const T *x = s + r * W;                                                                                       \
        double ent = 0, sp = 0, tv = 0, tsv = 0;                                                                      \
        bool edge = r % H == H - 1;                                                                                   \
        const T prt = (T)pr;                                                                                          \
        double t[CHUNK];                                                                                              \
        for (int64_t k0 = 0; k0 < W; k0 += CHUNK) {                                                                   \
            int64_t n = W - k0 < CHUNK ? W - k0 : CHUNK;                                                              \
            if (w[0] != 0) ent_terms_##T(t, x + k0, &prt, true, n);                                                   \
            for (int64_t k = k0; k < k0 + n; k++) {                                                                   \
                double xv = x[k];                                                                                     \
                if (w[0] != 0) {                                                                                      \
                    if (*bad < 0 && !(xv >= 0)) *bad = r * W + k;                                                     \
                    ent += t[k - k0];                                                                                 \
                }                                                                                                     \
                sp += fabs(xv);                                                                                       \
                if (!edge && k + 1 < W) {                                                                             \
                    double dl = (double)x[k + 1] - xv, dm = (double)x[k + W] - xv, q = dl * dl + dm * dm;             \
                    tsv += q;                                                                                         \
                    if (w[2] != 0) tv += sqrt(q + w[3]);                                                              \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
        return w[0] * ent + w[1] * sp + w[2] * tv + w[4] * tsv;                                                       \
    }                                                                                                                 \
    /* TV's and TSV's per-term weights of a chunk computed first (vectorizable: sqrt and divide
     * per term, no carried value), then combined as prior_bw_rows adds them */                     \
    AG_CPU_CLONES static void tv_terms_##T(double *a, double *c, const T *x, const T *below, double tsv2,          \
                                           double wtv, double eps, int64_t n) {                                     \
        for (int64_t k = 0; k < n; k++) {                                                                             \
            double dl = (double)x[k + 1] - x[k], dm = (double)below[k] - x[k];                                        \
            double wt = tsv2 + (wtv != 0 ? wtv / sqrt(dl * dl + dm * dm + eps) : 0);                                  \
            a[k] = (dl + dm) * wt, c[k] = dl * wt;                                                                    \
        }                                                                                                             \
    }                                                                                                                 \
    AG_CPU_CLONES static void tv_up_terms_##T(double *b, const T *x, const T *u, double tsv2, double wtv,          \
                                              double eps, int64_t n) {                                               \
        for (int64_t k = 0; k < n; k++) {                                                                             \
            double dl = (double)u[k + 1] - u[k], dm = (double)x[k] - u[k];                                            \
            b[k] = dm * (tsv2 + (wtv != 0 ? wtv / sqrt(dl * dl + dm * dm + eps) : 0));                                \
        }                                                                                                             \
    }                                                                                                                 \
    static void prior_sum_bw_row_##T(T *gs, const T *s, double pr, const double *w, double gg, int64_t H,          \
                                     int64_t W, int64_t r) {                                                         \
        int64_t j = r % H;                                                                                            \
        const T *x = s + r * W, *u = x - W;                                                                           \
        T *g = gs + r * W;                                                                                            \
        double carry = 0, tsv2 = 2 * w[4], t[CHUNK], a[CHUNK], c[CHUNK], b[CHUNK];                                    \
        const T prt = (T)pr;                                                                                          \
        for (int64_t k0 = 0; k0 < W; k0 += CHUNK) {                                                                   \
            int64_t n = W - k0 < CHUNK ? W - k0 : CHUNK, nt = k0 + n < W ? n : n - 1; /* terms need k + 1 < W */      \
            if (w[0] != 0) ent_grads_##T(t, x + k0, &prt, true, n);                                                   \
            if (j + 1 < H) tv_terms_##T(a, c, x + k0, x + k0 + W, tsv2, w[2], w[3], nt);                              \
            else for (int64_t k = 0; k < nt; k++) a[k] = c[k] = 0;                                                    \
            if (j >= 1) tv_up_terms_##T(b, x + k0, u + k0, tsv2, w[2], w[3], nt);                                     \
            else for (int64_t k = 0; k < nt; k++) b[k] = 0;                                                           \
            if (nt < n) a[nt] = c[nt] = b[nt] = 0;                                                                    \
            for (int64_t k = 0; k < n; k++) {                                                                         \
                double xv = x[k0 + k], acc = carry;                                                                   \
                acc -= a[k];                                                                                          \
                acc += b[k];                                                                                          \
                carry = c[k];                                                                                         \
                if (w[0] != 0) acc += w[0] * t[k];                                                                    \
                acc += w[1] * (double)((xv > 0) - (xv < 0));                                                          \
                g[k0 + k] = (T)(gg * acc);                                                                            \
            }                                                                                                         \
        }                                                                                                             \
    }
PRIOR_SUM_ROWS(float)
PRIOR_SUM_ROWS(double)

int ag_cpu_image_prior(const char *op, ag_prior_op kind, const ag_kview *out, const ag_kview *s, const ag_kview *p,
                       const ag_kview *mask, const double *params) {
    int rc = check_img("image_prior", s, p, mask);
    if (rc) return rc;
    double param = params[0];
    bool sum = kind == AG_PRIOR_SUM;
    if (sum && (!dense3(s) || (params[0] != 0 && !scalar3(p)) || (mask && mask->data)))
        return ag_set_error(AG_ERR_INVALID, "image_prior: the weighted sum needs a contiguous image, one prior value "
                            "and no mask");
    double pr0 = sum && params[0] != 0 ? rd(p, 0) : 1;
    if (sum && !(pr0 > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: expected a prior intensity > 0, given %g", op, pr0);
    if (kind == AG_PRIOR_ENTROPY && !(p && p->data))
        return ag_set_error(AG_ERR_INVALID, "image_prior: entropy needs the prior view");
    int64_t C = s->shape[0], H = s->shape[1];
    int64_t rows = (kind == AG_PRIOR_TV_CHANNEL ? (C > 0 ? C - 1 : 0) : C) * H;
    int nb = nblocks(rows);
    double part[NBLK];
    int64_t bad[NBLK];
    int64_t work = rows * s->shape[2], W = s->shape[2];
    bool p_scalar = scalar3(p);
    bool fast = (kind == AG_PRIOR_TV_IMAGE || kind == AG_PRIOR_TSV || kind == AG_PRIOR_ENTROPY || kind == AG_PRIOR_SPARSITY) &&
                dense3(s) && (p_scalar || dense3(p)) && dense3(mask);
    const void *pd = p && p->data ? p->data : NULL;
    const bool *mk = mask && mask->data ? (const bool *)mask->data : NULL;
#pragma omp parallel for schedule(static) if (work >= AG_CPU_PAR_MIN && ag_cpu_max_threads() > 1)
    for (int ib = 0; ib < nb; ib++) {
        int64_t b, e, first_bad = -1;
        block(rows, nb, ib, &b, &e);
        double acc = 0;
        for (int64_t r = b; r < e; r++)
            acc += sum  ? (s->dtype == AG_F32 ? prior_sum_fw_row_float((const float *)s->data, pr0, params, H, W, r, &first_bad)
                                              : prior_sum_fw_row_double((const double *)s->data, pr0, params, H, W, r, &first_bad))
                   : !fast               ? row_term(kind, s, p, mask, param, r, &first_bad)
                   : s->dtype == AG_F32 ? prior_fw_row_float(kind, (const float *)s->data, pd, p_scalar, mk, param, H, W, r,
                                                             &first_bad)
                                        : prior_fw_row_double(kind, (const double *)s->data, pd, p_scalar, mk, param, H,
                                                              W, r, &first_bad);
        part[ib] = acc, bad[ib] = first_bad;
    }
    double acc = 0;
    for (int ib = 0; ib < nb; ib++) {
        if (bad[ib] >= 0) { /* the flat index is the caller's (s is its contiguous image seen as 3-d) */
            int64_t i = bad[ib], c = i / (H * W), j = i / W % H, k = i % W;
            double x = rd(s, AT(s, c, j, k)), pr = rd(p, AT(p, c, j, k));
            return x >= 0 ? ag_set_error(AG_ERR_INVALID, "%s: expected a prior intensity > 0, given %g at flat index %lld",
                                         op, pr, (long long)i)
                          : ag_set_error(AG_ERR_INVALID, "%s: expected pixels >= 0 (the entropy takes their logarithm), "
                                         "given %g at flat index %lld", op, x, (long long)i);
        }
        acc += part[ib];
    }
    if (kind == AG_PRIOR_ENTROPY) acc /= param;
    wr(out, 0, acc);
    return 0;
}

/* d(prior)/ds at (c, j, k), gathered from the terms that read that pixel */
static double grad_at(ag_prior_op kind, const ag_kview *s, const ag_kview *p, const ag_kview *mask, double param,
                      int64_t c, int64_t j, int64_t k) {
    int64_t C = s->shape[0], H = s->shape[1], W = s->shape[2];
    double x = rd(s, AT(s, c, j, k));
    switch (kind) {
    case AG_PRIOR_TV_IMAGE:
    case AG_PRIOR_TSV: {
        bool tsv = kind == AG_PRIOR_TSV;
        double gsum = 0;
        /* term (j, k): -(dl + dm) / t */
        if (j + 1 < H && k + 1 < W) {
            double dl = rd(s, AT(s, c, j, k + 1)) - x, dm = rd(s, AT(s, c, j + 1, k)) - x;
            gsum -= tsv ? 2 * (dl + dm) : (dl + dm) / sqrt(dl * dl + dm * dm + param);
        }
        /* term (j, k-1): its dl reads (j, k) */
        if (j + 1 < H && k >= 1) {
            double y = rd(s, AT(s, c, j, k - 1)), dl = x - y, dm = rd(s, AT(s, c, j + 1, k - 1)) - y;
            gsum += tsv ? 2 * dl : dl / sqrt(dl * dl + dm * dm + param);
        }
        /* term (j-1, k): its dm reads (j, k) */
        if (j >= 1 && k + 1 < W) {
            double y = rd(s, AT(s, c, j - 1, k)), dl = rd(s, AT(s, c, j - 1, k + 1)) - y, dm = x - y;
            gsum += tsv ? 2 * dm : dm / sqrt(dl * dl + dm * dm + param);
        }
        return gsum;
    }
    case AG_PRIOR_TV_CHANNEL: {
        double gsum = 0;
        if (c + 1 < C) {
            double dv = rd(s, AT(s, c + 1, j, k)) - x;
            gsum -= dv / sqrt(dv * dv + param);
        }
        if (c >= 1) {
            double dv = x - rd(s, AT(s, c - 1, j, k));
            gsum += dv / sqrt(dv * dv + param);
        }
        return gsum;
    }
    case AG_PRIOR_ENTROPY: return (vlog(x / rd(p, AT(p, c, j, k))) + 1) / param;
    case AG_PRIOR_SPARSITY: return sel3(mask, c, j, k) ? (x > 0) - (x < 0) : 0; /* torch: sign, 0 at 0 */
    case AG_PRIOR_SUM: break; /* its own rows: prior_sum_bw_row */
    case AG_PRIOR_EDGE_CLAMP: return 2 * x * ((j == 0) + (j == H - 1) + (k == 0) + (k == W - 1));
    }
    return 0;
}

/* The backward of TV/TSV, entropy and sparsity on contiguous images (what the front end passes),
 * rows r0..r1 of C*H: plain row pointers instead of grad_at's strided reads, and TV's weights
 * computed twice per pixel instead of three times (the term left of a pixel carries over). */
#define PRIOR_BW_ROWS(T)                                                                                              \
    static void prior_bw_rows_##T(ag_prior_op kind, T *gs, T *gp, const T *s, const T *p, bool p_scalar,            \
                                  const bool *mask, double gg, double param, int64_t H, int64_t W, int64_t r) {     \
        int64_t j = r % H;                                                                                            \
        const T *x = s + r * W;                                                                                       \
        T *g = gs + r * W;                                                                                            \
        switch (kind) {                                                                                               \
        case AG_PRIOR_TV_IMAGE:                                                                                       \
        case AG_PRIOR_TSV: {                                                                                          \
            bool tsv = kind == AG_PRIOR_TSV;                                                                          \
            double carry = 0;                                                                                         \
            for (int64_t k = 0; k < W; k++) {                                                                         \
                double acc = carry;                                                                                   \
                carry = 0;                                                                                            \
                if (j + 1 < H && k + 1 < W) {                                                                         \
                    double dl = (double)x[k + 1] - x[k], dm = (double)x[k + W] - x[k];                                \
                    double w = tsv ? 2 : 1 / sqrt(dl * dl + dm * dm + param);                                         \
                    acc -= (dl + dm) * w;                                                                             \
                    carry = dl * w;                                                                                   \
                }                                                                                                     \
                if (j >= 1 && k + 1 < W) {                                                                            \
                    const T *u = x - W;                                                                               \
                    double dl = (double)u[k + 1] - u[k], dm = (double)x[k] - u[k];                                    \
                    acc += dm * (tsv ? 2 : 1 / sqrt(dl * dl + dm * dm + param));                                      \
                }                                                                                                     \
                g[k] = (T)(gg * acc);                                                                                 \
            }                                                                                                         \
            break;                                                                                                    \
        }                                                                                                             \
        case AG_PRIOR_ENTROPY: {                                                                                      \
            const T *pp = p_scalar ? p : p + r * W;                                                                   \
            double t[CHUNK];                                                                                          \
            for (int64_t k0 = 0; k0 < W; k0 += CHUNK) {                                                               \
                int64_t n = W - k0 < CHUNK ? W - k0 : CHUNK;                                                          \
                ent_grads_##T(t, x + k0, p_scalar ? pp : pp + k0, p_scalar, n);                                       \
                for (int64_t k = 0; k < n; k++) g[k0 + k] = (T)(gg * t[k] / param);                                   \
                if (gp)                                                                                               \
                    for (int64_t k = 0; k < n; k++) {                                                                 \
                        double pr = p_scalar ? (double)pp[0] : (double)pp[k0 + k];                                    \
                        gp[r * W + k0 + k] = (T)(-gg * (double)x[k0 + k] / (pr * param));                             \
                    }                                                                                                 \
            }                                                                                                         \
            break;                                                                                                    \
        }                                                                                                             \
        case AG_PRIOR_SPARSITY:                                                                                       \
            for (int64_t k = 0; k < W; k++)                                                                           \
                g[k] = (T)(mask && !mask[r * W + k] ? 0 : gg * (double)((x[k] > 0) - (x[k] < 0)));                    \
            break;                                                                                                    \
        default: break;                                                                                               \
        }                                                                                                             \
    }
PRIOR_BW_ROWS(float)
PRIOR_BW_ROWS(double)

int ag_cpu_image_prior_backward(ag_prior_op kind, const ag_kview *gs, const ag_kview *gp, const ag_kview *g,
                                const ag_kview *s, const ag_kview *p, const ag_kview *mask, const double *params) {
    int rc = check_img("image_prior_backward", s, p, mask);
    if (rc) return rc;
    int64_t C = s->shape[0], H = s->shape[1], W = s->shape[2];
    double gg = rd(g, 0), param = params[0];
    if (kind == AG_PRIOR_SUM) {
        if (!dense3(s) || !dense3(gs) || (params[0] != 0 && !scalar3(p)) || (mask && mask->data))
            return ag_set_error(AG_ERR_INVALID, "image_prior_backward: the weighted sum needs contiguous views, one "
                                "prior value and no mask");
        double pr0 = params[0] != 0 ? rd(p, 0) : 1;
#pragma omp parallel for schedule(static) if (C * H * W >= AG_CPU_PAR_MIN && ag_cpu_max_threads() > 1)
        for (int64_t r = 0; r < C * H; r++) {
            if (s->dtype == AG_F32) prior_sum_bw_row_float((float *)gs->data, (const float *)s->data, pr0, params, gg, H, W, r);
            else prior_sum_bw_row_double((double *)gs->data, (const double *)s->data, pr0, params, gg, H, W, r);
        }
        return 0;
    }
    bool want_p = kind == AG_PRIOR_ENTROPY && gp && gp->data;
    bool p_scalar = scalar3(p);
    if ((kind == AG_PRIOR_TV_IMAGE || kind == AG_PRIOR_TSV || kind == AG_PRIOR_ENTROPY || kind == AG_PRIOR_SPARSITY) &&
        dense3(s) && dense3(gs) && (!want_p || dense3(gp)) && (p_scalar || dense3(p)) && dense3(mask)) {
        const bool *mk = mask && mask->data ? (const bool *)mask->data : NULL;
#pragma omp parallel for schedule(static) if (C * H * W >= AG_CPU_PAR_MIN && ag_cpu_max_threads() > 1)
        for (int64_t r = 0; r < C * H; r++) {
            if (s->dtype == AG_F32)
                prior_bw_rows_float(kind, (float *)gs->data, want_p ? (float *)gp->data : NULL, (const float *)s->data,
                                    p && p->data ? (const float *)p->data : NULL, p_scalar, mk, gg, param, H, W, r);
            else
                prior_bw_rows_double(kind, (double *)gs->data, want_p ? (double *)gp->data : NULL,
                                     (const double *)s->data, p && p->data ? (const double *)p->data : NULL, p_scalar,
                                     mk, gg, param, H, W, r);
        }
        return 0;
    }
#pragma omp parallel for schedule(static) if (C * H * W >= AG_CPU_PAR_MIN && ag_cpu_max_threads() > 1)
    for (int64_t r = 0; r < C * H; r++) {
        int64_t c = r / H, j = r % H;
        for (int64_t k = 0; k < W; k++) {
            wr(gs, r * W + k, gg * grad_at(kind, s, p, mask, param, c, j, k));
            if (want_p) wr(gp, r * W + k, -gg * rd(s, AT(s, c, j, k)) / (rd(p, AT(p, c, j, k)) * param));
        }
    }
    return 0;
}
