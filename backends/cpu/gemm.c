/* backends/cpu/gemm.c — batched matrix products through OpenBLAS (s/d/c/z gemm).
 * A view is handed to BLAS as is when one of its two strides is 1 (row- or column-major with
 * a leading dimension); otherwise, or to conjugate without transposing, it is packed first. */
#include <cblas.h>
#include <string.h>

#include "backends/cpu/cpu.h"

typedef struct mat {
    const char *data;
    int64_t ld;
    CBLAS_TRANSPOSE tr;
    void *buf;     /* packing buffer (caching allocator), kept across batches: same size each */
    size_t bytes;
} mat;

/* rows x cols matrix at base with strides (sr, sc) in elements of size es */
static int prepare(mat *m, const char *base, int64_t rows, int64_t cols, int64_t sr, int64_t sc, size_t es,
                   bool conj, ag_dtype dt) {
    if (rows <= 1) sr = cols > 0 ? cols : 1;
    if (cols <= 1) sc = 1;
    if (!conj && sc == 1 && sr >= (cols > 1 ? cols : 1)) {
        m->data = base; m->ld = sr; m->tr = CblasNoTrans;
        return 0;
    }
    if (sr == 1 && sc >= (rows > 1 ? rows : 1) && (rows > 1 || !conj)) {
        m->data = base; m->ld = sc; m->tr = conj ? CblasConjTrans : CblasTrans;
        return 0;
    }
    /* pack row-major, conjugating if asked */
    if (!m->buf) {
        m->bytes = (size_t)(rows * cols) * es + 1;
        m->buf = ag_cpu_alloc(m->bytes);
        if (!m->buf) return ag_set_error(AG_ERR_NOMEM, "cpu gemm: out of memory packing a %lldx%lld operand",
                                         (long long)rows, (long long)cols);
    }
    char *t = m->buf;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            const char *src = base + (i * sr + j * sc) * (int64_t)es;
            char *dst = t + (i * cols + j) * (int64_t)es;
            memcpy(dst, src, es);
            if (conj && dt == AG_C64) ((float *)dst)[1] = -((float *)dst)[1];
            if (conj && dt == AG_C128) ((double *)dst)[1] = -((double *)dst)[1];
        }
    m->data = t; m->ld = cols > 0 ? cols : 1; m->tr = CblasNoTrans;
    return 0;
}

int ag_cpu_gemm(const ag_kview *out, const ag_kview *a, const ag_kview *b, bool conj_a, bool conj_b) {
    int64_t B = a->shape[0], M = a->shape[1], K = a->shape[2], N = b->shape[2];
    ag_dtype dt = a->dtype;
    size_t es = ag_dtype_size(dt);
    if (dt == AG_BOOL) return ag_set_error(AG_ERR_DTYPE, "cpu gemm: bool matrices are not supported");
    if (dt == AG_I32 || dt == AG_U8)
        return ag_set_error(AG_ERR_DTYPE, "cpu gemm: %s matrices are not supported (cast to i64 or a float dtype)",
                            ag_dtype_name(dt));
    if (!ag_dtype_is_complex(dt)) conj_a = conj_b = false;
    mat ma = {0}, mb = {0};
    int rc = 0;
    for (int64_t bi = 0; bi < B; bi++) {
        char *C = (char *)out->data + bi * out->strides[0] * (int64_t)es;
        const char *A = (const char *)a->data + bi * a->strides[0] * (int64_t)es;
        const char *Bm = (const char *)b->data + bi * b->strides[0] * (int64_t)es;
        int64_t ldc = out->strides[1];
        if (M == 0 || N == 0) continue;
        if (K == 0) { /* empty inner dimension: zeros */
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc * (int64_t)es, 0, (size_t)N * es);
            continue;
        }
        if (dt == AG_I64) { /* no BLAS for integers */
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    int64_t s = 0;
                    for (int64_t k = 0; k < K; k++)
                        s += ((const int64_t *)A)[i * a->strides[1] + k * a->strides[2]] *
                             ((const int64_t *)Bm)[k * b->strides[1] + j * b->strides[2]];
                    ((int64_t *)C)[i * ldc + j * out->strides[2]] = s;
                }
            continue;
        }
        if (prepare(&ma, A, M, K, a->strides[1], a->strides[2], es, conj_a, dt) ||
            prepare(&mb, Bm, K, N, b->strides[1], b->strides[2], es, conj_b, dt)) {
            rc = AG_ERR_NOMEM;
            break;
        }
        switch (dt) {
        case AG_F32:
            cblas_sgemm(CblasRowMajor, ma.tr, mb.tr, (int)M, (int)N, (int)K, 1.0f, (const float *)ma.data,
                        (int)ma.ld, (const float *)mb.data, (int)mb.ld, 0.0f, (float *)C, (int)ldc);
            break;
        case AG_F64:
            cblas_dgemm(CblasRowMajor, ma.tr, mb.tr, (int)M, (int)N, (int)K, 1.0, (const double *)ma.data,
                        (int)ma.ld, (const double *)mb.data, (int)mb.ld, 0.0, (double *)C, (int)ldc);
            break;
        case AG_C64: {
            const float one[2] = {1, 0}, zero[2] = {0, 0};
            cblas_cgemm(CblasRowMajor, ma.tr, mb.tr, (int)M, (int)N, (int)K, one, ma.data, (int)ma.ld,
                        mb.data, (int)mb.ld, zero, C, (int)ldc);
            break;
        }
        case AG_C128: {
            const double one[2] = {1, 0}, zero[2] = {0, 0};
            cblas_zgemm(CblasRowMajor, ma.tr, mb.tr, (int)M, (int)N, (int)K, one, ma.data, (int)ma.ld,
                        mb.data, (int)mb.ld, zero, C, (int)ldc);
            break;
        }
        default: break;
        }
    }
    ag_cpu_free(ma.buf, ma.bytes);
    ag_cpu_free(mb.buf, mb.bytes);
    return rc;
}
