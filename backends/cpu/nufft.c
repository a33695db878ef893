/* backends/cpu/nufft.c — the NuFFT's interpolation (fine grid -> points) and spreading
 * (points -> fine grid) entries (backends/kernels.h: nufft_interp, nufft_spread).
 *
 * Each point's w kernel weights per axis come from the piecewise polynomial of the plan (Horner
 * over the w pieces of both axes at once, 2w lanes, so the loop vectorises); the 2-d kernel is
 * their outer product, applied as w row passes of 2w reals (re, im interleaved).
 *
 * Spreading is parallel over the plan's bins without atomics: a bin's points go into a private
 * subgrid (the bin's tile plus the kernel's reach), which is then added into the grid. Bins are
 * coloured by (row parity, column parity) and the four colours run one after another; tiles are
 * at least w + 2 cells wide, so the subgrids of one colour never overlap and each grid cell
 * receives its terms in one fixed order (colour, then the bin's points in sorted order),
 * whatever the thread count. Operations are plain multiplies and adds (no FMA), as cpu.h says,
 * so the bits do not depend on the ISA either. */
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu.h"

#define MAXW 16
#define MAXD 32

/* coef (D, w) duplicated side by side as c2 (D, L), zero beyond 2w: one Horner pass of L lanes (a
 * constant count, so it vectorises without remainder) gives both axes' weights */
#define L (2 * MAXW)
static void pair_coef(const double *coef, int D, int w, double *c2) {
    memset(c2, 0, (size_t)(D * L) * sizeof *c2);
    for (int d = 0; d < D; d++)
        for (int j = 0; j < w; j++) c2[d * L + j] = c2[d * L + w + j] = coef[d * w + j];
}

#define DEFINE(T, S)                                                                                            \
    /* a point's first cells (x0, y0) and weights wxy (x: [0, w), y: [w, 2w)) from (x, y) in fine cells */    \
    AG_CPU_CLONES static void weights_##S(const double *c2, int D, int w, double x, double y, int64_t *x0,      \
                                          int64_t *y0, T *wxy) {                                               \
        double fx = ceil(x - 0.5 * w), fy = ceil(y - 0.5 * w);                                                   \
        T zx = (T)(2 * (x - fx - 0.5 * w + 1) - 1), zy = (T)(2 * (y - fy - 0.5 * w + 1) - 1), zz[L];     \
        *x0 = (int64_t)fx, *y0 = (int64_t)fy;                                                                    \
        for (int i = 0; i < L; i++) zz[i] = i < w ? zx : zy, wxy[i] = (T)c2[i];                                  \
        for (int d = 1; d < D; d++)                                                                              \
            for (int i = 0; i < L; i++) wxy[i] = wxy[i] * zz[i] + (T)c2[d * L + i];                              \
    }                                                                                                            \
    /* one point: Σ_a wy[a] Σ_b wx[b] g[(y0 + a) mod n, (x0 + b) mod n], g complex interleaved */              \
    AG_CPU_CLONES static void interp_point_##S(const T *g, int64_t n, int w, int64_t x0, int64_t y0,           \
                                               const T *wx, const T *wy, T *re, T *im) {                       \
        T acc[2 * MAXW] = {0}, tmp[2 * MAXW];                                                                    \
        bool inside = x0 >= 0 && x0 + w <= n;                                                                    \
        for (int a = 0; a < w; a++) {                                                                            \
            int64_t r = y0 + a;                                                                                  \
            r = r < 0 ? r + n : r >= n ? r - n : r;                                                              \
            const T *row = g + 2 * (r * n + x0);                                                                 \
            if (!inside) {                                                                                       \
                for (int b = 0; b < w; b++) {                                                                    \
                    int64_t c = x0 + b;                                                                          \
                    c = c < 0 ? c + n : c >= n ? c - n : c;                                                      \
                    tmp[2 * b] = g[2 * (r * n + c)], tmp[2 * b + 1] = g[2 * (r * n + c) + 1];                    \
                }                                                                                                \
                row = tmp;                                                                                       \
            }                                                                                                    \
            T s = wy[a];                                                                                         \
            for (int i = 0; i < 2 * w; i++) acc[i] += s * row[i];                                                \
        }                                                                                                        \
        T sr = 0, si = 0;                                                                                        \
        for (int b = 0; b < w; b++) sr += wx[b] * acc[2 * b], si += wx[b] * acc[2 * b + 1];                      \
        *re = sr, *im = si;                                                                                      \
    }                                                                                                            \
    static void interp_##S(const ag_kview *out, const ag_kview *grid, const ag_kview *pts, const ag_kview *perm, \
                           const double *coef, int D, int w) {                                                   \
        int64_t C = out->shape[0], M = out->shape[1], n = grid->shape[1];                                        \
        int nt = ag_cpu_max_threads();                                                                           \
        _Pragma("omp parallel num_threads(nt) if (nt > 1 && C * M * w * w >= AG_CPU_PAR_MIN)")                   \
        for (int64_t c = 0; c < C; c++) {                                                                        \
            const T *g = (const T *)grid->data + 2 * c * grid->strides[0];                                       \
            const double *p = (const double *)pts->data + c * pts->strides[0];                                   \
            const int64_t *pm = (const int64_t *)perm->data + c * perm->strides[0];                              \
            T *o = (T *)out->data + 2 * c * out->strides[0];                                                     \
            int64_t b, e;                                                                                        \
            ag_cpu_thread_slice(M, &b, &e);                                                                      \
            for (int64_t k = b; k < e; k++) {                                                                    \
                T wxy[L], re, im;                                                                         \
                int64_t x0, y0;                                                                                  \
                weights_##S(coef, D, w, p[2 * k], p[2 * k + 1], &x0, &y0, wxy);                                  \
                interp_point_##S(g, n, w, x0, y0, wxy, wxy + w, &re, &im);                                       \
                T *dst = o + 2 * pm[k] * out->strides[1];                                                        \
                dst[0] = re, dst[1] = im;                                                                        \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    /* one point into subgrid sg (row length sw, complex interleaved) at local cell (lx, ly) */                \
    AG_CPU_CLONES static void spread_point_##S(T *sg, int64_t sw, int w, int64_t lx, int64_t ly, const T *wx,  \
                                               const T *wy, T vr, T vi) {                                      \
        T kx[2 * MAXW];                                                                                          \
        for (int b = 0; b < w; b++) kx[2 * b] = wx[b] * vr, kx[2 * b + 1] = wx[b] * vi;                          \
        for (int a = 0; a < w; a++) {                                                                            \
            T *row = sg + 2 * ((ly + a) * sw + lx), s = wy[a];                                                   \
            for (int i = 0; i < 2 * w; i++) row[i] += s * kx[i];                                                 \
        }                                                                                                        \
    }                                                                                                            \
    /* bin (ty, tx) of channel c: its points into a zeroed subgrid, then the subgrid into the grid */          \
    static int spread_bin_##S(T *g, int64_t n, T *sg, const ag_kview *vis, int64_t c, const double *p,          \
                              const int64_t *pm, const int64_t *bins, int ntile, int64_t ty, int64_t tx,         \
                              const double *coef, int D, int w) {                                                \
        int64_t bi = ty * ntile + tx, k0 = bins[bi], k1 = bins[bi + 1];                                          \
        if (k0 == k1) return 0;                                                                                  \
        int64_t hw = w / 2 + 1, r0 = ty * n / ntile - hw, c0 = tx * n / ntile - hw;                              \
        int64_t sh = (ty + 1) * n / ntile - ty * n / ntile + w + 2, sw = (tx + 1) * n / ntile - tx * n / ntile + w + 2; \
        memset(sg, 0, (size_t)(2 * sh * sw) * sizeof(T));                                                       \
        const T *vd = (const T *)vis->data + 2 * c * vis->strides[0];                                            \
        for (int64_t k = k0; k < k1; k++) {                                                                      \
            T wxy[L];                                                                                     \
            int64_t x0, y0;                                                                                      \
            weights_##S(coef, D, w, p[2 * k], p[2 * k + 1], &x0, &y0, wxy);                                      \
            const T *wx = wxy, *wy = wxy + w;                                                                    \
            int64_t lx = x0 - c0, ly = y0 - r0;                                                                  \
            if (lx < 0 || ly < 0 || lx + w > sw || ly + w > sh) return -1; /* a point outside its bin */        \
            const T *vk = vd + 2 * pm[k] * vis->strides[1];                                                      \
            spread_point_##S(sg, sw, w, lx, ly, wx, wy, vk[0], vk[1]);                                           \
        }                                                                                                        \
        for (int64_t a = 0; a < sh; a++) {                                                                       \
            int64_t r = ((r0 + a) % n + n) % n;                                                                  \
            for (int64_t b = 0; b < sw; b++) {                                                                   \
                int64_t cc = ((c0 + b) % n + n) % n;                                                             \
                g[2 * (r * n + cc)] += sg[2 * (a * sw + b)], g[2 * (r * n + cc) + 1] += sg[2 * (a * sw + b) + 1]; \
            }                                                                                                    \
        }                                                                                                        \
        return 0;                                                                                                \
    }                                                                                                            \
    static int spread_##S(const ag_kview *grid, const ag_kview *vis, const ag_kview *pts, const ag_kview *perm,  \
                          const ag_kview *bins, const double *coef, int D, int w, int ntile) {                   \
        int64_t C = grid->shape[0], n = grid->shape[1], M = vis->shape[1];                                       \
        int64_t tmax = (n + ntile - 1) / ntile + w + 2, half = ntile > 1 ? ntile / 2 : 1;                        \
        int nt = ag_cpu_max_threads(), bad = 0;                                                                  \
        memset(grid->data, 0, (size_t)(2 * C * n * n) * sizeof(T));                                              \
        if (ntile == 1) nt = 1;                                                                                  \
        size_t sbytes = (size_t)(2 * tmax * tmax) * sizeof(T);                                                   \
        T *scratch = ag_cpu_alloc(sbytes * (size_t)nt);                                                          \
        if (!scratch) return ag_set_error(AG_ERR_NOMEM, "nufft_spread: out of memory for %d subgrids", nt);     \
        for (int64_t c = 0; c < C; c++) {                                                                        \
            T *g = (T *)grid->data + 2 * c * n * n;                                                              \
            const double *p = (const double *)pts->data + c * pts->strides[0];                                   \
            const int64_t *pm = (const int64_t *)perm->data + c * perm->strides[0];                              \
            const int64_t *bn = (const int64_t *)bins->data + c * bins->strides[0];                              \
            for (int colour = 0; colour < (ntile > 1 ? 4 : 1); colour++) {                                       \
                int64_t oy = colour / 2, ox = colour % 2;                                                        \
                _Pragma("omp parallel num_threads(nt) if (nt > 1 && M * w * w >= AG_CPU_PAR_MIN) reduction(|:bad)") \
                {                                                                                                \
                    T *sg = (T *)((char *)scratch + sbytes * (size_t)ag_cpu_thread_num());                       \
                    _Pragma("omp for schedule(dynamic, 1)")                                                      \
                    for (int64_t q = 0; q < half * half; q++)                                                    \
                        bad |= spread_bin_##S(g, n, sg, vis, c, p, pm, bn, ntile,                                \
                                              ntile > 1 ? 2 * (q / half) + oy : 0,                               \
                                              ntile > 1 ? 2 * (q % half) + ox : 0, coef, D, w) < 0;              \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
        ag_cpu_free(scratch, sbytes * (size_t)nt);                                                               \
        return bad ? ag_set_error(AG_ERR_INVALID, "nufft_spread: a point lies outside its bin") : 0;           \
    }

DEFINE(float, f32)
DEFINE(double, f64)

static bool nufft_views_ok(const ag_kview *grid, const ag_kview *pts, const ag_kview *perm, const ag_kview *coef,
                           int64_t C, int64_t M, int w) {
    int64_t n = grid->ndim == 3 ? grid->shape[1] : 0;
    return grid->ndim == 3 && grid->shape[0] == C && grid->shape[2] == n && n > 0 && grid->strides[2] == 1 &&
           grid->strides[1] == n && grid->strides[0] == n * n && (grid->dtype == AG_C64 || grid->dtype == AG_C128) &&
           pts->ndim == 3 && pts->dtype == AG_F64 && pts->shape[0] == C && pts->shape[1] == M && pts->shape[2] == 2 &&
           pts->strides[2] == 1 && pts->strides[1] == 2 && perm->ndim == 2 && perm->dtype == AG_I64 &&
           perm->shape[0] == C && perm->shape[1] == M && perm->strides[1] == 1 && coef->ndim == 2 &&
           coef->dtype == AG_F64 && coef->shape[1] == w && coef->shape[0] >= 1 && coef->shape[0] <= MAXD &&
           coef->strides[1] == 1 && coef->strides[0] == w && w >= 2 && w <= MAXW && n >= w + 2;
}

int ag_cpu_nufft_interp(const ag_kview *out, const ag_kview *grid, const ag_kview *pts, const ag_kview *perm,
                        const ag_kview *coef, int w) {
    if (out->ndim != 2 || out->dtype != grid->dtype ||
        !nufft_views_ok(grid, pts, perm, coef, out->shape[0], out->shape[1], w))
        return ag_set_error(AG_ERR_INVALID, "nufft_interp: expected out (C, M) of the grid's complex dtype, a "
                            "contiguous grid (C, n, n), points (C, M, 2) f64, perm (C, M) i64, coef (D, w) f64, "
                            "2 <= w <= %d, n >= w + 2", MAXW);
    int D = (int)coef->shape[0];
    double c2[MAXD * L];
    pair_coef(coef->data, D, w, c2);
    if (grid->dtype == AG_C64) interp_f32(out, grid, pts, perm, c2, D, w);
    else interp_f64(out, grid, pts, perm, c2, D, w);
    return 0;
}

int ag_cpu_nufft_spread(const ag_kview *grid, const ag_kview *vis, const ag_kview *pts, const ag_kview *perm,
                        const ag_kview *bins, const ag_kview *coef, int w, int ntile) {
    int64_t n = grid->ndim == 3 ? grid->shape[1] : 0;
    if (vis->ndim != 2 || vis->dtype != grid->dtype || !nufft_views_ok(grid, pts, perm, coef, vis->shape[0], vis->shape[1], w) ||
        ntile < 1 || (ntile > 1 && (ntile % 2 || n / ntile < w + 2)) || bins->ndim != 2 || bins->dtype != AG_I64 ||
        bins->shape[0] != vis->shape[0] || bins->shape[1] != (int64_t)ntile * ntile + 1 || bins->strides[1] != 1)
        return ag_set_error(AG_ERR_INVALID, "nufft_spread: expected a contiguous grid (C, n, n) and visibilities (C, M) "
                            "of one complex dtype, points (C, M, 2) f64, perm (C, M) i64, bins (C, ntile² + 1) i64, "
                            "coef (D, w) f64, 2 <= w <= %d, ntile 1 or even with tiles of at least w + 2 cells", MAXW);
    int D = (int)coef->shape[0];
    double c2[MAXD * L];
    pair_coef(coef->data, D, w, c2);
    return grid->dtype == AG_C64 ? spread_f32(grid, vis, pts, perm, bins, c2, D, w, ntile)
                                 : spread_f64(grid, vis, pts, perm, bins, c2, D, w, ntile);
}
