/* backends/cuda/copy.cu — strided copy with dtype conversion, fill, and host <-> device bytes.
 * Conversions follow C casts, as the CPU backend: complex -> real keeps the real part,
 * anything -> bool is "nonzero", float -> int truncates toward zero, narrowing integer casts wrap;
 * float -> u8 goes through int64 (as the CPU backend and PyTorch on x86: -1.5 -> 255). */
#include "backends/cuda/common.cuh"

/* conversion S -> D */
template <class D, class S> struct conv { __device__ static D f(S s) { return (D)s; } };
template <class S> struct conv<bool, S> { __device__ static bool f(S s) { return s != (S)0; } };
template <class R> struct conv<bool, cx<R>> { __device__ static bool f(cx<R> s) { return s.re != 0 || s.im != 0; } };
template <class D, class R> struct conv<D, cx<R>> { __device__ static D f(cx<R> s) { return (D)s.re; } };
template <class R, class S> struct conv<cx<R>, S> { __device__ static cx<R> f(S s) { return mk((R)s, (R)0); } };
template <class R, class Q> struct conv<cx<R>, cx<Q>> { __device__ static cx<R> f(cx<Q> s) { return mk((R)s.re, (R)s.im); } };
template <class R> struct conv<cx<R>, bool> { __device__ static cx<R> f(bool s) { return mk((R)s, (R)0); } };
template <> struct conv<bool, bool> { __device__ static bool f(bool s) { return s; } };
template <class R> struct conv<cx<R>, cx<R>> { __device__ static cx<R> f(cx<R> s) { return s; } };
template <> struct conv<uint8_t, float> { __device__ static uint8_t f(float s) { return (uint8_t)(int64_t)s; } };
template <> struct conv<uint8_t, double> { __device__ static uint8_t f(double s) { return (uint8_t)(int64_t)s; } };
template <class R> struct conv<uint8_t, cx<R>> { __device__ static uint8_t f(cx<R> s) { return (uint8_t)(int64_t)s.re; } };

template <class D, class S> __global__ void copy_kernel(Iter<2> it, D *d, const S *s) {
    GRID_STRIDE(i, it.numel) {
        int64_t off[2];
        iter_offsets(it, i, off);
        d[off[0]] = conv<D, S>::f(s[off[1]]);
    }
}

template <class D, class S> static int launch_copy(const Iter<2> &it, void *d, const void *s) {
    copy_kernel<D, S><<<grid_for(it.numel), AG_CUDA_THREADS>>>(it, (D *)d, (const S *)s);
    AG_CUDA_LAUNCHED("copy");
    return 0;
}

template <class D> static int copy_from(ag_dtype sdt, const Iter<2> &it, void *d, const void *s) {
    switch (sdt) {
    case AG_F32: return launch_copy<D, float>(it, d, s);
    case AG_F64: return launch_copy<D, double>(it, d, s);
    case AG_C64: return launch_copy<D, c64>(it, d, s);
    case AG_C128: return launch_copy<D, c128>(it, d, s);
    case AG_I64: return launch_copy<D, int64_t>(it, d, s);
    case AG_BOOL: return launch_copy<D, bool>(it, d, s);
    case AG_I32: return launch_copy<D, int32_t>(it, d, s);
    case AG_U8: return launch_copy<D, uint8_t>(it, d, s);
    default: return ag_set_error(AG_ERR_DTYPE, "cuda copy: bad source dtype %d", (int)sdt);
    }
}

extern "C" int ag_cuda_copy(const ag_kview *dst, const ag_kview *src) {
    const ag_kview *vs[2] = {dst, src};
    Iter<2> it = iter_init<2>(vs);
    if (it.numel <= 0) return 0;
    /* same dtype and both dense: one memcpy */
    if (dst->dtype == src->dtype && it.dense) {
        AG_CUDA_CHECK(cudaMemcpyAsync(dst->data, src->data, (size_t)it.numel * ag_dtype_size(dst->dtype),
                                      cudaMemcpyDeviceToDevice, 0), "copy");
        return 0;
    }
    switch (dst->dtype) {
    case AG_F32: return copy_from<float>(src->dtype, it, dst->data, src->data);
    case AG_F64: return copy_from<double>(src->dtype, it, dst->data, src->data);
    case AG_C64: return copy_from<c64>(src->dtype, it, dst->data, src->data);
    case AG_C128: return copy_from<c128>(src->dtype, it, dst->data, src->data);
    case AG_I64: return copy_from<int64_t>(src->dtype, it, dst->data, src->data);
    case AG_BOOL: return copy_from<bool>(src->dtype, it, dst->data, src->data);
    case AG_I32: return copy_from<int32_t>(src->dtype, it, dst->data, src->data);
    case AG_U8: return copy_from<uint8_t>(src->dtype, it, dst->data, src->data);
    default: return ag_set_error(AG_ERR_DTYPE, "cuda copy: bad destination dtype %d", (int)dst->dtype);
    }
}

template <class T> __global__ void fill_kernel(Iter<1> it, T *d, T v) {
    GRID_STRIDE(i, it.numel) {
        int64_t off[1];
        iter_offsets(it, i, off);
        d[off[0]] = v;
    }
}
template <class T> static int launch_fill(const Iter<1> &it, void *d, T v) {
    fill_kernel<T><<<grid_for(it.numel), AG_CUDA_THREADS>>>(it, (T *)d, v);
    AG_CUDA_LAUNCHED("fill");
    return 0;
}

extern "C" int ag_cuda_fill(const ag_kview *dst, double re, double im) {
    const ag_kview *vs[1] = {dst};
    Iter<1> it = iter_init<1>(vs);
    if (it.numel <= 0) return 0;
    switch (dst->dtype) {
    case AG_F32: return launch_fill<float>(it, dst->data, (float)re);
    case AG_F64: return launch_fill<double>(it, dst->data, re);
    case AG_C64: return launch_fill<c64>(it, dst->data, mk((float)re, (float)im));
    case AG_C128: return launch_fill<c128>(it, dst->data, mk(re, im));
    case AG_I64: return launch_fill<int64_t>(it, dst->data, (int64_t)re);
    case AG_BOOL: return launch_fill<bool>(it, dst->data, re != 0 || im != 0);
    case AG_I32: return launch_fill<int32_t>(it, dst->data, (int32_t)(int64_t)re);
    case AG_U8: return launch_fill<uint8_t>(it, dst->data, (uint8_t)(int64_t)re);
    default: return ag_set_error(AG_ERR_DTYPE, "cuda fill: bad dtype %d", (int)dst->dtype);
    }
}

/* Synchronous with respect to the host (cudaMemcpy on the default stream waits for earlier
 * kernels), so a download sees every result and an upload's host buffer may be freed after. */
extern "C" int ag_cuda_transfer(void *dst, const void *src, size_t nbytes, bool to_host) {
    if (!nbytes) return 0;
    AG_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice),
                  to_host ? "copy to host" : "copy from host");
    return 0;
}
