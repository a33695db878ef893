/* backends/cuda/rng.cu — Philox4x32-10 draws, element for element the CPU's sequence
 * (backends/cpu/rng.c): element i of a call uses key = seed and counter = (offset + i, part),
 * part 0 for a real value or real part and 1 for an imaginary part, with the same uniform,
 * Box-Muller normal and randint transforms. Uniform and randint values are bit-identical to
 * the CPU's; normal values go through CUDA's log/sqrt/cos, which may differ from glibc's in
 * the last bit. Whatever the launch shape, each element's value depends on (seed, offset, i). */
#include "backends/cuda/common.cuh"
#include "backends/philox.h"


__global__ void rng_randint(int64_t n, int64_t *o, uint64_t seed, uint64_t offset, int64_t lo, uint64_t range) {
    GRID_STRIDE(i, n) {
        uint32_t w[4];
        ag_philox(offset + (uint64_t)i, 0, seed, w);
        uint64_t x = ((uint64_t)w[0] << 32) | w[1];
        o[i] = lo + (int64_t)__umul64hi(x, range);
    }
}

template <class T> __global__ void rng_real(int64_t n, T *o, ag_rng_dist dist, uint64_t seed, uint64_t offset, double p0,
                                            double p1) {
    GRID_STRIDE(i, n) o[i] = (T)ag_philox_draw(dist, offset + (uint64_t)i, 0, seed, sizeof(T) == 4, p0, p1);
}

template <class R> __global__ void rng_cplx(int64_t n, cx<R> *o, ag_rng_dist dist, uint64_t seed, uint64_t offset,
                                            double p0, double p1, double scale) {
    GRID_STRIDE(i, n) {
        double re = ag_philox_draw(dist, offset + (uint64_t)i, 0, seed, sizeof(R) == 4, p0, p1) * scale;
        double im = ag_philox_draw(dist, offset + (uint64_t)i, 1, seed, sizeof(R) == 4, p0, p1) * scale;
        o[i] = mk((R)re, (R)im);
    }
}

extern "C" int ag_cuda_rng(ag_rng_dist dist, const ag_kview *out, uint64_t seed, uint64_t offset, double p0, double p1) {
    int64_t n = 1;
    for (int d = 0; d < out->ndim; d++) n *= out->shape[d];
    ag_dtype dt = out->dtype;
    if (n <= 0) return 0;
    unsigned g = grid_for(n);
    if (dist == AG_RNG_RANDINT) {
        if (dt != AG_I64) return ag_set_error(AG_ERR_DTYPE, "cuda rng: randint needs i64, given %s", ag_dtype_name(dt));
        rng_randint<<<g, AG_CUDA_THREADS>>>(n, (int64_t *)out->data, seed, offset, (int64_t)p0,
                                            (uint64_t)((int64_t)p1 - (int64_t)p0));
        AG_CUDA_LAUNCHED("rng");
        return 0;
    }
    double scale = ag_dtype_is_complex(dt) && dist == AG_RNG_NORMAL ? 0.70710678118654752440 : 1.0;
    switch (dt) {
    case AG_F32: rng_real<float><<<g, AG_CUDA_THREADS>>>(n, (float *)out->data, dist, seed, offset, p0, p1); break;
    case AG_F64: rng_real<double><<<g, AG_CUDA_THREADS>>>(n, (double *)out->data, dist, seed, offset, p0, p1); break;
    case AG_C64: rng_cplx<float><<<g, AG_CUDA_THREADS>>>(n, (c64 *)out->data, dist, seed, offset, p0, p1, scale); break;
    case AG_C128: rng_cplx<double><<<g, AG_CUDA_THREADS>>>(n, (c128 *)out->data, dist, seed, offset, p0, p1, scale); break;
    default: return ag_set_error(AG_ERR_DTYPE, "cuda rng: %s is not supported", ag_dtype_name(dt));
    }
    AG_CUDA_LAUNCHED("rng");
    return 0;
}
