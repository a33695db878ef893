/* backends/cpu/cpu.h — shared machinery of the CPU kernels: the strided iterator that
 * coalesces dims and splits work over OpenMP threads, and the dtype dispatch macros. */
#ifndef AG_BACKENDS_CPU_H
#define AG_BACKENDS_CPU_H

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define AG_CPU_MAX_OPS 4
/* Below this many elements a map runs on one thread (spawning costs more than it saves). */
#define AG_CPU_PAR_MIN 32768

/* Hot inner loops are also compiled for AVX2 and the variant is picked once at load time
 * (GCC function multiversioning). The variants run the same IEEE operations in the same order
 * (no FMA: AVX2 alone does not enable it, and -std=c11 keeps -ffp-contract=off), so results
 * never depend on the machine's ISA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(AG_CPU_NO_CLONES) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define AG_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef AG_CPU_CLONES
#define AG_CPU_CLONES
#endif
/* For loops that call fma() to reproduce PyTorch's fused multiply-adds (the optimizers): the
 * x86-64-v3/v4 variants have the FMA instruction, so fma() vectorizes instead of calling libm.
 * fma() is correctly rounded either way and -ffp-contract=off forbids other contractions, so
 * the results are the same bits on every machine. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(AG_CPU_NO_CLONES) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define AG_CPU_CLONES_FMA __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef AG_CPU_CLONES_FMA
#define AG_CPU_CLONES_FMA
#endif

typedef struct ag_cpu_iter {
    int nops, ndim;                               /* after coalescing; ndim >= 1 */
    int64_t shape[AG_MAX_DIMS];
    int64_t bstrides[AG_CPU_MAX_OPS][AG_MAX_DIMS]; /* bytes */
    char *data[AG_CPU_MAX_OPS];
    int64_t numel;
} ag_cpu_iter;

/* Inner loop: n elements, ptrs[i] advancing by bstride[i] bytes. */
typedef void (*ag_cpu_loop)(void *ctx, char **ptrs, const int64_t *bstride, int64_t n);

/* All views have the same shape (broadcast already applied through stride 0). */
void ag_cpu_iter_init(ag_cpu_iter *it, int nops, const ag_kview *const *views);
/* Runs loop over every element, in parallel when large. */
void ag_cpu_iter_run(const ag_cpu_iter *it, ag_cpu_loop loop, void *ctx);

/* Threads a kernel may start here: 1 inside a parallel region (OpenBLAS' and our regions do not
 * nest), else OpenMP's count. */
static inline int ag_cpu_max_threads(void) {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

/* The calling thread's number in its parallel region (0 outside one). */
static inline int ag_cpu_thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The calling thread's share [*b, *e) of [0, n) in a static split by thread number (all of it
 * outside a parallel region): contiguous, in thread order, so order-sensitive work stays ordered. */
static inline void ag_cpu_thread_slice(int64_t n, int64_t *b, int64_t *e) {
#ifdef _OPENMP
    int64_t t = omp_get_thread_num(), tn = omp_get_num_threads();
#else
    int64_t t = 0, tn = 1;
#endif
    *b = n * t / tn;
    *e = n * (t + 1) / tn;
}

typedef float complex cf32;
typedef double complex cf64;

/* Expand M(ctype, ...) once per dtype inside a switch on dt; `dflt` runs for others. */
#define AG_CPU_SWITCH_ALL(dt, M, dflt, ...) switch (dt) { \
    case AG_F32: M(float, __VA_ARGS__) break; case AG_F64: M(double, __VA_ARGS__) break; \
    case AG_C64: M(cf32, __VA_ARGS__) break; case AG_C128: M(cf64, __VA_ARGS__) break; \
    case AG_I64: M(int64_t, __VA_ARGS__) break; case AG_BOOL: M(bool, __VA_ARGS__) break; \
    case AG_I32: M(int32_t, __VA_ARGS__) break; case AG_U8: M(uint8_t, __VA_ARGS__) break; \
    default: dflt; }

/* every kernel entry (ag_cpu_copy, ag_cpu_unary, ...), implemented across the cpu/ files */
#define AG_CPU_PROTO(name, params, args, views) int ag_cpu_##name params;
AG_KERNEL_ENTRIES(AG_CPU_PROTO)
#undef AG_CPU_PROTO

/* The caching allocator (alloc.c): all kernel scratch comes from here, never from malloc, since a
 * fresh block costs its page faults again on every call. Thread-safe. */
void *ag_cpu_alloc(size_t nbytes);
void ag_cpu_free(void *p, size_t nbytes);
void ag_cpu_empty_cache(void);
size_t ag_cpu_cached_bytes(void);
typedef struct ag_cpu_alloc_counts {
    uint64_t requests;    /* ag_cpu_alloc calls */
    uint64_t fresh;       /* of those, served by aligned_alloc rather than the cache */
    size_t cached_bytes;  /* held for reuse now */
} ag_cpu_alloc_counts;
/* Exported (the tests link the shared library, built with hidden visibility) so that a test can
 * prove that warm kernels take no fresh memory; not part of the public API. */
AG_API void ag_cpu_alloc_stats(ag_cpu_alloc_counts *s);
/* The CPU kernel table, for tests that call kernels directly (same reason). */
AG_API const ag_kernels *ag_cpu_kernel_table(void);
int ag_cpu_copy(const ag_kview *dst, const ag_kview *src);
int ag_cpu_fill(const ag_kview *dst, double re, double im);
int ag_cpu_unary(ag_unary_op op, const ag_kview *out, const ag_kview *in, const double *params);
int ag_cpu_binary(ag_binary_op op, const ag_kview *out, const ag_kview *a, const ag_kview *b);
int ag_cpu_where(const ag_kview *out, const ag_kview *cond, const ag_kview *a, const ag_kview *b);
int ag_cpu_reduce(ag_reduce_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in);
int ag_cpu_gemm(const ag_kview *out, const ag_kview *a, const ag_kview *b, bool conj_a, bool conj_b);
int ag_cpu_rng(ag_rng_dist dist, const ag_kview *out, uint64_t seed, uint64_t offset, double p0, double p1);
int ag_cpu_fft(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims, double scale);
ag_kplan *ag_cpu_fft_plan(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims);
int ag_cpu_fft_exec(ag_kplan *plan, const ag_kview *out, const ag_kview *in, double scale);
ag_kplan *ag_cpu_plan_retain(ag_kplan *plan);
void ag_cpu_plan_release(ag_kplan *plan);
int ag_cpu_fft_cache_stats(ag_fft_cache_stats *s);
int ag_cpu_fft_cache_clear(void);
char *ag_cpu_fft_wisdom_export(void);
int ag_cpu_fft_wisdom_import(const char *text);
void ag_cpu_fft_set_threads(int n);
/* solvers (lapack.c) */
int ag_cpu_lu_factor(const ag_kview *lu, const ag_kview *piv, const ag_kview *info, const ag_kview *a);
int ag_cpu_lu_solve(const ag_kview *x, const ag_kview *lu, const ag_kview *piv, const ag_kview *b, bool adjoint);
int ag_cpu_cholesky(const ag_kview *l, const ag_kview *info, const ag_kview *a, bool upper);
int ag_cpu_triangular_solve(const ag_kview *x, const ag_kview *info, const ag_kview *a, const ag_kview *b,
                            bool upper, bool unitriangular);

int ag_cpu_sgd_step(const ag_kview *param, const ag_kview *grad, const ag_kview *buf, const double *hyper);
int ag_cpu_adam_step(const ag_kview *param, const ag_kview *grad, const ag_kview *exp_avg,
                     const ag_kview *exp_avg_sq, const ag_kview *max_sq, const double *hyper);
int ag_cpu_rmsprop_step(const ag_kview *param, const ag_kview *grad, const ag_kview *square_avg,
                        const ag_kview *grad_avg, const ag_kview *momentum_buf, const double *hyper);
/* indexing (index.c) */
int ag_cpu_gather(const char *op, const ag_kview *out, const ag_kview *in, const ag_kview *idx, int dim,
                  bool allow_neg);
int ag_cpu_scatter_add(const char *op, const ag_kview *out, const ag_kview *idx, const ag_kview *src, int dim,
                       bool allow_neg);
int ag_cpu_nonzero(const ag_kview *out, const ag_kview *in);
int ag_cpu_cumsum(const ag_kview *out, const ag_kview *in, int dim, bool reverse);
/* sorting (sort.c) */
int ag_cpu_sort(const ag_kview *idx, const ag_kview *in, int dim, bool descending);

int ag_set_error(ag_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
