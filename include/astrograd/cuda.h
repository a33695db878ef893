/* astrograd/cuda.h — the CUDA device: availability and the caching allocator.
 * Always declared; in a build without CUDA the queries answer 0/false and the rest do nothing.
 * Tensors move with ag_to(t, AG_CUDA(0)) and back with ag_to(t, AG_CPU). Only device 0 is
 * used in this version. */
#ifndef ASTROGRAD_CUDA_H
#define ASTROGRAD_CUDA_H

#include "astrograd/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AG_CUDA(i) ((ag_device){AG_DEV_CUDA, (i)})

AG_API bool ag_cuda_available(void);  /* a driver and at least one GPU (no error when not) */
AG_API int ag_cuda_device_count(void);
AG_API void ag_cuda_empty_cache(void); /* give cached device blocks back to the driver */

typedef struct ag_cuda_memory_stats {
    size_t allocated_bytes;  /* in blocks handed out (rounded to size classes) */
    size_t cached_bytes;     /* in freed blocks kept for reuse */
    size_t peak_bytes;       /* most allocated_bytes so far */
    uint64_t n_alloc;        /* allocation requests */
    uint64_t n_cache_hits;   /* served from the cache */
    uint64_t n_cuda_malloc;  /* cudaMalloc calls that succeeded */
    uint64_t n_cuda_free;    /* cudaFree calls */
    uint64_t n_oom_retries;  /* cudaMalloc failures retried after emptying the cache */
} ag_cuda_memory_stats;
/* 0, or AG_ERR_DEVICE in a build without CUDA (stats zeroed) */
AG_API int ag_cuda_memory_stats_get(ag_cuda_memory_stats *s);

#ifdef __cplusplus
}
#endif

#endif
