/* backends/cpu/conv.c — convolution family on the CPU: conv2d forward and its two adjoints
 * (input, weight) through im2col + OpenBLAS gemm, max/avg pooling, padding (constant, reflect,
 * replicate, circular) and nearest/bilinear resampling with their adjoints.
 *
 * Convolution, per image n and group g (Cg = C/groups input channels, Og = O/groups outputs,
 * K = Cg*KH*KW, P = HO*WO):
 *   forward          y[n,g]  [Og,P]  = W[g] [Og,K] @ cols [K,P]          cols = im2col(x[n,g])
 *   backward input   cols    [K,P]   = W[g]^T @ dy[n,g],   dx[n,g] = col2im(cols)
 *   backward weight  dW[g]   [Og,K] += dy[n,g] @ cols^T
 * A 1x1 kernel with stride 1, no padding and HO,WO = H,W needs no im2col: x[n,g] is cols.
 * When there are at least as many images as threads, images are split over OpenMP threads and
 * each runs a single-threaded gemm (OpenBLAS' OpenMP build does not nest); otherwise images run
 * in turn with im2col/col2im split over channels and a multithreaded gemm. The weight gradient
 * sums per-thread partial sums in thread order, so its rounding depends on the thread count.
 * Convolutions run instead on the AVX-512 kernels of conv_direct.c where the CPU has them
 * (direct_geo decides; AG_CPU_CONV=im2col|direct overrides).
 *
 * All kernels take contiguous views (the front ends in tensor/conv.c make them so). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv.h"
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu.h"

static bool contiguous(const ag_kview *v) {
    int64_t s = 1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->strides[d] != s) return false;
        s *= v->shape[d];
    }
    return true;
}

static int64_t numel(const ag_kview *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

static void gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
static void gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
                     const double *B, int64_t ldb, double beta, double *C, int64_t ldc) {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* geometry of one convolution */
typedef struct geo {
    int64_t N, C, H, W, O, KH, KW, HO, WO, G, Cg, Og, K, P;
    int64_t s0, s1, p0, p1, d0, d1;
    bool direct; /* 1x1, stride 1, no padding, same size: x is its own im2col matrix */
} geo;

static int make_geo(const char *kname, geo *g, const ag_kview *x, const ag_kview *w, const ag_kview *y,
                    const ag_conv_params *p) {
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected 4-d views", kname);
    if (!contiguous(x) || !contiguous(w) || !contiguous(y))
        return ag_set_error(AG_ERR_INVALID, "%s: expected contiguous views", kname);
    if (x->dtype != w->dtype || x->dtype != y->dtype || (x->dtype != AG_F32 && x->dtype != AG_F64))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected f32 or f64 views of one dtype", kname);
    *g = (geo){.N = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3], .O = w->shape[0],
               .KH = w->shape[2], .KW = w->shape[3], .HO = y->shape[2], .WO = y->shape[3], .G = p->groups,
               .s0 = p->stride[0], .s1 = p->stride[1], .p0 = p->pad[0], .p1 = p->pad[1],
               .d0 = p->dilation[0], .d1 = p->dilation[1]};
    if (g->G < 1 || g->C % g->G || g->O % g->G || w->shape[1] != g->C / g->G || y->shape[0] != g->N ||
        y->shape[1] != g->O || g->s0 < 1 || g->s1 < 1 || g->d0 < 1 || g->d1 < 1)
        return ag_set_error(AG_ERR_SHAPE, "%s: inconsistent shapes or parameters", kname);
    g->Cg = g->C / g->G;
    g->Og = g->O / g->G;
    g->K = g->Cg * g->KH * g->KW;
    g->P = g->HO * g->WO;
    g->direct = g->KH == 1 && g->KW == 1 && g->s0 == 1 && g->s1 == 1 && g->p0 == 0 && g->p1 == 0 &&
                g->HO == g->H && g->WO == g->W;
    return 0;
}

/* 1 when the AVX-512 kernels of conv_direct.c run g (d filled), 0 for im2col + gemm, < 0 on
 * error */
static int direct_geo(const geo *g, ag_dtype dt, ag_conv_direct *d, const char *kname) {
    if (dt != AG_F32 && dt != AG_F64) return 0;
    *d = (ag_conv_direct){.N = g->N, .C = g->C, .H = g->H, .W = g->W, .O = g->O, .KH = g->KH, .KW = g->KW,
                          .HO = g->HO, .WO = g->WO, .G = g->G, .Cg = g->Cg, .Og = g->Og, .s0 = g->s0,
                          .s1 = g->s1, .p0 = g->p0, .p1 = g->p1, .d0 = g->d0, .d1 = g->d1};
    return ag_cpu_conv_direct_choose(d, kname);
}

/* valid output range [lo, hi) of j for which 0 <= j*s - pad + off < n */
static void valid_range(int64_t n, int64_t s, int64_t pad, int64_t off, int64_t nout, int64_t *lo, int64_t *hi) {
    int64_t a = pad - off; /* need j*s >= a */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = n - 1 + pad - off; /* need j*s <= b */
    int64_t h = b < 0 ? 0 : b / s + 1;
    if (h > nout) h = nout;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* im2col / col2im for channels [c0, c1) of one image (x: Cg planes of H*W), rows (c,p,q) */
#define DEFINE_COLS(T)                                                                                   \
    static void im2col_##T(const geo *g, const T *x, T *cols, int64_t c0, int64_t c1) {                  \
        for (int64_t c = c0; c < c1; c++)                                                                \
            for (int64_t p = 0; p < g->KH; p++)                                                          \
                for (int64_t q = 0; q < g->KW; q++) {                                                    \
                    T *row = cols + ((c * g->KH + p) * g->KW + q) * g->P;                                \
                    const T *plane = x + c * g->H * g->W;                                                \
                    int64_t jl, jh;                                                                      \
                    valid_range(g->W, g->s1, g->p1, q * g->d1, g->WO, &jl, &jh);                         \
                    for (int64_t i = 0; i < g->HO; i++) {                                                \
                        T *r = row + i * g->WO;                                                          \
                        int64_t ih = i * g->s0 - g->p0 + p * g->d0;                                      \
                        if (ih < 0 || ih >= g->H) { memset(r, 0, (size_t)g->WO * sizeof(T)); continue; } \
                        const T *src = plane + ih * g->W - g->p1 + q * g->d1;                            \
                        for (int64_t j = 0; j < jl; j++) r[j] = 0;                                       \
                        if (g->s1 == 1) memcpy(r + jl, src + jl, (size_t)(jh - jl) * sizeof(T));         \
                        else for (int64_t j = jl; j < jh; j++) r[j] = src[j * g->s1];                    \
                        for (int64_t j = jh; j < g->WO; j++) r[j] = 0;                                   \
                    }                                                                                    \
                }                                                                                        \
    }                                                                                                    \
    /* dx (channels [c0,c1), already zeroed) += col2im(cols) */                                          \
    static void col2im_##T(const geo *g, const T *cols, T *x, int64_t c0, int64_t c1) {                  \
        for (int64_t c = c0; c < c1; c++)                                                                \
            for (int64_t p = 0; p < g->KH; p++)                                                          \
                for (int64_t q = 0; q < g->KW; q++) {                                                    \
                    const T *row = cols + ((c * g->KH + p) * g->KW + q) * g->P;                          \
                    T *plane = x + c * g->H * g->W;                                                      \
                    int64_t jl, jh;                                                                      \
                    valid_range(g->W, g->s1, g->p1, q * g->d1, g->WO, &jl, &jh);                         \
                    for (int64_t i = 0; i < g->HO; i++) {                                                \
                        int64_t ih = i * g->s0 - g->p0 + p * g->d0;                                      \
                        if (ih < 0 || ih >= g->H) continue;                                              \
                        const T *r = row + i * g->WO;                                                    \
                        T *dst = plane + ih * g->W - g->p1 + q * g->d1;                                  \
                        if (g->s1 == 1) for (int64_t j = jl; j < jh; j++) dst[j] += r[j];                \
                        else for (int64_t j = jl; j < jh; j++) dst[j * g->s1] += r[j];                   \
                    }                                                                                    \
                }                                                                                        \
    }
DEFINE_COLS(float)
DEFINE_COLS(double)

/* im2col of channels [0, Cg) split over threads (used when images run one at a time) */
#define PAR_CHANNELS(body)                                                                               \
    do {                                                                                                 \
        int nt_ = ag_cpu_max_threads();                                                                         \
        if (nt_ > 1 && g->Cg > 1 && g->K * g->P >= AG_CPU_PAR_MIN) {                                     \
            _Pragma("omp parallel for schedule(static)")                                                 \
            for (int64_t c = 0; c < g->Cg; c++) { int64_t c0 = c, c1 = c + 1; body; }                    \
        } else { int64_t c0 = 0, c1 = g->Cg; body; }                                                     \
    } while (0)

#define DEFINE_CONV(T, GEMM)                                                                             \
    /* one image: forward */                                                                             \
    static void fwd_image_##T(const geo *g, const T *x, const T *w, const T *bias, T *y, T *cols,        \
                              bool par) {                                                                \
        for (int64_t gi = 0; gi < g->G; gi++) {                                                          \
            const T *xg = x + gi * g->Cg * g->H * g->W;                                                  \
            T *yg = y + gi * g->Og * g->P;                                                               \
            const T *B = xg;                                                                             \
            if (!g->direct) {                                                                            \
                if (par) PAR_CHANNELS(im2col_##T(g, xg, cols, c0, c1));                                  \
                else im2col_##T(g, xg, cols, 0, g->Cg);                                                  \
                B = cols;                                                                                \
            }                                                                                            \
            if (bias)                                                                                    \
                for (int64_t o = 0; o < g->Og; o++)                                                      \
                    for (int64_t k = 0; k < g->P; k++) yg[o * g->P + k] = bias[gi * g->Og + o];          \
            GEMM(false, false, g->Og, g->P, g->K, w + gi * g->Og * g->K, g->K, B, g->P, bias ? 1 : 0,    \
                 yg, g->P);                                                                              \
        }                                                                                                \
    }                                                                                                    \
    /* one image: dx = col2im(W^T dy) */                                                                 \
    static void bwdi_image_##T(const geo *g, const T *dy, const T *w, T *dx, T *cols, bool par) {        \
        for (int64_t gi = 0; gi < g->G; gi++) {                                                          \
            const T *dyg = dy + gi * g->Og * g->P;                                                       \
            T *dxg = dx + gi * g->Cg * g->H * g->W;                                                      \
            const T *wg = w + gi * g->Og * g->K;                                                         \
            if (g->direct) { GEMM(true, false, g->K, g->P, g->Og, wg, g->K, dyg, g->P, 0, dxg, g->P); continue; } \
            GEMM(true, false, g->K, g->P, g->Og, wg, g->K, dyg, g->P, 0, cols, g->P);                    \
            memset(dxg, 0, (size_t)(g->Cg * g->H * g->W) * sizeof(T));                                  \
            if (par) PAR_CHANNELS(col2im_##T(g, cols, dxg, c0, c1));                                     \
            else col2im_##T(g, cols, dxg, 0, g->Cg);                                                     \
        }                                                                                                \
    }                                                                                                    \
    /* one image: dw += dy cols^T */                                                                     \
    static void bwdw_image_##T(const geo *g, const T *dy, const T *x, T *dw, T *cols, bool par, T beta) { \
        for (int64_t gi = 0; gi < g->G; gi++) {                                                          \
            const T *xg = x + gi * g->Cg * g->H * g->W;                                                  \
            const T *B = xg;                                                                             \
            if (!g->direct) {                                                                            \
                if (par) PAR_CHANNELS(im2col_##T(g, xg, cols, c0, c1));                                  \
                else im2col_##T(g, xg, cols, 0, g->Cg);                                                  \
                B = cols;                                                                                \
            }                                                                                            \
            GEMM(false, true, g->Og, g->K, g->P, dy + gi * g->Og * g->P, g->P, B, g->P, beta,            \
                 dw + gi * g->Og * g->K, g->K);                                                          \
        }                                                                                                \
    }
DEFINE_CONV(float, gemm_f32)
DEFINE_CONV(double, gemm_f64)

/* how to split: images over threads (nt > 1) or one at a time (nt == 1) */
static int split_threads(const geo *g) {
    int nt = ag_cpu_max_threads();
    if (nt > g->N) nt = (int)g->N;
    return nt >= 2 && g->N >= ag_cpu_max_threads() ? nt : 1;
}

/* im2col scratch from the caching allocator: a training loop asks for the same sizes every
 * step, and fresh pages would cost a fault per 4 KiB each time */
static size_t cols_bytes(const geo *g, int nt, size_t es) {
    size_t n = g->direct ? 1 : (size_t)(g->K * g->P);
    return n * es * (size_t)nt + 64;
}

static void *cols_buffers(const geo *g, int nt, size_t es, const char *kname) {
    void *b = ag_cpu_alloc(cols_bytes(g, nt, es));
    if (!b) ag_set_error(AG_ERR_NOMEM, "%s: out of memory for a %lldx%lld im2col buffer", kname,
                         (long long)g->K, (long long)g->P);
    return b;
}

/* forward over all images of geometry g (K > 0): y = conv(x, w) + bias */
static int conv_forward_run(const geo *gp, const void *x, const void *w, const void *b, void *y, ag_dtype dt,
                            const char *kname) {
    geo g = *gp;
    ag_conv_direct d;
    int use = direct_geo(&g, dt, &d, kname);
    if (use < 0) return use;
    if (use) return ag_cpu_conv_direct_forward(&d, dt, x, w, b, y, kname);
    size_t es = ag_dtype_size(dt);
    int64_t xs = g.C * g.H * g.W, ys = g.O * g.P;
    int nt = split_threads(&g);
    char *cols = cols_buffers(&g, nt, es, kname);
    if (!cols) return AG_ERR_NOMEM;
    size_t cstride = g.direct ? 0 : (size_t)(g.K * g.P) * es;
#define RUN(T)                                                                                           \
    if (nt > 1) {                                                                                        \
        _Pragma("omp parallel for num_threads(nt) schedule(static)")                                     \
        for (int64_t n = 0; n < g.N; n++)                                                                \
            fwd_image_##T(&g, (const T *)x + n * xs, w, b, (T *)y + n * ys,                              \
                          (T *)(cols + cstride * (size_t)ag_cpu_thread_num()), false);                           \
    } else {                                                                                             \
        for (int64_t n = 0; n < g.N; n++)                                                                \
            fwd_image_##T(&g, (const T *)x + n * xs, w, b, (T *)y + n * ys, (T *)cols, true);            \
    }
    if (dt == AG_F32) { RUN(float) } else { RUN(double) }
#undef RUN
    ag_cpu_free(cols, cols_bytes(&g, nt, es));
    return 0;
}

int ag_cpu_conv2d(const ag_kview *y, const ag_kview *x, const ag_kview *w, const ag_kview *bias,
                  const ag_conv_params *p) {
    geo g;
    if (make_geo("cpu conv2d", &g, x, w, y, p)) return AG_ERR_SHAPE;
    if (g.N == 0 || g.O == 0 || g.P == 0) return 0;
    int64_t ys = g.O * g.P;
    const void *b = bias ? bias->data : NULL;
    if (g.K == 0) { /* no input channels: the bias alone */
        for (int64_t n = 0; n < g.N; n++)
            for (int64_t o = 0; o < g.O; o++)
                for (int64_t k = 0; k < g.P; k++) {
                    double v = !b ? 0 : x->dtype == AG_F32 ? ((const float *)b)[o] : ((const double *)b)[o];
                    if (x->dtype == AG_F32) ((float *)y->data)[n * ys + o * g.P + k] = (float)v;
                    else ((double *)y->data)[n * ys + o * g.P + k] = v;
                }
        return 0;
    }
    return conv_forward_run(&g, x->data, w->data, b, y->data, x->dtype, "cpu conv2d");
}

/* stride-1 input gradient as a forward convolution of dy with the spatially flipped weights,
 * in/out channels swapped per group (wf[g][c,o,p,q] = w[g][o,c,KH-1-p,KW-1-q]) and padding
 * d*(k-1) - pad: one gemm of the forward's shape per image and no col2im scatter */
static int bwdi_as_forward(const geo *g, const void *dy, const void *w, void *dx, ag_dtype dt) {
    size_t es = ag_dtype_size(dt);
    int64_t KK = g->KH * g->KW, wn = g->O * g->Cg * KK;
    void *wf = ag_cpu_alloc((size_t)wn * es + 64);
    if (!wf) return ag_set_error(AG_ERR_NOMEM, "cpu conv2d_backward_input: out of memory");
    for (int64_t gi = 0; gi < g->G; gi++)
        for (int64_t o = 0; o < g->Og; o++)
            for (int64_t c = 0; c < g->Cg; c++)
                for (int64_t k = 0; k < KK; k++) {
                    int64_t src = ((gi * g->Og + o) * g->Cg + c) * KK + k;
                    int64_t dst = ((gi * g->Cg + c) * g->Og + o) * KK + (KK - 1 - k);
                    if (dt == AG_F32) ((float *)wf)[dst] = ((const float *)w)[src];
                    else ((double *)wf)[dst] = ((const double *)w)[src];
                }
    geo t = {.N = g->N, .C = g->O, .H = g->HO, .W = g->WO, .O = g->C, .KH = g->KH, .KW = g->KW, .HO = g->H,
             .WO = g->W, .G = g->G, .Cg = g->Og, .Og = g->Cg, .K = g->Og * KK, .P = g->H * g->W, .s0 = 1, .s1 = 1,
             .p0 = g->d0 * (g->KH - 1) - g->p0, .p1 = g->d1 * (g->KW - 1) - g->p1, .d0 = g->d0, .d1 = g->d1};
    t.direct = false;
    int rc = conv_forward_run(&t, dy, wf, NULL, dx, dt, "cpu conv2d_backward_input");
    ag_cpu_free(wf, (size_t)wn * es + 64);
    return rc;
}

int ag_cpu_conv2d_backward_input(const ag_kview *dx, const ag_kview *dy, const ag_kview *w, const ag_conv_params *p) {
    geo g;
    if (make_geo("cpu conv2d_backward_input", &g, dx, w, dy, p)) return AG_ERR_SHAPE;
    size_t es = ag_dtype_size(dx->dtype);
    if (g.N == 0 || g.C == 0 || g.H * g.W == 0) return 0;
    if (g.O == 0 || g.P == 0 || g.K == 0) { memset(dx->data, 0, (size_t)numel(dx) * es); return 0; }
    ag_conv_direct d;
    int use = direct_geo(&g, dx->dtype, &d, "cpu conv2d_backward_input");
    if (use < 0) return use;
    if (use) return ag_cpu_conv_direct_input(&d, dx->dtype, dy->data, w->data, dx->data, "cpu conv2d_backward_input");
    if (!g.direct && g.s0 == 1 && g.s1 == 1 && g.p0 <= g.d0 * (g.KH - 1) && g.p1 <= g.d1 * (g.KW - 1))
        return bwdi_as_forward(&g, dy->data, w->data, dx->data, dx->dtype);
    int nt = split_threads(&g);
    char *cols = cols_buffers(&g, nt, es, "cpu conv2d_backward_input");
    if (!cols) return AG_ERR_NOMEM;
    size_t cstride = g.direct ? 0 : (size_t)(g.K * g.P) * es;
    int64_t xs = g.C * g.H * g.W, ys = g.O * g.P;
#define RUN(T)                                                                                           \
    if (nt > 1) {                                                                                        \
        _Pragma("omp parallel for num_threads(nt) schedule(static)")                                     \
        for (int64_t n = 0; n < g.N; n++)                                                                \
            bwdi_image_##T(&g, (const T *)dy->data + n * ys, w->data, (T *)dx->data + n * xs,            \
                           (T *)(cols + cstride * (size_t)ag_cpu_thread_num()), false);                          \
    } else {                                                                                             \
        for (int64_t n = 0; n < g.N; n++)                                                                \
            bwdi_image_##T(&g, (const T *)dy->data + n * ys, w->data, (T *)dx->data + n * xs, (T *)cols, true); \
    }
    if (dx->dtype == AG_F32) { RUN(float) } else { RUN(double) }
#undef RUN
    ag_cpu_free(cols, cols_bytes(&g, nt, es));
    return 0;
}

int ag_cpu_conv2d_backward_weight(const ag_kview *dw, const ag_kview *dy, const ag_kview *x, const ag_conv_params *p) {
    geo g;
    if (make_geo("cpu conv2d_backward_weight", &g, x, dw, dy, p)) return AG_ERR_SHAPE;
    size_t es = ag_dtype_size(dw->dtype);
    int64_t wn = numel(dw);
    memset(dw->data, 0, (size_t)wn * es);
    if (g.N == 0 || g.P == 0 || g.K == 0 || g.O == 0) return 0;
    ag_conv_direct d;
    int use = direct_geo(&g, dw->dtype, &d, "cpu conv2d_backward_weight");
    if (use < 0) return use;
    if (use) return ag_cpu_conv_direct_weight(&d, dw->dtype, dy->data, x->data, dw->data, "cpu conv2d_backward_weight");
    int nt = split_threads(&g);
    char *cols = cols_buffers(&g, nt, es, "cpu conv2d_backward_weight");
    if (!cols) return AG_ERR_NOMEM;
    /* zeroed: a thread that OpenMP hands no image adds its untouched part all the same */
    size_t pbytes = nt > 1 ? (size_t)(wn * (nt - 1)) * es + 1 : 0;
    char *part = nt > 1 ? ag_cpu_alloc(pbytes) : NULL;
    if (part) memset(part, 0, pbytes);
    if (nt > 1 && !part) {
        ag_cpu_free(cols, cols_bytes(&g, nt, es));
        return ag_set_error(AG_ERR_NOMEM, "cpu conv2d_backward_weight: out of memory");
    }
    size_t cstride = g.direct ? 0 : (size_t)(g.K * g.P) * es;
    int64_t xs = g.C * g.H * g.W, ys = g.O * g.P;
#define RUN(T)                                                                                           \
    if (nt > 1) {                                                                                        \
        _Pragma("omp parallel num_threads(nt)")                                                          \
        {                                                                                                \
            int t = ag_cpu_thread_num();                                                                         \
            T *acc = t == 0 ? (T *)dw->data : (T *)part + (size_t)(t - 1) * (size_t)wn;                  \
            T beta = 0;                                                                                  \
            _Pragma("omp for schedule(static)")                                                          \
            for (int64_t n = 0; n < g.N; n++) {                                                          \
                bwdw_image_##T(&g, (const T *)dy->data + n * ys, (const T *)x->data + n * xs, acc,       \
                               (T *)(cols + cstride * (size_t)t), false, beta);                          \
                beta = 1;                                                                                \
            }                                                                                            \
        }                                                                                                \
        for (int t = 1; t < nt; t++) {                                                                   \
            const T *src = (const T *)part + (size_t)(t - 1) * (size_t)wn;                               \
            T *dst = dw->data;                                                                           \
            for (int64_t i = 0; i < wn; i++) dst[i] += src[i];                                           \
        }                                                                                                \
    } else {                                                                                             \
        for (int64_t n = 0; n < g.N; n++)                                                                \
            bwdw_image_##T(&g, (const T *)dy->data + n * ys, (const T *)x->data + n * xs, dw->data,      \
                           (T *)cols, true, n ? 1 : 0);                                                  \
    }
    if (dw->dtype == AG_F32) { RUN(float) } else { RUN(double) }
#undef RUN
    if (part) ag_cpu_free(part, pbytes);
    ag_cpu_free(cols, cols_bytes(&g, nt, es));
    return 0;
}

/* ---- pooling ---------------------------------------------------------------------- */

static int pool_check(const char *kname, const ag_kview *a, const ag_kview *b) {
    if (a->ndim != 4 || b->ndim != 4 || !contiguous(a) || !contiguous(b))
        return ag_set_error(AG_ERR_SHAPE, "%s: expected contiguous 4-d views", kname);
    if (a->dtype != b->dtype || (a->dtype != AG_F32 && a->dtype != AG_F64))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected f32 or f64", kname);
    return 0;
}

#define DEFINE_POOL(T)                                                                                   \
    static void pool_##T(ag_pool_op op, const T *in, T *out, int64_t *idx, int64_t planes, int64_t H,    \
                         int64_t W, int64_t HO, int64_t WO, const ag_pool_params *p) {                   \
        _Pragma("omp parallel for schedule(static) if (planes * HO * WO * p->kernel[0] * p->kernel[1] >= AG_CPU_PAR_MIN)") \
        for (int64_t pl = 0; pl < planes; pl++) {                                                        \
            const T *x = in + pl * H * W;                                                                \
            for (int64_t i = 0; i < HO; i++)                                                             \
                for (int64_t j = 0; j < WO; j++) {                                                       \
                    int64_t h0 = i * p->stride[0] - p->pad[0], w0 = j * p->stride[1] - p->pad[1];        \
                    int64_t h1 = h0 + p->kernel[0], w1 = w0 + p->kernel[1];                              \
                    if (h0 < 0) h0 = 0;                                                                  \
                    if (w0 < 0) w0 = 0;                                                                  \
                    if (h1 > H) h1 = H;                                                                  \
                    if (w1 > W) w1 = W;                                                                  \
                    int64_t o = pl * HO * WO + i * WO + j;                                               \
                    if (op == AG_POOL_MAX) {                                                             \
                        T m = -INFINITY;                                                                 \
                        int64_t mi = h0 * W + w0;                                                        \
                        for (int64_t h = h0; h < h1; h++)                                                \
                            for (int64_t w = w0; w < w1; w++) {                                          \
                                T v = x[h * W + w];                                                      \
                                if (v > m || isnan(v)) { m = v; mi = h * W + w; if (isnan(v)) goto done_##T; } \
                            }                                                                            \
                    done_##T:                                                                            \
                        out[o] = m;                                                                      \
                        idx[o] = mi;                                                                     \
                    } else {                                                                             \
                        T s = 0;                                                                         \
                        for (int64_t h = h0; h < h1; h++)                                                \
                            for (int64_t w = w0; w < w1; w++) s += x[h * W + w];                         \
                        out[o] = s / (T)(p->kernel[0] * p->kernel[1]);                                   \
                    }                                                                                    \
                }                                                                                        \
        }                                                                                                \
    }                                                                                                    \
    static void poolb_##T(ag_pool_op op, T *gin, const T *gout, const int64_t *idx, int64_t planes,      \
                          int64_t H, int64_t W, int64_t HO, int64_t WO, const ag_pool_params *p) {       \
        _Pragma("omp parallel for schedule(static) if (planes * HO * WO * p->kernel[0] * p->kernel[1] >= AG_CPU_PAR_MIN)") \
        for (int64_t pl = 0; pl < planes; pl++) {                                                        \
            T *gx = gin + pl * H * W;                                                                    \
            memset(gx, 0, (size_t)(H * W) * sizeof(T));                                                  \
            for (int64_t i = 0; i < HO; i++)                                                             \
                for (int64_t j = 0; j < WO; j++) {                                                       \
                    int64_t o = pl * HO * WO + i * WO + j;                                               \
                    if (op == AG_POOL_MAX) { gx[idx[o]] += gout[o]; continue; }                          \
                    int64_t h0 = i * p->stride[0] - p->pad[0], w0 = j * p->stride[1] - p->pad[1];        \
                    int64_t h1 = h0 + p->kernel[0], w1 = w0 + p->kernel[1];                              \
                    if (h0 < 0) h0 = 0;                                                                  \
                    if (w0 < 0) w0 = 0;                                                                  \
                    if (h1 > H) h1 = H;                                                                  \
                    if (w1 > W) w1 = W;                                                                  \
                    T v = gout[o] / (T)(p->kernel[0] * p->kernel[1]);                                    \
                    for (int64_t h = h0; h < h1; h++)                                                    \
                        for (int64_t w = w0; w < w1; w++) gx[h * W + w] += v;                            \
                }                                                                                        \
        }                                                                                                \
    }
DEFINE_POOL(float)
DEFINE_POOL(double)

int ag_cpu_pool2d(ag_pool_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in, const ag_pool_params *p) {
    if (pool_check("cpu pool2d", out, in)) return AG_ERR_SHAPE;
    if (op == AG_POOL_MAX && (!idx || idx->dtype != AG_I64 || numel(idx) != numel(out) || !contiguous(idx)))
        return ag_set_error(AG_ERR_INVALID, "cpu pool2d: max pooling needs a contiguous i64 index view");
    int64_t planes = in->shape[0] * in->shape[1];
    if (in->dtype == AG_F32)
        pool_float(op, in->data, out->data, idx ? idx->data : NULL, planes, in->shape[2], in->shape[3],
                   out->shape[2], out->shape[3], p);
    else
        pool_double(op, in->data, out->data, idx ? idx->data : NULL, planes, in->shape[2], in->shape[3],
                    out->shape[2], out->shape[3], p);
    return 0;
}

int ag_cpu_pool2d_backward(ag_pool_op op, const ag_kview *gin, const ag_kview *gout, const ag_kview *idx,
                           const ag_pool_params *p) {
    if (pool_check("cpu pool2d_backward", gout, gin)) return AG_ERR_SHAPE;
    if (op == AG_POOL_MAX && (!idx || idx->dtype != AG_I64 || numel(idx) != numel(gout) || !contiguous(idx)))
        return ag_set_error(AG_ERR_INVALID, "cpu pool2d_backward: max pooling needs a contiguous i64 index view");
    int64_t planes = gin->shape[0] * gin->shape[1];
    if (gin->dtype == AG_F32)
        poolb_float(op, gin->data, gout->data, idx ? idx->data : NULL, planes, gin->shape[2], gin->shape[3],
                    gout->shape[2], gout->shape[3], p);
    else
        poolb_double(op, gin->data, gout->data, idx ? idx->data : NULL, planes, gin->shape[2], gin->shape[3],
                     gout->shape[2], gout->shape[3], p);
    return 0;
}

/* ---- padding ----------------------------------------------------------------------- */

/* source index along one dim for out index o (-1: outside, constant value) */
static int64_t pad_src(ag_pad_mode mode, int64_t o, int64_t lo, int64_t n) {
    int64_t i = o - lo;
    if (n <= 0) return -1;
    switch (mode) {
    case AG_PAD_REFLECT:
        if (n == 1) { i = 0; break; }
        i = i % (2 * (n - 1)); /* periodic with period 2(n-1); one fold suffices for pads < n */
        if (i < 0) i += 2 * (n - 1);
        if (i >= n) i = 2 * (n - 1) - i;
        break;
    case AG_PAD_REPLICATE: i = i < 0 ? 0 : (i >= n ? n - 1 : i); break;
    case AG_PAD_CIRCULAR: i = ((i % n) + n) % n; break;
    default: break;
    }
    return i >= 0 && i < n ? i : -1;
}

/* per-dim tables: tab[d][o] = source offset in elements along dim d of in, or -1; *bytes: the
 * block's size, for ag_cpu_free */
static int64_t *pad_tables(const ag_kview *out, const ag_kview *in, ag_pad_mode mode, const int64_t *lo,
                           int64_t **tab, size_t *bytes, const char *kname) {
    int64_t total = 0;
    for (int d = 0; d < out->ndim; d++) total += out->shape[d];
    *bytes = (size_t)(total + 1) * sizeof(int64_t);
    int64_t *buf = ag_cpu_alloc(*bytes);
    if (!buf) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname); return NULL; }
    int64_t *q = buf;
    for (int d = 0; d < out->ndim; d++) {
        tab[d] = q;
        for (int64_t o = 0; o < out->shape[d]; o++) {
            int64_t s = pad_src(mode, o, lo[d], in->shape[d]);
            q[o] = s < 0 ? -1 : s * in->strides[d];
        }
        q += out->shape[d];
    }
    return buf;
}

/* input offset of the row (all dims but the last) with flat row index r; -1 if outside */
static int64_t pad_row_offset(const ag_kview *out, int64_t *const *tab, int64_t r) {
    int64_t off = 0;
    for (int d = out->ndim - 2; d >= 0; d--) {
        int64_t o = r % out->shape[d];
        r /= out->shape[d];
        int64_t t = tab[d][o];
        if (t < 0) return -1;
        off += t;
    }
    return off;
}

int ag_cpu_pad(const ag_kview *out, const ag_kview *in, ag_pad_mode mode, const int64_t *lo, double value) {
    if (out->ndim != in->ndim || out->ndim < 1 || out->dtype != in->dtype || !contiguous(out) || !contiguous(in))
        return ag_set_error(AG_ERR_SHAPE, "cpu pad: expected contiguous views of equal ndim and dtype");
    int64_t n = numel(out);
    if (n == 0) return 0;
    int64_t *tab[AG_MAX_DIMS];
    size_t tbytes;
    int64_t *buf = pad_tables(out, in, mode, lo, tab, &tbytes, "cpu pad");
    if (!buf) return AG_ERR_NOMEM;
    size_t es = ag_dtype_size(out->dtype);
    unsigned char fill[16] = {0};
    switch (out->dtype) {
    case AG_F32: case AG_C64: { float v = (float)value; memcpy(fill, &v, sizeof v); break; }
    case AG_F64: case AG_C128: memcpy(fill, &value, sizeof value); break;
    case AG_I64: { int64_t v = (int64_t)value; memcpy(fill, &v, sizeof v); break; }
    case AG_BOOL: fill[0] = value != 0; break;
    case AG_I32: { int32_t v = (int32_t)(int64_t)value; memcpy(fill, &v, sizeof v); break; }
    case AG_U8: fill[0] = (uint8_t)(int64_t)value; break;
    default: break;
    }
    int64_t L = out->shape[out->ndim - 1], rows = n / L;
    const int64_t *tl = tab[out->ndim - 1];
    const char *src = in->data;
    char *dst = out->data;
    _Pragma("omp parallel for schedule(static) if (n >= AG_CPU_PAR_MIN)")
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = pad_row_offset(out, tab, r);
        char *o = dst + (size_t)(r * L) * es;
        for (int64_t j = 0; j < L; j++) {
            if (off < 0 || tl[j] < 0) memcpy(o + (size_t)j * es, fill, es);
            else memcpy(o + (size_t)j * es, src + (size_t)(off + tl[j]) * es, es);
        }
    }
    ag_cpu_free(buf, tbytes);
    return 0;
}

int ag_cpu_pad_backward(const ag_kview *gin, const ag_kview *gout, ag_pad_mode mode, const int64_t *lo) {
    if (gout->ndim != gin->ndim || gin->ndim < 1 || gout->dtype != gin->dtype || !contiguous(gout) ||
        !contiguous(gin))
        return ag_set_error(AG_ERR_SHAPE, "cpu pad_backward: expected contiguous views of equal ndim and dtype");
    ag_dtype dt = gin->dtype;
    if (!ag_dtype_is_float(dt)) return ag_set_error(AG_ERR_DTYPE, "cpu pad_backward: expected a floating dtype");
    int ncomp = ag_dtype_is_complex(dt) ? 2 : 1;
    bool single = dt == AG_F32 || dt == AG_C64;
    memset(gin->data, 0, (size_t)numel(gin) * ag_dtype_size(dt));
    int64_t n = numel(gout);
    if (n == 0) return 0;
    int64_t *tab[AG_MAX_DIMS];
    size_t tbytes;
    int64_t *buf = pad_tables(gout, gin, mode, lo, tab, &tbytes, "cpu pad_backward");
    if (!buf) return AG_ERR_NOMEM;
    int nd = gout->ndim;
    /* leading dims that are not padded map one to one: split over them (no write conflicts) */
    int lead = 0;
    while (lead < nd - 1 && lo[lead] == 0 && gout->shape[lead] == gin->shape[lead]) lead++;
    int64_t blocks = 1;
    for (int d = 0; d < lead; d++) blocks *= gout->shape[d];
    int64_t L = gout->shape[nd - 1], rows = n / L, rows_per = rows / (blocks ? blocks : 1);
    const int64_t *tl = tab[nd - 1];
    _Pragma("omp parallel for schedule(static) if (n >= AG_CPU_PAR_MIN && blocks > 1)")
    for (int64_t b = 0; b < blocks; b++)
        for (int64_t r = b * rows_per; r < (b + 1) * rows_per; r++) {
            int64_t off = pad_row_offset(gout, tab, r);
            if (off < 0) continue;
            for (int64_t j = 0; j < L; j++) {
                if (tl[j] < 0) continue;
                for (int c = 0; c < ncomp; c++) {
                    int64_t si = (r * L + j) * ncomp + c, di = (off + tl[j]) * ncomp + c;
                    if (single) ((float *)gin->data)[di] += ((const float *)gout->data)[si];
                    else ((double *)gin->data)[di] += ((const double *)gout->data)[si];
                }
            }
        }
    ag_cpu_free(buf, tbytes);
    return 0;
}

/* ---- resampling (PyTorch's index arithmetic, in the tensor's precision) --------------- */

static int64_t nearest_src(int64_t o, int64_t in, int64_t out) {
    if (out == in) return o;
    if (out == 2 * in) return o >> 1;
    float scale = (float)in / (float)out;
    int64_t s = (int64_t)floorf((float)o * scale);
    return s < in - 1 ? s : in - 1;
}

#define DEFINE_LINEAR(T)                                                                                 \
    static void linear_##T(int64_t o, int64_t in, int64_t out, bool ac, int64_t *i0, int64_t *i1, T *l0, T *l1) { \
        if (out == in) { *i0 = *i1 = o; *l0 = 1; *l1 = 0; return; }                                      \
        T scale = ac ? (out > 1 ? (T)(in - 1) / (T)(out - 1) : (T)0) : (T)in / (T)out;                   \
        T src = ac ? scale * (T)o : scale * ((T)o + (T)0.5) - (T)0.5;                                    \
        if (!ac && src < 0) src = 0;                                                                     \
        *i0 = (int64_t)src;                                                                              \
        *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);                                                              \
        T l = src - (T)*i0;                                                                              \
        *l1 = l < 0 ? 0 : (l > 1 ? 1 : l);                                                               \
        *l0 = (T)1 - *l1;                                                                                \
    }                                                                                                    \
    static void upsample_##T(ag_upsample_mode mode, bool bwd, T *x, T *y, int64_t planes, int64_t H,     \
                             int64_t W, int64_t HO, int64_t WO, bool ac) {                               \
        _Pragma("omp parallel for schedule(static) if (planes * HO * WO >= AG_CPU_PAR_MIN)")            \
        for (int64_t pl = 0; pl < planes; pl++) {                                                        \
            T *xp = x + pl * H * W, *yp = y + pl * HO * WO;                                              \
            if (bwd) memset(xp, 0, (size_t)(H * W) * sizeof(T));                                         \
            for (int64_t i = 0; i < HO; i++) {                                                           \
                int64_t h0, h1;                                                                          \
                T a0, a1;                                                                                \
                if (mode == AG_UPSAMPLE_NEAREST) { h0 = h1 = nearest_src(i, H, HO); a0 = 1; a1 = 0; }    \
                else linear_##T(i, H, HO, ac, &h0, &h1, &a0, &a1);                                       \
                for (int64_t j = 0; j < WO; j++) {                                                       \
                    int64_t w0, w1;                                                                      \
                    T b0, b1;                                                                            \
                    if (mode == AG_UPSAMPLE_NEAREST) { w0 = w1 = nearest_src(j, W, WO); b0 = 1; b1 = 0; } \
                    else linear_##T(j, W, WO, ac, &w0, &w1, &b0, &b1);                                   \
                    T *o = yp + i * WO + j;                                                              \
                    if (!bwd) {                                                                          \
                        *o = a0 * (b0 * xp[h0 * W + w0] + b1 * xp[h0 * W + w1]) +                        \
                             a1 * (b0 * xp[h1 * W + w0] + b1 * xp[h1 * W + w1]);                         \
                    } else {                                                                             \
                        T g = *o;                                                                        \
                        xp[h0 * W + w0] += a0 * b0 * g;                                                  \
                        xp[h0 * W + w1] += a0 * b1 * g;                                                  \
                        xp[h1 * W + w0] += a1 * b0 * g;                                                  \
                        xp[h1 * W + w1] += a1 * b1 * g;                                                  \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }
DEFINE_LINEAR(float)
DEFINE_LINEAR(double)

static int resample(const char *kname, ag_upsample_mode mode, bool bwd, const ag_kview *x, const ag_kview *y, bool ac) {
    if (pool_check(kname, x, y)) return AG_ERR_SHAPE;
    if (x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1])
        return ag_set_error(AG_ERR_SHAPE, "%s: batch and channel sizes differ", kname);
    int64_t planes = x->shape[0] * x->shape[1];
    if (x->dtype == AG_F32)
        upsample_float(mode, bwd, x->data, y->data, planes, x->shape[2], x->shape[3], y->shape[2], y->shape[3], ac);
    else
        upsample_double(mode, bwd, x->data, y->data, planes, x->shape[2], x->shape[3], y->shape[2], y->shape[3], ac);
    return 0;
}

int ag_cpu_upsample2d(ag_upsample_mode mode, const ag_kview *out, const ag_kview *in, bool align_corners) {
    return resample("cpu upsample2d", mode, false, in, out, align_corners);
}

int ag_cpu_upsample2d_backward(ag_upsample_mode mode, const ag_kview *gin, const ag_kview *gout, bool align_corners) {
    return resample("cpu upsample2d_backward", mode, true, gin, gout, align_corners);
}
