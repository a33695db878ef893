/* backends/backend.c — device -> kernel table, and settings that reach into backend libraries. */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/cuda.h"
#include "backends/cuda/cuda.h"
#include "backends/kernels.h"
#include "core/core.h"

/* The CUDA backend is a module of its own (libastrograd_cuda.so, built where nvcc is), opened
 * at the first CUDA query or use (ag__module_symbol: $AG_CUDA_BACKEND, else next to this
 * library): a CPU-only program maps none of the CUDA runtime, cuBLAS and cuFFT (they made an
 * empty program's RSS 170 MB), and a machine without them still runs the CPU library. */
static const ag_cuda_backend *cuda;
static char cuda_why[600] = "this build has no CUDA backend (configured without CUDA: no nvcc, or -Dcuda=disabled)";
static pthread_once_t cuda_once = PTHREAD_ONCE_INIT;

static void cuda_load(void) {
#ifdef AG_HAVE_CUDA
    const ag_cuda_backend *b = (const ag_cuda_backend *)ag__module_symbol("libastrograd_cuda.so", "AG_CUDA_BACKEND",
                                                                          "ag_cuda_backend_v1", cuda_why, sizeof cuda_why);
    if (b && b->table_size != sizeof(ag_kernels)) {
        snprintf(cuda_why, sizeof cuda_why, "libastrograd_cuda.so is not this version's CUDA backend (its kernel "
                 "table has %zu bytes, this library's %zu)", b->table_size, sizeof(ag_kernels));
        b = NULL;
    }
    if (b) cuda = b, cuda_why[0] = '\0';
#endif
}

static const ag_cuda_backend *cuda_backend(void) {
    pthread_once(&cuda_once, cuda_load);
    return cuda;
}

const char *ag_cuda_unavailable_reason(void) {
    const ag_cuda_backend *b = cuda_backend();
    if (!b) return cuda_why;
    return b->count() > 0 ? "" : "no CUDA driver or GPU on this machine";
}

bool ag_cuda_available(void) {
    const ag_cuda_backend *b = cuda_backend();
    return b && b->count() > 0;
}
int ag_cuda_device_count(void) {
    const ag_cuda_backend *b = cuda_backend();
    return b ? b->count() : 0;
}
void ag_cuda_empty_cache(void) {
    const ag_cuda_backend *b = cuda_backend();
    if (b) b->release_cache();
}
int ag_cuda_memory_stats_get(ag_cuda_memory_stats *s) {
    if (!s) return ag_set_error(AG_ERR_INVALID, "ag_cuda_memory_stats_get: NULL argument");
    memset(s, 0, sizeof *s);
    const ag_cuda_backend *b = cuda_backend();
    if (!b) return ag_set_error(AG_ERR_DEVICE, "ag_cuda_memory_stats_get: %s", cuda_why);
    uint64_t c[5];
    b->stats(&s->allocated_bytes, &s->cached_bytes, &s->peak_bytes, c);
    s->n_alloc = c[0];
    s->n_cache_hits = c[1];
    s->n_cuda_malloc = c[2];
    s->n_cuda_free = c[3];
    s->n_oom_retries = c[4];
    return 0;
}

#ifdef AG_HAVE_TEST_DEVICE
extern const ag_kernels ag_testdev_kernels;
#endif

const ag_kernels *ag_kernels_for(ag_device dev) {
    if (dev.kind == AG_DEV_CPU) return &ag_cpu_kernels;
    if (dev.kind == AG_DEV_CUDA) return cuda_backend() ? cuda_backend()->kernels : NULL;
#ifdef AG_HAVE_TEST_DEVICE
    if (dev.kind == AG_DEV_TEST) return &ag_testdev_kernels;
#endif
    return NULL;
}

#define ENTRY_NAME(name, params, args, views) #name,
static const char *const entry_names[] = {AG_KERNEL_ENTRIES(ENTRY_NAME)};
#undef ENTRY_NAME

int ag_kernels_count(void) { return (int)(sizeof entry_names / sizeof *entry_names); }
const char *ag_kernels_entry_name(int i) { return i >= 0 && i < ag_kernels_count() ? entry_names[i] : NULL; }

int ag_kernels_missing(const ag_kernels *k, const char **names, int cap) {
    int n = 0;
#define MISSING(name, params, args, views) \
    if (!k->name) { if (n < cap) names[n] = #name; n++; }
    AG_KERNEL_ENTRIES(MISSING)
#undef MISSING
    return n;
}

void ag_cpu_fft_set_threads(int n); /* backends/cpu/fft.c */
void ag_backend_set_threads(int n) {
    openblas_set_num_threads(n);
    ag_cpu_fft_set_threads(n);
}
