/* imaging/ms.c — ag_read_ms's arguments and the build without casacore; the table reading is
 * C++ (imaging/ms.cc), since casacore's table system has no C interface. */
#include "ag_config.h"

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#ifdef AG_HAVE_CASACORE
ag_vis *ag__read_ms_casacore(const char *path, const ag_ms_opts *opts); /* imaging/ms.cc */
#endif

ag_vis *ag_read_ms(const char *path, const ag_ms_opts *opts) {
    if (!path) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "ag_read_ms: expected a path, given NULL");
    ag_ms_opts o = opts ? *opts : (ag_ms_opts){0};
    if (o.first_chan < 0 || o.nchan < 0)
        return ag_fail(AG_ERR_INVALID, "ag_read_ms: '%s': expected first_chan >= 0 and nchan >= 0, given %lld and %lld",
                       path, (long long)o.first_chan, (long long)o.nchan);
#ifdef AG_HAVE_CASACORE
    return ag__read_ms_casacore(path, &o);
#else
    return ag_fail(AG_ERR_NOTIMPL, "ag_read_ms: '%s': this build of astrograd has no casacore (configure with "
                   "-Dcasacore=enabled after installing casacore-dev)", path);
#endif
}
