/* backends/cpu/copy.c — strided copy with dtype conversion, and fill.
 * Conversions are C casts, which match PyTorch: complex -> real keeps the real part,
 * anything -> bool is "nonzero", float -> int truncates toward zero, narrowing integer casts wrap.
 * Float -> u8 goes through int64 (C leaves negative floats -> unsigned undefined; this is what
 * PyTorch gives on x86: -1.5 -> 255). */
#include <string.h>

#include "backends/cpu/cpu.h"

/* the conversion of one element; CONV(TD, TS, x) is a plain C cast except into u8 */
#define CONV(TD, TS, x) ((TD)(x))
#define CONV_U8(TS, x) ((uint8_t)(int64_t)(x))
#define COPY_LOOP(DN, TD, SN, TS) COPY_LOOP_C(DN, TD, SN, TS, CONV(TD, TS, s[i]), CONV(TD, TS, s[0]), \
                                              CONV(TD, TS, *(const TS *)(p[1] + i * bs[1])))
#define COPY_LOOP_U8(SN, TS) COPY_LOOP_C(u8, uint8_t, SN, TS, CONV_U8(TS, s[i]), CONV_U8(TS, s[0]), \
                                         CONV_U8(TS, *(const TS *)(p[1] + i * bs[1])))
#define COPY_LOOP_C(DN, TD, SN, TS, E_DENSE, E_BCAST, E_STRIDED)                                                  \
    AG_CPU_CLONES static void copy_##DN##_##SN(void *ctx, char **p, const int64_t *bs, int64_t n) { \
        (void)ctx;                                                                \
        TD *d = (TD *)p[0];                                                       \
        const TS *s = (const TS *)p[1];                                           \
        if (bs[0] == sizeof(TD) && bs[1] == sizeof(TS)) {                         \
            for (int64_t i = 0; i < n; i++) d[i] = E_DENSE;                        \
        } else if (bs[0] == sizeof(TD) && bs[1] == 0) {                           \
            TD v = E_BCAST;                                                       \
            for (int64_t i = 0; i < n; i++) d[i] = v;                             \
        } else {                                                                  \
            for (int64_t i = 0; i < n; i++)                                       \
                *(TD *)(p[0] + i * bs[0]) = E_STRIDED;                            \
        }                                                                         \
    }
#define COPY_ROW(DN, TD) COPY_LOOP(DN, TD, f32, float) COPY_LOOP(DN, TD, f64, double) \
    COPY_LOOP(DN, TD, c64, cf32) COPY_LOOP(DN, TD, c128, cf64) COPY_LOOP(DN, TD, i64, int64_t) \
    COPY_LOOP(DN, TD, b, bool) COPY_LOOP(DN, TD, i32, int32_t) COPY_LOOP(DN, TD, u8, uint8_t)
COPY_ROW(f32, float)
COPY_ROW(f64, double)
COPY_ROW(c64, cf32)
COPY_ROW(c128, cf64)
COPY_ROW(i64, int64_t)
COPY_ROW(b, bool)
COPY_ROW(i32, int32_t)
/* into u8: floats (and complex real parts) via int64; integers and bools cast directly */
COPY_LOOP_U8(f32, float) COPY_LOOP_U8(f64, double) COPY_LOOP_U8(c64, cf32) COPY_LOOP_U8(c128, cf64)
COPY_LOOP(u8, uint8_t, i64, int64_t) COPY_LOOP(u8, uint8_t, b, bool) COPY_LOOP(u8, uint8_t, i32, int32_t)
COPY_LOOP(u8, uint8_t, u8, uint8_t)

#define TROW(DN) {copy_##DN##_f32, copy_##DN##_f64, copy_##DN##_c64, copy_##DN##_c128, copy_##DN##_i64, copy_##DN##_b, \
    copy_##DN##_i32, copy_##DN##_u8}
static const ag_cpu_loop table[AG_NUM_DTYPES][AG_NUM_DTYPES] = {
    TROW(f32), TROW(f64), TROW(c64), TROW(c128), TROW(i64), TROW(b), TROW(i32), TROW(u8)};

int ag_cpu_copy(const ag_kview *dst, const ag_kview *src) {
    if ((unsigned)dst->dtype >= AG_NUM_DTYPES || (unsigned)src->dtype >= AG_NUM_DTYPES)
        return ag_set_error(AG_ERR_DTYPE, "cpu copy: bad dtype");
    const ag_kview *vs[2] = {dst, src};
    ag_cpu_iter it;
    ag_cpu_iter_init(&it, 2, vs);
    ag_cpu_iter_run(&it, table[dst->dtype][src->dtype], NULL);
    return 0;
}
#define FILL_LOOP(T)                                                                  \
    static void fill_##T(void *ctx, char **p, const int64_t *bs, int64_t n) {         \
        T v = *(const T *)ctx;                                                        \
        if (bs[0] == sizeof(T)) {                                                     \
            T *d = (T *)p[0];                                                         \
            for (int64_t i = 0; i < n; i++) d[i] = v;                                 \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++) *(T *)(p[0] + i * bs[0]) = v;             \
        }                                                                             \
    }
FILL_LOOP(float)
FILL_LOOP(double)
FILL_LOOP(cf32)
FILL_LOOP(cf64)
FILL_LOOP(int64_t)
FILL_LOOP(bool)
FILL_LOOP(int32_t)
FILL_LOOP(uint8_t)

#define DO_FILL(T, re, im) { T v = (T)((re) + (im) * I); loop = fill_##T; memcpy(val, &v, sizeof v); }

int ag_cpu_fill(const ag_kview *dst, double re, double im) {
    ag_cpu_loop loop = NULL;
    _Alignas(16) unsigned char val[16];
    if (dst->dtype == AG_I64) { int64_t v = (int64_t)re; loop = fill_int64_t; memcpy(val, &v, sizeof v); }
    else if (dst->dtype == AG_I32) { int32_t v = (int32_t)(int64_t)re; loop = fill_int32_t; memcpy(val, &v, sizeof v); }
    else if (dst->dtype == AG_U8) { uint8_t v = (uint8_t)(int64_t)re; loop = fill_uint8_t; memcpy(val, &v, sizeof v); }
    else if (dst->dtype == AG_BOOL) { bool v = re != 0 || im != 0; loop = fill_bool; memcpy(val, &v, sizeof v); }
    else AG_CPU_SWITCH_ALL(dst->dtype, DO_FILL, return ag_set_error(AG_ERR_DTYPE, "fill: bad dtype"), re, im)
    const ag_kview *vs[1] = {dst};
    ag_cpu_iter it;
    ag_cpu_iter_init(&it, 1, vs);
    ag_cpu_iter_run(&it, loop, val);
    return 0;
}
