/* backends/cpu/conv_direct.c — f32 convolution (forward and weight gradient) with AVX-512
 * register tiles, without an im2col matrix and without OpenBLAS.
 *
 * Why: OpenBLAS 0.3.21 (Debian bookworm) runs its AVX2 SGEMM on AVX-512 machines it does not
 * recognise, and im2col + gemm then runs at half the speed PyTorch's oneDNN reaches on the
 * benchmark case of issue 4. These kernels read the input straight from a zero-padded copy in
 * which each padded row is split into its s1 column phases (col % s1): output pixel (i, j) of
 * row k = (c, p, q) of the implicit im2col matrix is then the copy at off[k] + i*xrs + j, with
 * xrs = s0 * row length, so 16 consecutive output pixels are one vector load for any stride.
 *
 *   forward   4 output channels x 4 vectors of 16 pixels (16 accumulators); per k one load of
 *             4 input vectors and 4 weight broadcasts (16 FMAs). Vectors run along an output
 *             row, or over 2 or 4 consecutive rows when rows are 32 or 16 pixels wide.
 *   weight    dw[o, k] for 4 output channels x 6 rows k: 24 vector accumulators summed over all
 *             images and pixels in 16 lanes, reduced at the end. Each thread owns a fixed set of
 *             (o, k) tiles, so the summation order, and the result, does not depend on the
 *             number of threads.
 * Groups with one output channel (depthwise convolutions, one-channel image models such as
 * PyTorchDIA's kernel fit) use 1 x 8-vector output tiles and 1 x 24 weight tiles instead.
 * conv.c runs the stride-1 input gradient here too, as a forward convolution with flipped
 * weights.
 *
 * Rounding: FMAs and a different summation order than the gemm path, so results agree with it to
 * f32 rounding (tests/test_conv.c compares them), not bit for bit. The kernels are used only when
 * the CPU has AVX-512F (checked at run time) and output rows have 16 pixels or more.
 * AG_CPU_CONV=im2col forces the gemm path; AG_CPU_CONV=direct forces these kernels whatever the
 * row width and makes a convolution fail where the CPU has no AVX-512F. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(AG_CPU_NO_DIRECT)
#define AG_HAVE_DIRECT 1
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))
#endif

enum { MR = 4, NV = 4, NV1 = 8, MO = 4, NK = 6, SLACK = 16 * NV1 };

int ag_cpu_conv_direct_choose(const ag_conv_direct *g, const char *kname) {
    const char *env = getenv("AG_CPU_CONV");
    bool force = env && strcmp(env, "direct") == 0;
    if (env && strcmp(env, "im2col") == 0) return 0;
#ifdef AG_HAVE_DIRECT
    const int have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    const int have = 0;
#endif
    if (!have)
        return force ? ag_set_error(AG_ERR_NOTIMPL, "%s: AG_CPU_CONV=direct needs a CPU with AVX-512F, and this "
                                                     "one (or this build) has none", kname)
                     : 0;
    if (g->Cg < 1 || g->Og < 1 || g->s0 < 1 || g->s1 < 1) return 0;
    /* vectors run along output rows: narrow rows would leave most lanes idle */
    return force || g->WO >= 16;
}

#ifdef AG_HAVE_DIRECT

static int max_threads(void) {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

/* The padded copy: per image and channel a plane of Hp rows; each row holds the s1 column
 * phases of the padded input row one after the other, Wq entries each (row length s1 * Wq). */
typedef struct padded {
    int64_t Hp, Wq, rowlen, plane, xrs, nimg; /* xrs: offset between output rows; nimg: images per chunk */
    float *buf;
    size_t bytes;
    int64_t *off; /* Cg*KH*KW offsets of the rows k = (c, p, q) */
} padded;

static int padded_init(padded *pd, const ag_conv_direct *g, const char *kname) {
    int64_t wfull = (g->WO - 1) * g->s1 + (g->KW - 1) * g->d1 + 1;
    pd->Hp = (g->HO - 1) * g->s0 + (g->KH - 1) * g->d0 + 1;
    pd->Wq = (wfull + g->s1 - 1) / g->s1;
    pd->rowlen = g->s1 * pd->Wq;
    pd->plane = pd->Hp * pd->rowlen;
    pd->xrs = g->s0 * pd->rowlen;
    /* images in chunks of at most 32 MiB of padded input (at least one image) */
    int64_t per = g->C * pd->plane * (int64_t)sizeof(float);
    pd->nimg = per > 0 ? (int64_t)(32 << 20) / per : g->N;
    if (pd->nimg < 1) pd->nimg = 1;
    if (pd->nimg > g->N) pd->nimg = g->N;
    int64_t K = g->Cg * g->KH * g->KW;
    pd->bytes = (size_t)(pd->nimg * g->C * pd->plane + SLACK) * sizeof(float);
    pd->buf = ag_cpu_alloc(pd->bytes);
    pd->off = malloc((size_t)K * sizeof *pd->off);
    if (!pd->buf || !pd->off) {
        if (pd->buf) ag_cpu_free(pd->buf, pd->bytes);
        free(pd->off);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory for a padded copy of %lld images", kname,
                            (long long)pd->nimg);
    }
    memset(pd->buf + pd->nimg * g->C * pd->plane, 0, SLACK * sizeof(float));
    for (int64_t c = 0, k = 0; c < g->Cg; c++)
        for (int64_t p = 0; p < g->KH; p++)
            for (int64_t q = 0; q < g->KW; q++) {
                int64_t col = q * g->d1;
                pd->off[k++] = c * pd->plane + p * g->d0 * pd->rowlen + (col % g->s1) * pd->Wq + col / g->s1;
            }
    return 0;
}

static void padded_free(padded *pd) {
    ag_cpu_free(pd->buf, pd->bytes);
    free(pd->off);
}

/* e[t] = s[2t], o[t] = s[2t + 1] for t < Wq, zero where the column is outside [c0, c1) */
TARGET static void deinterleave2(float *e, float *o, const float *s, int64_t c0, int64_t c1, int64_t Wq) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#define PAIR(t)                                                                                          \
    (e[t] = 2 * (t) >= c0 && 2 * (t) < c1 ? s[2 * (t)] : 0.0f,                                         \
     o[t] = 2 * (t) + 1 >= c0 && 2 * (t) + 1 < c1 ? s[2 * (t) + 1] : 0.0f)
    int64_t t = 0;
    for (; t < Wq && 2 * t < c0; t++) PAIR(t); /* the left padding */
    for (; t + 16 <= Wq && 2 * (t + 16) <= c1; t += 16) {
        __m512 a = _mm512_loadu_ps(s + 2 * t), b = _mm512_loadu_ps(s + 2 * t + 16);
        _mm512_storeu_ps(e + t, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(o + t, _mm512_permutex2var_ps(a, io, b));
    }
    for (; t < Wq; t++) PAIR(t);
#undef PAIR
}

/* planes of images [n0, n0+nb): padded (r, col) = x[r - p0][col - p1], zero outside x */
TARGET static void padded_fill(padded *pd, const ag_conv_direct *g, const float *x, int64_t n0, int64_t nb) {
    int64_t planes = nb * g->C, H = g->H, W = g->W, rl = pd->rowlen, s1 = g->s1;
    int64_t wfull = (g->WO - 1) * g->s1 + (g->KW - 1) * g->d1 + 1;
    int64_t c0 = g->p1 > 0 ? g->p1 : 0, c1 = g->p1 + W < wfull ? g->p1 + W : wfull; /* valid columns [c0, c1) */
    if (c1 < c0) c1 = c0;
    _Pragma("omp parallel for schedule(static) if (planes * pd->plane >= AG_CPU_PAR_MIN)")
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *src = x + (n0 * g->C + pl) * H * W;
        float *dst = pd->buf + pl * pd->plane;
        for (int64_t r = 0; r < pd->Hp; r++) {
            float *row = dst + r * rl;
            int64_t ih = r - g->p0;
            if (ih < 0 || ih >= H || c1 == c0) {
                memset(row, 0, (size_t)rl * sizeof(float));
                continue;
            }
            const float *s = src + ih * W - g->p1;
            if (s1 == 1) {
                memset(row, 0, (size_t)c0 * sizeof(float));
                memcpy(row + c0, s + c0, (size_t)(c1 - c0) * sizeof(float));
                memset(row + c1, 0, (size_t)(rl - c1) * sizeof(float));
            } else if (s1 == 2) {
                deinterleave2(row, row + pd->Wq, s, c0, c1, pd->Wq);
            } else {
                for (int64_t ph = 0; ph < s1; ph++) { /* phase ph holds columns ph, ph + s1, ... */
                    float *d = row + ph * pd->Wq;
                    int64_t t0 = c0 > ph ? (c0 - ph + s1 - 1) / s1 : 0, t1 = c1 > ph ? (c1 - ph + s1 - 1) / s1 : 0;
                    if (t1 < t0) t1 = t0;
                    memset(d, 0, (size_t)t0 * sizeof(float));
                    for (int64_t t = t0; t < t1; t++) d[t] = s[ph + t * s1];
                    memset(d + t1, 0, (size_t)(pd->Wq - t1) * sizeof(float));
                }
            }
        }
    }
}

/* ---- forward ------------------------------------------------------------------------ */

/* Output tiles: MR = 4 channels x NV = 4 vectors (16 accumulators); a group with a single output
 * channel uses 1 channel x NV1 = 8 vectors instead of a tile three quarters empty. */
static int tile_rows(const ag_conv_direct *g) { return g->Og == 1 ? 1 : MR; }
static int tile_vecs(int mrt) { return mrt == 1 ? NV1 : NV; }

/* where a tile's vectors read (bo, from the padded input at the tile's first pixel), write (yo,
 * from y at that pixel) and which lanes they keep (mk) */
typedef struct vecs {
    int64_t bo[NV1], yo[NV1];
    __mmask16 mk[NV1];
} vecs;

/* rows o0..o0+mr of y for the nv vectors of vs (mrt, nv constant after inlining) */
INLINE TARGET void fwd_tile(const int mrt, const int nv, const float *xb, const int64_t *off, int64_t K,
                            const float *wp, const float *bias, float *y, int64_t ys, int mr, const vecs *vs) {
    __m512 acc[MR][NV1];
    int64_t bo[NV1];
    for (int v = 0; v < nv; v++) bo[v] = vs->bo[v];
    for (int r = 0; r < mrt; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_set1_ps(bias ? bias[r] : 0.0f);
    for (int64_t k = 0; k < K; k++) {
        const float *b = xb + off[k];
        __m512 bv[NV1];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_loadu_ps(b + bo[v]);
        for (int r = 0; r < mrt; r++) {
            __m512 wv = _mm512_set1_ps(wp[k * mrt + r]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(wv, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(y + r * ys + vs->yo[v], vs->mk[v], acc[r][v]);
}

#define FWD_TILE(m, n) fwd_tile(m, n, xb, pd->off, K, w, bt, y, P, mr, &vs)

/* output rows [i0, i0 + nrows) of one image and group: with vpr vectors per row, a tile covers
 * tile_vecs vectors of one row, or whole rows when several fit */
TARGET static void fwd_rows(const ag_conv_direct *g, const padded *pd, const float *xg, const float *wp,
                            const float *bias, float *yg, int64_t i0, int64_t nrows) {
    int mrt = tile_rows(g), nvt = tile_vecs(mrt);
    int64_t K = g->Cg * g->KH * g->KW, P = g->HO * g->WO, ot_n = (g->Og + mrt - 1) / mrt;
    int64_t vpr = (g->WO + 15) / 16, rem = g->WO - (vpr - 1) * 16;
    __mmask16 tail = (__mmask16)(rem >= 16 ? 0xFFFF : (1u << rem) - 1);
    float bz[MR];
    for (int64_t ot = 0; ot < ot_n; ot++) {
        int mr = (int)(g->Og - ot * mrt < mrt ? g->Og - ot * mrt : mrt);
        const float *bt = NULL;
        if (bias) {
            for (int r = 0; r < mrt; r++) bz[r] = r < mr ? bias[ot * mrt + r] : 0.0f;
            bt = bz;
        }
        const float *w = wp + ot * K * mrt;
        for (int64_t v0 = 0; v0 < nrows * vpr;) {
            /* the next tile: vectors v0.. of the flattened (row, vector) sequence, within one row
             * when rows are wide and over whole rows when they are narrow */
            int64_t i = v0 / vpr, cv = v0 % vpr, nv;
            if (vpr >= nvt) nv = vpr - cv < nvt ? vpr - cv : nvt;
            else nv = (nvt / vpr) * vpr < (nrows - i) * vpr ? (nvt / vpr) * vpr : (nrows - i) * vpr;
            vecs vs;
            for (int64_t v = 0; v < nv; v++) {
                int64_t ri = (cv + v) / vpr, c = (cv + v) % vpr;
                vs.bo[v] = ri * pd->xrs + (c - cv) * 16;
                vs.yo[v] = ri * g->WO + (c - cv) * 16;
                vs.mk[v] = c == vpr - 1 ? tail : (__mmask16)0xFFFF;
            }
            const float *xb = xg + (i0 + i) * pd->xrs + cv * 16;
            float *y = yg + ot * mrt * P + (i0 + i) * g->WO + cv * 16;
            if (mrt == MR) {
                switch (nv) {
                case 4: FWD_TILE(MR, 4); break;
                case 3: FWD_TILE(MR, 3); break;
                case 2: FWD_TILE(MR, 2); break;
                default: FWD_TILE(MR, 1); break;
                }
            } else {
                switch (nv) {
                case 8: FWD_TILE(1, 8); break;
                case 7: FWD_TILE(1, 7); break;
                case 6: FWD_TILE(1, 6); break;
                case 5: FWD_TILE(1, 5); break;
                case 4: FWD_TILE(1, 4); break;
                case 3: FWD_TILE(1, 3); break;
                case 2: FWD_TILE(1, 2); break;
                default: FWD_TILE(1, 1); break;
                }
            }
            v0 += nv;
        }
    }
}

int ag_cpu_conv_direct_forward(const ag_conv_direct *g, const float *x, const float *w, const float *bias,
                               float *y, const char *kname) {
    padded pd;
    if (padded_init(&pd, g, kname)) return AG_ERR_NOMEM;
    int mrt = tile_rows(g), nvt = tile_vecs(mrt);
    int64_t K = g->Cg * g->KH * g->KW, ot_n = (g->Og + mrt - 1) / mrt, P = g->HO * g->WO;
    /* weights per group and tile of mrt output channels as [k][mrt], zero rows past Og */
    size_t wbytes = (size_t)(g->G * ot_n * K * mrt) * sizeof(float);
    float *wp = ag_cpu_alloc(wbytes);
    if (!wp) {
        padded_free(&pd);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    }
    for (int64_t gi = 0; gi < g->G; gi++)
        for (int64_t ot = 0; ot < ot_n; ot++)
            for (int64_t k = 0; k < K; k++)
                for (int r = 0; r < mrt; r++) {
                    int64_t o = ot * mrt + r;
                    wp[((gi * ot_n + ot) * K + k) * mrt + r] = o < g->Og ? w[(gi * g->Og + o) * K + k] : 0.0f;
                }
    /* work units of rg output rows: one row, or as many narrow rows as one tile holds */
    int64_t vpr = (g->WO + 15) / 16, rg = vpr >= nvt ? 1 : nvt / vpr, rg_n = (g->HO + rg - 1) / rg;
    int nt = max_threads();
    for (int64_t n0 = 0; n0 < g->N; n0 += pd.nimg) {
        int64_t nb = g->N - n0 < pd.nimg ? g->N - n0 : pd.nimg;
        padded_fill(&pd, g, x, n0, nb);
        int64_t units = nb * g->G * rg_n;
        _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1 && units > 1)")
        for (int64_t u = 0; u < units; u++) {
            int64_t ib = u % rg_n, gi = (u / rg_n) % g->G, n = u / (rg_n * g->G);
            int64_t i0 = ib * rg, nrows = g->HO - i0 < rg ? g->HO - i0 : rg;
            const float *xg = pd.buf + (n * g->C + gi * g->Cg) * pd.plane;
            float *yg = y + ((n0 + n) * g->O + gi * g->Og) * P;
            fwd_rows(g, &pd, xg, wp + gi * ot_n * K * mrt, bias ? bias + gi * g->Og : NULL, yg, i0, nrows);
        }
    }
    ag_cpu_free(wp, wbytes);
    padded_free(&pd);
    return 0;
}

/* ---- weight gradient ---------------------------------------------------------------- */

/* acc[r][kk] (16 lanes each, at accs + (r*NK + kk)*16) += sum over output rows [i0, i1) and all
 * pixels of dy row r times x at off[kk]. The 24 accumulators are named variables: as an array,
 * GCC kept them in memory and stored each one after every FMA. */
#define WGT_RK(X) X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(0, 4) X(0, 5) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(1, 5) \
                  X(2, 0) X(2, 1) X(2, 2) X(2, 3) X(2, 4) X(2, 5) X(3, 0) X(3, 1) X(3, 2) X(3, 3) X(3, 4) X(3, 5)
#define WGT_LOAD(r, k) __m512 a##r##k = _mm512_loadu_ps(accs + (r * NK + k) * 16);
#define WGT_STORE(r, k) _mm512_storeu_ps(accs + (r * NK + k) * 16, a##r##k);
#define MASKED(p) _mm512_maskz_loadu_ps(m, p)
#define WGT_STEP(LOAD, k)                                                                                \
    {                                                                                                    \
        __m512 xv = LOAD(xr + off[k] + j);                                                               \
        a0##k = _mm512_fmadd_ps(d0, xv, a0##k);                                                          \
        a1##k = _mm512_fmadd_ps(d1, xv, a1##k);                                                          \
        a2##k = _mm512_fmadd_ps(d2, xv, a2##k);                                                          \
        a3##k = _mm512_fmadd_ps(d3, xv, a3##k);                                                          \
    }
_Static_assert(MO == 4 && NK == 6, "wgt_tile is written out for 4 x 6 accumulators");

TARGET static void wgt_tile(const float *const *rows, const float *xb, const int64_t *off, int64_t xrs,
                            int64_t WO, int64_t i0, int64_t i1, float *accs) {
    WGT_RK(WGT_LOAD)
    int64_t full = WO / 16 * 16;
    __mmask16 m = (__mmask16)((1u << (WO - full)) - 1);
    for (int64_t i = i0; i < i1; i++) {
        const float *xr = xb + i * xrs, *r0 = rows[0] + i * WO, *r1 = rows[1] + i * WO, *r2 = rows[2] + i * WO,
                    *r3 = rows[3] + i * WO;
        for (int64_t j = 0; j < full; j += 16) {
            __m512 d0 = _mm512_loadu_ps(r0 + j), d1 = _mm512_loadu_ps(r1 + j), d2 = _mm512_loadu_ps(r2 + j),
                   d3 = _mm512_loadu_ps(r3 + j);
            WGT_STEP(_mm512_loadu_ps, 0) WGT_STEP(_mm512_loadu_ps, 1) WGT_STEP(_mm512_loadu_ps, 2)
            WGT_STEP(_mm512_loadu_ps, 3) WGT_STEP(_mm512_loadu_ps, 4) WGT_STEP(_mm512_loadu_ps, 5)
        }
        if (full < WO) { /* masked lanes load zeros on both sides: no 0 * inf */
            int64_t j = full;
            __m512 d0 = _mm512_maskz_loadu_ps(m, r0 + j), d1 = _mm512_maskz_loadu_ps(m, r1 + j),
                   d2 = _mm512_maskz_loadu_ps(m, r2 + j), d3 = _mm512_maskz_loadu_ps(m, r3 + j);
            WGT_STEP(MASKED, 0) WGT_STEP(MASKED, 1) WGT_STEP(MASKED, 2)
            WGT_STEP(MASKED, 3) WGT_STEP(MASKED, 4) WGT_STEP(MASKED, 5)
        }
    }
    WGT_RK(WGT_STORE)
}

/* the same for a group with one output channel: 1 dy row x 24 rows k (MO * NK accumulators) */
#define WGT1_K(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) \
                  X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define WGT1_LOAD(k) __m512 b##k = _mm512_loadu_ps(accs + (k) * 16);
#define WGT1_STORE(k) _mm512_storeu_ps(accs + (k) * 16, b##k);
#define WGT1_FULL(k) b##k = _mm512_fmadd_ps(d, _mm512_loadu_ps(xr + off[k] + j), b##k);
#define WGT1_MASKED(k) b##k = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, xr + off[k] + j), b##k);

TARGET static void wgt1_tile(const float *row, const float *xb, const int64_t *off, int64_t xrs, int64_t WO,
                             int64_t i0, int64_t i1, float *accs) {
    WGT1_K(WGT1_LOAD)
    int64_t full = WO / 16 * 16;
    __mmask16 m = (__mmask16)((1u << (WO - full)) - 1);
    for (int64_t i = i0; i < i1; i++) {
        const float *xr = xb + i * xrs, *r0 = row + i * WO;
        for (int64_t j = 0; j < full; j += 16) {
            __m512 d = _mm512_loadu_ps(r0 + j);
            WGT1_K(WGT1_FULL)
        }
        if (full < WO) {
            int64_t j = full;
            __m512 d = _mm512_maskz_loadu_ps(m, r0 + j);
            WGT1_K(WGT1_MASKED)
        }
    }
    WGT1_K(WGT1_STORE)
}

TARGET static float hsum(const float *v) { return _mm512_reduce_add_ps(_mm512_loadu_ps(v)); }

int ag_cpu_conv_direct_weight(const ag_conv_direct *g, const float *dy, const float *x, float *dw,
                              const char *kname) {
    padded pd;
    if (padded_init(&pd, g, kname)) return AG_ERR_NOMEM;
    int64_t K = g->Cg * g->KH * g->KW, P = g->HO * g->WO;
    /* tiles of mo output channels x nk rows k: MO * NK accumulators either way */
    int64_t mo = g->Og == 1 ? 1 : MO, nk = MO * NK / mo;
    int64_t ot_n = (g->Og + mo - 1) / mo, kt_n = (K + nk - 1) / nk, units = g->G * ot_n * kt_n;
    size_t abytes = (size_t)(units * MO * NK * 16) * sizeof(float);
    float *accs = ag_cpu_alloc(abytes);
    int64_t *offs = malloc((size_t)(kt_n * nk) * sizeof *offs);
    if (!accs || !offs) {
        if (accs) ag_cpu_free(accs, abytes);
        free(offs);
        padded_free(&pd);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    }
    memset(accs, 0, abytes);
    /* tiles past K repeat offset 0; their sums are dropped */
    for (int64_t k = 0; k < kt_n * nk; k++) offs[k] = k < K ? pd.off[k] : 0;
    /* rows in blocks small enough that a tile's dy rows stay in L1 across its k tiles */
    int64_t rb = (int64_t)(16384 / ((int64_t)sizeof(float) * mo * (g->WO > 0 ? g->WO : 1)));
    if (rb < 1) rb = 1;
    int nt = max_threads();
    if (nt > units) nt = (int)units;
    for (int64_t n0 = 0; n0 < g->N; n0 += pd.nimg) {
        int64_t nb = g->N - n0 < pd.nimg ? g->N - n0 : pd.nimg;
        padded_fill(&pd, g, x, n0, nb);
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")
        {
#ifdef _OPENMP
            int t = omp_get_thread_num(), tn = omp_get_num_threads();
#else
            int t = 0, tn = 1;
#endif
            int64_t u0 = units * t / tn, u1 = units * (t + 1) / tn;
            for (int64_t n = 0; n < nb; n++)
                for (int64_t i0 = 0; i0 < g->HO; i0 += rb) {
                    int64_t i1 = i0 + rb < g->HO ? i0 + rb : g->HO;
                    for (int64_t u = u0; u < u1; u++) {
                        int64_t kt = u % kt_n, ot = (u / kt_n) % ot_n, gi = u / (kt_n * ot_n);
                        const float *dyb = dy + ((n0 + n) * g->O + gi * g->Og + ot * mo) * P;
                        const float *xg = pd.buf + (n * g->C + gi * g->Cg) * pd.plane;
                        float *acc = accs + u * MO * NK * 16;
                        if (mo == 1) {
                            wgt1_tile(dyb, xg, offs + kt * nk, pd.xrs, g->WO, i0, i1, acc);
                            continue;
                        }
                        /* rows past Og repeat the tile's first row; their sums are dropped */
                        const float *rows[MO];
                        for (int r = 0; r < MO; r++) rows[r] = ot * MO + r < g->Og ? dyb + r * P : dyb;
                        wgt_tile(rows, xg, offs + kt * nk, pd.xrs, g->WO, i0, i1, acc);
                    }
                }
        }
    }
    for (int64_t u = 0; u < units; u++) {
        int64_t kt = u % kt_n, ot = (u / kt_n) % ot_n, gi = u / (kt_n * ot_n);
        for (int64_t r = 0; r < mo; r++)
            for (int64_t kk = 0; kk < nk; kk++) {
                int64_t o = ot * mo + r, k = kt * nk + kk;
                if (o < g->Og && k < K) dw[(gi * g->Og + o) * K + k] = hsum(accs + ((u * mo + r) * nk + kk) * 16);
            }
    }
    free(offs);
    ag_cpu_free(accs, abytes);
    padded_free(&pd);
    return 0;
}

#else /* no x86-64 GCC/clang: never chosen, never called */

int ag_cpu_conv_direct_forward(const ag_conv_direct *g, const float *x, const float *w, const float *bias,
                               float *y, const char *kname) {
    return ag_set_error(AG_ERR_NOTIMPL, "%s: direct convolution kernels are not built on this platform", kname);
}
int ag_cpu_conv_direct_weight(const ag_conv_direct *g, const float *dy, const float *x, float *dw,
                              const char *kname) {
    return ag_set_error(AG_ERR_NOTIMPL, "%s: direct convolution kernels are not built on this platform", kname);
}

#endif
