/* backends/cpu/unary.c — unary maps (math, complex parts, scalar arithmetic). One loop per
 * (op, dtype); params (scalars, bounds) arrive through ctx. libm is used for most ops (never
 * fast approximations). exp, softplus and complex abs use the branch-free routines below
 * instead, so the loops vectorize (PyTorch's own vectorized exp/log1p are not libm either):
 * each is within about 1 ulp of the correctly rounded result (checked against libm over
 * 10^8 random arguments, edge cases included), and gives the same bits on every ISA. */
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu.h"

/* Loops with selects and sqrt vectorize only when GCC need not keep FP exception flags and
 * errno exact; the computed values are the same (this is not -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno", "fp-contract=off")
#endif

#define UN_LOOP(NAME, TI, TO, EXPR)                                                     \
    AG_CPU_CLONES static void NAME(void *ctx, char **p, const int64_t *bs, int64_t n) { \
        const double *P = (const double *)ctx;                                          \
        (void)P;                                                                        \
        if (bs[0] == sizeof(TO) && bs[1] == sizeof(TI)) {                               \
            TO *o = (TO *)p[0];                                                         \
            const TI *in = (const TI *)p[1];                                            \
            for (int64_t i = 0; i < n; i++) { TI x = in[i]; o[i] = (EXPR); }            \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) {                                           \
                TI x = *(const TI *)(p[1] + i * bs[1]);                                 \
                *(TO *)(p[0] + i * bs[0]) = (EXPR);                                     \
            }                                                                           \
        }                                                                               \
    }

/* ---- vectorizable exp / log1p / |z| ------------------------------------------------- */
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

/* log1p(v) for v in [0, 1] (NaN passes through): fdlibm's log1p reduction and log kernel.
 * u = 1 + v is split as 2^k (1 + f) with f exact; c corrects the rounding of u. */
static inline double vlog1p01(double v) {
    double u = 1.0 + v;
    double c = (v - (u - 1.0)) / u;
    bool big = u > 1.4142135623730951;
    double f = big ? u * 0.5 - 1.0 : u - 1.0;
    double kd = big ? 1.0 : 0.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f), z = s * s;
    double R = z * (6.666666666666735130e-01 + z * (3.999999999940941908e-01 + z * (2.857142874366239149e-01 +
               z * (2.222219843214978396e-01 + z * (1.818357216161805012e-01 + z * (1.531383769920937332e-01 +
               z * 1.479819860511658591e-01))))));
    return kd * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + (kd * 1.90821492927058770002e-10 + c))) - f);
}

/* softplus in f64: x if x b > t, else log1p(exp(x b)) / b computed as
 * (max(y, 0) + log1p(exp(-|y|))) / b, y = x b (the same value; no overflow for large y) */
static inline double vsoftplus(double x, double b, double t) {
    double y = x * b;
    double ay = y < 0 ? -y : y;
    double m = y > 0 ? y : 0.0;
    double r = (m + vlog1p01(vexp(-ay))) / b;
    return y > t ? x : r;
}

/* |z| without hypot: sqrt(re^2 + im^2) after an exact power-of-two scaling when the squares
 * could overflow or underflow; inf if either part is infinite (even with a NaN), as hypot. */
static inline double vcabs(double re, double im) {
    double a = re < 0 ? -re : re, b = im < 0 ? -im : im;
    double m = a > b ? a : b;
    double s = m > 0x1p500 ? 0x1p-600 : m < 0x1p-500 ? 0x1p600 : 1.0;
    double is = m > 0x1p500 ? 0x1p600 : m < 0x1p-500 ? 0x1p-600 : 1.0;
    a *= s;
    b *= s;
    double r = sqrt(a * a + b * b) * is;
    return a == INFINITY || b == INFINITY ? INFINITY : r;
}
static inline float vcabsf(float re, float im) { /* in double: no overflow, exact squares */
    double a = re, b = im;
    float r = (float)sqrt(a * a + b * b);
    return re == INFINITY || re == -INFINITY || im == INFINITY || im == -INFINITY ? INFINITY : r;
}

static inline float sgnf(float x) { return (float)((x > 0) - (x < 0)); }
static inline double sgnd(double x) { return (double)((x > 0) - (x < 0)); }
static inline cf32 csgnf(cf32 z) { float a = cabsf(z); return a == 0 ? 0 : z / a; }
static inline cf64 csgnd(cf64 z) { double a = cabs(z); return a == 0 ? 0 : z / a; }
/* f32, in float as PyTorch (about 2 ulp) */
static inline float vsoftplusf(float x, float b, float t) {
    float y = x * b;
    float ay = y < 0 ? -y : y, m = y > 0 ? y : 0.0f;
    float r = (m + vlog1pf01(vexpf(-ay))) / b;
    return y > t ? x : r;
}
static inline int64_t ipow(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
    int64_t r = 1;
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
    return r;
}
static inline cf64 cpow_s(cf64 z, double p) { return p == 2 ? z * z : p == 1 ? z : cpow(z, p); }
static inline cf32 cpowf_s(cf32 z, float p) { return p == 2 ? z * z : p == 1 ? z : cpowf(z, p); }
#define CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x)) /* NaN stays NaN */

/* the four float dtypes */
#define UN_FLOAT(OP, EF, ED, EC, EZ)                     \
    UN_LOOP(OP##_f32, float, float, EF)                  \
    UN_LOOP(OP##_f64, double, double, ED)                \
    UN_LOOP(OP##_c64, cf32, cf32, EC)                    \
    UN_LOOP(OP##_c128, cf64, cf64, EZ)
#define UN_REAL(OP, EF, ED)                              \
    UN_LOOP(OP##_f32, float, float, EF)                  \
    UN_LOOP(OP##_f64, double, double, ED)

UN_FLOAT(neg, -x, -x, -x, -x)
UN_LOOP(neg_i64, int64_t, int64_t, -x)
UN_REAL(abs, fabsf(x), fabs(x))
UN_LOOP(abs_c64, cf32, float, vcabsf(crealf(x), cimagf(x)))
UN_LOOP(abs_c128, cf64, double, vcabs(creal(x), cimag(x)))
UN_LOOP(abs_i64, int64_t, int64_t, x < 0 ? -x : x)
UN_LOOP(abs_bool, bool, bool, x)
UN_FLOAT(sign, sgnf(x), sgnd(x), csgnf(x), csgnd(x))
UN_LOOP(sign_i64, int64_t, int64_t, (x > 0) - (x < 0))
UN_FLOAT(square, x * x, x * x, x * x, x * x)
UN_LOOP(square_i64, int64_t, int64_t, x * x)
UN_FLOAT(recip, 1.0f / x, 1.0 / x, 1.0f / x, 1.0 / x)
UN_FLOAT(exp, vexpf(x), vexp(x), cexpf(x), cexp(x))
UN_FLOAT(log, logf(x), log(x), clogf(x), clog(x))
UN_FLOAT(log1p, log1pf(x), log1p(x), clogf(1.0f + x), clog(1.0 + x))
UN_FLOAT(expm1, expm1f(x), expm1(x), cexpf(x) - 1.0f, cexp(x) - 1.0)
UN_FLOAT(sqrt, sqrtf(x), sqrt(x), csqrtf(x), csqrt(x))
UN_FLOAT(rsqrt, 1.0f / sqrtf(x), 1.0 / sqrt(x), 1.0f / csqrtf(x), 1.0 / csqrt(x))
UN_FLOAT(sin, sinf(x), sin(x), csinf(x), csin(x))
UN_FLOAT(cos, cosf(x), cos(x), ccosf(x), ccos(x))
UN_FLOAT(tanh, tanhf(x), tanh(x), ctanhf(x), ctanh(x))
UN_FLOAT(sigmoid, 1.0f / (1.0f + expf(-x)), 1.0 / (1.0 + exp(-x)), 1.0f / (1.0f + cexpf(-x)), 1.0 / (1.0 + cexp(-x)))
UN_REAL(softplus, vsoftplusf(x, (float)P[0], (float)P[1]), vsoftplus(x, P[0], P[1]))
UN_REAL(erf, erff(x), erf(x))
UN_REAL(clamp, CLAMP(x, (float)P[0], (float)P[1]), CLAMP(x, P[0], P[1]))
UN_LOOP(clamp_i64, int64_t, int64_t, (x < P[0] ? (int64_t)ceil(P[0]) : x > P[1] ? (int64_t)floor(P[1]) : x))
UN_LOOP(conj_c64, cf32, cf32, conjf(x))
UN_LOOP(conj_c128, cf64, cf64, conj(x))
UN_REAL(angle, x < 0 ? (float)M_PI : x == x ? 0.0f : x, x < 0 ? M_PI : x == x ? 0.0 : x)
UN_LOOP(angle_c64, cf32, float, cargf(x))
UN_LOOP(angle_c128, cf64, double, carg(x))
UN_FLOAT(adds, x + (float)P[0], x + P[0], x + CMPLXF((float)P[0], (float)P[1]), x + CMPLX(P[0], P[1]))
UN_LOOP(adds_i64, int64_t, int64_t, x + (int64_t)P[0])
UN_FLOAT(muls, x * (float)P[0], x * P[0], x * CMPLXF((float)P[0], (float)P[1]), x * CMPLX(P[0], P[1]))
UN_LOOP(muls_i64, int64_t, int64_t, x * (int64_t)P[0])
UN_FLOAT(rsubs, (float)P[0] - x, P[0] - x, CMPLXF((float)P[0], (float)P[1]) - x, CMPLX(P[0], P[1]) - x)
UN_LOOP(rsubs_i64, int64_t, int64_t, (int64_t)P[0] - x)
UN_FLOAT(pows, P[0] == 2 ? x * x : powf(x, (float)P[0]), P[0] == 2 ? x * x : pow(x, P[0]),
         cpowf_s(x, (float)P[0]), cpow_s(x, P[0]))
UN_LOOP(pows_i64, int64_t, int64_t, ipow(x, (int64_t)P[0]))
UN_LOOP(not_bool, bool, bool, !x)
UN_REAL(relu, x < 0 ? 0.0f : x, x < 0 ? 0.0 : x)
/* rounding (nearbyint: the default rounding mode, half to even, as torch.round); i64 unchanged */
UN_REAL(floor, floorf(x), floor(x))
UN_REAL(ceil, ceilf(x), ceil(x))
UN_REAL(round, nearbyintf(x), nearbyint(x))
UN_LOOP(ident_i64, int64_t, int64_t, x)
UN_FLOAT(asin, asinf(x), asin(x), casinf(x), casin(x))
UN_FLOAT(acos, acosf(x), acos(x), cacosf(x), cacos(x))
UN_FLOAT(atan, atanf(x), atan(x), catanf(x), catan(x))
UN_FLOAT(sinh, sinhf(x), sinh(x), csinhf(x), csinh(x))
UN_FLOAT(cosh, coshf(x), cosh(x), ccoshf(x), ccosh(x))
/* complex: log(z) / log(base), as PyTorch */
UN_FLOAT(log2, log2f(x), log2(x), clogf(x) / (float)M_LN2, clog(x) / M_LN2)
UN_FLOAT(log10, log10f(x), log10(x), clogf(x) / (float)M_LN10, clog(x) / M_LN10)
/* predicates -> bool; complex componentwise as PyTorch; integers are never NaN or infinite */
#define UN_PRED(OP, EF, EC)                                      \
    UN_LOOP(OP##_f32, float, bool, EF)                           \
    UN_LOOP(OP##_f64, double, bool, EF)                          \
    UN_LOOP(OP##_c64, cf32, bool, EC(crealf(x), cimagf(x)))     \
    UN_LOOP(OP##_c128, cf64, bool, EC(creal(x), cimag(x)))
#define C_ISNAN(re, im) (isnan(re) || isnan(im))
#define C_ISINF(re, im) (isinf(re) || isinf(im))
#define C_ISFINITE(re, im) (isfinite(re) && isfinite(im))
UN_PRED(isnan, isnan(x), C_ISNAN)
UN_PRED(isinf, isinf(x), C_ISINF)
UN_PRED(isfinite, isfinite(x), C_ISFINITE)
UN_LOOP(false_i64, int64_t, bool, ((void)x, false))
UN_LOOP(false_bool, bool, bool, ((void)x, false))
UN_LOOP(true_i64, int64_t, bool, ((void)x, true))
UN_LOOP(true_bool, bool, bool, ((void)x, true))

#define ROW_F(OP) {OP##_f32, OP##_f64, OP##_c64, OP##_c128, NULL, NULL}
#define ROW_FI(OP) {OP##_f32, OP##_f64, OP##_c64, OP##_c128, OP##_i64, NULL}
#define ROW_R(OP) {OP##_f32, OP##_f64, NULL, NULL, NULL, NULL}
static const ag_cpu_loop table[AG_UN_COUNT][AG_NUM_DTYPES] = {
    [AG_UN_NEG] = ROW_FI(neg),
    [AG_UN_ABS] = {abs_f32, abs_f64, abs_c64, abs_c128, abs_i64, abs_bool},
    [AG_UN_SIGN] = ROW_FI(sign), [AG_UN_SQUARE] = ROW_FI(square), [AG_UN_RECIPROCAL] = ROW_F(recip),
    [AG_UN_EXP] = ROW_F(exp), [AG_UN_LOG] = ROW_F(log), [AG_UN_LOG1P] = ROW_F(log1p),
    [AG_UN_EXPM1] = ROW_F(expm1), [AG_UN_SQRT] = ROW_F(sqrt), [AG_UN_RSQRT] = ROW_F(rsqrt),
    [AG_UN_SIN] = ROW_F(sin), [AG_UN_COS] = ROW_F(cos), [AG_UN_TANH] = ROW_F(tanh),
    [AG_UN_SIGMOID] = ROW_F(sigmoid), [AG_UN_SOFTPLUS] = ROW_R(softplus), [AG_UN_ERF] = ROW_R(erf),
    [AG_UN_CLAMP] = {clamp_f32, clamp_f64, NULL, NULL, clamp_i64, NULL},
    [AG_UN_CONJ] = {NULL, NULL, conj_c64, conj_c128, NULL, NULL},
    [AG_UN_ANGLE] = ROW_F(angle),
    [AG_UN_ADD_S] = ROW_FI(adds), [AG_UN_MUL_S] = ROW_FI(muls), [AG_UN_POW_S] = ROW_FI(pows),
    [AG_UN_RSUB_S] = ROW_FI(rsubs), [AG_UN_NOT] = {[AG_BOOL] = not_bool},
    [AG_UN_RELU] = ROW_R(relu),
    [AG_UN_FLOOR] = {floor_f32, floor_f64, NULL, NULL, ident_i64, NULL},
    [AG_UN_CEIL] = {ceil_f32, ceil_f64, NULL, NULL, ident_i64, NULL},
    [AG_UN_ROUND] = {round_f32, round_f64, NULL, NULL, ident_i64, NULL},
    [AG_UN_ASIN] = ROW_F(asin), [AG_UN_ACOS] = ROW_F(acos), [AG_UN_ATAN] = ROW_F(atan),
    [AG_UN_SINH] = ROW_F(sinh), [AG_UN_COSH] = ROW_F(cosh), [AG_UN_LOG2] = ROW_F(log2),
    [AG_UN_LOG10] = ROW_F(log10),
    [AG_UN_ISNAN] = {isnan_f32, isnan_f64, isnan_c64, isnan_c128, false_i64, false_bool},
    [AG_UN_ISINF] = {isinf_f32, isinf_f64, isinf_c64, isinf_c128, false_i64, false_bool},
    [AG_UN_ISFINITE] = {isfinite_f32, isfinite_f64, isfinite_c64, isfinite_c128, true_i64, true_bool},
};

static const char *un_names[] = {
#define X(n) #n,
    AG_UNARY_OPS(X)
#undef X
};

int ag_cpu_unary(ag_unary_op op, const ag_kview *out, const ag_kview *in, const double *params) {
    if ((unsigned)op >= AG_UN_COUNT || (unsigned)in->dtype >= AG_NUM_DTYPES || !table[op][in->dtype])
        return ag_set_error(AG_ERR_DTYPE, "cpu unary %s: dtype %s not supported",
                            (unsigned)op < AG_UN_COUNT ? un_names[op] : "?", ag_dtype_name(in->dtype));
    const ag_kview *vs[2] = {out, in};
    ag_cpu_iter it;
    ag_cpu_iter_init(&it, 2, vs);
    ag_cpu_iter_run(&it, table[op][in->dtype], (void *)params);
    return 0;
}
