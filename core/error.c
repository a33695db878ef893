/* core/error.c — the thread-local error (first error sticks, cairo-style) and the log callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static _Thread_local ag_status err_code = AG_OK;
static _Thread_local char err_msg[512];
static ag_log_fn log_fn;
static void *log_ud;

void ag_log_set(ag_log_fn fn, void *user_data) { log_fn = fn; log_ud = user_data; }

static void set_error_v(ag_status code, const char *fmt, va_list ap) {
    if (err_code != AG_OK) return;  /* the first error names the real culprit */
    err_code = code;
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    if (log_fn) log_fn(3, err_msg, log_ud);
}

int ag_set_error(ag_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error_v(code, fmt, ap);
    va_end(ap);
    return code;
}

void *ag_fail(ag_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error_v(code, fmt, ap);
    va_end(ap);
    return NULL;
}

bool ag__nonnull(const char *op, int first, const char *names, const void *const *args, int n) {
    for (int i = 0; i < n; i++) {
        if (args[i]) continue;
        if (err_code != AG_OK) return false;
        /* the i-th name of "a, b, c" as the macro stringified it */
        const char *s = names;
        for (int k = 0; k < i && s; k++) s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL;
        if (!s) s = "";
        while (*s == ' ') s++;
        int len = (int)strcspn(s, ",");
        while (len > 0 && s[len - 1] == ' ') len--;
        ag_set_error(AG_ERR_INVALID, "%s: argument %d (%.*s) is NULL", op, first + i, len, s);
        return false;
    }
    return true;
}

const char *ag_last_error(void) { return err_code == AG_OK ? "" : err_msg; }
ag_status ag_error_code(void) { return err_code; }
bool ag_failed(void) { return err_code != AG_OK; }
void ag_clear_error(void) { err_code = AG_OK; err_msg[0] = 0; }

const char *ag_status_str(ag_status s) {
    switch (s) {
    case AG_OK: return "ok";
    case AG_ERR_INVALID: return "invalid argument";
    case AG_ERR_SHAPE: return "shape mismatch";
    case AG_ERR_DTYPE: return "unsupported dtype";
    case AG_ERR_DEVICE: return "device error";
    case AG_ERR_NOMEM: return "out of memory";
    case AG_ERR_INDEX: return "index out of range";
    case AG_ERR_NOTIMPL: return "not implemented";
    case AG_ERR_AUTOGRAD: return "autograd error";
    case AG_ERR_IO: return "i/o error";
    case AG_ERR_FORMAT: return "malformed file";
    case AG_ERR_NUMERIC: return "numerical error";
    case AG_ERR_BACKEND: return "backend error";
    }
    return "unknown status";
}

const char *ag_shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}
