/* backends/cpu/rng.c — counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 * Element i of a call draws from the block with key = seed and counter = (offset + i, part),
 * so every element's value is fixed by (seed, offset, i) alone: the same on any thread count
 * and, later, on the GPU whatever the launch shape. part = 0 for a real value or a complex
 * real part, 1 for a complex imaginary part. */
#include <math.h>

#include "backends/cpu/cpu.h"

static inline void philox(uint64_t ctr, uint32_t part, uint64_t seed, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = part, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* uniform [0,1) with 53 random bits */
static inline double u53(uint32_t a, uint32_t b) { return ((a >> 5) * 67108864.0 + (b >> 6)) * (1.0 / 9007199254740992.0); }
static inline float u24(uint32_t a) { return (float)(a >> 8) * (1.0f / 16777216.0f); }

static inline double draw(ag_rng_dist dist, uint64_t ctr, uint32_t part, uint64_t seed, bool f32, double p0, double p1) {
    uint32_t w[4];
    philox(ctr, part, seed, w);
    if (dist == AG_RNG_UNIFORM) return p0 + (p1 - p0) * (f32 ? (double)u24(w[0]) : u53(w[0], w[1]));
    /* Box-Muller on two uniforms; 1 - u keeps the log argument in (0, 1] */
    double u1 = 1.0 - u53(w[0], w[1]), u2 = u53(w[2], w[3]);
    return p0 + p1 * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

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
            philox(offset + (uint64_t)i, 0, seed, w);
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
        for (int64_t i = 0; i < n; i++) o[i] = (float)draw(dist, offset + (uint64_t)i, 0, seed, true, p0, p1);
        return 0;
    }
    case AG_F64: {
        double *o = out->data;
#pragma omp parallel for if (n >= AG_CPU_PAR_MIN)
        for (int64_t i = 0; i < n; i++) o[i] = draw(dist, offset + (uint64_t)i, 0, seed, false, p0, p1);
        return 0;
    }
    case AG_C64:
    case AG_C128: {
#pragma omp parallel for if (n >= AG_CPU_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            double re = draw(dist, offset + (uint64_t)i, 0, seed, f32, p0, p1) * scale;
            double im = draw(dist, offset + (uint64_t)i, 1, seed, f32, p0, p1) * scale;
            if (dt == AG_C64) ((cf32 *)out->data)[i] = CMPLXF((float)re, (float)im);
            else ((cf64 *)out->data)[i] = CMPLX(re, im);
        }
        return 0;
    }
    default:
        return ag_set_error(AG_ERR_DTYPE, "cpu rng: %s is not supported", ag_dtype_name(dt));
    }
}
