/* tensor/device.c — device names, availability and the AG_DEVICE choice. */
#include <stdlib.h>
#include <string.h>

#include "astrograd/cuda.h"
#include "tensor/internal.h"

const char *ag_device_kind_name(ag_device_kind k) {
    switch (k) {
    case AG_DEV_CPU: return "cpu";
    case AG_DEV_CUDA: return "cuda";
    case AG_DEV_TEST: return "test";
    default: return "unknown";
    }
}

bool ag_device_eq(ag_device a, ag_device b) { return a.kind == b.kind && a.index == b.index; }

bool ag_device_available(ag_device dev) {
    if ((unsigned)dev.kind >= AG_NUM_DEVICE_KINDS || dev.index != 0 || !ag_kernels_for(dev)) return false;
    return dev.kind != AG_DEV_CUDA || ag_cuda_available();
}

/* "cpu", "cuda:0", ... -> *out; false when the text names no device (no error recorded) */
static bool parse(const char *text, ag_device *out) {
    for (int k = 0; k < AG_NUM_DEVICE_KINDS; k++) {
        const char *name = ag_device_kind_name((ag_device_kind)k);
        size_t n = strlen(name);
        if (strncmp(text, name, n)) continue;
        int index = 0;
        if (text[n] == ':') {
            char *end;
            long i = strtol(text + n + 1, &end, 10);
            if (end == text + n + 1 || *end || i < 0 || i > 1024) return false;
            index = (int)i;
        } else if (text[n]) {
            continue;
        }
        *out = (ag_device){(ag_device_kind)k, index};
        return true;
    }
    return false;
}

int ag_device_parse(const char *text, ag_device *out) {
    if (!text || !out) return ag_set_error(AG_ERR_INVALID, "ag_device_parse: NULL argument");
    if (parse(text, out)) return 0;
    return ag_set_error(AG_ERR_INVALID, "ag_device_parse: expected cpu, cuda, cuda:N or test, given \"%s\"", text);
}

ag_device ag_device_default(void) {
    const char *e = getenv("AG_DEVICE");
    if (!e || !*e) return AG_CPU;
    ag_device d;
    if (!parse(e, &d)) {
        ag_set_error(AG_ERR_DEVICE, "ag_device_default: AG_DEVICE=\"%s\" is not a device (expected cpu, cuda, "
                     "cuda:N or test)", e);
        return AG_CPU;
    }
    if (!ag_device_available(d)) {
        ag_set_error(AG_ERR_DEVICE, "ag_device_default: AG_DEVICE=\"%s\" is not available in this build or on "
                     "this machine", e);
        return AG_CPU;
    }
    return d;
}

int ag_device_missing_kernels(ag_device dev, const char **names, int cap) {
    const ag_kernels *k = (unsigned)dev.kind < AG_NUM_DEVICE_KINDS ? ag_kernels_for(dev) : NULL;
    if (!k) return -1;
    return ag_kernels_missing(k, names, cap);
}

int ag_device_kernel_count(void) { return ag_kernels_count(); }
