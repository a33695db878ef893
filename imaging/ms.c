/* imaging/ms.c — ag_read_ms's arguments and the build without casacore. The table reading is
 * C++ (imaging/ms.cc: casacore's table system has no C interface), built as the module
 * libastrograd_ms.so and opened at the first ag_read_ms, so a program that reads no
 * Measurement Set loads neither casacore nor the C++ runtime (8.5 MB of RSS). */
#include <pthread.h>
#include <stdio.h>
#include "ag_config.h"

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#ifdef AG_HAVE_CASACORE
typedef ag_vis *(*read_fn)(const char *path, const ag_ms_opts *opts); /* ag__read_ms_casacore, imaging/ms.cc */
static read_fn reader;
static char why[600];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void load(void) {
    reader = (read_fn)ag__module_symbol("libastrograd_ms.so", "AG_MS_MODULE", "ag__read_ms_casacore", why, sizeof why);
}
#endif

ag_vis *ag_read_ms(const char *path, const ag_ms_opts *opts) {
    if (!path) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "ag_read_ms: expected a path, given NULL");
    ag_ms_opts o = opts ? *opts : (ag_ms_opts){0};
    if (o.first_chan < 0 || o.nchan < 0)
        return ag_fail(AG_ERR_INVALID, "ag_read_ms: '%s': expected first_chan >= 0 and nchan >= 0, given %lld and %lld",
                       path, (long long)o.first_chan, (long long)o.nchan);
#ifdef AG_HAVE_CASACORE
    pthread_once(&once, load);
    if (!reader) return ag_fail(AG_ERR_NOTIMPL, "ag_read_ms: '%s': the Measurement Set module: %s", path, why);
    return reader(path, &o);
#else
    return ag_fail(AG_ERR_NOTIMPL, "ag_read_ms: '%s': this build of astrograd has no casacore (configure with "
                   "-Dcasacore=enabled after installing casacore-dev)", path);
#endif
}
