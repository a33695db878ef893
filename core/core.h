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
 * Keeps the first error of the thread; returns `code` for convenience. Exported (not in the
 * public headers) for the CUDA backend module, libastrograd_cuda.so, which reports through it. */
__attribute__((visibility("default"))) int ag_set_error(ag_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, returning NULL, for ops. */
void *ag_fail(ag_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether every pointer argument is non-NULL; the first NULL one records AG_ERR_INVALID
 * "op: argument i (name) is NULL" unless an error is already pending. A NULL input is then
 * the result of that earlier failure, and keeping the first error is what lets a caller check
 * a whole expression once; without one it is the caller's own bug and must not pass silently.
 * Every public front end starts with it: if (!AG_NONNULL("ag_add", a, b)) return NULL;
 * Arguments are numbered from 1 in the order given, so list them in the function's order;
 * AG_NONNULL_FROM starts the numbering at `first` (a function whose leading arguments are
 * not pointers). */
bool ag__nonnull(const char *op, int first, const char *names, const void *const *args, int n);
#define AG_NONNULL_FROM(op, first, ...) \
    ag__nonnull((op), (first), #__VA_ARGS__, (const void *const[]){__VA_ARGS__}, \
                (int)(sizeof((const void *const[]){__VA_ARGS__}) / sizeof(const void *)))
#define AG_NONNULL(op, ...) AG_NONNULL_FROM(op, 1, __VA_ARGS__)
/* "[3,4]" into buf; returns buf */
const char *ag_shape_str(const int64_t *shape, int ndim, char *buf, size_t n);
#define AG_SHAPE_BUF 96

/* Opens one of astrograd's optional modules (libastrograd_cuda.so, libastrograd_ms.so: code
 * whose libraries a program should load only when it uses them) and returns the address of
 * its symbol `sym`, or NULL with the reason in why (a loader message, or that the symbol is
 * missing). Looked up as $env_var when set, else next to libastrograd itself, else by the
 * loader's search path. Modules are never closed (their libraries may not take unloading). */
void *ag__module_symbol(const char *file, const char *env_var, const char *sym, char *why, size_t nwhy);

#ifdef __cplusplus
}
#endif

#endif
