/* backends/kernels.h — the backend interface: one table of primitive kernels per device kind.
 *
 * tensor/ calls kernels only through ag_kernels_for(device). cpu/ fills the table now; cuda/
 * fills the same table later. A NULL entry means "not implemented on this backend" and the
 * front end reports it (never a silent fallback to another device).
 *
 * Kernels take explicit views (data pointer at element 0, shape, strides in elements), never
 * allocate memory that outlives the call, and return 0 or a negative ag_status; on failure they
 * record the error with ag_set_error (naming the kernel).
 */
#ifndef AG_BACKENDS_KERNELS_H
#define AG_BACKENDS_KERNELS_H

#include "astrograd/tensor.h"

typedef struct ag_kview {
    void *data;          /* element 0 */
    ag_dtype dtype;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    int64_t strides[AG_MAX_DIMS]; /* elements; 0 = broadcast */
} ag_kview;

/* Unary maps. out and in have the same shape. Unless noted, out dtype == in dtype.
 * ABS, ANGLE of complex give the real dtype. params[] as noted. */
#define AG_UNARY_OPS(X) \
    X(NEG) X(ABS) X(SIGN) X(SQUARE) X(RECIPROCAL) X(EXP) X(LOG) X(LOG1P) X(EXPM1) \
    X(SQRT) X(RSQRT) X(SIN) X(COS) X(TANH) X(SIGMOID) \
    X(SOFTPLUS)  /* params: beta, threshold */ \
    X(ERF) \
    X(CLAMP)     /* params: lo, hi */ \
    X(CONJ) X(ANGLE) \
    X(ADD_S)     /* params: re, im: out = in + s */ \
    X(MUL_S)     /* params: re, im: out = in * s */ \
    X(POW_S)     /* params: p: out = in^p */ \
    X(RSUB_S)    /* params: re, im: out = s - in */ \
    X(NOT)       /* bool -> bool */
typedef enum ag_unary_op {
#define X(n) AG_UN_##n,
    AG_UNARY_OPS(X)
#undef X
    AG_UN_COUNT
} ag_unary_op;

/* Binary maps with broadcasting already applied (broadcast dims have stride 0).
 * a, b and out share one dtype, except: comparisons give bool; COMPLEX and POLAR take two
 * real inputs and give the complex dtype. */
#define AG_BINARY_OPS(X) \
    X(ADD) X(SUB) X(MUL) X(DIV) X(POW) X(MAX) X(MIN) \
    X(EQ) X(NE) X(LT) X(LE) X(GT) X(GE) \
    X(COMPLEX) X(POLAR) X(AND) X(OR)
typedef enum ag_binary_op {
#define X(n) AG_BIN_##n,
    AG_BINARY_OPS(X)
#undef X
    AG_BIN_COUNT
} ag_binary_op;

/* Reductions: out has in's ndim with size 1 along each reduced dim. idx (i64, same shape as
 * out) receives the index along the single reduced dim for MAX/MIN when not NULL.
 * Summation order is fixed (does not depend on the thread count). */
typedef enum ag_reduce_op { AG_RED_SUM, AG_RED_PROD, AG_RED_MAX, AG_RED_MIN } ag_reduce_op;

typedef enum ag_rng_dist { AG_RNG_UNIFORM, AG_RNG_NORMAL, AG_RNG_RANDINT } ag_rng_dist;

typedef struct ag_kernels {
    const char *name;
    void *(*alloc)(size_t nbytes);             /* NULL on failure, no error recorded */
    void (*free)(void *p, size_t nbytes);
    /* dst <- src (same shape; src may broadcast), converting dtypes */
    int (*copy)(const ag_kview *dst, const ag_kview *src);
    int (*fill)(const ag_kview *dst, double re, double im);
    int (*unary)(ag_unary_op op, const ag_kview *out, const ag_kview *in, const double *params);
    int (*binary)(ag_binary_op op, const ag_kview *out, const ag_kview *a, const ag_kview *b);
    /* out = cond ? a : b, cond bool, a/b/out one dtype, all already broadcast */
    int (*where)(const ag_kview *out, const ag_kview *cond, const ag_kview *a, const ag_kview *b);
    int (*reduce)(ag_reduce_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in);
    /* out[b] = op(a[b]) @ op(b[b]) for 3-d views [B,M,K] x [B,K,N] -> [B,M,N];
     * any strides (the kernel copies when BLAS cannot take them). conj_a/conj_b conjugate. */
    int (*gemm)(const ag_kview *out, const ag_kview *a, const ag_kview *b, bool conj_a, bool conj_b);
    /* Philox4x32-10 draws for elements [0, numel) of contiguous out, starting at counter offset */
    int (*rng)(ag_rng_dist dist, const ag_kview *out, uint64_t seed, uint64_t offset,
               double p0, double p1);
    /* -- fft -- */
    /* -- indexing -- */
    /* -- convolution -- */
    /* -- solvers -- */
} ag_kernels;

const ag_kernels *ag_kernels_for(ag_device dev);  /* NULL if the device kind is not built */
extern const ag_kernels ag_cpu_kernels;

#endif
