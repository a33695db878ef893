/* tensor/nufft_ops.c — the direct DFT between packed image cubes and visibilities at arbitrary
 * (u, v) (include/astrograd/imaging.h, section "NuFFT and direct DFT").
 *
 * ag_dft and ag_dft_adjoint are one fused kernel (the dft entry) each way. Both are linear in
 * their first input, and each one's backward is the other (the conjugate-transposed sum), so
 * second and higher derivatives come for free. u and v are inputs that are never differentiated
 * and saved for the backward. */
#include <math.h>
#include <string.h>

#include "tensor/internal.h"
#include "astrograd/imaging.h"

/* t's view with leading size-1 dims up to ndim dims */
static ag_kview lead(const ag_tensor *t, int ndim) {
    ag_kview v = ag__view(t);
    int k = ndim - v.ndim;
    if (k <= 0) return v;
    memmove(v.shape + k, v.shape, (size_t)v.ndim * sizeof *v.shape);
    memmove(v.strides + k, v.strides, (size_t)v.ndim * sizeof *v.strides);
    for (int i = 0; i < k; i++) v.shape[i] = 1, v.strides[i] = 0;
    v.ndim = ndim;
    return v;
}

/* params: d[0] npix, d[1] dl, d[2] scale, d[3] sign. x: the cube (forward) or the visibilities
 * (adjoint); the result has out_ndim dims: forward (nchan, nvis) or (nvis), adjoint
 * (nchan, npix, npix) or (npix, npix) (the backward's, to give the input's own shape back). */
static ag_tensor *dft(const char *op, ag_tensor *x, ag_tensor *u, ag_tensor *v, int64_t npix, double dl, double scale,
                      int sign, bool adjoint, int out_ndim) {
    if (!AG_NONNULL(op, x, u, v)) return NULL;
    if (adjoint ? !ag_dtype_is_complex(x->dtype) : !ag_dtype_is_float(x->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected %s, given %s", op,
                       adjoint ? "complex visibilities (c64 or c128)" : "a f32, f64, c64 or c128 cube",
                       ag_dtype_name(x->dtype));
    ag_dtype rd = ag_dtype_to_real(x->dtype);
    if (u->dtype != rd || v->dtype != rd)
        return ag_fail(AG_ERR_DTYPE, "%s: expected real u and v of the %s's precision (%s), given %s and %s", op,
                       adjoint ? "visibilities" : "cube", ag_dtype_name(rd), ag_dtype_name(u->dtype),
                       ag_dtype_name(v->dtype));
    int64_t nchan, nvis;
    if (adjoint) {
        if (x->ndim < 1 || x->ndim > 2)
            return ag_fail(AG_ERR_SHAPE, "%s: expected visibilities (nvis) or (nchan, nvis), given shape %s", op, AG_SHP(x));
        nchan = x->ndim == 2 ? x->shape[0] : 1;
        nvis = x->shape[x->ndim - 1];
    } else {
        if (x->ndim < 2 || x->ndim > 3 || x->shape[x->ndim - 1] != npix || x->shape[x->ndim - 2] != npix)
            return ag_fail(AG_ERR_SHAPE, "%s: expected a packed cube (nchan, npix, npix) or (npix, npix) with the grid's "
                           "npix = %lld, given shape %s", op, (long long)npix, AG_SHP(x));
        nchan = x->ndim == 3 ? x->shape[0] : 1;
        nvis = u->ndim ? u->shape[u->ndim - 1] : 0;
    }
    bool same = u->ndim == v->ndim && !memcmp(u->shape, v->shape, (size_t)u->ndim * sizeof *u->shape);
    bool fits = (u->ndim == 1 && u->shape[0] == nvis) || (u->ndim == 2 && u->shape[0] == nchan && u->shape[1] == nvis);
    if (!same || !fits)
        return ag_fail(AG_ERR_SHAPE, "%s: expected u and v of one shape, (nvis) or (nchan, nvis) with nchan = %lld%s, "
                       "given u %s and v %s", op, (long long)nchan,
                       adjoint ? " and the visibilities' nvis" : "", AG_SHP(u), AG_SHP(v));
    if (!ag__same_device(op, x, u) || !ag__same_device(op, x, v)) return NULL;
    const ag_kernels *k = ag__kernels_with(op, x, (const void *)ag__kernels(x)->dft, "dft");
    if (!k) return NULL;
    int64_t shape[3] = {nchan, npix, npix}, vshape[2] = {nchan, nvis};
    ag_tensor *r = adjoint ? ag__new(shape + (3 - out_ndim), out_ndim, x->dtype, x->storage->dev, op)
                           : ag__new(vshape + (2 - out_ndim), out_ndim, ag_dtype_to_complex(rd), x->storage->dev, op);
    if (!r) return NULL;
    ag_kview vo = lead(r, adjoint ? 3 : 2), vi = lead(x, adjoint ? 2 : 3);
    ag_kview vu = ag__view_bcast(u, vshape, 2), vv = ag__view_bcast(v, vshape, 2);
    if (k->dft(&vo, &vi, &vu, &vv, dl, scale, sign, adjoint) < 0) { ag__drop(r); return NULL; }
    ag_op_params p = {.d = {(double)npix, dl, scale, sign}};
    return ag__finish(r, op, adjoint ? AG_OP(DFT_ADJOINT) : AG_OP(DFT), AG_IN(x, u, v), AG_IN(u, v), &p);
}

int ag__bw_dft(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    bool adj = n->def == AG_OP(DFT_ADJOINT);
    gin[0] = dft(n->name, g, n->saved[0], n->saved[1], (int64_t)n->p.d[0], n->p.d[1], n->p.d[2], (int)n->p.d[3], !adj,
                 n->in_ndim[0]);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *entry(const char *op, ag_tensor *x, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int sign,
                        bool adjoint) {
    if (!AG_NONNULL(op, x, u, v)) return NULL;
    if (!gc) return ag_fail(AG_ERR_INVALID, "%s: expected grid coordinates, given NULL", op);
    if (gc->npix < 2 || gc->npix % 2 || !(gc->dl > 0) || !isfinite(gc->dl) || gc->dm != gc->dl ||
        !(gc->cell_size > 0) || !isfinite(gc->cell_size))
        return ag_fail(AG_ERR_INVALID, "%s: expected grid coordinates from ag_grid_coords_init (even npix >= 2, "
                       "dl = dm > 0), given npix %lld, dl %g, dm %g", op, (long long)gc->npix, gc->dl, gc->dm);
    if (sign != 0 && sign != -1 && sign != 1)
        return ag_fail(AG_ERR_INVALID, "%s: expected sign -1 (MPoL; 0 means -1) or +1 (VLBI), given %d", op, sign);
    int nd = adjoint ? 3 : 2;
    return dft(op, x, u, v, gc->npix, gc->dl, gc->cell_size * gc->cell_size, sign > 0 ? 1 : -1, adjoint, nd);
}

ag_tensor *ag_dft(ag_tensor *cube, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int sign) {
    if (!AG_NONNULL("ag_dft", cube, u, v)) return NULL; /* named as the user's arguments */
    return entry("ag_dft", cube, u, v, gc, sign, false);
}

ag_tensor *ag_dft_adjoint(ag_tensor *vis, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int sign) {
    if (!AG_NONNULL("ag_dft_adjoint", vis, u, v)) return NULL;
    return entry("ag_dft_adjoint", vis, u, v, gc, sign, true);
}

/* ---- the NuFFT's kernel steps (tensor/layer.h; imaging/nufft.c makes them differentiable) ---- */

/* the plan tensors' views for nchan channels: shared (leading size 1) ones broadcast */
static bool nufft_views(const char *op, ag_tensor *x, ag_tensor *pts, ag_tensor *perm, ag_tensor *coef, int64_t nchan,
                        ag_kview *vp, ag_kview *vm) {
    if (!AG_NONNULL(op, x, pts, perm, coef)) return false;
    if (pts->ndim != 3 || perm->ndim != 2 || (pts->shape[0] != 1 && pts->shape[0] != nchan) ||
        perm->shape[0] != pts->shape[0] || perm->shape[1] != pts->shape[1]) {
        ag_fail(AG_ERR_SHAPE, "%s: expected plan points (1 or %lld, M, 2) and perm (1 or %lld, M), given %s and %s", op,
                (long long)nchan, (long long)nchan, AG_SHP(pts), AG_SHP(perm));
        return false;
    }
    if (!ag__same_device(op, x, pts) || !ag__same_device(op, x, perm) || !ag__same_device(op, x, coef)) return false;
    *vp = ag__view_bcast(pts, AG_SHAPE(nchan, pts->shape[1], 2));
    *vm = ag__view_bcast(perm, AG_SHAPE(nchan, perm->shape[1]));
    return true;
}

ag_tensor *ag__nufft_interp(const char *op, ag_tensor *grid, ag_tensor *pts, ag_tensor *perm, ag_tensor *coef, int w) {
    if (!AG_NONNULL(op, grid, pts, perm, coef)) return NULL;
    if (grid->ndim != 3 || !ag_dtype_is_complex(grid->dtype))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a complex fine grid (nchan, n, n), given %s %s", op,
                       ag_dtype_name(grid->dtype), AG_SHP(grid));
    int64_t nchan = grid->shape[0];
    ag_kview vp, vm;
    if (!nufft_views(op, grid, pts, perm, coef, nchan, &vp, &vm)) return NULL;
    const ag_kernels *k = ag__kernels_with(op, grid, (const void *)ag__kernels(grid)->nufft_interp, "nufft_interp");
    if (!k) return NULL;
    ag_tensor *g = ag__dense(grid, op);
    ag_tensor *r = g ? ag__new(AG_SHAPE(nchan, pts->shape[1]), grid->dtype, grid->storage->dev, op) : NULL;
    if (!r) { ag__drop(g); return NULL; }
    ag_kview vo = ag__view(r), vg = ag__view(g), vc = ag__view(coef);
    int rc = k->nufft_interp(&vo, &vg, &vp, &vm, &vc, w);
    ag__drop(g);
    if (rc < 0) { ag__drop(r); return NULL; }
    return ag__ret(r);
}

ag_tensor *ag__nufft_spread(const char *op, ag_tensor *vis, ag_tensor *pts, ag_tensor *perm, ag_tensor *bins,
                            ag_tensor *coef, int w, int ntile, int64_t n) {
    if (!AG_NONNULL(op, vis, pts, perm, bins, coef)) return NULL;
    if (vis->ndim != 2 || !ag_dtype_is_complex(vis->dtype))
        return ag_fail(AG_ERR_SHAPE, "%s: expected complex visibilities (nchan, M), given %s %s", op,
                       ag_dtype_name(vis->dtype), AG_SHP(vis));
    int64_t nchan = vis->shape[0];
    ag_kview vp, vm;
    if (!nufft_views(op, vis, pts, perm, coef, nchan, &vp, &vm)) return NULL;
    if (bins->ndim != 2 || bins->shape[0] != pts->shape[0] || !ag__same_device(op, vis, bins))
        return ag_fail(AG_ERR_SHAPE, "%s: expected plan bins (%lld, ntile² + 1), given %s", op,
                       (long long)pts->shape[0], AG_SHP(bins));
    const ag_kernels *k = ag__kernels_with(op, vis, (const void *)ag__kernels(vis)->nufft_spread, "nufft_spread");
    if (!k) return NULL;
    ag_tensor *r = ag__new(AG_SHAPE(nchan, n, n), vis->dtype, vis->storage->dev, op);
    if (!r) return NULL;
    ag_kview vo = ag__view(r), vv = ag__view(vis), vb = ag__view_bcast(bins, AG_SHAPE(nchan, bins->shape[1]));
    ag_kview vc = ag__view(coef);
    if (k->nufft_spread(&vo, &vv, &vp, &vm, &vb, &vc, w, ntile) < 0) { ag__drop(r); return NULL; }
    return ag__ret(r);
}
