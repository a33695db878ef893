/* imaging/priors.c — MPoL's visibility-plane regularizers UV_sparsity and PSD, composed from
 * primitive ops: each is one or two elementwise passes over a cube that the Fourier layer has
 * already made, not worth a fused kernel. No mask search and no host reads, so they run on
 * every device the primitive ops do. */
#include <math.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

static bool real_float(const ag_tensor *t) { return ag_dtype_of(t) == AG_F32 || ag_dtype_of(t) == AG_F64; }

ag_tensor *ag_uv_sparsity(ag_tensor *vis, ag_tensor *q, double q_max) {
    if (!AG_NONNULL("ag_uv_sparsity", vis, q)) return NULL;
    if (!ag_dtype_is_complex(ag_dtype_of(vis)))
        return ag_fail(AG_ERR_DTYPE, "ag_uv_sparsity: expected complex visibilities, given %s",
                       ag_dtype_name(ag_dtype_of(vis)));
    if (!real_float(q))
        return ag_fail(AG_ERR_DTYPE, "ag_uv_sparsity: expected real q (f32 or f64), given %s", ag_dtype_name(ag_dtype_of(q)));
    if (!(q_max >= 0) || q_max == (double)INFINITY)
        return ag_fail(AG_ERR_INVALID, "ag_uv_sparsity: expected a finite q_max >= 0, given %g", q_max);
    ag_scope_begin();
    ag_tensor *a = ag_add(ag_abs(ag_real(vis)), ag_abs(ag_imag(vis)));
    ag_tensor *r = ag_keep(ag_sum(ag_where(ag_gt(q, ag_scalar_like(q, q_max)), a, ag_scalar_like(a, 0)), AG_ALL_DIMS, false));
    ag_scope_end();
    return r;
}

ag_tensor *ag_psd(ag_tensor *q, ag_tensor *psd, double l) {
    if (!AG_NONNULL("ag_psd", q, psd)) return NULL;
    if (!real_float(q) || !real_float(psd))
        return ag_fail(AG_ERR_DTYPE, "ag_psd: expected real q and psd (f32 or f64), given %s and %s",
                       ag_dtype_name(ag_dtype_of(q)), ag_dtype_name(ag_dtype_of(psd)));
    if (!(l > 0) || l == (double)INFINITY)
        return ag_fail(AG_ERR_INVALID, "ag_psd: expected a finite correlation length l > 0 [arcsec], given %g", l);
    double lr = l * M_PI / (180.0 * 3600.0);
    ag_scope_begin();
    /* psd / P(q) = psd · exp(2π² l² q²) / (2π l²) */
    ag_tensor *e = ag_exp(ag_mul_s(ag_square(q), 2 * M_PI * M_PI * lr * lr));
    ag_tensor *r = ag_keep(ag_mul_s(ag_sum(ag_mul(psd, e), AG_ALL_DIMS, false), 1 / (2 * M_PI * lr * lr)));
    ag_scope_end();
    return r;
}
