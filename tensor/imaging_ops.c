/* tensor/imaging_ops.c — the fused visibility losses and image regularizers of MPoL's
 * losses.py: one forward kernel and one backward kernel each (backends/cpu/imaging.c), so a
 * loss costs one pass over the visibilities or the image instead of the five to fifteen of the
 * composed formula.
 *
 * The backward rules call the backward kernels directly: their results carry no history, so
 * second derivatives are not available. Under create_graph the rules fail with AG_ERR_NOTIMPL
 * rather than return a gradient that would silently differentiate as a constant. */
#include <math.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/internal.h"

/* contiguous t seen as 1-d */
static ag_kview flat(const ag_tensor *t) {
    ag_kview v = ag__view(t);
    v.ndim = 1;
    v.shape[0] = ag__numel(t->shape, t->ndim);
    v.strides[0] = 1;
    return v;
}
/* contiguous t seen in the 3-d shape of the contiguous view like */
static ag_kview as3(const ag_tensor *t, const ag_kview *like) {
    ag_kview v = ag__view(t);
    v.ndim = 3;
    memcpy(v.shape, like->shape, sizeof(int64_t) * 3);
    memcpy(v.strides, like->strides, sizeof(int64_t) * 3);
    return v;
}
static bool same_shape(const ag_tensor *a, const ag_tensor *b) {
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}
static int no_second_order(const ag_node *n) {
    return ag__grad_enabled() ? ag_set_error(AG_ERR_NOTIMPL, "%s: second derivatives are not implemented (its "
                                             "backward is a fused kernel); differentiate the composed formula instead",
                                             n->name)
                              : 0;
}

/* ---- visibility losses ---------------------------------------------------------------------- */

/* saved: m, d, w, aux (N), mask (when p.i[1]) */
int ag__bw_vis_loss(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (no_second_order(n) < 0) return ag_error_code();
    ag_vis_loss_op kind = (ag_vis_loss_op)n->p.i[0];
    ag_tensor *m = n->saved[0], *d = n->saved[1], *w = n->saved[2], *aux = n->saved[3];
    ag_tensor *mask = n->p.i[1] ? n->saved[4] : NULL;
    const ag_kernels *k = ag__kernels_with(n->name, m, (const void *)ag__kernels(m)->vis_loss_backward, "vis_loss_backward");
    if (!k) return ag_error_code();
    ag_tensor *gm = ag__new(m->shape, m->ndim, m->dtype, m->storage->dev, n->name);
    ag_tensor *gw = n->needs[2] ? ag__new(w->shape, w->ndim, w->dtype, w->storage->dev, n->name) : NULL;
    ag_tensor *cg = ag__dense(g, n->name);
    int rc = gm && cg && (gw || !n->needs[2]) ? 0 : ag_error_code();
    if (!rc) {
        ag_kview vgm = flat(gm), vgw = gw ? flat(gw) : (ag_kview){0}, vg = flat(cg), va = flat(aux), vm = flat(m),
                 vd = flat(d), vw = flat(w), vk = mask ? flat(mask) : (ag_kview){0};
        rc = k->vis_loss_backward(kind, &vgm, &vgw, &vg, &va, &vm, &vd, &vw, &vk);
    }
    ag__drop(cg);
    if (rc < 0) {
        ag__drop(gm);
        ag__drop(gw);
        return rc;
    }
    if (n->needs[0]) gin[0] = gm;
    else ag__drop(gm);
    if (gw) gin[2] = gw;
    return 0;
}

/* parameters named as the header's, for the NULL-argument messages */
static ag_tensor *vis_loss(const char *op, ag_vis_loss_op kind, ag_tensor *model, ag_tensor *data, ag_tensor *weight,
                           ag_tensor *mask) {
    if (!AG_NONNULL(op, model, data, weight)) return NULL;
    ag_tensor *m = model, *d = data, *w = weight;
    if (!ag_dtype_is_complex(m->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a complex model (c64 or c128), given %s", op, ag_dtype_name(m->dtype));
    if (d->dtype != m->dtype)
        return ag_fail(AG_ERR_DTYPE, "%s: expected data of the model's dtype %s, given %s", op, ag_dtype_name(m->dtype),
                       ag_dtype_name(d->dtype));
    if (w->dtype != ag_dtype_to_real(m->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected weights of dtype %s (the model's real dtype), given %s", op,
                       ag_dtype_name(ag_dtype_to_real(m->dtype)), ag_dtype_name(w->dtype));
    if (!same_shape(m, d) || !same_shape(m, w))
        return ag_fail(AG_ERR_SHAPE, "%s: expected model, data and weight of one shape, given %s, %s and %s", op,
                       AG_SHP(m), AG_SHP(d), AG_SHP(w));
    if (mask && (mask->dtype != AG_BOOL || !same_shape(m, mask)))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a bool mask of the model's shape %s, given %s %s", op, AG_SHP(m),
                       ag_dtype_name(mask->dtype), AG_SHP(mask));
    if (!ag__same_device(op, m, d) || !ag__same_device(op, m, w) || (mask && !ag__same_device(op, m, mask))) return NULL;
    const ag_kernels *k = ag__kernels_with(op, m, (const void *)ag__kernels(m)->vis_loss, "vis_loss");
    if (!k) return NULL;
    ag_dtype rt = ag_dtype_to_real(m->dtype);
    ag_tensor *cm = ag__dense(m, op), *cd = ag__dense(d, op), *cw = ag__dense(w, op), *ck = mask ? ag__dense(mask, op) : NULL;
    /* aux (N) in f64 also for c64: an f32 count is inexact beyond 2^24 visibilities */
    ag_tensor *r = ag__new(NULL, 0, rt, m->storage->dev, op), *aux = ag__new(NULL, 0, AG_F64, m->storage->dev, op);
    if (r && aux && cm && cd && cw && (ck || !mask)) {
        ag_kview vr = ag__view(r), va = ag__view(aux), vm = flat(cm), vd = flat(cd), vw = flat(cw),
                 vk = ck ? flat(ck) : (ag_kview){0};
        if (k->vis_loss(op, kind, &vr, &va, &vm, &vd, &vw, &vk) < 0) { ag__drop(r); r = NULL; }
    } else {
        ag__drop(r);
        r = NULL;
    }
    ag_op_params p;
    memset(&p, 0, sizeof p);
    p.i[0] = kind;
    p.i[1] = mask != NULL;
    ag_tensor *saved[5] = {cm, cd, cw, aux, ck};
    r = ag__finish(r, op, AG_OP(VIS_LOSS), AG_IN(m, d, w), saved, mask ? 5 : 4, &p);
    ag__drop(cm), ag__drop(cd), ag__drop(cw), ag__drop(aux), ag__drop(ck);
    return r;
}

ag_tensor *ag_chi_squared(ag_tensor *m, ag_tensor *d, ag_tensor *w) { return vis_loss("ag_chi_squared", AG_VL_CHI2, m, d, w, NULL); }
ag_tensor *ag_r_chi_squared(ag_tensor *m, ag_tensor *d, ag_tensor *w) {
    return vis_loss("ag_r_chi_squared", AG_VL_RCHI2, m, d, w, NULL);
}
ag_tensor *ag_log_likelihood(ag_tensor *m, ag_tensor *d, ag_tensor *w) {
    return vis_loss("ag_log_likelihood", AG_VL_LOGLIK, m, d, w, NULL);
}
ag_tensor *ag_neg_log_likelihood_avg(ag_tensor *m, ag_tensor *d, ag_tensor *w) {
    return vis_loss("ag_neg_log_likelihood_avg", AG_VL_NLL_AVG, m, d, w, NULL);
}
ag_tensor *ag_neg_log_likelihood_avg_masked(ag_tensor *m, ag_tensor *d, ag_tensor *w, ag_tensor *mask) {
    if (!AG_NONNULL_FROM("ag_neg_log_likelihood_avg_masked", 4, mask)) return NULL;
    return vis_loss("ag_neg_log_likelihood_avg_masked", AG_VL_NLL_AVG, m, d, w, mask);
}
ag_tensor *ag_chi_squared_masked(ag_tensor *m, ag_tensor *d, ag_tensor *w, ag_tensor *mask) {
    if (!AG_NONNULL_FROM("ag_chi_squared_masked", 4, mask)) return NULL;
    return vis_loss("ag_chi_squared_masked", AG_VL_CHI2, m, d, w, mask);
}

/* ---- image regularizers ----------------------------------------------------------------------- */

/* saved: s3 (the 3-d contiguous image), p (entropy and the weighted sum: the contiguous prior,
 * s3's shape, or its one value), mask (sparsity, when p.i[2]); p.i[0] kind, p.d[3..7] the kernel's
 * parameters */
int ag__bw_image_prior(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    if (no_second_order(n) < 0) return ag_error_code();
    ag_prior_op kind = (ag_prior_op)n->p.i[0];
    const double *param = &n->p.d[3];
    bool has_p = kind == AG_PRIOR_ENTROPY || (kind == AG_PRIOR_SUM && param[0] != 0);
    ag_tensor *s = n->saved[0], *pr = has_p ? n->saved[1] : NULL;
    ag_tensor *mask = n->p.i[2] ? n->saved[1] : NULL;
    const ag_kernels *k =
        ag__kernels_with(n->name, s, (const void *)ag__kernels(s)->image_prior_backward, "image_prior_backward");
    if (!k) return ag_error_code();
    bool want_p = kind == AG_PRIOR_ENTROPY && pr && n->n_in > 1 && n->needs[1];
    /* allocated in the image's own shape (the engine reduces gp to the prior's); the kernels
     * see them in s's 3-d layout, which has the same contiguous order */
    ag_tensor *gs = ag__new(n->in_shape[0], n->in_ndim[0], s->dtype, s->storage->dev, n->name);
    ag_tensor *gp = want_p ? ag__new(n->in_shape[0], n->in_ndim[0], s->dtype, s->storage->dev, n->name) : NULL;
    ag_tensor *cg = ag__dense(g, n->name);
    int rc = gs && cg && (gp || !want_p) ? 0 : ag_error_code();
    if (!rc) {
        ag_kview vs = ag__view(s), vgs = as3(gs, &vs), vgp = gp ? as3(gp, &vs) : (ag_kview){0}, vg = flat(cg),
                 vp = pr ? ag__view(pr) : (ag_kview){0}, vk = mask ? ag__view(mask) : (ag_kview){0};
        rc = k->image_prior_backward(kind, &vgs, &vgp, &vg, &vs, &vp, &vk, param);
    }
    ag__drop(cg);
    if (rc < 0) {
        ag__drop(gs);
        ag__drop(gp);
        return rc;
    }
    if (n->needs[0]) gin[0] = gs;
    else ag__drop(gs);
    if (gp) gin[1] = gp;
    return 0;
}

static bool real_image(const char *op, const ag_tensor *s) {
    if (s->dtype == AG_F32 || s->dtype == AG_F64) return true;
    ag_fail(AG_ERR_DTYPE, "%s: expected a real image (f32 or f64), given %s", op, ag_dtype_name(s->dtype));
    return false;
}

/* s3: the image as (nchan, npix_y, npix_x); kinds that read neighbours need ndim 3 (or 2 when
 * twod), the elementwise ones take any shape (seen as one row) */
static ag_tensor *image_prior(const char *op, ag_prior_op kind, ag_tensor *cube, ag_tensor *pr, ag_tensor *mask,
                              const double *param, int nparam) {
    if (!AG_NONNULL(op, cube)) return NULL;
    ag_tensor *s = cube;
    if (!real_image(op, s)) return NULL;
    bool elementwise = kind == AG_PRIOR_ENTROPY || kind == AG_PRIOR_SPARSITY;
    bool twod = kind == AG_PRIOR_TV_IMAGE || kind == AG_PRIOR_TSV || kind == AG_PRIOR_SUM;
    if (!elementwise && !(s->ndim == 3 || (twod && s->ndim == 2)))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a %s image, given %s", op,
                       twod ? "3-d (nchan, npix, npix) or 2-d (npix, npix)" : "3-d (nchan, npix, npix)", AG_SHP(s));
    if (pr) {
        if (!real_image(op, pr) || !ag__same_device(op, s, pr)) return NULL;
        if (pr->dtype != s->dtype)
            return ag_fail(AG_ERR_DTYPE, "%s: expected a prior of the image's dtype %s, given %s", op,
                           ag_dtype_name(s->dtype), ag_dtype_name(pr->dtype));
        int64_t bs[AG_MAX_DIMS];
        int nb;
        if (!ag__broadcast_shapes(op, pr->shape, pr->ndim, s->shape, s->ndim, bs, &nb)) return NULL;
        if (nb != s->ndim || memcmp(bs, s->shape, sizeof(int64_t) * (size_t)nb))
            return ag_fail(AG_ERR_SHAPE, "%s: expected a prior that broadcasts to the image's shape %s, given %s", op,
                           AG_SHP(s), AG_SHP(pr));
    }
    if (mask) {
        if (!ag__same_device(op, s, mask)) return NULL;
        if (mask->dtype != AG_BOOL || !same_shape(s, mask))
            return ag_fail(AG_ERR_SHAPE, "%s: expected a bool mask of the image's shape %s, given %s %s", op, AG_SHP(s),
                           ag_dtype_name(mask->dtype), AG_SHP(mask));
    }
    const ag_kernels *k = ag__kernels_with(op, s, (const void *)ag__kernels(s)->image_prior, "image_prior");
    if (!k) return NULL;
    int64_t n = ag__numel(s->shape, s->ndim);
    int64_t shp3[3];
    /* elementwise kinds: rows of the last dim, so that the kernels' blocks (and threads) have
     * rows to share; the flat order, and so the flat indices in messages, is unchanged */
    if (elementwise) {
        int64_t last = s->ndim ? s->shape[s->ndim - 1] : 1;
        shp3[0] = 1, shp3[1] = last ? n / last : 0, shp3[2] = last;
    }
    else if (s->ndim == 2) shp3[0] = 1, shp3[1] = s->shape[0], shp3[2] = s->shape[1];
    else memcpy(shp3, s->shape, sizeof shp3);
    ag_tensor *cs = ag__dense(s, op), *cp = NULL, *ck = mask ? ag__dense(mask, op) : NULL;
    ag_tensor *s3 = cs ? ag__alias(cs) : NULL;
    if (s3) {
        s3->ndim = 3;
        memcpy(s3->shape, shp3, sizeof shp3);
        ag__contiguous_strides(s3->shape, 3, s3->strides);
    }
    if (pr && s3 && ag__numel(pr->shape, pr->ndim) == 1) { /* one value: read in place, strides 0 */
        cp = ag__alias(pr);
        if (cp) {
            cp->ndim = 3;
            memcpy(cp->shape, shp3, sizeof shp3);
            cp->strides[0] = cp->strides[1] = cp->strides[2] = 0;
        }
    } else if (pr && s3) { /* the prior read at every pixel: a contiguous copy of the broadcast */
        cp = ag__new(s->shape, s->ndim, s->dtype, s->storage->dev, op);
        if (cp) {
            ag_kview dv = ag__view(cp), sv = ag__view_bcast(pr, s->shape, s->ndim);
            if (ag__kernels(pr)->copy(&dv, &sv) < 0) { ag__drop(cp); cp = NULL; }
        }
        if (cp) {
            cp->ndim = 3;
            memcpy(cp->shape, shp3, sizeof shp3);
            ag__contiguous_strides(cp->shape, 3, cp->strides);
        }
    }
    ag_tensor *r = ag__new(NULL, 0, s->dtype, s->storage->dev, op);
    if (r && s3 && (cp || !pr) && (ck || !mask)) {
        ag_kview vr = ag__view(r), vs = ag__view(s3), vp = cp ? ag__view(cp) : (ag_kview){0}, vk = {0};
        if (ck) {
            vk = ag__view(ck);
            vk.ndim = 3;
            memcpy(vk.shape, shp3, sizeof shp3);
            vk.strides[0] = shp3[1] * shp3[2], vk.strides[1] = shp3[2], vk.strides[2] = 1;
        }
        if (k->image_prior(op, kind, &vr, &vs, &vp, &vk, param) < 0) { ag__drop(r); r = NULL; }
    } else {
        ag__drop(r);
        r = NULL;
    }
    if (ck && r) { /* saved in the 3-d layout the backward kernel reads */
        ag_tensor *k3 = ag__alias(ck);
        k3->ndim = 3;
        memcpy(k3->shape, shp3, sizeof shp3);
        ag__contiguous_strides(k3->shape, 3, k3->strides);
        ag__drop(ck);
        ck = k3;
    }
    ag_op_params p;
    memset(&p, 0, sizeof p);
    p.i[0] = kind;
    p.i[2] = mask != NULL;
    memcpy(&p.d[3], param, sizeof(double) * (size_t)nparam);
    ag_tensor *saved[2] = {s3, cp ? cp : ck};
    int nsaved = cp || ck ? 2 : 1;
    r = pr && kind != AG_PRIOR_SUM ? ag__finish(r, op, AG_OP(IMAGE_PRIOR), AG_IN(s, pr), saved, nsaved, &p)
           : ag__finish(r, op, AG_OP(IMAGE_PRIOR), AG_IN(s), saved, nsaved, &p);
    ag__drop(cs), ag__drop(s3), ag__drop(cp), ag__drop(ck);
    return r;
}

ag_tensor *ag_entropy(ag_tensor *cube, ag_tensor *prior_intensity, double tot_flux) {
    if (!AG_NONNULL("ag_entropy", cube, prior_intensity)) return NULL;
    if (!(tot_flux > 0) || tot_flux == (double)INFINITY)
        return ag_fail(AG_ERR_INVALID, "ag_entropy: expected a finite tot_flux > 0, given %g", tot_flux);
    return image_prior("ag_entropy", AG_PRIOR_ENTROPY, cube, prior_intensity, NULL, (double[]){tot_flux}, 1);
}
ag_tensor *ag_entropy_s(ag_tensor *cube, double prior_intensity, double tot_flux) {
    if (!AG_NONNULL("ag_entropy_s", cube)) return NULL;
    if (!(prior_intensity > 0))
        return ag_fail(AG_ERR_INVALID, "ag_entropy_s: expected a prior intensity > 0, given %g", prior_intensity);
    if (!(tot_flux > 0) || tot_flux == (double)INFINITY)
        return ag_fail(AG_ERR_INVALID, "ag_entropy_s: expected a finite tot_flux > 0, given %g", tot_flux);
    ag_scope_begin();
    ag_tensor *p = ag_scalar_like(cube, prior_intensity);
    ag_tensor *r = ag_keep(image_prior("ag_entropy_s", AG_PRIOR_ENTROPY, cube, p, NULL, (double[]){tot_flux}, 1));
    ag_scope_end();
    return r;
}
ag_tensor *ag_sparsity(ag_tensor *cube, ag_tensor *mask) {
    return image_prior("ag_sparsity", AG_PRIOR_SPARSITY, cube, NULL, mask, (double[]){0}, 1);
}
static bool eps_ok(const char *op, double eps) {
    if (eps >= 0 && eps < (double)INFINITY) return true;
    ag_fail(AG_ERR_INVALID, "%s: expected a finite epsilon >= 0, given %g", op, eps);
    return false;
}
ag_tensor *ag_tv_image(ag_tensor *sky_cube, double epsilon) {
    if (!eps_ok("ag_tv_image", epsilon)) return NULL;
    return image_prior("ag_tv_image", AG_PRIOR_TV_IMAGE, sky_cube, NULL, NULL, (double[]){epsilon}, 1);
}
ag_tensor *ag_tsv(ag_tensor *sky_cube) {
    return image_prior("ag_tsv", AG_PRIOR_TSV, sky_cube, NULL, NULL, (double[]){0}, 1);
}
ag_tensor *ag_tv_channel(ag_tensor *cube, double epsilon) {
    if (!eps_ok("ag_tv_channel", epsilon)) return NULL;
    return image_prior("ag_tv_channel", AG_PRIOR_TV_CHANNEL, cube, NULL, NULL, (double[]){epsilon}, 1);
}
ag_tensor *ag_edge_clamp(ag_tensor *cube) {
    return image_prior("ag_edge_clamp", AG_PRIOR_EDGE_CLAMP, cube, NULL, NULL, (double[]){0}, 1);
}
static bool is_finite(double x) { return x == x && x != (double)INFINITY && x != -(double)INFINITY; }
ag_tensor *ag_image_priors(ag_tensor *sky_cube, const ag_prior_weights *w) {
    if (!AG_NONNULL("ag_image_priors", sky_cube, w)) return NULL;
    if (!is_finite(w->entropy) || !is_finite(w->sparsity) || !is_finite(w->tv) || !is_finite(w->tsv))
        return ag_fail(AG_ERR_INVALID, "ag_image_priors: expected finite weights, given entropy %g sparsity %g tv %g tsv %g",
                       w->entropy, w->sparsity, w->tv, w->tsv);
    if (!eps_ok("ag_image_priors", w->tv_epsilon)) return NULL;
    if (w->entropy != 0 && !(w->prior_intensity > 0 && is_finite(w->prior_intensity)))
        return ag_fail(AG_ERR_INVALID, "ag_image_priors: expected a finite prior intensity > 0, given %g",
                       w->prior_intensity);
    if (w->entropy != 0 && !(w->tot_flux > 0 && is_finite(w->tot_flux)))
        return ag_fail(AG_ERR_INVALID, "ag_image_priors: expected a finite tot_flux > 0, given %g", w->tot_flux);
    double param[5] = {w->entropy != 0 ? w->entropy / w->tot_flux : 0, w->sparsity, w->tv, w->tv_epsilon, w->tsv};
    ag_scope_begin();
    ag_tensor *p = w->entropy != 0 ? ag_scalar_like(sky_cube, w->prior_intensity) : NULL;
    ag_tensor *r = w->entropy != 0 && !p ? NULL
                                         : ag_keep(image_prior("ag_image_priors", AG_PRIOR_SUM, sky_cube, p, NULL, param, 5));
    ag_scope_end();
    return r;
}
