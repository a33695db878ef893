/* backends/cpu/conv_direct.c — f32 convolution (forward, input and weight gradients) with
 * AVX-512 register tiles, without an im2col matrix and without OpenBLAS.
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
 *   input     per output phase (h mod s0, w mod s1), a forward-shaped tile computation over a
 *             padded dy with the taps that reach that phase (see ag_cpu_conv_direct_input);
 *             for stride 1 that is one forward convolution with flipped weights.
 * Groups with one output channel (depthwise convolutions, one-channel image models such as
 * PyTorchDIA's kernel fit) use 1 x 8-vector output tiles and 1 x 24 weight tiles instead.
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

/* planes of H x W from src into planes of Hp rows of s1 * Wq entries: padded (r, col) =
 * src[r - top][col - left], zero outside src, each row holding the s1 column phases of the
 * padded row; columns past wfull are zero */
TARGET static void pad_planes(const float *src, int64_t planes, int64_t H, int64_t W, float *dst, int64_t Hp,
                              int64_t Wq, int64_t s1, int64_t wfull, int64_t top, int64_t left) {
    int64_t rl = s1 * Wq, plane = Hp * rl;
    int64_t c0 = left > 0 ? left : 0, c1 = left + W < wfull ? left + W : wfull; /* valid columns [c0, c1) */
    if (c1 < c0) c1 = c0;
    _Pragma("omp parallel for schedule(static) if (planes * plane >= AG_CPU_PAR_MIN)")
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *sp = src + pl * H * W;
        float *dp = dst + pl * plane;
        for (int64_t r = 0; r < Hp; r++) {
            float *row = dp + r * rl;
            int64_t ih = r - top;
            if (ih < 0 || ih >= H || c1 == c0) {
                memset(row, 0, (size_t)rl * sizeof(float));
                continue;
            }
            const float *s = sp + ih * W - left;
            if (s1 == 1) {
                memset(row, 0, (size_t)c0 * sizeof(float));
                memcpy(row + c0, s + c0, (size_t)(c1 - c0) * sizeof(float));
                memset(row + c1, 0, (size_t)(rl - c1) * sizeof(float));
            } else if (s1 == 2) {
                deinterleave2(row, row + Wq, s, c0, c1, Wq);
            } else {
                for (int64_t ph = 0; ph < s1; ph++) { /* phase ph holds columns ph, ph + s1, ... */
                    float *d = row + ph * Wq;
                    int64_t t0 = c0 > ph ? (c0 - ph + s1 - 1) / s1 : 0, t1 = c1 > ph ? (c1 - ph + s1 - 1) / s1 : 0;
                    if (t1 < t0) t1 = t0;
                    memset(d, 0, (size_t)t0 * sizeof(float));
                    for (int64_t t = t0; t < t1; t++) d[t] = s[ph + t * s1];
                    memset(d + t1, 0, (size_t)(Wq - t1) * sizeof(float));
                }
            }
        }
    }
}

/* the padded copy of images [n0, n0+nb) of x */
static void padded_fill(padded *pd, const ag_conv_direct *g, const float *x, int64_t n0, int64_t nb) {
    int64_t wfull = (g->WO - 1) * g->s1 + (g->KW - 1) * g->d1 + 1;
    pad_planes(x + n0 * g->C * g->H * g->W, nb * g->C, g->H, g->W, pd->buf, pd->Hp, pd->Wq, g->s1, wfull, g->p0,
               g->p1);
}

/* ---- forward-shaped convolutions ------------------------------------------------------ */

/* One convolution in the shape the output tiles compute, over a padded input: for image n < N,
 * group gi < G, output channel o < orows and output pixel (i, j) < (HO, WO),
 *     out(n, gi, o, i, j) = bias[gi*orows + o] + sum_k wt[gi][o][k] * in(n, gi)[off[k] + i*xrs + j]
 * The forward is one; the input gradient is one per output phase (ag_cpu_conv_direct_input). */
typedef struct fplan {
    int64_t N, G, orows, HO, WO, K;
    const int64_t *off;
    const float *in;
    int64_t in_img, in_grp, xrs;
    const float *wt;   /* [G][orows][K] */
    const float *bias; /* [G*orows] or NULL */
    float *out;
    int64_t out_img, out_grp, out_ch, out_row;
    float *wp; /* packed weights (plan_pack) */
    size_t wbytes;
} fplan;

/* Output tiles: MR = 4 channels x NV = 4 vectors (16 accumulators); a plan with a single output
 * channel per group uses 1 channel x NV1 = 8 vectors instead of a tile three quarters empty. */
static int tile_rows(const fplan *fp) { return fp->orows == 1 ? 1 : MR; }
static int tile_vecs(int mrt) { return mrt == 1 ? NV1 : NV; }

/* wp[gi][ot][k][mrt] = wt[gi][ot*mrt + r][k], zero rows past orows */
static int plan_pack(fplan *fp, const char *kname) {
    int mrt = tile_rows(fp);
    int64_t ot_n = (fp->orows + mrt - 1) / mrt;
    fp->wbytes = (size_t)(fp->G * ot_n * fp->K * mrt) * sizeof(float) + 64;
    fp->wp = ag_cpu_alloc(fp->wbytes);
    if (!fp->wp) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    for (int64_t gi = 0; gi < fp->G; gi++)
        for (int64_t ot = 0; ot < ot_n; ot++)
            for (int64_t k = 0; k < fp->K; k++)
                for (int r = 0; r < mrt; r++) {
                    int64_t o = ot * mrt + r;
                    fp->wp[((gi * ot_n + ot) * fp->K + k) * mrt + r] =
                        o < fp->orows ? fp->wt[(gi * fp->orows + o) * fp->K + k] : 0.0f;
                }
    return 0;
}

/* where a tile's vectors read (bo, from the input at the tile's first pixel), write (yo, from
 * the output at that pixel) and which lanes they keep (mk) */
typedef struct vecs {
    int64_t bo[NV1], yo[NV1];
    __mmask16 mk[NV1];
} vecs;

/* rows o0..o0+mr of the output for the nv vectors of vs (mrt, nv constant after inlining) */
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

#define FWD_TILE(m, n) fwd_tile(m, n, xb, fp->off, fp->K, w, bt, y, fp->out_ch, mr, &vs)

/* output rows [i0, i0 + nrows) of image n, group gi: with vpr vectors per row, a tile covers
 * tile_vecs vectors of one row, or whole rows when several fit */
TARGET static void fwd_rows(const fplan *fp, int64_t n, int64_t gi, int64_t i0, int64_t nrows) {
    int mrt = tile_rows(fp), nvt = tile_vecs(mrt);
    int64_t ot_n = (fp->orows + mrt - 1) / mrt;
    int64_t vpr = (fp->WO + 15) / 16, rem = fp->WO - (vpr - 1) * 16;
    __mmask16 tail = (__mmask16)(rem >= 16 ? 0xFFFF : (1u << rem) - 1);
    const float *xg = fp->in + n * fp->in_img + gi * fp->in_grp;
    const float *bias = fp->bias ? fp->bias + gi * fp->orows : NULL;
    float *yg = fp->out + n * fp->out_img + gi * fp->out_grp;
    float bz[MR];
    for (int64_t ot = 0; ot < ot_n; ot++) {
        int mr = (int)(fp->orows - ot * mrt < mrt ? fp->orows - ot * mrt : mrt);
        const float *bt = NULL;
        if (bias) {
            for (int r = 0; r < mrt; r++) bz[r] = r < mr ? bias[ot * mrt + r] : 0.0f;
            bt = bz;
        }
        const float *w = fp->wp + (gi * ot_n + ot) * fp->K * mrt;
        for (int64_t v0 = 0; v0 < nrows * vpr;) {
            /* the next tile: vectors v0.. of the flattened (row, vector) sequence, within one row
             * when rows are wide and over whole rows when they are narrow */
            int64_t i = v0 / vpr, cv = v0 % vpr, nv;
            if (vpr >= nvt) nv = vpr - cv < nvt ? vpr - cv : nvt;
            else nv = (nvt / vpr) * vpr < (nrows - i) * vpr ? (nvt / vpr) * vpr : (nrows - i) * vpr;
            vecs vs;
            for (int64_t v = 0; v < nv; v++) {
                int64_t ri = (cv + v) / vpr, c = (cv + v) % vpr;
                vs.bo[v] = ri * fp->xrs + (c - cv) * 16;
                vs.yo[v] = ri * fp->out_row + (c - cv) * 16;
                vs.mk[v] = c == vpr - 1 ? tail : (__mmask16)0xFFFF;
            }
            const float *xb = xg + (i0 + i) * fp->xrs + cv * 16;
            float *y = yg + ot * mrt * fp->out_ch + (i0 + i) * fp->out_row + cv * 16;
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

/* all images, groups and rows of a packed plan, split over threads in units of rg rows (one
 * row, or as many narrow rows as one tile holds) */
static void plan_run(const fplan *fp) {
    int64_t vpr = (fp->WO + 15) / 16, nvt = tile_vecs(tile_rows(fp));
    int64_t rg = vpr >= nvt ? 1 : nvt / vpr, rg_n = (fp->HO + rg - 1) / rg, units = fp->N * fp->G * rg_n;
    int nt = max_threads();
    _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1 && units > 1)")
    for (int64_t u = 0; u < units; u++) {
        int64_t ib = u % rg_n, gi = (u / rg_n) % fp->G, n = u / (rg_n * fp->G);
        int64_t i0 = ib * rg;
        fwd_rows(fp, n, gi, i0, fp->HO - i0 < rg ? fp->HO - i0 : rg);
    }
}

int ag_cpu_conv_direct_forward(const ag_conv_direct *g, const float *x, const float *w, const float *bias,
                               float *y, const char *kname) {
    padded pd;
    if (padded_init(&pd, g, kname)) return AG_ERR_NOMEM;
    int64_t P = g->HO * g->WO;
    fplan fp = {.G = g->G, .orows = g->Og, .HO = g->HO, .WO = g->WO, .K = g->Cg * g->KH * g->KW, .off = pd.off,
                .in = pd.buf, .in_img = g->C * pd.plane, .in_grp = g->Cg * pd.plane, .xrs = pd.xrs, .wt = w,
                .bias = bias, .out_img = g->O * P, .out_grp = g->Og * P, .out_ch = P, .out_row = g->WO};
    if (plan_pack(&fp, kname)) {
        padded_free(&pd);
        return AG_ERR_NOMEM;
    }
    for (int64_t n0 = 0; n0 < g->N; n0 += pd.nimg) {
        fp.N = g->N - n0 < pd.nimg ? g->N - n0 : pd.nimg;
        padded_fill(&pd, g, x, n0, fp.N);
        fp.out = y + n0 * fp.out_img;
        plan_run(&fp);
    }
    ag_cpu_free(fp.wp, fp.wbytes);
    padded_free(&pd);
    return 0;
}

/* ---- input gradient ------------------------------------------------------------------ */

/* dx[h, w] = sum over taps (o, p, q) with h = i*s0 - p0 + p*d0, w = j*s1 - p1 + q*d1 of
 * w[o, c, p, q] * dy[o, i, j]. Split by output phase h = h'*s0 + a, w = w'*s1 + b: tap p
 * reaches phase a iff (a + p0 - p*d0) is a multiple of s0, and then reads dy row h' + e with
 * e = (a + p0 - p*d0) / s0. So each phase is a forward-shaped plan over a padded dy (stride 1,
 * taps at offsets e), written to a scratch plane and interleaved into dx. */
typedef struct phase_taps {
    int64_t n, *tap, *e; /* kernel-size arrays */
} phase_taps;

/* taps of one dim: phase a of output length L (stride s, pad p, dilation d, kernel k) */
static int64_t phase_dim(int64_t a, int64_t L, int64_t s, int64_t p, int64_t d, int64_t k, phase_taps *pt) {
    pt->n = 0;
    for (int64_t t = k - 1; t >= 0; t--) { /* e rises as t falls: offsets in memory order */
        int64_t num = a + p - t * d;
        if (((num % s) + s) % s) continue;
        pt->tap[pt->n] = t;
        pt->e[pt->n++] = num >= 0 ? num / s : -((-num) / s);
    }
    return a < L ? (L - a + s - 1) / s : 0; /* rows of phase a */
}

int ag_cpu_conv_direct_input(const ag_conv_direct *g, const float *dy, const float *w, float *dx,
                             const char *kname) {
    int64_t kk = g->KH > g->KW ? g->KH : g->KW;
    int64_t *tbuf = malloc((size_t)(4 * kk) * sizeof *tbuf);
    if (!tbuf) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    phase_taps pt = {0, tbuf, tbuf + kk}, pa = pt, pb = {0, tbuf + 2 * kk, tbuf + 3 * kk};
    /* the padded dy: rows [rlo, rhi) and columns [clo, chi) of dy's index space */
    int64_t rlo = 0, rhi = g->HO, clo = 0, chi = g->WO;
    for (int64_t a = 0; a < g->s0; a++) {
        int64_t La = phase_dim(a, g->H, g->s0, g->p0, g->d0, g->KH, &pt);
        for (int64_t t = 0; t < pt.n && La > 0; t++) {
            if (pt.e[t] < rlo) rlo = pt.e[t];
            if (La + pt.e[t] > rhi) rhi = La + pt.e[t];
        }
    }
    for (int64_t b = 0; b < g->s1; b++) {
        int64_t Lb = phase_dim(b, g->W, g->s1, g->p1, g->d1, g->KW, &pt);
        for (int64_t t = 0; t < pt.n && Lb > 0; t++) {
            if (pt.e[t] < clo) clo = pt.e[t];
            if (Lb + pt.e[t] > chi) chi = Lb + pt.e[t];
        }
    }
    int64_t Hd = rhi - rlo, Wd = chi - clo, plane = Hd * Wd;
    int64_t per = g->O * plane * (int64_t)sizeof(float);
    int64_t nimg = per > 0 ? (int64_t)(32 << 20) / per : g->N;
    if (nimg < 1) nimg = 1;
    if (nimg > g->N) nimg = g->N;
    int64_t Ha0 = (g->H + g->s0 - 1) / g->s0, Wb0 = (g->W + g->s1 - 1) / g->s1; /* largest phase */
    size_t dbytes = (size_t)(nimg * g->O * plane + SLACK) * sizeof(float);
    bool one_phase = g->s0 == 1 && g->s1 == 1; /* the plan writes dx itself: no scratch */
    size_t sbytes = one_phase ? 64 : (size_t)(nimg * g->C * Ha0 * Wb0 + 16) * sizeof(float);
    int64_t kmax = g->Og * g->KH * g->KW;
    size_t obytes = (size_t)kmax * sizeof(int64_t), wbytes = (size_t)(g->G * g->Cg * kmax + 16) * sizeof(float);
    float *dp = ag_cpu_alloc(dbytes), *scr = ag_cpu_alloc(sbytes), *wt = ag_cpu_alloc(wbytes);
    int64_t *off = malloc(obytes);
    int rc = 0;
    if (!dp || !scr || !wt || !off) {
        rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
        goto done;
    }
    memset(dp + nimg * g->O * plane, 0, SLACK * sizeof(float));
    for (int64_t n0 = 0; n0 < g->N; n0 += nimg) {
        int64_t nb = g->N - n0 < nimg ? g->N - n0 : nimg;
        pad_planes(dy + n0 * g->O * g->HO * g->WO, nb * g->O, g->HO, g->WO, dp, Hd, Wd, 1, Wd, -rlo, -clo);
        float *dxb = dx + n0 * g->C * g->H * g->W;
        for (int64_t a = 0; a < g->s0 && rc == 0; a++) {
            int64_t Ha = phase_dim(a, g->H, g->s0, g->p0, g->d0, g->KH, &pa);
            for (int64_t b = 0; b < g->s1 && rc == 0; b++) {
                int64_t Wb = phase_dim(b, g->W, g->s1, g->p1, g->d1, g->KW, &pb);
                if (Ha == 0 || Wb == 0) continue;
                int64_t K = g->Og * pa.n * pb.n, HW = Ha * Wb;
                float *out = one_phase ? dxb : scr;
                if (K == 0) { /* no tap reaches this phase */
                    memset(out, 0, (size_t)(nb * g->C * HW) * sizeof(float));
                } else {
                    for (int64_t o = 0, k = 0; o < g->Og; o++)
                        for (int64_t tp = 0; tp < pa.n; tp++)
                            for (int64_t tq = 0; tq < pb.n; tq++, k++)
                                off[k] = o * plane + (pa.e[tp] - rlo) * Wd + (pb.e[tq] - clo);
                    for (int64_t gi = 0; gi < g->G; gi++)
                        for (int64_t c = 0; c < g->Cg; c++)
                            for (int64_t o = 0, k = 0; o < g->Og; o++)
                                for (int64_t tp = 0; tp < pa.n; tp++)
                                    for (int64_t tq = 0; tq < pb.n; tq++, k++)
                                        wt[(gi * g->Cg + c) * K + k] =
                                            w[(((gi * g->Og + o) * g->Cg + c) * g->KH + pa.tap[tp]) * g->KW + pb.tap[tq]];
                    fplan fp = {.N = nb, .G = g->G, .orows = g->Cg, .HO = Ha, .WO = Wb, .K = K, .off = off, .in = dp,
                                .in_img = g->O * plane, .in_grp = g->Og * plane, .xrs = Wd, .wt = wt, .out = out,
                                .out_img = g->C * HW, .out_grp = g->Cg * HW, .out_ch = HW, .out_row = Wb};
                    if ((rc = plan_pack(&fp, kname)) != 0) break;
                    plan_run(&fp);
                    ag_cpu_free(fp.wp, fp.wbytes);
                }
                if (one_phase) continue;
                /* interleave the phase into dx */
                int64_t planes = nb * g->C;
                _Pragma("omp parallel for schedule(static) if (planes * HW >= AG_CPU_PAR_MIN)")
                for (int64_t pl = 0; pl < planes; pl++)
                    for (int64_t i = 0; i < Ha; i++) {
                        const float *src = out + pl * HW + i * Wb;
                        float *dst = dxb + pl * g->H * g->W + (i * g->s0 + a) * g->W + b;
                        if (g->s1 == 1) memcpy(dst, src, (size_t)Wb * sizeof(float));
                        else for (int64_t j = 0; j < Wb; j++) dst[j * g->s1] = src[j];
                    }
            }
        }
        if (rc) break;
    }
done:
    if (dp) ag_cpu_free(dp, dbytes);
    if (scr) ag_cpu_free(scr, sbytes);
    if (wt) ag_cpu_free(wt, wbytes);
    free(off);
    free(tbuf);
    return rc;
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
int ag_cpu_conv_direct_input(const ag_conv_direct *g, const float *dy, const float *w, float *dx,
                             const char *kname) {
    return ag_set_error(AG_ERR_NOTIMPL, "%s: direct convolution kernels are not built on this platform", kname);
}

#endif
