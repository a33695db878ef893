/* backends/cuda/table.c — the CUDA kernel table and the public device queries
 * (astrograd/cuda.h). Entries left NULL are reported by the front ends as not implemented
 * for cuda: optimizer steps, fft, indexing, convolution/pooling/padding/resampling, solvers. */
#include <string.h>

#include "astrograd/cuda.h"
#include "backends/cuda/cuda.h"

const ag_kernels ag_cuda_kernels = {
    .name = "cuda",
    .alloc = ag_cuda_alloc,
    .free = ag_cuda_free,
    .copy = ag_cuda_copy,
    .fill = ag_cuda_fill,
    .unary = ag_cuda_unary,
    .binary = ag_cuda_binary,
    .where = ag_cuda_where,
    .reduce = ag_cuda_reduce,
    .gemm = ag_cuda_gemm,
    .rng = ag_cuda_rng,
    .transfer = ag_cuda_transfer,
};

bool ag_cuda_available(void) { return ag_cuda_count() > 0; }
int ag_cuda_device_count(void) { return ag_cuda_count(); }
void ag_cuda_empty_cache(void) { ag_cuda_release_cache(); }

int ag_cuda_memory_stats_get(ag_cuda_memory_stats *s) {
    if (!s) return ag_set_error(AG_ERR_INVALID, "ag_cuda_memory_stats_get: NULL argument");
    uint64_t c[5];
    memset(s, 0, sizeof *s);
    ag_cuda_stats(&s->allocated_bytes, &s->cached_bytes, &s->peak_bytes, c);
    s->n_alloc = c[0];
    s->n_cache_hits = c[1];
    s->n_cuda_malloc = c[2];
    s->n_cuda_free = c[3];
    s->n_oom_retries = c[4];
    return 0;
}
