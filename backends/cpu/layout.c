/* backends/cpu/layout.c — roll2d: the image/visibility layout permutations (fftshift, the sky
 * flip) in one gather pass over the last two dims. A pure permutation, so elements are moved
 * by size (4, 8 or 16 bytes) whatever their dtype. hermitian_fill: a real signal's full 2-d
 * spectrum from its rfft half plane (and that map's adjoint, its backward) in one pass. */
#include <complex.h>
#include <string.h>

#include "backends/cpu/cpu.h"

typedef struct { uint64_t a, b; } el16;

#define ROLL_ROWS(T)                                                                                          \
    for (int64_t r = rb; r < re; r++) {                                                                       \
        int64_t b = r / H, i = r % H, oo = 0, io = 0, rem = b;                                                \
        for (int d = nd - 3; d >= 0; d--) {                                                                   \
            int64_t c = rem % out->shape[d];                                                                  \
            rem /= out->shape[d];                                                                             \
            oo += c * out->strides[d];                                                                        \
            io += c * in->strides[d];                                                                         \
        }                                                                                                     \
        T *o = (T *)out->data + oo + i * os0;                                                                 \
        const T *s = (const T *)in->data + io + ((i + s0) % H) * is0;                                         \
        /* columns j < W - s1 read c = j + s1, the rest c = j + s1 - W: two runs, no modulo */         \
        int64_t split = W - s1;                                                                               \
        if (flip) {                                                                                           \
            for (int64_t j = 0; j < split; j++) o[j * os1] = s[(W - 1 - s1 - j) * is1];                      \
            for (int64_t j = split; j < W; j++) o[j * os1] = s[(W - 1 - j + split) * is1];                   \
        } else {                                                                                              \
            for (int64_t j = 0; j < split; j++) o[j * os1] = s[(j + s1) * is1];                              \
            for (int64_t j = split; j < W; j++) o[j * os1] = s[(j - split) * is1];                           \
        }                                                                                                     \
    }

int ag_cpu_roll2d(const ag_kview *out, const ag_kview *in, int64_t s0, int64_t s1, bool flip) {
    int nd = out->ndim;
    if (nd < 2 || in->ndim != nd || in->dtype != out->dtype || memcmp(in->shape, out->shape, (size_t)nd * sizeof(int64_t)))
        return ag_set_error(AG_ERR_INVALID, "cpu roll2d: expected two views of one shape and dtype with ndim >= 2");
    int64_t H = out->shape[nd - 2], W = out->shape[nd - 1], rows = H;
    for (int d = 0; d < nd - 2; d++) rows *= out->shape[d];
    if (rows == 0 || W == 0) return 0;
    if (s0 < 0 || s0 >= H || s1 < 0 || s1 >= W)
        return ag_set_error(AG_ERR_INVALID, "cpu roll2d: shifts (%lld, %lld) outside [0, %lld) x [0, %lld)",
                            (long long)s0, (long long)s1, (long long)H, (long long)W);
    size_t es = ag_dtype_size(out->dtype);
    if (es != 1 && es != 4 && es != 8 && es != 16)
        return ag_set_error(AG_ERR_DTYPE, "cpu roll2d: %s not supported", ag_dtype_name(out->dtype));
    int64_t os0 = out->strides[nd - 2], os1 = out->strides[nd - 1], is0 = in->strides[nd - 2], is1 = in->strides[nd - 1];
    int nt = rows * W >= AG_CPU_PAR_MIN ? ag_cpu_max_threads() : 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t rb, re;
        ag_cpu_thread_slice(rows, &rb, &re);
        switch (es) {
        case 1: ROLL_ROWS(uint8_t) break;
        case 4: ROLL_ROWS(uint32_t) break;
        case 8: ROLL_ROWS(uint64_t) break;
        default: ROLL_ROWS(el16) break;
        }
    }
    (void)nt;
    return 0;
}

/* offsets of the outer index b (0 <= b < prod(shape[0 .. nd-3])) in out and in */
static void outer_offsets(const ag_kview *out, const ag_kview *in, int64_t b, int64_t *oo, int64_t *io) {
    *oo = *io = 0;
    for (int d = out->ndim - 3; d >= 0; d--) {
        int64_t c = b % out->shape[d];
        b /= out->shape[d];
        *oo += c * out->strides[d];
        *io += c * in->strides[d];
    }
}

#define HERM_ROWS(T, CONJ)                                                                                    \
    for (int64_t r = rb; r < re; r++) {                                                                       \
        int64_t b = r / H, i = r % H, mi = (H - i) % H, oo, io;                                               \
        outer_offsets(out, in, b, &oo, &io);                                                                  \
        T *o = (T *)out->data + oo + i * os0;                                                                 \
        const T *s = (const T *)in->data + io + i * is0, *ms = (const T *)in->data + io + mi * is0;           \
        for (int64_t j = 0; j < Wo; j++) {                                                                    \
            T z = j < Wh ? s[j * is1] : CONJ(ms[(n - j) * is1]);                                              \
            if (adjoint && j >= 1 && j <= (n - 1) / 2) z += CONJ(ms[(n - j) * is1]);                          \
            o[j * os1] = (T)scale * (conjugate ? CONJ(z) : z);                                                     \
        }                                                                                                     \
    }

int ag_cpu_hermitian_fill(const ag_kview *out, const ag_kview *in, int64_t n, double scale, bool conjugate, bool adjoint) {
    int nd = out->ndim;
    bool shapes = nd >= 2 && in->ndim == nd && in->dtype == out->dtype && n >= 1;
    for (int d = 0; shapes && d < nd - 1; d++) shapes = in->shape[d] == out->shape[d];
    int64_t half = n / 2 + 1, Wo = shapes ? out->shape[nd - 1] : 0, Wi = shapes ? in->shape[nd - 1] : 0;
    if (!shapes || Wo != (adjoint ? half : n) || Wi != (adjoint ? n : half))
        return ag_set_error(AG_ERR_INVALID, "cpu hermitian_fill: expected views (..., H, %s) <- (..., H, %s) of one dtype, "
                            "n = %lld", adjoint ? "n/2+1" : "n", adjoint ? "n" : "n/2+1", (long long)n);
    if (out->dtype != AG_C64 && out->dtype != AG_C128)
        return ag_set_error(AG_ERR_DTYPE, "cpu hermitian_fill: expected c64 or c128, given %s", ag_dtype_name(out->dtype));
    int64_t H = out->shape[nd - 2], rows = H;
    for (int d = 0; d < nd - 2; d++) rows *= out->shape[d];
    if (rows == 0) return 0;
    /* columns of in read directly: the adjoint reads in[i, j] for j < n/2 + 1 (all of out) */
    int64_t Wh = adjoint ? Wo : Wi;
    int64_t os0 = out->strides[nd - 2], os1 = out->strides[nd - 1], is0 = in->strides[nd - 2], is1 = in->strides[nd - 1];
    int nt = rows * Wo >= AG_CPU_PAR_MIN ? ag_cpu_max_threads() : 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int64_t rb, re;
        ag_cpu_thread_slice(rows, &rb, &re);
        if (out->dtype == AG_C128) {
            HERM_ROWS(double complex, conj)
        } else {
            HERM_ROWS(float complex, conjf)
        }
    }
    (void)nt;
    return 0;
}
