/* backends/cuda/table.c — the CUDA kernel table and what the module libastrograd_cuda.so
 * exports for backends/backend.c (which answers astrograd/cuda.h's queries through it). */
#include "backends/cuda/cuda.h"

/* The entries CUDA implements so far; the rest of AG_KERNEL_ENTRIES stays NULL and is reported
 * by ag_kernels_missing and by the front ends as not implemented for cuda. */
#define AG_CUDA_ENTRIES(Y) Y(copy) Y(fill) Y(unary) Y(binary) Y(where) Y(reduce) Y(gemm) Y(rng)

const ag_kernels ag_cuda_kernels = {
    .name = "cuda",
    .alloc = ag_cuda_alloc,
    .free = ag_cuda_free,
    .transfer = ag_cuda_transfer,
#define CUDA_ENTRY(name) .name = ag_cuda_##name,
    AG_CUDA_ENTRIES(CUDA_ENTRY)
#undef CUDA_ENTRY
};

/* the module's one export (backends/backend.c opens the module and reads it) */
__attribute__((visibility("default"))) const ag_cuda_backend ag_cuda_backend_v1 = {
    .table_size = sizeof(ag_kernels),
    .kernels = &ag_cuda_kernels,
    .count = ag_cuda_count,
    .release_cache = ag_cuda_release_cache,
    .stats = ag_cuda_stats,
};
