/* tests/alloc_probe.h — counts the heap allocations libastrograd itself makes, to prove that
 * warm kernels take all scratch from the caching allocator (a malloc per call would fault its
 * pages in again every call: ~2.6 ms per MiB here).
 *
 * The test executable interposes malloc, calloc, realloc, aligned_alloc, posix_memalign and
 * memalign (the shared library's calls resolve to the executable's definitions first) and
 * forwards them to the next definition (glibc's, or valgrind's replacement of it, so the
 * valgrind setup keeps working). While armed, a call whose return address lies in
 * libastrograd's mapped segments is counted; allocations made by FFTW, OpenBLAS or libgomp on
 * the library's behalf are not ours to remove and are not counted. Fresh blocks of the caching
 * allocator (aligned_alloc from alloc.c) count too.
 *
 * Under AddressSanitizer, which owns malloc, the probe is compiled out: AP_ACTIVE is 0 and
 * ap_end() returns 0; the tests then rely on the caching allocator's own fresh-block counter.
 * Include once per test program, after the system headers. */
#ifndef AG_TESTS_ALLOC_PROBE_H
#define AG_TESTS_ALLOC_PROBE_H

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "backends/cpu/cpu.h"

#if defined(__SANITIZE_ADDRESS__)
#define AP_ACTIVE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AP_ACTIVE 0
#endif
#endif
#ifndef AP_ACTIVE
#define AP_ACTIVE 1
#endif

#ifndef RTLD_NEXT
#define RTLD_NEXT ((void *)-1l)
#endif

/* contiguous view over caller-owned data */
static inline ag_kview ap_view(void *data, ag_dtype dt, int ndim, const int64_t *shape) {
    ag_kview v;
    memset(&v, 0, sizeof v);
    v.data = data;
    v.dtype = dt;
    v.ndim = ndim;
    int64_t st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        v.shape[d] = shape[d];
        v.strides[d] = st;
        st *= shape[d];
    }
    return v;
}

#if AP_ACTIVE
static atomic_int ap_armed;
static atomic_long ap_count;
static uintptr_t ap_lo = UINTPTR_MAX, ap_hi;

static void *(*ap_malloc)(size_t);
static void *(*ap_calloc)(size_t, size_t);
static void *(*ap_realloc)(void *, size_t);
static void (*ap_free)(void *);
static void *(*ap_aligned_alloc)(size_t, size_t);
static int (*ap_posix_memalign)(void **, size_t, size_t);
static void *(*ap_memalign)(size_t, size_t);

/* dlsym may allocate before the real functions are known: a small bump arena serves that */
static _Alignas(64) char ap_boot[1 << 14];
static atomic_size_t ap_boot_used;
static atomic_int ap_resolving;

static void *ap_boot_alloc(size_t n) {
    size_t off = atomic_fetch_add(&ap_boot_used, (n + 63) & ~(size_t)63);
    return off + n <= sizeof ap_boot ? ap_boot + off : NULL;
}
static int ap_is_boot(const void *p) {
    return (const char *)p >= ap_boot && (const char *)p < ap_boot + sizeof ap_boot;
}

static void ap_resolve(void) {
    if (ap_free) return;
    atomic_store(&ap_resolving, 1);
    ap_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    ap_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    ap_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    ap_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    ap_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    ap_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    ap_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    atomic_store(&ap_resolving, 0);
}

static inline void ap_note(void *ret) {
    if (!atomic_load_explicit(&ap_armed, memory_order_relaxed)) return;
    uintptr_t a = (uintptr_t)ret;
    if (a >= ap_lo && a < ap_hi) atomic_fetch_add(&ap_count, 1);
}

#define AP_READY(bootexpr) \
    do { if (!ap_free) { if (atomic_load(&ap_resolving)) return bootexpr; ap_resolve(); } } while (0)

void *malloc(size_t n) {
    AP_READY(ap_boot_alloc(n));
    ap_note(__builtin_return_address(0));
    return ap_malloc(n);
}
void *calloc(size_t n, size_t s) {
    AP_READY(ap_boot_alloc(n * s)); /* the arena is zeroed static storage */
    ap_note(__builtin_return_address(0));
    return ap_calloc(n, s);
}
void *realloc(void *p, size_t n) {
    AP_READY(ap_boot_alloc(n));
    ap_note(__builtin_return_address(0));
    if (ap_is_boot(p)) {
        void *q = ap_malloc(n);
        size_t left = (size_t)(ap_boot + sizeof ap_boot - (char *)p);
        if (q) memcpy(q, p, n < left ? n : left);
        return q;
    }
    return ap_realloc(p, n);
}
void free(void *p) {
    if (!p || ap_is_boot(p)) return;
    if (!ap_free) ap_resolve();
    ap_free(p);
}
void *aligned_alloc(size_t al, size_t n) {
    AP_READY(NULL);
    ap_note(__builtin_return_address(0));
    return ap_aligned_alloc(al, n);
}
int posix_memalign(void **p, size_t al, size_t n) {
    AP_READY(12 /* ENOMEM */);
    ap_note(__builtin_return_address(0));
    return ap_posix_memalign(p, al, n);
}
void *memalign(size_t al, size_t n) {
    AP_READY(NULL);
    ap_note(__builtin_return_address(0));
    return ap_memalign(al, n);
}

/* the PT_LOAD range of the object holding ag_last_error (libastrograd) */
static int ap_find(struct dl_phdr_info *info, size_t size, void *target) {
    (void)size;
    uintptr_t t = (uintptr_t)target, lo = UINTPTR_MAX, hi = 0;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
        if (t >= a && t < b) mine = 1;
    }
    if (!mine) return 0;
    ap_lo = lo;
    ap_hi = hi;
    return 1;
}
#endif

/* start counting the library's allocations */
static inline void ap_begin(void) {
#if AP_ACTIVE
    if (ap_hi == 0) dl_iterate_phdr(ap_find, (void *)(uintptr_t)&ag_last_error);
    atomic_store(&ap_count, 0);
    atomic_store(&ap_armed, 1);
#endif
}

/* stop; the number of allocations the library made since ap_begin */
static inline long ap_end(void) {
#if AP_ACTIVE
    atomic_store(&ap_armed, 0);
    return atomic_load(&ap_count);
#else
    return 0;
#endif
}

/* fresh blocks the caching allocator has taken so far */
static inline uint64_t ap_fresh(void) {
    ag_cpu_alloc_counts c;
    ag_cpu_alloc_stats(&c);
    return c.fresh;
}

#endif
