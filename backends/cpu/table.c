/* backends/cpu/table.c — the CPU kernel table: every entry of AG_KERNEL_ENTRIES. */
#include "backends/cpu/cpu.h"
#include "backends/cpu/conv.h"

const ag_kernels ag_cpu_kernels = {
    .name = "cpu",
    .alloc = ag_cpu_alloc,
    .free = ag_cpu_free,
    .fft_wisdom_export = ag_cpu_fft_wisdom_export,
    .fft_plan = ag_cpu_fft_plan,
    .plan_retain = ag_cpu_plan_retain,
    .plan_release = ag_cpu_plan_release,
#define CPU_ENTRY(name, params, args, views) .name = ag_cpu_##name,
    AG_KERNEL_ENTRIES(CPU_ENTRY)
#undef CPU_ENTRY
};

const ag_kernels *ag_cpu_kernel_table(void) { return &ag_cpu_kernels; }
