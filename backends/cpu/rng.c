/* backends/cpu/rng.c — counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 * Element i of a call draws from the block with key = seed and counter = (offset + i, part),
 * so every element's value is fixed by (seed, offset, i) alone: the same on any thread count
 * and, later, on the GPU whatever the launch shape. part = 0 for a real value or a complex
 * real part, 1 for a complex imaginary part. */
#include <math.h>

#include "backends/cpu/cpu.h"
#include "backends/philox.h"


int ag_cpu_rng(ag_rng_dist dist, const ag_kview *out, uint64_t seed, uint64_t offset, double p0, double p1) {
    int64_t n = 1;
    for (int d = 0; d < out->ndim; d++) n *= out->shape[d];
    ag_dtype dt = out->dtype;
    if (dist == AG_RNG_RANDINT) {
        if (dt != AG_I64) return ag_set_error(AG_ERR_DTYPE, "cpu rng: randint needs i64, given %s", ag_dtype_name(dt));
        int64_t *o = out->data;
        uint64_t range = (uint64_t)((int64_t)p1 - (int64_t)p0);
#pragma omp parallel for if (n >= AG_CPU_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            uint32_t w[4];
            ag_philox(offset + (uint64_t)i, 0, seed, w);
            uint64_t x = ((uint64_t)w[0] << 32) | w[1];
            o[i] = (int64_t)p0 + (int64_t)(uint64_t)(((unsigned __int128)x * range) >> 64);
        }
        return 0;
    }
    bool f32 = dt == AG_F32 || dt == AG_C64;
    /* complex randn: variance 1 in total, 1/2 per part (PyTorch) */
    double scale = ag_dtype_is_complex(dt) && dist == AG_RNG_NORMAL ? M_SQRT1_2 : 1.0;
    switch (dt) {
    case AG_F32: {
        float *o = out->data;
#pragma omp parallel for if (n >= AG_CPU_PAR_MIN)
        for (int64_t i = 0; i < n; i++) o[i] = (float)ag_philox_draw(dist, offset + (uint64_t)i, 0, seed, true, p0, p1);
        return 0;
    }
    case AG_F64: {
        double *o = out->data;
#pragma omp parallel for if (n >= AG_CPU_PAR_MIN)
        for (int64_t i = 0; i < n; i++) o[i] = ag_philox_draw(dist, offset + (uint64_t)i, 0, seed, false, p0, p1);
        return 0;
    }
    case AG_C64:
    case AG_C128: {
#pragma omp parallel for if (n >= AG_CPU_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            double re = ag_philox_draw(dist, offset + (uint64_t)i, 0, seed, f32, p0, p1) * scale;
            double im = ag_philox_draw(dist, offset + (uint64_t)i, 1, seed, f32, p0, p1) * scale;
            if (dt == AG_C64) ((cf32 *)out->data)[i] = CMPLXF((float)re, (float)im);
            else ((cf64 *)out->data)[i] = CMPLX(re, im);
        }
        return 0;
    }
    default:
        return ag_set_error(AG_ERR_DTYPE, "cpu rng: %s is not supported", ag_dtype_name(dt));
    }
}
