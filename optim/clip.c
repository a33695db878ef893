/* optim/clip.c — gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
 * The gradients are modified in place (their storage version is bumped). */
#include <math.h>

#include "optim/optim_internal.h"

double ag_clip_grad_norm(ag_params params, double max_norm, double norm_type) {
    const char *f = "ag_clip_grad_norm";
    if (params.n < 0 || (params.n > 0 && !params.t)) { ag_set_error(AG_ERR_INVALID, "%s: bad parameter list", f); return NAN; }
    if (!(norm_type > 0)) { ag_set_error(AG_ERR_INVALID, "%s: norm_type must be > 0 (or INFINITY), given %g", f, norm_type); return NAN; }
    if (isnan(max_norm)) { ag_set_error(AG_ERR_INVALID, "%s: max_norm is NaN", f); return NAN; }
    if (ag_failed()) return NAN;
    /* torch: total = norm(stack([norm(g, p) for g]), p); inf: max of abs max */
    double acc = 0;
    int count = 0;
    ag_no_grad_begin();
    ag_scope_begin();
    for (int i = 0; i < params.n; i++) {
        ag_tensor *g = ag_grad_of(params.t[i]); /* NULL for a NULL parameter */
        if (!g) continue;
        ag_tensor *nt = ag_norm(g, norm_type, AG_ALL_DIMS, false);
        if (!nt) break;
        double v = ag_item(nt);
        if (isinf(norm_type)) acc = count == 0 ? v : (v > acc || v != v ? v : acc);
        else if (norm_type == 2) acc += v * v;
        else if (norm_type == 1) acc += v;
        else acc += pow(v, norm_type);
        count++;
    }
    double total = 0;
    if (!ag_failed() && count) {
        if (isinf(norm_type) || norm_type == 1) total = acc;
        else if (norm_type == 2) total = sqrt(acc);
        else total = pow(acc, 1.0 / norm_type);
        double coef = max_norm / (total + 1e-6);
        if (coef > 1.0) coef = 1.0;   /* torch.clamp(max=1.0): NaN stays NaN */
        for (int i = 0; i < params.n && !ag_failed(); i++) {
            ag_tensor *g = ag_grad_of(params.t[i]);
            if (!g) continue;
            ag_tensor *r = ag_mul_s(g, coef);
            if (r) ag_copy_(g, r);
        }
    }
    ag_scope_end();
    ag_no_grad_end();
    return ag_failed() ? NAN : total;
}

static int clamp_into(ag_tensor *t, double v) {
    ag_tensor *r = ag_clamp(t, -v, v);
    return r ? ag_copy_(t, r) : ag_error_code();
}

int ag_clip_grad_value(ag_params params, double v) {
    const char *f = "ag_clip_grad_value";
    if (params.n < 0 || (params.n > 0 && !params.t)) return ag_set_error(AG_ERR_INVALID, "%s: bad parameter list", f);
    if (!(v >= 0)) return ag_set_error(AG_ERR_INVALID, "%s: clip value must be >= 0, given %g", f, v);
    if (ag_failed()) return ag_error_code();
    int rc = 0;
    ag_no_grad_begin();
    ag_scope_begin();
    for (int i = 0; i < params.n && !rc; i++) {
        ag_tensor *g = ag_grad_of(params.t[i]);
        if (!g) continue;
        if (ag_dtype_is_complex(ag_dtype_of(g))) {
            ag_tensor *re = ag_real(g), *im = ag_imag(g);
            rc = re && im ? clamp_into(re, v) : ag_error_code();
            if (!rc) rc = clamp_into(im, v);
        } else {
            rc = clamp_into(g, v);
        }
    }
    ag_scope_end();
    ag_no_grad_end();
    return rc;
}
