/* imaging/nufft_layer.c — the NuFFT as a differentiable op in the image AND in (u, v), and
 * MPoL's NuFFT layer as a module, built on imaging/nufft.c's public plan and transforms.
 *
 * V_k = c² Σ_p I_p e^{s 2πi (u_k l_p + v_k m_p)}, so ∂V_k/∂u_k = s 2πi · (type 2 of l·I)_k and
 * the same with m for v: the u/v gradient costs one more NuFFT of the coordinate-weighted cube
 * each. The image gradient is the adjoint (type 1). The plan belongs to the points, so it sits
 * in a refcounted payload that every node made with it retains: a module may replace its plan
 * (another device or precision) while an older graph still needs the old one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "astrograd/op.h"
#include "tensor/layer.h"

typedef struct nufft_ctx {
    ag_nufft_plan *plan;
    ag_grid_coords gc;
    int sign;
    ag_device dev;
    ag_dtype real;
} nufft_ctx;

static void ctx_free(void *p) {
    nufft_ctx *c = p;
    ag_nufft_plan_free(c->plan);
    free(c);
}

/* the packed l (columns) or m (rows) of every cell [rad], fftfreq order, on dev */
static ag_tensor *packed_coord(const nufft_ctx *c, bool rows) {
    int64_t n = c->gc.npix;
    ag_tensor *f = ag_fftfreq_on(n, 1 / ((double)n * (rows ? c->gc.dm : c->gc.dl)), c->real, c->dev);
    return rows ? ag_reshape(f, AG_SHAPE(n, 1)) : f;
}

static int vis_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    nufft_ctx *c = ag_node_payload(n);
    bool gu = ag_node_needs_grad(n, 1), gv = ag_node_needs_grad(n, 2);
    if ((gu || gv) && ag_is_grad_enabled())
        return ag_set_error(AG_ERR_NOTIMPL, "ag_nufft_vis: second derivatives with respect to u and v are not "
                                            "implemented (first derivatives only; the image's are)");
    if (ag_node_needs_grad(n, 0)) {
        int64_t shape[AG_MAX_DIMS];
        int nd = ag_node_input_shape(n, 0, shape);
        if (!(gin[0] = ag_reshape(ag_nufft_adjoint(c->plan, g), shape, nd))) return ag_error_code();
    }
    ag_tensor *cube = ag_node_saved(n, 0);
    for (int k = 0; k < 2; k++) {
        if (!(k ? gv : gu)) continue;
        /* dL/du = Re(conj(g) ∂V/∂u) = -s 2π Im(conj(g) W), W the type 2 of (l or m)·I */
        ag_tensor *W = ag_nufft(c->plan, ag_mul(cube, packed_coord(c, k)));
        ag_tensor *r = ag_mul_s(ag_imag(ag_mul(ag_conj(g), W)), -2 * M_PI * c->sign);
        if (!r) return ag_error_code();
        gin[1 + k] = r;
    }
    return 0;
}
static const ag_opdef vis_op = {"ag_nufft_vis", vis_backward, AG_DIFF_ALL};

static ag_payload *ctx_new(const char *fn, const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v, double eps, int sign) {
    nufft_ctx *c = calloc(1, sizeof *c);
    if (!c) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
    c->gc = *gc, c->sign = sign > 0 ? 1 : -1, c->dev = ag_device_of(u), c->real = ag_dtype_of(u);
    if (c->real == AG_F32 && eps < 1e-6) eps = 1e-6; /* f32 cannot resolve less (ag_nufft_plan_new's range) */
    if (!(c->plan = ag_nufft_plan_new(gc, u, v, eps, c->sign))) {
        free(c);
        return NULL;
    }
    return ag_payload_new(c, ctx_free);
}

/* checks common to ag_nufft_vis and the module's forward: u, v of one shape, (nvis) or
 * (nchan, nvis), real of the cube's precision, on the cube's device */
static bool check_points(const char *fn, ag_tensor *cube, ag_tensor *u, ag_tensor *v) {
    if (!cube || !u || !v) return ag_failed() ? false : (ag_set_error(AG_ERR_INVALID, "%s: expected a cube, u and v, given NULL", fn), false);
    ag_dtype cd = ag_dtype_of(cube), want = ag_dtype_is_complex(cd) ? ag_dtype_to_real(cd) : cd;
    if (!ag_dtype_is_float(cd) || ag_dtype_of(u) != want || ag_dtype_of(v) != want)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected u and v real of the cube's precision, given a %s cube, %s u and %s v",
                            fn, ag_dtype_name(cd), ag_dtype_name(ag_dtype_of(u)), ag_dtype_name(ag_dtype_of(v))),
               false;
    int nd = ag_ndim(u), cnd = ag_ndim(cube);
    bool same = nd == ag_ndim(v) && (nd == 1 || nd == 2);
    for (int i = 0; same && i < nd; i++) same = ag_shape(u)[i] == ag_shape(v)[i];
    if (!same)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected u and v of one shape, (nvis) or (nchan, nvis), given %s and %s", fn,
                            AG_SHP(u), AG_SHP(v)),
               false;
    int64_t nchan = cnd == 3 ? ag_shape(cube)[0] : 1;
    if (nd == 2 && (cnd < 2 || ag_shape(u)[0] != nchan))
        return ag_set_error(AG_ERR_SHAPE, "%s: expected per-channel points (nchan, nvis) with the cube's nchan %lld, given %s",
                            fn, (long long)nchan, AG_SHP(u)),
               false;
    if (!ag__same_device(fn, cube, u) || !ag__same_device(fn, u, v)) return false;
    return true;
}

/* the op: pl's plan must be for (u, v) on the cube's device and precision */
static ag_tensor *vis_apply(ag_payload *pl, ag_tensor *cube, ag_tensor *u, ag_tensor *v) {
    nufft_ctx *c = ag_payload_data(pl);
    ag_no_grad_begin();
    ag_tensor *V = ag_nufft(c->plan, cube);
    ag_no_grad_end();
    return ag_op_finish(V, &vis_op, AG_INPUTS(cube, u, v), AG_INPUTS(cube), pl);
}

static bool check_opts(const char *fn, ag_nufft_opts *o) {
    if (o->eps == 0) o->eps = 1e-6;
    if (o->sign != 0 && o->sign != -1 && o->sign != 1)
        return ag_set_error(AG_ERR_INVALID, "%s: expected sign -1 (MPoL) or +1 (VLBI), given %d", fn, o->sign), false;
    if (!(o->eps >= 1e-14 && o->eps <= 0.1))
        return ag_set_error(AG_ERR_INVALID, "%s: expected a tolerance eps in [1e-14, 0.1] (0: 1e-6), given %g", fn, o->eps),
               false;
    return true;
}

ag_tensor *ag_nufft_vis(const ag_grid_coords *gc, ag_tensor *cube, ag_tensor *u, ag_tensor *v, ag_nufft_opts opts) {
    const char *fn = "ag_nufft_vis";
    if (!gc) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: expected grid coordinates, given NULL", fn);
    if (!check_points(fn, cube, u, v) || !check_opts(fn, &opts)) return NULL;
    if (ag_grid_check_data_fit(gc, u, v) < 0) return NULL;
    ag_payload *pl = ctx_new(fn, gc, u, v, opts.eps, opts.sign);
    if (!pl) return NULL;
    ag_tensor *V = vis_apply(pl, cube, u, v);
    ag_payload_release(pl);
    return V;
}

/* ---- the module ---- */

typedef struct nufft_module {
    ag_grid_coords gc;
    ag_nufft_opts opts;
    int64_t nsets, nvis;      /* nsets 0: shared points */
    ag_payload *pl;           /* the plan for the points on pl's device and precision */
} nufft_module;

static ag_tensor *module_forward(ag_module *m, ag_tensor *x) {
    const char *fn = "ag_nufft_module (forward)";
    nufft_module *s = ag_module_self(m);
    int64_t npix = s->gc.npix;
    if (!x) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "%s: expected a packed cube, given NULL", fn);
    int nd = ag_ndim(x);
    if (!ag_dtype_is_float(ag_dtype_of(x)) || (nd != 2 && nd != 3) || ag_shape(x)[nd - 1] != npix || ag_shape(x)[nd - 2] != npix)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a float packed cube (nchan, %lld, %lld), given %s %s", fn, (long long)npix,
                       (long long)npix, ag_dtype_name(ag_dtype_of(x)), AG_SHP(x));
    if (s->nsets && (nd != 3 || ag_shape(x)[0] != s->nsets))
        return ag_fail(AG_ERR_SHAPE, "%s: the module has points for %lld channels, given a cube %s", fn, (long long)s->nsets,
                       AG_SHP(x));
    ag_dtype real = ag_dtype_is_complex(ag_dtype_of(x)) ? ag_dtype_to_real(ag_dtype_of(x)) : ag_dtype_of(x);
    ag_device dev = ag_device_of(x);
    /* the buffers follow ag_module_to / ag_module_to_dtype; a cube elsewhere gets copies */
    ag_tensor *u = ag_module_buffer(m, "uu"), *v = ag_module_buffer(m, "vv");
    if (!ag_device_eq(ag_device_of(u), dev) || ag_dtype_of(u) != real) {
        u = ag_to_dtype(ag_to(u, dev), real), v = ag_to_dtype(ag_to(v, dev), real);
        if (!u || !v) return NULL;
    }
    nufft_ctx *c = ag_payload_data(s->pl);
    if (!c || !ag_device_eq(c->dev, dev) || c->real != real) {
        ag_payload *pl = ctx_new(fn, &s->gc, u, v, s->opts.eps, s->opts.sign);
        if (!pl) return NULL;
        ag_payload_release(s->pl);
        s->pl = pl;
    }
    return vis_apply(s->pl, x, u, v);
}
static void module_free(ag_module *m) {
    nufft_module *s = ag_module_self(m);
    ag_payload_release(s->pl);
}
static const ag_module_class nufft_class = {
    .name = "NuFFT", .forward = module_forward, .free = module_free, .self_size = sizeof(nufft_module)};

ag_module *ag_nufft_module(const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v, ag_nufft_opts opts) {
    const char *fn = "ag_nufft_module";
    /* u and v are ours from here on, also on failure */
    if (u) ag__unscope(u);
    if (v) ag__unscope(v);
    ag_module *m = NULL;
    if (!gc || !u || !v) {
        if (!ag_failed()) ag_set_error(AG_ERR_INVALID, "%s: expected gc, u and v, given NULL", fn);
        goto fail;
    }
    if (!check_opts(fn, &opts)) goto fail;
    ag_dtype dt = ag_dtype_of(u);
    if ((dt != AG_F64 && dt != AG_F32) || ag_dtype_of(v) != dt) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected u and v both f64 or both f32, given %s and %s", fn, ag_dtype_name(dt),
                     ag_dtype_name(ag_dtype_of(v)));
        goto fail;
    }
    int nd = ag_ndim(u);
    bool same = nd == ag_ndim(v) && (nd == 1 || nd == 2);
    for (int i = 0; same && i < nd; i++) same = ag_shape(u)[i] == ag_shape(v)[i];
    if (!same) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected u and v of one shape, (nvis) or (nchan, nvis), given %s and %s", fn, AG_SHP(u),
                     AG_SHP(v));
        goto fail;
    }
    if (!ag__same_device(fn, u, v) || ag_grid_check_data_fit(gc, u, v) < 0) goto fail;
    if (!(m = ag_module_new(&nufft_class))) goto fail;
    nufft_module *s = ag_module_self(m);
    s->gc = *gc, s->opts = opts, s->nsets = nd == 2 ? ag_shape(u)[0] : 0, s->nvis = ag_shape(u)[nd - 1];
    if (!(s->pl = ctx_new(fn, gc, u, v, opts.eps, opts.sign))) goto fail;
    ag_tensor *uu = u, *vv = v;
    u = v = NULL; /* add_buffer takes them over, on failure too */
    if (ag_module_add_buffer(m, "uu", uu) < 0 || ag_module_add_buffer(m, "vv", vv) < 0) {
        ag_module_free(m);
        return NULL;
    }
    ag_module_set_extra_repr(m, "npix=%lld, cell_size=%g, nvis=%lld, points=%s, eps=%g, sign=%+d", (long long)gc->npix,
                             gc->cell_size, (long long)s->nvis, s->nsets ? "per-channel" : "shared", opts.eps,
                             opts.sign > 0 ? 1 : -1);
    return m;
fail:
    ag_module_free(m);
    if (u) ag__drop(u);
    if (v) ag__drop(v);
    return NULL;
}
