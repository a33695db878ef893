/* backends/backend.c — device -> kernel table, and settings that reach into backend libraries. */
#include <cblas.h>

#include "backends/kernels.h"

#ifdef AG_HAVE_CUDA
extern const ag_kernels ag_cuda_kernels;
#endif

const ag_kernels *ag_kernels_for(ag_device dev) {
    if (dev.kind == AG_DEV_CPU) return &ag_cpu_kernels;
#ifdef AG_HAVE_CUDA
    if (dev.kind == AG_DEV_CUDA) return &ag_cuda_kernels;
#endif
    return NULL;
}

void ag_cpu_fft_set_threads(int n); /* backends/cpu/fft.c */
void ag_backend_set_threads(int n) {
    openblas_set_num_threads(n);
    ag_cpu_fft_set_threads(n);
}
