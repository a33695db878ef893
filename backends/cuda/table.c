/* backends/cuda/table.c — the CUDA kernel table and the public device queries
 * (astrograd/cuda.h). */
#include <string.h>

#include "astrograd/cuda.h"
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
