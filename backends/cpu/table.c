/* backends/cpu/table.c — the CPU kernel table. */
#include "backends/cpu/cpu.h"

const ag_kernels ag_cpu_kernels = {
    .name = "cpu",
    .alloc = ag_cpu_alloc,
    .free = ag_cpu_free,
    .copy = ag_cpu_copy,
    .fill = ag_cpu_fill,
    .unary = ag_cpu_unary,
    .binary = ag_cpu_binary,
    .where = ag_cpu_where,
    .reduce = ag_cpu_reduce,
    .gemm = ag_cpu_gemm,
    .rng = ag_cpu_rng,
    /* -- fft -- */
    /* -- indexing -- */
    /* -- convolution -- */
    /* -- solvers -- */
};
