/* backends/cpu/conv_direct.h — f32/f64 convolution kernels with AVX-512 register tiles
 * (conv_direct.c), used by conv.c in place of im2col + gemm where they apply. */
#ifndef AG_BACKENDS_CPU_CONV_DIRECT_H
#define AG_BACKENDS_CPU_CONV_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/kernels.h"

/* one convolution: x [N,C,H,W], w [O,C/G,KH,KW], y [N,O,HO,WO], all contiguous; Cg = C/G and
 * Og = O/G; stride s0/s1, padding p0/p1 (any sign) and dilation d0/d1 */
typedef struct ag_conv_direct {
    int64_t N, C, H, W, O, KH, KW, HO, WO, G, Cg, Og, s0, s1, p0, p1, d0, d1;
} ag_conv_direct;

/* 1: run g with these kernels (the CPU has AVX-512F, AG_CPU_CONV is not "im2col", rows are
 * wide enough or AG_CPU_CONV is "direct"); 0: use im2col + gemm; < 0: an error was set
 * (AG_CPU_CONV=direct on a CPU without AVX-512F) */
int ag_cpu_conv_direct_choose(const ag_conv_direct *g, const char *kname);
/* Buffers are of dtype dt, AG_F32 or AG_F64. */
/* y = conv(x, w) + bias (bias may be NULL) */
int ag_cpu_conv_direct_forward(const ag_conv_direct *g, ag_dtype dt, const void *x, const void *w, const void *bias,
                               void *y, const char *kname);
/* dx = the input gradient for output gradient dy (dx overwritten) */
int ag_cpu_conv_direct_input(const ag_conv_direct *g, ag_dtype dt, const void *dy, const void *w, void *dx,
                             const char *kname);
/* dw = the weight gradient for output gradient dy (dw overwritten) */
int ag_cpu_conv_direct_weight(const ag_conv_direct *g, ag_dtype dt, const void *dy, const void *x, void *dw,
                              const char *kname);

#endif
