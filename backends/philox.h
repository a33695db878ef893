/* backends/philox.h — Philox4x32-10 (Salmon et al., SC'11) and the transforms every backend
 * uses for ag_rand/ag_randn/ag_randint. One definition for the CPU and CUDA kernels, so the two
 * sequences agree by construction: element i of a call uses key = seed and counter =
 * (offset + i, part), part 0 for a real value or real part, 1 for an imaginary part. */
#ifndef AG_BACKENDS_PHILOX_H
#define AG_BACKENDS_PHILOX_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/kernels.h"

AG_HD void ag_philox(uint64_t ctr, uint32_t part, uint64_t seed, uint32_t out[4]) {
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

/* uniform [0,1) with 53 (f64) or 24 (f32) random bits */
AG_HD double ag_philox_u53(uint32_t a, uint32_t b) {
    return ((a >> 5) * 67108864.0 + (b >> 6)) * (1.0 / 9007199254740992.0);
}
AG_HD float ag_philox_u24(uint32_t a) { return (float)(a >> 8) * (1.0f / 16777216.0f); }

/* one uniform (p0 + (p1 - p0) u) or normal (mean p0, std p1; Box-Muller, 1 - u keeps the log
 * argument in (0, 1]) value */
AG_HD double ag_philox_draw(ag_rng_dist dist, uint64_t ctr, uint32_t part, uint64_t seed, bool f32, double p0,
                            double p1) {
    uint32_t w[4];
    ag_philox(ctr, part, seed, w);
    if (dist == AG_RNG_UNIFORM) return p0 + (p1 - p0) * (f32 ? (double)ag_philox_u24(w[0]) : ag_philox_u53(w[0], w[1]));
    double u1 = 1.0 - ag_philox_u53(w[0], w[1]), u2 = ag_philox_u53(w[2], w[3]);
    return p0 + p1 * sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

#endif
