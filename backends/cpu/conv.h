/* backends/cpu/conv.h — CPU kernels of the convolution family (conv.c): convolution through
 * im2col + OpenBLAS gemm, pooling, padding, resampling. */
#ifndef AG_BACKENDS_CPU_CONV_H
#define AG_BACKENDS_CPU_CONV_H

#include "backends/kernels.h"

int ag_cpu_conv2d(const ag_kview *y, const ag_kview *x, const ag_kview *w, const ag_kview *bias,
                  const ag_conv_params *p);
int ag_cpu_conv2d_backward_input(const ag_kview *dx, const ag_kview *dy, const ag_kview *w, const ag_conv_params *p);
int ag_cpu_conv2d_backward_weight(const ag_kview *dw, const ag_kview *dy, const ag_kview *x, const ag_conv_params *p);
int ag_cpu_pool2d(ag_pool_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in, const ag_pool_params *p);
int ag_cpu_pool2d_backward(ag_pool_op op, const ag_kview *gin, const ag_kview *gout, const ag_kview *idx,
                           const ag_pool_params *p);
int ag_cpu_pad(const ag_kview *out, const ag_kview *in, ag_pad_mode mode, const int64_t *lo, double value);
int ag_cpu_pad_backward(const ag_kview *gin, const ag_kview *gout, ag_pad_mode mode, const int64_t *lo);
int ag_cpu_upsample2d(ag_upsample_mode mode, const ag_kview *out, const ag_kview *in, bool align_corners);
int ag_cpu_upsample2d_backward(ag_upsample_mode mode, const ag_kview *gin, const ag_kview *gout, bool align_corners);

#endif
