/* core/core.h — what every layer shares, below the backends: the thread-local error that every
 * failure passes through, and shape formatting for messages. dtypes are declared in
 * astrograd/tensor.h and defined in core/dtype.c. Private to the library; not installed. */
#ifndef AG_CORE_H
#define AG_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "astrograd/tensor.h"

#ifdef __cplusplus
extern "C" { /* the CUDA kernels are compiled as C++ */
#endif

/* The one function every error passes through (a breakpoint here catches them all).
 * Keeps the first error of the thread; returns `code` for convenience. */
int ag_set_error(ag_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, returning NULL, for ops. */
void *ag_fail(ag_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "[3,4]" into buf; returns buf */
const char *ag_shape_str(const int64_t *shape, int ndim, char *buf, size_t n);
#define AG_SHAPE_BUF 96

#ifdef __cplusplus
}
#endif

#endif
