/* backends/cpu/vmath.h — branch-free exp, log1p and log that GCC vectorizes (libm's do not),
 * shared by the CPU kernels that evaluate them per element (unary maps, the imaging
 * regularizers). Each is within about 1 ulp of the correctly rounded result and gives the same
 * bits on every ISA (see backends/cpu/unary.c's header comment for how they were checked). */
#ifndef AG_CPU_VMATH_H
#define AG_CPU_VMATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t d2u(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double u2d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static inline uint32_t f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* exp(x), f64: x = k ln2 + r (Cody-Waite, |r| <= ln2/2), exp(r) by its Taylor polynomial of
 * degree 13 (truncation < 1e-17 relative), times 2^k applied in two exact halves so that
 * subnormal results round once. x is clamped to [-746, 710] first, where exp already is
 * 0 or inf; NaN stays NaN (every comparison with it is false). */
static inline double vexp(double x) {
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;
    const double shift = 0x1.8p52;
    double kd = x * 1.4426950408889634 + shift; /* round(x / ln2) in the low mantissa bits */
    uint64_t ku = d2u(kd);
    kd -= shift;
    double r = x - kd * 6.93147180369123816490e-01; /* ln2 high part: exact product */
    r = r - kd * 1.90821492927058770002e-10;        /* ln2 low part */
    double q = 1.0 / 6227020800.0;
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    int64_t k = (int64_t)(ku - d2u(shift)); /* |k| <= 1077 */
    int64_t k1 = k / 2, k2 = k - k1;
    return q * u2d((uint64_t)(k1 + 1023) << 52) * u2d((uint64_t)(k2 + 1023) << 52);
}

/* log1p(v) for v in [0, 1], f32: as vlog1p01 with fdlibm's float kernel (about 1 ulp) */
static inline float vlog1pf01(float v) {
    float u = 1.0f + v;
    float c = (v - (u - 1.0f)) / u;
    bool big = u > 1.41421356f;
    float f = big ? u * 0.5f - 1.0f : u - 1.0f;
    float kf = big ? 1.0f : 0.0f;
    float hfsq = 0.5f * f * f;
    float s = f / (2.0f + f), z = s * s;
    float R = z * (6.6666668653e-01f + z * (4.0000000596e-01f + z * (2.8571429849e-01f + z * (2.2222198546e-01f +
              z * (1.8183572590e-01f + z * 1.5313838422e-01f)))));
    return kf * 6.9313812256e-01f - ((hfsq - (s * (hfsq + R) + (kf * 9.0580006145e-06f + c))) - f);
}

/* exp(x), f32, in float (Cephes expf: degree-6 polynomial, about 1 ulp) */
static inline float vexpf(float x) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    const float shift = 0x1.8p23f;
    float kf = x * 1.44269504088896341f + shift;
    uint32_t ku = f2u(kf);
    kf -= shift;
    float r = x - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float z = r * r;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    q = q * z + r + 1.0f;
    int32_t k = (int32_t)(ku - f2u(shift)); /* |k| <= 151 */
    int32_t k1 = k / 2, k2 = k - k1;
    return q * u2f((uint32_t)(k1 + 127) << 23) * u2f((uint32_t)(k2 + 127) << 23);
}

/* fdlibm's log kernel: log(2^kd (1 + f)) for 1 + f in [√2/2, √2), c the correction of a rounded
 * 1 + f (0 when f is exact) */
static inline double log_kernel(double f, double kd, double c) {
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f), z = s * s;
    double R = z * (6.666666666666735130e-01 + z * (3.999999999940941908e-01 + z * (2.857142874366239149e-01 +
               z * (2.222219843214978396e-01 + z * (1.818357216161805012e-01 + z * (1.531383769920937332e-01 +
               z * 1.479819860511658591e-01))))));
    return kd * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + (kd * 1.90821492927058770002e-10 + c))) - f);
}

/* log1p(v) for v in [0, 1] (NaN passes through): fdlibm's log1p reduction and log kernel.
 * u = 1 + v is split as 2^k (1 + f) with f exact; c corrects the rounding of u. */
static inline double vlog1p01(double v) {
    double u = 1.0 + v;
    double c = (v - (u - 1.0)) / u;
    bool big = u > 1.4142135623730951;
    double f = big ? u * 0.5 - 1.0 : u - 1.0;
    return log_kernel(f, big ? 1.0 : 0.0, c);
}

/* log(x), f64: fdlibm's reduction x = 2^k (1 + f), 1 + f in [√2/2, √2) (f exact), and its log
 * kernel; subnormals are scaled by 2^54 first. 0 gives -inf, x < 0 NaN, +inf inf, NaN NaN. */
static inline double vlog(double x) {
    bool sub = x < 0x1p-1022;
    double y = sub ? x * 0x1p54 : x;
    uint64_t u = d2u(y);
    /* the exponent field as a double without an integer conversion (none in AVX-512F):
     * 2^52 + e has e in its low mantissa bits */
    double kd = u2d(0x4330000000000000ull | (u >> 52)) - (0x1p52 + 1023.0) - (sub ? 54.0 : 0.0);
    double m = u2d((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull); /* [1, 2) */
    bool big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    kd = big ? kd + 1.0 : kd;
    double r = log_kernel(m - 1.0, kd, 0.0);
    r = x == 0 ? -(double)INFINITY : r;
    r = x == (double)INFINITY ? x : r;
    return x < 0 || x != x ? (double)NAN : r;
}

#endif
