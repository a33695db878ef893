/* backends/cpu/conv_direct.c — f32 and f64 convolution (forward, input and weight gradients)
 * with AVX-512 register tiles, without an im2col matrix and without OpenBLAS. The kernels are
 * written once in conv_direct_impl.h and included here per element type.
 *
 * Why: OpenBLAS 0.3.21 (Debian bookworm) runs its AVX2 GEMM kernels on AVX-512 machines it does
 * not recognise, and im2col + gemm then runs at half the speed PyTorch's oneDNN reaches on the
 * benchmark case of issue 4. These kernels read the input straight from a zero-padded copy in
 * which each padded row is split into its s1 column phases (col % s1): output pixel (i, j) of
 * row k = (c, p, q) of the implicit im2col matrix is then the copy at off[k] + i*xrs + j, with
 * xrs = s0 * row length, so consecutive output pixels are one vector load (16 f32 or 8 f64
 * lanes) for any stride.
 *
 *   forward   4 output channels x 4 vectors of pixels (16 accumulators); per k one load of
 *             4 input vectors and 4 weight broadcasts (16 FMAs). Vectors run along an output
 *             row, or over several consecutive rows when a row is only 1 or 2 vectors wide.
 *   weight    dw[o, k] for 4 output channels x 6 rows k: 24 vector accumulators summed over all
 *             images and pixels lane-wise, reduced at the end. Each thread owns a fixed set of
 *             (o, k) tiles, so the summation order, and the result, does not depend on the
 *             number of threads.
 *   input     per output phase (h mod s0, w mod s1), a forward-shaped tile computation over a
 *             padded dy with the taps that reach that phase (see direct_input in the impl);
 *             for stride 1 that is one forward convolution with flipped weights.
 * Groups with one output channel (depthwise convolutions, one-channel image models such as
 * PyTorchDIA's kernel fit) use 1 x 8-vector output tiles and 1 x 24 weight tiles instead.
 * Rows narrower than a vector with a vector's worth of channels (deep layers of small CNNs) tile
 * along channels instead: 2 vectors of output channels x 12 pixels (forward, input gradient) or
 * x 12 kernel rows (weight gradient, over dy transposed pixel-major).
 *
 * Rounding: FMAs and a different summation order than the gemm path, so results agree with it to
 * the dtype's rounding (tests/test_conv.c compares them), not bit for bit. The kernels are used
 * only when the CPU has AVX-512F (checked at run time) and output rows have 16 pixels or more,
 * or 16+ channels on both sides.
 * AG_CPU_CONV=im2col forces the gemm path; AG_CPU_CONV=direct forces these kernels whatever the
 * row width and makes a convolution fail where the CPU has no AVX-512F. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(AG_CPU_NO_DIRECT)
#define AG_HAVE_DIRECT 1
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))
#endif

enum { MR = 4, NV = 4, NV1 = 8, MO = 4, NK = 6, NPX = 12, SLACK = 16 * NV1 };

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
    /* narrow rows (under 16 pixels) run channel-vector tiles when there are 16+ channels on both
     * sides (the forward's outputs, the input gradient's inputs); with fewer, most lanes would idle */
    return force || g->WO >= 16 || (g->Og >= 16 && g->Cg >= 16);
}

#ifdef AG_HAVE_DIRECT

/* images per chunk of a padded copy: at most 32 MiB of it (at least one image), per_image bytes each */
static int64_t chunk_images(int64_t per_image, int64_t N) {
    int64_t n = per_image > 0 ? (int64_t)(32 << 20) / per_image : N;
    return n < 1 ? 1 : n > N ? N : n;
}

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

/* along one dim: the dy indices [lo, hi) that any phase of an output of length L reads, hi at
 * least n (dy's length); pt is scratch */
static void phase_extent(int64_t L, int64_t n, int64_t s, int64_t p, int64_t d, int64_t k, phase_taps *pt,
                         int64_t *lo, int64_t *hi) {
    *lo = 0;
    *hi = n;
    for (int64_t a = 0; a < s; a++) {
        int64_t La = phase_dim(a, L, s, p, d, k, pt);
        for (int64_t t = 0; t < pt->n && La > 0; t++) {
            if (pt->e[t] < *lo) *lo = pt->e[t];
            if (La + pt->e[t] > *hi) *hi = La + pt->e[t];
        }
    }
}

/* ---- the kernels, per element type (conv_direct_impl.h) -------------------------------- */

#define T float
#define V __m512
#define VIDX_T __m512i
#define L 16
#define MASK __mmask16
#define FULLMASK 0xFFFF
#define FN(name) name##_f32
#define VLOADU _mm512_loadu_ps
#define VMASKZ _mm512_maskz_loadu_ps
#define VSTOREU _mm512_storeu_ps
#define VMSTORE _mm512_mask_storeu_ps
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VREDUCE _mm512_reduce_add_ps
#define VPERM2 _mm512_permutex2var_ps
#define DEINT_E _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define DEINT_O _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#include "backends/cpu/conv_direct_impl.h"
#undef T
#undef V
#undef L
#undef MASK
#undef FULLMASK
#undef FN
#undef VLOADU
#undef VMASKZ
#undef VSTOREU
#undef VMSTORE
#undef VSET1
#undef VFMA
#undef VREDUCE
#undef VPERM2
#undef DEINT_E
#undef DEINT_O

#define T double
#define V __m512d
#define L 8
#define MASK __mmask8
#define FULLMASK 0xFF
#define FN(name) name##_f64
#define VLOADU _mm512_loadu_pd
#define VMASKZ _mm512_maskz_loadu_pd
#define VSTOREU _mm512_storeu_pd
#define VMSTORE _mm512_mask_storeu_pd
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VREDUCE _mm512_reduce_add_pd
#define VPERM2 _mm512_permutex2var_pd
#define DEINT_E _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14)
#define DEINT_O _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15)
#include "backends/cpu/conv_direct_impl.h"

/* ---- entry points: dispatch on the dtype (f32 or f64) ---------------------------------- */

int ag_cpu_conv_direct_forward(const ag_conv_direct *g, ag_dtype dt, const void *x, const void *w, const void *bias,
                               void *y, const char *kname) {
    return dt == AG_F32 ? direct_forward_f32(g, x, w, bias, y, kname) : direct_forward_f64(g, x, w, bias, y, kname);
}

int ag_cpu_conv_direct_input(const ag_conv_direct *g, ag_dtype dt, const void *dy, const void *w, void *dx,
                             const char *kname) {
    return dt == AG_F32 ? direct_input_f32(g, dy, w, dx, kname) : direct_input_f64(g, dy, w, dx, kname);
}

int ag_cpu_conv_direct_weight(const ag_conv_direct *g, ag_dtype dt, const void *dy, const void *x, void *dw,
                              const char *kname) {
    return dt == AG_F32 ? direct_weight_f32(g, dy, x, dw, kname) : direct_weight_f64(g, dy, x, dw, kname);
}

#else /* no x86-64 GCC/clang: never chosen, never called */

int ag_cpu_conv_direct_forward(const ag_conv_direct *g, ag_dtype dt, const void *x, const void *w, const void *bias,
                               void *y, const char *kname) {
    return ag_set_error(AG_ERR_NOTIMPL, "%s: direct convolution kernels are not built on this platform", kname);
}
int ag_cpu_conv_direct_input(const ag_conv_direct *g, ag_dtype dt, const void *dy, const void *w, void *dx,
                             const char *kname) {
    return ag_set_error(AG_ERR_NOTIMPL, "%s: direct convolution kernels are not built on this platform", kname);
}
int ag_cpu_conv_direct_weight(const ag_conv_direct *g, ag_dtype dt, const void *dy, const void *x, void *dw,
                              const char *kname) {
    return ag_set_error(AG_ERR_NOTIMPL, "%s: direct convolution kernels are not built on this platform", kname);
}

#endif
