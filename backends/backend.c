/* backends/backend.c — device -> kernel table, and settings that reach into backend libraries. */
#include <cblas.h>

#include "backends/kernels.h"

#ifdef AG_HAVE_CUDA
extern const ag_kernels ag_cuda_kernels;
#else
/* astrograd/cuda.h in a build without CUDA (backends/cuda/table.c otherwise) */
#include <string.h>

#include "astrograd/cuda.h"
bool ag_cuda_available(void) { return false; }
int ag_cuda_device_count(void) { return 0; }
void ag_cuda_empty_cache(void) {}

int ag_cuda_memory_stats_get(ag_cuda_memory_stats *s) {
    if (s) memset(s, 0, sizeof *s);
    return ag_set_error(AG_ERR_DEVICE, "ag_cuda_memory_stats_get: this build has no CUDA backend");
}
#endif

#ifdef AG_HAVE_TEST_DEVICE
extern const ag_kernels ag_testdev_kernels;
#endif

const ag_kernels *ag_kernels_for(ag_device dev) {
    if (dev.kind == AG_DEV_CPU) return &ag_cpu_kernels;
#ifdef AG_HAVE_CUDA
    if (dev.kind == AG_DEV_CUDA) return &ag_cuda_kernels;
#endif
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
