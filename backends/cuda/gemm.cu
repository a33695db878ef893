/* backends/cuda/gemm.cu — batched matrix products through cuBLAS (s/d/c/z gemmStridedBatched).
 * Row-major C = A B is computed as column-major C^T = B^T A^T. An operand with one unit
 * stride goes to cuBLAS as is (transposed or not, batch stride 0 when broadcast); otherwise,
 * or to conjugate without transposing, it is packed first (one copy per distinct matrix). An
 * output cuBLAS cannot address is computed into a packed buffer and copied back. i64 uses a
 * plain kernel. The handle uses the default stream and the default (non-TF32) math mode. */
#include <cublas_v2.h>
#include <limits.h>
#include <pthread.h>

#include "backends/cuda/common.cuh"

static cublasHandle_t handle;
static pthread_mutex_t handle_lock = PTHREAD_MUTEX_INITIALIZER;

static int blas_err(cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    return ag_set_error(s == CUBLAS_STATUS_ALLOC_FAILED ? AG_ERR_NOMEM : AG_ERR_BACKEND, "cuda gemm: %s: %s", what,
                        cublasGetStatusString(s));
}
#define BLAS_CHECK(expr, what) do { int rc_ = blas_err((expr), (what)); if (rc_) return rc_; } while (0)

static int get_handle(cublasHandle_t *h) {
    pthread_mutex_lock(&handle_lock);
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    if (!handle) {
        s = cublasCreate(&handle);
        if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);
    }
    *h = handle;
    pthread_mutex_unlock(&handle_lock);
    return blas_err(s, "cublasCreate");
}

typedef struct mat {
    const char *data;
    int64_t ld, bstride;
    cublasOperation_t op;
    void *tmp; size_t tmp_bytes; /* packed copy to free */
} mat;

/* rows x cols matrices (batch B, batch stride sb) at base with strides (sr, sc) */
static int prepare(mat *m, const ag_kview *v, int64_t B, bool conj, bool cplx) {
    memset(m, 0, sizeof *m);
    int64_t rows = v->shape[1], cols = v->shape[2], sr = v->strides[1], sc = v->strides[2];
    m->bstride = B > 1 ? v->strides[0] : 0;
    if (rows <= 1) sr = cols > 0 ? cols : 1;
    if (cols <= 1) sc = 1;
    conj = conj && cplx;
    if (!conj && sc == 1 && sr >= (cols > 1 ? cols : 1)) {
        m->data = (const char *)v->data; m->ld = sr; m->op = CUBLAS_OP_N;
        return 0;
    }
    if (sr == 1 && sc >= (rows > 1 ? rows : 1) && (rows > 1 || !conj)) {
        m->data = (const char *)v->data; m->ld = sc; m->op = conj ? CUBLAS_OP_C : CUBLAS_OP_T;
        return 0;
    }
    /* pack row-major (conjugating if asked); a broadcast batch is packed once */
    int64_t nb = m->bstride ? B : 1;
    size_t es = ag_dtype_size(v->dtype);
    m->tmp_bytes = (size_t)(nb * rows * cols) * es;
    m->tmp = ag_cuda_alloc(m->tmp_bytes ? m->tmp_bytes : 1);
    if (!m->tmp) return ag_set_error(AG_ERR_NOMEM, "cuda gemm: cannot allocate %zu bytes to pack an operand", m->tmp_bytes);
    ag_kview dst = {m->tmp, v->dtype, 3, {nb, rows, cols}, {rows * cols, cols, 1}};
    ag_kview src = *v;
    src.shape[0] = nb;
    int rc = conj ? ag_cuda_unary(AG_UN_CONJ, &dst, &src, NULL) : ag_cuda_copy(&dst, &src);
    if (rc) { ag_cuda_free(m->tmp, m->tmp_bytes ? m->tmp_bytes : 1); m->tmp = NULL; return rc; }
    m->data = (const char *)m->tmp; m->ld = cols > 0 ? cols : 1; m->op = CUBLAS_OP_N;
    m->bstride = m->bstride ? rows * cols : 0;
    return 0;
}
static void release(mat *m) { if (m->tmp) ag_cuda_free(m->tmp, m->tmp_bytes ? m->tmp_bytes : 1); }

__global__ void gemm_i64(int64_t B, int64_t M, int64_t N, int64_t K, int64_t *C, const int64_t *A, const int64_t *Bm,
                         ag_kview o, ag_kview a, ag_kview b) {
    GRID_STRIDE(t, B * M * N) {
        int64_t j = t % N, i = (t / N) % M, bi = t / (M * N);
        const int64_t *pa = A + bi * a.strides[0] + i * a.strides[1];
        const int64_t *pb = Bm + bi * b.strides[0] + j * b.strides[2];
        int64_t s = 0;
        for (int64_t k = 0; k < K; k++) s += pa[k * a.strides[2]] * pb[k * b.strides[1]];
        C[bi * o.strides[0] + i * o.strides[1] + j * o.strides[2]] = s;
    }
}

static bool fits_int(int64_t x) { return x >= 0 && x <= INT_MAX; }

extern "C" int ag_cuda_gemm(const ag_kview *out, const ag_kview *a, const ag_kview *b, bool conj_a, bool conj_b) {
    int64_t B = a->shape[0], M = a->shape[1], K = a->shape[2], N = b->shape[2];
    ag_dtype dt = a->dtype;
    if (B == 0 || M == 0 || N == 0) return 0;
    if (dt == AG_BOOL) return ag_set_error(AG_ERR_DTYPE, "cuda gemm: bool matrices are not supported");
    if (dt == AG_I32 || dt == AG_U8)
        return ag_set_error(AG_ERR_DTYPE, "cuda gemm: %s matrices are not supported (cast to i64 or a float dtype)",
                            ag_dtype_name(dt));
    if (K == 0) return ag_cuda_fill(out, 0, 0);
    if (dt == AG_I64) {
        gemm_i64<<<grid_for(B * M * N), AG_CUDA_THREADS>>>(B, M, N, K, (int64_t *)out->data, (const int64_t *)a->data,
                                                           (const int64_t *)b->data, *out, *a, *b);
        AG_CUDA_LAUNCHED("gemm");
        return 0;
    }
    if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(B))
        return ag_set_error(AG_ERR_SHAPE, "cuda gemm: sizes [%lld,%lld,%lld]x[%lld,%lld,%lld] exceed cuBLAS's int range",
                            (long long)B, (long long)M, (long long)K, (long long)B, (long long)K, (long long)N);
    cublasHandle_t h;
    int rc = get_handle(&h);
    if (rc) return rc;
    bool cplx = ag_dtype_is_complex(dt);
    size_t es = ag_dtype_size(dt);
    /* output: row-major with a leading dimension, or a packed buffer */
    int64_t osr = M <= 1 ? N : out->strides[1], osc = N <= 1 ? 1 : out->strides[2];
    bool direct = osc == 1 && osr >= N && (B == 1 || out->strides[0] >= (M - 1) * osr + N);
    void *cbuf = NULL;
    size_t cbytes = (size_t)(B * M * N) * es;
    char *C = (char *)out->data;
    int64_t ldc = osr, cstride = B > 1 ? out->strides[0] : 0;
    if (!direct) {
        cbuf = ag_cuda_alloc(cbytes);
        if (!cbuf) return ag_set_error(AG_ERR_NOMEM, "cuda gemm: cannot allocate %zu bytes for the result", cbytes);
        C = (char *)cbuf; ldc = N; cstride = M * N;
    }
    mat ma, mb;
    if ((rc = prepare(&ma, a, B, conj_a, cplx))) { if (cbuf) ag_cuda_free(cbuf, cbytes); return rc; }
    if ((rc = prepare(&mb, b, B, conj_b, cplx))) { release(&ma); if (cbuf) ag_cuda_free(cbuf, cbytes); return rc; }
    /* column-major: C^T (N x M) = op(B^T) (N x K) * op(A^T) (K x M) */
    cublasStatus_t s;
    switch (dt) {
    case AG_F32: {
        const float one = 1, zero = 0;
        s = cublasSgemmStridedBatched(h, mb.op, ma.op, (int)N, (int)M, (int)K, &one, (const float *)mb.data, (int)mb.ld,
                                      mb.bstride, (const float *)ma.data, (int)ma.ld, ma.bstride, &zero, (float *)C,
                                      (int)ldc, cstride, (int)B);
        break;
    }
    case AG_F64: {
        const double one = 1, zero = 0;
        s = cublasDgemmStridedBatched(h, mb.op, ma.op, (int)N, (int)M, (int)K, &one, (const double *)mb.data, (int)mb.ld,
                                      mb.bstride, (const double *)ma.data, (int)ma.ld, ma.bstride, &zero, (double *)C,
                                      (int)ldc, cstride, (int)B);
        break;
    }
    case AG_C64: {
        const cuComplex one = {1, 0}, zero = {0, 0};
        s = cublasCgemmStridedBatched(h, mb.op, ma.op, (int)N, (int)M, (int)K, &one, (const cuComplex *)mb.data,
                                      (int)mb.ld, mb.bstride, (const cuComplex *)ma.data, (int)ma.ld, ma.bstride, &zero,
                                      (cuComplex *)C, (int)ldc, cstride, (int)B);
        break;
    }
    case AG_C128: {
        const cuDoubleComplex one = {1, 0}, zero = {0, 0};
        s = cublasZgemmStridedBatched(h, mb.op, ma.op, (int)N, (int)M, (int)K, &one, (const cuDoubleComplex *)mb.data,
                                      (int)mb.ld, mb.bstride, (const cuDoubleComplex *)ma.data, (int)ma.ld, ma.bstride,
                                      &zero, (cuDoubleComplex *)C, (int)ldc, cstride, (int)B);
        break;
    }
    default:
        s = CUBLAS_STATUS_NOT_SUPPORTED;
        break;
    }
    release(&ma);
    release(&mb);
    rc = blas_err(s, "gemmStridedBatched");
    if (!rc && cbuf) {
        ag_kview src = {cbuf, dt, 3, {B, M, N}, {M * N, N, 1}};
        rc = ag_cuda_copy(out, &src);
    }
    if (cbuf) ag_cuda_free(cbuf, cbytes);
    return rc;
}
