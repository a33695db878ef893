/* backends/cuda/cmath.cuh — the complex elementary functions the unary and binary kernels use
 * (C99 <complex.h> semantics for finite arguments; overflow/inf corner cases are not tuned). */
#ifndef AG_BACKENDS_CUDA_CMATH_CUH
#define AG_BACKENDS_CUDA_CMATH_CUH

#include "backends/cuda/common.cuh"

template <class R> __device__ inline R c_abs(cx<R> z) { return hypot(z.re, z.im); }
template <> __device__ inline float c_abs(c64 z) { return (float)hypot((double)z.re, (double)z.im); }
template <class R> __device__ inline R c_arg(cx<R> z) { return atan2(z.im, z.re); }
template <class R> __device__ inline cx<R> c_exp(cx<R> z) {
    R e = exp(z.re);
    if (z.im == 0) return mk(e, z.im);
    R s, c;
    sincos(z.im, &s, &c);
    return mk(e * c, e * s);
}
template <class R> __device__ inline cx<R> c_log(cx<R> z) {
    R a = fabs(z.re), b = fabs(z.im);
    R hi = a > b ? a : b, lo = a > b ? b : a;
    R lr;
    if (hi > (R)0.5 && hi < (R)2) lr = (R)0.5 * log1p((hi - 1) * (hi + 1) + lo * lo); /* |z| near 1 */
    else lr = log(hypot(z.re, z.im));
    return mk(lr, atan2(z.im, z.re));
}
template <class R> __device__ inline cx<R> c_sqrt(cx<R> z) {
    R x = z.re, y = z.im;
    if (x == 0 && y == 0) return mk((R)0, y);
    if (isinf(y)) return mk((R)INFINITY, y);
    R t = sqrt((fabs(x) + hypot(x, y)) * (R)0.5);
    if (x >= 0) return mk(t, y / (2 * t));
    return mk(fabs(y) / (2 * t), copysign(t, y));
}
template <class R> __device__ inline cx<R> c_sin(cx<R> z) {
    R s, c;
    sincos(z.re, &s, &c);
    return mk(s * cosh(z.im), c * sinh(z.im));
}
template <class R> __device__ inline cx<R> c_cos(cx<R> z) {
    R s, c;
    sincos(z.re, &s, &c);
    return mk(c * cosh(z.im), -(s * sinh(z.im)));
}
template <class R> __device__ inline cx<R> c_tanh(cx<R> z) {
    R x = z.re, y = z.im;
    R thr = sizeof(R) == 4 ? (R)10 : (R)20;
    R s, c;
    sincos(y, &s, &c);
    if (fabs(x) > thr) return mk(copysign((R)1, x), 4 * s * c * exp(-2 * fabs(x)));
    R d = cosh(2 * x) + (c * c - s * s);
    return mk(sinh(2 * x) / d, 2 * s * c / d);
}
template <class R> __device__ inline cx<R> c_pow(cx<R> a, cx<R> b) {
    if (b.re == 0 && b.im == 0) return mk((R)1, (R)0);
    if (a.re == 0 && a.im == 0 && b.im == 0 && b.re > 0) return mk((R)0, (R)0);
    return c_exp(b * c_log(a));
}

#endif
