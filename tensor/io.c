/* tensor/io.c — writing a file so that a crash or an error never leaves a partial one: the
 * content goes to a temporary file in the target's directory, which is flushed, fsynced and
 * renamed over the target (a rename within one directory is atomic), then the directory is
 * fsynced so the rename itself is durable. Used by checkpoints (nn/), FFT wisdom, and FITS
 * images and PNG figures (imaging/). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tensor/internal.h"

static int fsync_path(const char *p, int flags) {
    int fd = open(p, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ag__write_file_atomic(const char *fn, const char *path, int (*fill)(void *ctx, const char *tmp), void *ctx) {
    if (!path) return ag_set_error(AG_ERR_INVALID, "%s: NULL path", fn);
    size_t len = strlen(path);
    char *dirbuf = strdup(path), *basebuf = strdup(path), *tmp = malloc(len + 64);
    if (!dirbuf || !basebuf || !tmp) {
        free(dirbuf);
        free(basebuf);
        free(tmp);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    }
    const char *dir = dirname(dirbuf), *base = basename(basebuf);
    /* not mkstemp: its file is 0600, and the rename would hand that mode to the target; created
     * as fopen would (0666 less the umask) under a name O_EXCL keeps to this call */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long salt = (unsigned long)ts.tv_nsec ^ (unsigned long)(uintptr_t)&ts;
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        snprintf(tmp, len + 64, "%s/.%s.%ld.%lx", dir, base, (long)getpid(), salt + (unsigned long)i * 0x9e3779b9ul);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    int rc = 0;
    if (fd < 0) {
        rc = ag_set_error(AG_ERR_IO, "%s: cannot write in the directory of '%s': %s", fn, path, strerror(errno));
    } else {
        close(fd);
        rc = fill(ctx, tmp);
        if (!rc && fsync_path(tmp, O_RDONLY) < 0)
            rc = ag_set_error(AG_ERR_IO, "%s: fsync of '%s' failed: %s", fn, tmp, strerror(errno));
        if (!rc && rename(tmp, path) < 0)
            rc = ag_set_error(AG_ERR_IO, "%s: cannot rename the temporary file to '%s': %s", fn, path, strerror(errno));
        if (rc) unlink(tmp);
        else fsync_path(dir, O_RDONLY | O_DIRECTORY); /* make the rename durable; best effort */
    }
    free(dirbuf);
    free(basebuf);
    free(tmp);
    return rc;
}
