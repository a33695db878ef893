/* backends/cuda/common.cuh — shared machinery of the CUDA kernels: error checks that record
 * an ag error and return a negative status (never abort), the complex type, the strided
 * N-d index walker (dims of size 1 dropped, dense dims merged, as the CPU iterator) and the
 * grid-stride launch helper. All kernels run on the default stream, so a later kernel or copy
 * always sees the results of an earlier one and freed blocks can be reused at once. */
#ifndef AG_BACKENDS_CUDA_COMMON_CUH
#define AG_BACKENDS_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backends/cuda/cuda.h"

/* ---- errors --------------------------------------------------------------------------- */
static inline int ag_cuda_err(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return 0;
    ag_status code = e == cudaErrorMemoryAllocation ? AG_ERR_NOMEM : AG_ERR_BACKEND;
    return ag_set_error(code, "cuda %s: %s", what, cudaGetErrorString(e));
}
/* evaluate a cudaError_t; on failure record it and return the negative status */
#define AG_CUDA_CHECK(expr, what) do { int ag_rc_ = ag_cuda_err((expr), (what)); if (ag_rc_) return ag_rc_; } while (0)
/* after a launch: launch-configuration errors (and earlier asynchronous ones) */
#define AG_CUDA_LAUNCHED(what) AG_CUDA_CHECK(cudaGetLastError(), (what))

/* ---- complex ---------------------------------------------------------------------------- */
template <class R> struct __align__(2 * sizeof(R)) cx { R re, im; };
typedef cx<float> c64;
typedef cx<double> c128;

template <class R> __host__ __device__ inline cx<R> mk(R re, R im) { cx<R> z; z.re = re; z.im = im; return z; }
template <class R> __device__ inline cx<R> operator+(cx<R> a, cx<R> b) { return mk(a.re + b.re, a.im + b.im); }
template <class R> __device__ inline cx<R> operator-(cx<R> a, cx<R> b) { return mk(a.re - b.re, a.im - b.im); }
template <class R> __device__ inline cx<R> operator-(cx<R> a) { return mk(-a.re, -a.im); }
template <class R> __device__ inline cx<R> operator*(cx<R> a, cx<R> b) {
    return mk(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
/* Smith's division (scaled: no overflow for large denominators) */
template <class R> __device__ inline cx<R> operator/(cx<R> a, cx<R> b) {
    R ar = fabs(b.re), ai = fabs(b.im);
    if (ar >= ai) {
        if (ar == 0 && ai == 0) return mk(a.re / ar, a.im / ar);
        R r = b.im / b.re, d = b.re + b.im * r;
        return mk((a.re + a.im * r) / d, (a.im - a.re * r) / d);
    }
    R r = b.re / b.im, d = b.re * r + b.im;
    return mk((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}
template <class R> __device__ inline bool operator==(cx<R> a, cx<R> b) { return a.re == b.re && a.im == b.im; }
template <class R> __device__ inline bool operator!=(cx<R> a, cx<R> b) { return !(a == b); }

/* ---- strided iteration -------------------------------------------------------------------- */
template <int N> struct Iter {
    int nd;
    int64_t numel;
    int64_t shape[AG_MAX_DIMS];
    int64_t st[N][AG_MAX_DIMS]; /* elements */
    bool dense;                 /* every operand contiguous (or a broadcast scalar): offset = i */
};

template <int N> static inline Iter<N> iter_init(const ag_kview *const *v) {
    Iter<N> it;
    memset(&it, 0, sizeof it);
    int nd = 0;
    int64_t numel = 1;
    for (int d = 0; d < v[0]->ndim; d++) {
        numel *= v[0]->shape[d];
        if (v[0]->shape[d] == 1) continue;
        it.shape[nd] = v[0]->shape[d];
        for (int k = 0; k < N; k++) it.st[k][nd] = v[k]->strides[d];
        nd++;
    }
    it.numel = numel;
    if (nd == 0) { it.nd = 1; it.shape[0] = 1; it.dense = true; return it; }
    int o = 0;
    for (int d = 1; d < nd; d++) {
        bool merge = true;
        for (int k = 0; k < N; k++)
            if (it.st[k][o] != it.st[k][d] * it.shape[d]) { merge = false; break; }
        if (merge) it.shape[o] *= it.shape[d];
        else it.shape[++o] = it.shape[d];
        for (int k = 0; k < N; k++) it.st[k][o] = it.st[k][d];
    }
    it.nd = o + 1;
    it.dense = it.nd == 1;
    for (int k = 0; k < N; k++) if (it.nd == 1 && it.st[k][0] != 1) it.dense = false;
    return it;
}

template <int N> __device__ inline void iter_offsets(const Iter<N> &it, int64_t i, int64_t *off) {
    if (it.dense) { for (int k = 0; k < N; k++) off[k] = i; return; }
    for (int k = 0; k < N; k++) off[k] = 0;
    for (int d = it.nd - 1; d >= 0; d--) {
        int64_t q = i % it.shape[d];
        i /= it.shape[d];
        for (int k = 0; k < N; k++) off[k] += q * it.st[k][d];
    }
}

#define AG_CUDA_THREADS 256
static inline unsigned grid_for(int64_t n) {
    int64_t b = (n + AG_CUDA_THREADS - 1) / AG_CUDA_THREADS;
    return (unsigned)(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8); /* grid-stride loops cover the rest */
}
#define GRID_STRIDE(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

static inline const char *ag_cuda_dtype_name(ag_dtype dt) { return ag_dtype_name(dt); }

#endif
