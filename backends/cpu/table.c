/* backends/cpu/table.c — the CPU kernel table. */
#include "backends/cpu/cpu.h"
#include "backends/cpu/conv.h"

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
    /* -- optimizers -- */
    .sgd_step = ag_cpu_sgd_step,
    .adam_step = ag_cpu_adam_step,
    .rmsprop_step = ag_cpu_rmsprop_step,
    /* -- fft -- */
    .fft = ag_cpu_fft,
    .fft_wisdom_export = ag_cpu_fft_wisdom_export,
    .fft_wisdom_import = ag_cpu_fft_wisdom_import,
    /* -- indexing -- */
    .gather = ag_cpu_gather,
    .scatter_add = ag_cpu_scatter_add,
    .nonzero = ag_cpu_nonzero,
    .cumsum = ag_cpu_cumsum,
    /* -- convolution -- */
    .conv2d = ag_cpu_conv2d,
    .conv2d_backward_input = ag_cpu_conv2d_backward_input,
    .conv2d_backward_weight = ag_cpu_conv2d_backward_weight,
    .pool2d = ag_cpu_pool2d,
    .pool2d_backward = ag_cpu_pool2d_backward,
    .pad = ag_cpu_pad,
    .pad_backward = ag_cpu_pad_backward,
    .upsample2d = ag_cpu_upsample2d,
    .upsample2d_backward = ag_cpu_upsample2d_backward,
    /* -- solvers -- */
    .lu_factor = ag_cpu_lu_factor,
    .lu_solve = ag_cpu_lu_solve,
    .cholesky = ag_cpu_cholesky,
    .triangular_solve = ag_cpu_triangular_solve,
    /* -- plans -- */
    .fft_plan = ag_cpu_fft_plan,
    .fft_exec = ag_cpu_fft_exec,
    .plan_retain = ag_cpu_plan_retain,
    .plan_release = ag_cpu_plan_release,
    .fft_cache_stats = ag_cpu_fft_cache_stats,
    .fft_cache_clear = ag_cpu_fft_cache_clear,
};

const ag_kernels *ag_cpu_kernel_table(void) { return &ag_cpu_kernels; }
