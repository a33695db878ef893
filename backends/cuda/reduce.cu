/* backends/cuda/reduce.cu — sum/prod/max/min over any set of dims, deterministic.
 *
 * Dims are split into kept (K) and reduced (R) groups, each coalesced (as the CPU plan).
 * Every output's R elements are cut into chunks of CHUNK; a block of THREADS threads reduces
 * one chunk: thread t folds elements t, t + THREADS, ... in order, then the block combines
 * its threads with a warp-shuffle tree and the warps through shared memory, always in the
 * same pattern. Chunk results are combined by a second launch the same way. CHUNK and
 * THREADS are compile-time constants, so the combination order depends only on the shapes,
 * never on the grid size or the GPU. Few-element reductions (R <= 32) use one thread per
 * output, folding in order. f32 accumulates in f64 and c64 in c128, as the CPU. Max/min
 * carry (value, index): NaN wins, and among equal values the smallest index wins, which is
 * order-independent and equals the CPU's "first extreme". */
#include <type_traits>

#include "backends/cuda/common.cuh"
#include "backends/reduce_plan.h"

#define THREADS 256
#define CHUNK (THREADS * 16)
#define SMALL_R 32

/* ---- accumulators ---------------------------------------------------------------------- */
template <class T> struct Ext { T v; int64_t i; }; /* i < 0: empty */

__device__ inline double shfl(double v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ inline int64_t shfl(int64_t v, int d) { return (int64_t)__shfl_down_sync(0xffffffffu, (long long)v, d); }
__device__ inline float shfl(float v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ inline bool shfl(bool v, int d) { return __shfl_down_sync(0xffffffffu, (int)v, d) != 0; }
template <class R> __device__ inline cx<R> shfl(cx<R> v, int d) { return mk(shfl(v.re, d), shfl(v.im, d)); }
template <class T> __device__ inline Ext<T> shfl(Ext<T> v, int d) { Ext<T> r; r.v = shfl(v.v, d); r.i = shfl(v.i, d); return r; }

/* Sum / Prod over accumulator ACC */
template <class ACC, bool PROD> struct Arith {
    typedef ACC acc;
    __device__ static ACC id() { return (ACC)(PROD ? 1 : 0); }
    __device__ static ACC comb(ACC a, ACC b) { return PROD ? a * b : a + b; }
    template <class T> __device__ static ACC load(T x, int64_t) { return (ACC)x; }
    template <class T> __device__ static T out(ACC a) { return (T)a; }
};
template <class R, bool PROD> struct Arith<cx<R>, PROD> {
    typedef cx<R> acc;
    __device__ static cx<R> id() { return mk((R)(PROD ? 1 : 0), (R)0); }
    __device__ static cx<R> comb(cx<R> a, cx<R> b) {
        return PROD ? mk(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re) : mk(a.re + b.re, a.im + b.im);
    }
    template <class Q> __device__ static cx<R> load(cx<Q> x, int64_t) { return mk((R)x.re, (R)x.im); }
    template <class T> __device__ static T out(cx<R> a) { T t; t.re = a.re; t.im = a.im; return t; }
};
template <class T, bool MAX> struct Extreme {
    typedef Ext<T> acc;
    __device__ static Ext<T> id() { Ext<T> e; e.v = T(); e.i = -1; return e; }
    /* order-independent: NaN beats numbers, the better value wins, ties go to the smaller index */
    __device__ static Ext<T> comb(Ext<T> a, Ext<T> b) {
        if (a.i < 0) return b;
        if (b.i < 0) return a;
        bool an = a.v != a.v, bn = b.v != b.v;
        if (an || bn) return an && bn ? (a.i < b.i ? a : b) : an ? a : b;
        if (MAX ? a.v > b.v : a.v < b.v) return a;
        if (MAX ? b.v > a.v : b.v < a.v) return b;
        return a.i < b.i ? a : b;
    }
    __device__ static Ext<T> load(T x, int64_t r) { Ext<T> e; e.v = x; e.i = r; return e; }
    template <class U> __device__ static U out(Ext<T> a) { return a.v; }
};

/* block-wide combination in a fixed pattern; the result is valid in thread 0 */
template <class OP> __device__ typename OP::acc block_reduce(typename OP::acc v) {
    typedef typename OP::acc ACC;
    __shared__ ACC warp_res[THREADS / 32];
    for (int d = 16; d > 0; d >>= 1) v = OP::comb(v, shfl(v, d));
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    if (lane == 0) warp_res[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < THREADS / 32 ? warp_res[lane] : OP::id();
        for (int d = 16; d > 0; d >>= 1) v = OP::comb(v, shfl(v, d));
    }
    __syncthreads(); /* warp_res is reused by the next iteration of the caller's block loop */
    return v;
}

template <class T, class OP> __device__ inline void store(const ag_red_plan &p, T *out, int64_t *idx, int64_t k,
                                                          typename OP::acc a) {
    int64_t oi, oo, ox;
    ag_red_k_offsets(&p, k, &oi, &oo, &ox);
    out[oo] = OP::template out<T>(a);
    if constexpr (std::is_same<typename OP::acc, Ext<T>>::value) {
        if (idx) idx[ox] = a.i;
    }
}

/* pass 1: block b reduces chunk b % nchunks of output b / nchunks; writes the output directly
 * when there is one chunk, else partial[b] */
template <class T, class OP> __global__ void __launch_bounds__(THREADS)
red_chunks(ag_red_plan p, const T *in, T *out, int64_t *idx, int64_t nchunks, typename OP::acc *partial) {
    for (int64_t b = blockIdx.x; b < p.K * nchunks; b += gridDim.x) {
        int64_t k = b / nchunks, c = b % nchunks;
        int64_t oi, oo, ox;
        ag_red_k_offsets(&p, k, &oi, &oo, &ox);
        const T *x = in + oi;
        int64_t r0 = c * CHUNK, r1 = r0 + CHUNK < p.R ? r0 + CHUNK : p.R;
        typename OP::acc v = OP::id();
        for (int64_t r = r0 + threadIdx.x; r < r1; r += THREADS) v = OP::comb(v, OP::load(x[ag_red_r_offset(&p, r)], r));
        v = block_reduce<OP>(v);
        if (threadIdx.x == 0) {
            if (partial) partial[b] = v;
            else store<T, OP>(p, out, idx, k, v);
        }
    }
}

/* pass 2: output k combines partial[k * nchunks .. + nchunks) */
template <class T, class OP> __global__ void __launch_bounds__(THREADS)
red_partials(ag_red_plan p, T *out, int64_t *idx, int64_t nchunks, const typename OP::acc *partial) {
    for (int64_t k = blockIdx.x; k < p.K; k += gridDim.x) {
        typename OP::acc v = OP::id();
        for (int64_t c = threadIdx.x; c < nchunks; c += THREADS) v = OP::comb(v, partial[k * nchunks + c]);
        v = block_reduce<OP>(v);
        if (threadIdx.x == 0) store<T, OP>(p, out, idx, k, v);
    }
}

/* short reductions: one thread per output, in order */
template <class T, class OP> __global__ void red_small(ag_red_plan p, const T *in, T *out, int64_t *idx) {
    GRID_STRIDE(k, p.K) {
        int64_t oi, oo, ox;
        ag_red_k_offsets(&p, k, &oi, &oo, &ox);
        typename OP::acc v = OP::id();
        for (int64_t r = 0; r < p.R; r++) v = OP::comb(v, OP::load(in[oi + ag_red_r_offset(&p, r)], r));
        store<T, OP>(p, out, idx, k, v);
    }
}

static unsigned blocks_for(int64_t n) { return (unsigned)(n < 65535 * 16 ? n : 65535 * 16); }

template <class T, class OP> static int run(const ag_red_plan &p, const ag_kview *out, const ag_kview *idx, const ag_kview *in) {
    T *o = (T *)out->data;
    int64_t *ix = idx ? (int64_t *)idx->data : NULL;
    const T *x = (const T *)in->data;
    if (p.R <= SMALL_R) {
        red_small<T, OP><<<grid_for(p.K), AG_CUDA_THREADS>>>(p, x, o, ix);
        AG_CUDA_LAUNCHED("reduce");
        return 0;
    }
    int64_t nchunks = (p.R + CHUNK - 1) / CHUNK;
    if (nchunks == 1) {
        red_chunks<T, OP><<<blocks_for(p.K), THREADS>>>(p, x, o, ix, 1, NULL);
        AG_CUDA_LAUNCHED("reduce");
        return 0;
    }
    typedef typename OP::acc ACC;
    size_t nb = (size_t)(p.K * nchunks) * sizeof(ACC);
    ACC *part = (ACC *)ag_cuda_alloc(nb);
    if (!part) return ag_set_error(AG_ERR_NOMEM, "cuda reduce: cannot allocate %zu bytes of partial results", nb);
    red_chunks<T, OP><<<blocks_for(p.K * nchunks), THREADS>>>(p, x, o, ix, nchunks, part);
    red_partials<T, OP><<<blocks_for(p.K), THREADS>>>(p, o, ix, nchunks, part);
    ag_cuda_free(part, nb); /* stream-ordered: the next user of the block runs after these kernels */
    AG_CUDA_LAUNCHED("reduce");
    return 0;
}

extern "C" int ag_cuda_reduce(ag_reduce_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in) {
    ag_red_plan p;
    ag_red_plan_make(&p, out, idx, in);
    if (p.K == 0) return 0;
    bool ext = op == AG_RED_MAX || op == AG_RED_MIN;
    if (p.R == 0) {
        if (ext) return ag_set_error(AG_ERR_SHAPE, "cuda reduce: max/min over an empty dim");
        return ag_cuda_fill(out, op == AG_RED_PROD ? 1 : 0, 0);
    }
    if (ext) {
        bool mx = op == AG_RED_MAX;
        switch (in->dtype) {
        case AG_F32: return mx ? run<float, Extreme<float, true>>(p, out, idx, in) : run<float, Extreme<float, false>>(p, out, idx, in);
        case AG_F64: return mx ? run<double, Extreme<double, true>>(p, out, idx, in) : run<double, Extreme<double, false>>(p, out, idx, in);
        case AG_I64: return mx ? run<int64_t, Extreme<int64_t, true>>(p, out, idx, in) : run<int64_t, Extreme<int64_t, false>>(p, out, idx, in);
        case AG_BOOL: return mx ? run<bool, Extreme<bool, true>>(p, out, idx, in) : run<bool, Extreme<bool, false>>(p, out, idx, in);
        default: return ag_set_error(AG_ERR_DTYPE, "cuda reduce: max/min of %s is not supported", ag_dtype_name(in->dtype));
        }
    }
    bool pr = op == AG_RED_PROD;
    switch (in->dtype) {
    case AG_F32: return pr ? run<float, Arith<double, true>>(p, out, idx, in) : run<float, Arith<double, false>>(p, out, idx, in);
    case AG_F64: return pr ? run<double, Arith<double, true>>(p, out, idx, in) : run<double, Arith<double, false>>(p, out, idx, in);
    case AG_C64: return pr ? run<c64, Arith<c128, true>>(p, out, idx, in) : run<c64, Arith<c128, false>>(p, out, idx, in);
    case AG_C128: return pr ? run<c128, Arith<c128, true>>(p, out, idx, in) : run<c128, Arith<c128, false>>(p, out, idx, in);
    case AG_I64: return pr ? run<int64_t, Arith<int64_t, true>>(p, out, idx, in) : run<int64_t, Arith<int64_t, false>>(p, out, idx, in);
    default: return ag_set_error(AG_ERR_DTYPE, "cuda reduce: sum/prod of %s is not supported", ag_dtype_name(in->dtype));
    }
}
