/* backends/cpu/unary.c — unary maps (math, complex parts, scalar arithmetic). One loop per
 * (op, dtype); params (scalars, bounds) arrive through ctx. libm is used throughout (never
 * fast approximations) so f64 results match PyTorch to the last bits where libm does. */
#include <math.h>

#include "backends/cpu/cpu.h"

#define UN_LOOP(NAME, TI, TO, EXPR)                                                     \
    static void NAME(void *ctx, char **p, const int64_t *bs, int64_t n) {               \
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

static inline float sgnf(float x) { return (float)((x > 0) - (x < 0)); }
static inline double sgnd(double x) { return (double)((x > 0) - (x < 0)); }
static inline cf32 csgnf(cf32 z) { float a = cabsf(z); return a == 0 ? 0 : z / a; }
static inline cf64 csgnd(cf64 z) { double a = cabs(z); return a == 0 ? 0 : z / a; }
static inline float softplusf(float x, float b, float t) { return x * b > t ? x : log1pf(expf(x * b)) / b; }
static inline double softplusd(double x, double b, double t) { return x * b > t ? x : log1p(exp(x * b)) / b; }
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
UN_LOOP(abs_c64, cf32, float, cabsf(x))
UN_LOOP(abs_c128, cf64, double, cabs(x))
UN_LOOP(abs_i64, int64_t, int64_t, x < 0 ? -x : x)
UN_LOOP(abs_bool, bool, bool, x)
UN_FLOAT(sign, sgnf(x), sgnd(x), csgnf(x), csgnd(x))
UN_LOOP(sign_i64, int64_t, int64_t, (x > 0) - (x < 0))
UN_FLOAT(square, x * x, x * x, x * x, x * x)
UN_LOOP(square_i64, int64_t, int64_t, x * x)
UN_FLOAT(recip, 1.0f / x, 1.0 / x, 1.0f / x, 1.0 / x)
UN_FLOAT(exp, expf(x), exp(x), cexpf(x), cexp(x))
UN_FLOAT(log, logf(x), log(x), clogf(x), clog(x))
UN_FLOAT(log1p, log1pf(x), log1p(x), clogf(1.0f + x), clog(1.0 + x))
UN_FLOAT(expm1, expm1f(x), expm1(x), cexpf(x) - 1.0f, cexp(x) - 1.0)
UN_FLOAT(sqrt, sqrtf(x), sqrt(x), csqrtf(x), csqrt(x))
UN_FLOAT(rsqrt, 1.0f / sqrtf(x), 1.0 / sqrt(x), 1.0f / csqrtf(x), 1.0 / csqrt(x))
UN_FLOAT(sin, sinf(x), sin(x), csinf(x), csin(x))
UN_FLOAT(cos, cosf(x), cos(x), ccosf(x), ccos(x))
UN_FLOAT(tanh, tanhf(x), tanh(x), ctanhf(x), ctanh(x))
UN_FLOAT(sigmoid, 1.0f / (1.0f + expf(-x)), 1.0 / (1.0 + exp(-x)), 1.0f / (1.0f + cexpf(-x)), 1.0 / (1.0 + cexp(-x)))
UN_REAL(softplus, softplusf(x, (float)P[0], (float)P[1]), softplusd(x, P[0], P[1]))
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
