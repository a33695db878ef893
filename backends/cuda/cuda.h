/* backends/cuda/cuda.h — the CUDA backend's entry points (defined in the .cu files, C linkage)
 * and the error helpers every CUDA kernel file uses. Included by C (table.c) and CUDA C++. */
#ifndef AG_BACKENDS_CUDA_H
#define AG_BACKENDS_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

int ag_set_error(ag_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* allocator (alloc.cu) */
void *ag_cuda_alloc(size_t nbytes);
void ag_cuda_free(void *p, size_t nbytes);
int ag_cuda_count(void);          /* devices visible; 0 without driver/GPU (no error) */
void ag_cuda_release_cache(void);
void ag_cuda_stats(size_t *allocated, size_t *cached, size_t *peak, uint64_t *counts /* [5] */);
/* host <-> device bytes (copy.cu); to_host: dst is host memory */
int ag_cuda_transfer(void *dst, const void *src, size_t nbytes, bool to_host);
/* kernels */
int ag_cuda_copy(const ag_kview *dst, const ag_kview *src);
int ag_cuda_fill(const ag_kview *dst, double re, double im);
int ag_cuda_unary(ag_unary_op op, const ag_kview *out, const ag_kview *in, const double *params);
int ag_cuda_binary(ag_binary_op op, const ag_kview *out, const ag_kview *a, const ag_kview *b);
int ag_cuda_where(const ag_kview *out, const ag_kview *cond, const ag_kview *a, const ag_kview *b);
int ag_cuda_reduce(ag_reduce_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in);
int ag_cuda_gemm(const ag_kview *out, const ag_kview *a, const ag_kview *b, bool conj_a, bool conj_b);
int ag_cuda_rng(ag_rng_dist dist, const ag_kview *out, uint64_t seed, uint64_t offset, double p0, double p1);

/* What the module libastrograd_cuda.so exports (one symbol, ag_cuda_backend_v1) for
 * backends/backend.c, which opens it at the first use of a CUDA device: a program that never
 * touches CUDA maps neither the module nor the CUDA runtime, cuBLAS and cuFFT. table_size
 * guards against a module built from another version of AG_KERNEL_ENTRIES. */
typedef struct ag_cuda_backend {
    size_t table_size; /* sizeof(ag_kernels) where the module was built */
    const ag_kernels *kernels;
    int (*count)(void);
    void (*release_cache)(void);
    void (*stats)(size_t *allocated, size_t *cached, size_t *peak, uint64_t *counts);
} ag_cuda_backend;

#ifdef __cplusplus
}
#endif

#endif
