/* tensor/layer.h — what the layers above tensor/ (nn/, optim/, imaging/) may use of tensor/'s
 * internals: functions on opaque tensors, reached through the public accessors
 * (astrograd/tensor.h: ag_ndim, ag_shape, ag_dtype_of, ag_device_of, ag_grad_of, ...). No struct
 * definitions and no backend header: those layers never see the tensor structs or
 * backends/kernels.h (scripts/check_layers.sh follows their includes to hold this).
 * tensor/internal.h includes this header, so each declaration is written once.
 * Private to the library; not installed. */
#ifndef AG_TENSOR_LAYER_H
#define AG_TENSOR_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "astrograd/tensor.h"
#include "astrograd/autograd.h"
#include "core/core.h"

/* ---- errors (ag_set_error, ag_fail, ag_shape_str: core/core.h) ---- */
/* shape of t as a string in a temporary buffer valid for the current statement */
#define AG_SHP(t) ag_shape_str(ag_shape(t), ag_ndim(t), (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF)

/* ---- files ---- */
/* Writes path atomically: fill(ctx, tmp) writes a temporary file next to path, which is then
 * fsynced and renamed over path. On any failure (fill's included: it sets the error) path is
 * untouched and the temporary removed. fn names the public function in messages. The temporary
 * (so the result) is created empty with mode 0666 less the umask, as fopen would create path. */
int ag__write_file_atomic(const char *fn, const char *path, int (*fill)(void *ctx, const char *tmp), void *ctx);

/* ---- tensor internals ---- */
/* Remove t from the scope that owns it: the caller now owns that reference. */
void ag__unscope(ag_tensor *t);
/* A reference the library holds for itself (saved tensors, leaf edges, casts, an optimizer's
 * parameters). It must not count as one of the user's extra references to a scoped tensor,
 * which ag_release tells apart from the scope's own (tensor.c), so inside the library
 * ag_retain means this. */
ag_tensor *ag__retain(ag_tensor *t);
#define ag_retain(t) ag__retain(t)
/* Drop a reference held by library internals (nodes, .grad, engine): never touches scopes
 * unless the tensor dies. ag_release is the user's call: it also gives up the scope's claim. */
void ag__drop(ag_tensor *t);
/* Fresh alias of t recorded as an identity op (what an op returns instead of its input). */
ag_tensor *ag__identity(ag_tensor *t, const char *op);
int64_t ag__numel(const int64_t *shape, int ndim);
/* Check inputs share a device; error names op. Returns false (error set) otherwise. */
bool ag__same_device(const char *op, const ag_tensor *a, const ag_tensor *b);
/* Broadcast two shapes (NumPy rules). false + error naming op when they do not fit. */
bool ag__broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b, int nb,
                          int64_t *out, int *nout);
int ag__normalize_dim(const char *op, int dim, int ndim); /* <0 on error (error set) */
void ag__bump_version(ag_tensor *t);

/* ---- the NuFFT's kernel steps (the nufft_interp / nufft_spread entries of backends/kernels.h,
 * which define the plan tensors), on the first argument's device, not recorded in autograd:
 * imaging/nufft.c wraps each as an op whose backward is the other. pts (S, M, 2) f64, perm
 * (S, M) i64, bins (S, ntile² + 1) i64 with S = 1 (shared) or nchan; coef (D, w) f64.
 * interp: grid (nchan, n, n) complex -> (nchan, M). spread: vis (nchan, M) complex ->
 * (nchan, n, n). op names the caller in messages. New reference in the current scope. */
ag_tensor *ag__nufft_interp(const char *op, ag_tensor *grid, ag_tensor *pts, ag_tensor *perm, ag_tensor *coef, int w);
ag_tensor *ag__nufft_spread(const char *op, ag_tensor *vis, ag_tensor *pts, ag_tensor *perm, ag_tensor *bins,
                            ag_tensor *coef, int w, int ntile, int64_t n);

#endif
