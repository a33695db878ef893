/* backends/cuda/alloc.cu — the CUDA caching allocator.
 * cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, so freed blocks
 * are kept in per-size-class free lists and handed out again before any new cudaMalloc
 * (classes: multiples of 512 bytes up to 4 KiB, then 4 per power of two; requests above the
 * largest class are not cached). When cudaMalloc reports out-of-memory the cache is released and the call retried
 * once. Every kernel runs on the default stream, so a block freed after a launch can be
 * reused by the next launch without waiting. Blocks are only ever used on device 0 (the
 * device current when the backend first allocates). */
#include <pthread.h>

#include "backends/cuda/common.cuh"

#define NCLASS 192
#define CACHE_LIMIT ((size_t)8 << 30) /* bytes kept for reuse at most */

typedef struct block { void *p; struct block *next; } block;
static block *free_list[NCLASS];
static block *spare; /* recycled list nodes */
static size_t cached_bytes, allocated_bytes, peak_bytes;
static uint64_t n_alloc, n_hits, n_malloc, n_free, n_retry;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int size_class(size_t n, size_t *rounded) {
    if (n <= 4096) { *rounded = (n + 511) & ~(size_t)511; return (int)(*rounded / 512) - 1; } /* 0..7 */
    int e = 63 - __builtin_clzll((unsigned long long)(n - 1));
    size_t base = (size_t)1 << e, step = base / 4;
    size_t q = (n - base + step - 1) / step;
    *rounded = base + q * step;
    int c = 8 + (e - 12) * 4 + (int)(q - 1);
    return c < NCLASS ? c : -1;
}

static void release_cache_locked(void) {
    for (int c = 0; c < NCLASS; c++) {
        for (block *b = free_list[c], *nx; b; b = nx) {
            nx = b->next;
            cudaFree(b->p);
            n_free++;
            b->next = spare;
            spare = b;
        }
        free_list[c] = NULL;
    }
    cached_bytes = 0;
}

extern "C" void *ag_cuda_alloc(size_t n) {
    size_t r;
    int c = size_class(n, &r);
    if (c < 0) r = (n + 511) & ~(size_t)511;
    pthread_mutex_lock(&lock);
    n_alloc++;
    void *p = NULL;
    if (c >= 0 && free_list[c]) {
        block *b = free_list[c];
        free_list[c] = b->next;
        p = b->p;
        b->next = spare;
        spare = b;
        cached_bytes -= r;
        n_hits++;
    }
    if (!p) {
        cudaError_t e = cudaMalloc(&p, r);
        if (e == cudaErrorMemoryAllocation) { /* give the cache back and retry once */
            (void)cudaGetLastError();
            n_retry++;
            release_cache_locked();
            e = cudaMalloc(&p, r);
        }
        if (e != cudaSuccess) {
            (void)cudaGetLastError(); /* clear the sticky-free error state */
            p = NULL;
        } else {
            n_malloc++;
        }
    }
    if (p) {
        allocated_bytes += r;
        if (allocated_bytes > peak_bytes) peak_bytes = allocated_bytes;
    }
    pthread_mutex_unlock(&lock);
    return p; /* NULL: the caller (storage_new) reports AG_ERR_NOMEM with the size */
}

extern "C" void ag_cuda_free(void *p, size_t n) {
    if (!p) return;
    size_t r;
    int c = size_class(n, &r);
    if (c < 0) r = (n + 511) & ~(size_t)511;
    pthread_mutex_lock(&lock);
    allocated_bytes -= r;
    if (c >= 0 && cached_bytes + r <= CACHE_LIMIT) {
        block *b = spare ? spare : (block *)malloc(sizeof *b);
        if (b) {
            if (b == spare) spare = b->next;
            b->p = p;
            b->next = free_list[c];
            free_list[c] = b;
            cached_bytes += r;
            p = NULL;
        }
    }
    if (p) { cudaFree(p); n_free++; }
    pthread_mutex_unlock(&lock);
}

extern "C" void ag_cuda_release_cache(void) {
    pthread_mutex_lock(&lock);
    release_cache_locked();
    for (block *b = spare, *nx; b; b = nx) { nx = b->next; free(b); }
    spare = NULL;
    pthread_mutex_unlock(&lock);
}

extern "C" void ag_cuda_stats(size_t *allocated, size_t *cached, size_t *peak, uint64_t *counts) {
    pthread_mutex_lock(&lock);
    if (allocated) *allocated = allocated_bytes;
    if (cached) *cached = cached_bytes;
    if (peak) *peak = peak_bytes;
    if (counts) {
        counts[0] = n_alloc; counts[1] = n_hits; counts[2] = n_malloc; counts[3] = n_free; counts[4] = n_retry;
    }
    pthread_mutex_unlock(&lock);
}

extern "C" int ag_cuda_count(void) {
    static int count = -1;
    pthread_mutex_lock(&lock);
    if (count < 0) {
        int n = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0; /* no driver / no GPU: not an error */
        (void)cudaGetLastError();
        count = n;
    }
    int n = count;
    pthread_mutex_unlock(&lock);
    return n;
}
