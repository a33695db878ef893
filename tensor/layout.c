/* tensor/layout.c — the imaging layout conversions (include/astrograd/imaging.h, section
 * "Layouts, cubes and Fourier layers"): packed <-> sky images and packed <-> ground
 * visibilities over the last two dims.
 *
 * Each is one pass of the roll2d kernel (a roll of both dims, the sky's east-left flip of the
 * last axis folded in) instead of fftshift and flip as two copies. All four are one registered
 * op (ROLL2D, labelled with the public name); its backward is the inverse permutation, itself a
 * roll2d, so higher derivatives work too.
 *
 * ag_hermitian_fill (the real-cube path of FourierCube) writes a real signal's full spectrum
 * from its rfft half plane in one pass, scaled and optionally conjugated; its backward is the
 * map's real adjoint (the same kernel, adjoint flag set), whose backward is the fill again. */
#include <string.h>

#include "tensor/internal.h"
#include "astrograd/imaging.h"

/* params: i[0] s0, i[1] s1, i[2] flip (the kernel's meaning, backends/kernels.h) */
static ag_tensor *roll2d(const char *op, ag_tensor *t, int64_t s0, int64_t s1, bool flip) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (t->ndim < 2)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a tensor of at least 2 dims (..., rows, columns), given shape %s", op,
                       AG_SHP(t));
    if (!ag_dtype_is_float(t->dtype))
        return ag_fail(AG_ERR_DTYPE, "%s: expected a f32, f64, c64 or c128 tensor, given %s", op, ag_dtype_name(t->dtype));
    const ag_kernels *k = ag__kernels(t);
    if (!k->roll2d) return ag_fail(AG_ERR_NOTIMPL, "%s: no roll2d kernel on the %s backend", op, k->name);
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview vo = ag__view(r), vi = ag__view(t);
    if (k->roll2d(&vo, &vi, s0, s1, flip) < 0) { ag__drop(r); return NULL; }
    ag_op_params p = {.i = {s0, s1, flip}};
    return ag__finish(r, op, AG_OP(ROLL2D), AG_IN(t), AG_NONE, &p);
}

int ag__bw_roll2d(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int64_t H = g->shape[g->ndim - 2], W = g->shape[g->ndim - 1], s0 = n->p.i[0], s1 = n->p.i[1];
    bool flip = n->p.i[2];
    /* roll by -s0 undoes the rows; the flipped column map c' = W-1-((j+s1)%W) is its own
     * inverse with the same s1, the plain one needs -s1 */
    int64_t b0 = H ? (H - s0) % H : 0, b1 = flip ? s1 : (W ? (W - s1) % W : 0);
    gin[0] = roll2d(n->name, g, b0, b1, flip);
    return gin[0] ? 0 : ag_error_code();
}

static int64_t len(const ag_tensor *t, int d) { return t && t->ndim >= 2 ? t->shape[t->ndim - 1 - d] : 0; }
static int64_t half(const ag_tensor *t, int d) { return len(t, d) / 2; }
static int64_t up(const ag_tensor *t, int d) { int64_t n = len(t, d); return n ? (n - n / 2) % n : 0; }

/* S = flip(fftshift(P), -1): S[i, j] = P[(i + H - H/2) % H, W-1 - ((j + W/2) % W)] */
ag_tensor *ag_packed_to_sky(ag_tensor *cube) { return roll2d("ag_packed_to_sky", cube, up(cube, 1), half(cube, 0), true); }
/* P = ifftshift(flip(S, -1)): P[a, b] = S[(a + H/2) % H, W-1 - ((b + W/2) % W)] */
ag_tensor *ag_sky_to_packed(ag_tensor *cube) { return roll2d("ag_sky_to_packed", cube, half(cube, 1), half(cube, 0), true); }
ag_tensor *ag_packed_to_ground(ag_tensor *vis) { return roll2d("ag_packed_to_ground", vis, up(vis, 1), up(vis, 0), false); }
ag_tensor *ag_ground_to_packed(ag_tensor *vis) { return roll2d("ag_ground_to_packed", vis, half(vis, 1), half(vis, 0), false); }

/* params: d[0] n, d[1] scale, d[2] conjugate, d[3] adjoint */
static ag_tensor *hermitian(const char *op, ag_tensor *t, int64_t n, double scale, bool cj, bool adjoint) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (t->ndim < 2 || !ag_dtype_is_complex(t->dtype))
        return ag_fail(t->ndim < 2 ? AG_ERR_SHAPE : AG_ERR_DTYPE, "%s: expected a c64 or c128 tensor of at least 2 dims, "
                       "given %s %s", op, ag_dtype_name(t->dtype), AG_SHP(t));
    int64_t want = adjoint ? n : n / 2 + 1;
    if (n < 1 || t->shape[t->ndim - 1] != want)
        return ag_fail(AG_ERR_SHAPE, "%s: expected n >= 1 and a last dim of n/2 + 1 = %lld (the rfft half plane), given "
                       "n = %lld and shape %s", op, (long long)(n / 2 + 1), (long long)n, AG_SHP(t));
    const ag_kernels *k = ag__kernels(t);
    if (!k->hermitian_fill) return ag_fail(AG_ERR_NOTIMPL, "%s: no hermitian_fill kernel on the %s backend", op, k->name);
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    shape[t->ndim - 1] = adjoint ? n / 2 + 1 : n;
    ag_tensor *r = ag__new(shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview vo = ag__view(r), vi = ag__view(t);
    if (k->hermitian_fill(&vo, &vi, n, scale, cj, adjoint) < 0) { ag__drop(r); return NULL; }
    ag_op_params p = {.d = {(double)n, scale, cj, adjoint}};
    return ag__finish(r, op, AG_OP(HERMITIAN_FILL), AG_IN(t), AG_NONE, &p);
}

int ag__bw_hermitian_fill(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = hermitian(n->name, g, (int64_t)n->p.d[0], n->p.d[1], n->p.d[2] != 0, n->p.d[3] == 0);
    return gin[0] ? 0 : ag_error_code();
}

ag_tensor *ag_hermitian_fill(ag_tensor *half, int64_t n, double scale, bool conjugate) {
    return hermitian("ag_hermitian_fill", half, n, scale, conjugate, false);
}
