/* tensor/conv.c — convolution family front ends: conv1d, conv2d, conv_transpose2d, avg/max
 * pooling, padding, nearest/bilinear upsampling, and their backward rules.
 *
 * Convolution rests on three primitives over 4-d tensors, each the adjoint of the others in one
 * argument (y = conv(x, w) is bilinear):
 *   conv   (x, w[, b]) -> y       <conv(x,w), dy> = <x, conv_bi(dy,w)> = <w, conv_bw(dy,x)>
 *   conv_bi(dy, w)     -> x-shape (the input gradient; conv_transpose2d's forward)
 *   conv_bw(dy, x)     -> w-shape (the weight gradient)
 * so every backward rule is one of the three, and each primitive's output spatial size is an
 * explicit argument ("same" padding and output_padding are just sizes). conv1d runs as conv2d with
 * a height of 1; unbatched inputs get a batch dim of 1. Only f32 and f64 are supported. */
#include <limits.h>
#include <string.h>

#include "tensor/internal.h"

/* ---- shared helpers ------------------------------------------------------------------ */

static bool real_float(const char *op, const char *what, const ag_tensor *t) {
    if (t->dtype == AG_F32 || t->dtype == AG_F64) return true;
    ag_set_error(AG_ERR_DTYPE, "%s: expected an f32 or f64 %s, given %s%s", op, what, ag_dtype_name(t->dtype),
                 ag_dtype_is_complex(t->dtype) ? " (complex convolution is not supported)" : "");
    return false;
}

/* ---- convolution primitives ------------------------------------------------------------ */

/* node parameters: the kernel parameters, packed into ag_op_params */
typedef struct conv_pack { int32_t s[2], p[2], d[2], groups; } conv_pack;
_Static_assert(sizeof(conv_pack) <= sizeof(ag_op_params), "conv params do not fit");

static ag_op_params pack_conv(const ag_conv_params *cp) {
    ag_op_params p;
    memset(&p, 0, sizeof p);
    conv_pack c = {{(int32_t)cp->stride[0], (int32_t)cp->stride[1]}, {(int32_t)cp->pad[0], (int32_t)cp->pad[1]},
                   {(int32_t)cp->dilation[0], (int32_t)cp->dilation[1]}, (int32_t)cp->groups};
    memcpy(&p, &c, sizeof c);
    return p;
}
static ag_conv_params unpack_conv(const ag_op_params *p) {
    conv_pack c;
    memcpy(&c, p, sizeof c);
    return (ag_conv_params){{c.s[0], c.s[1]}, {c.p[0], c.p[1]}, {c.d[0], c.d[1]}, c.groups};
}

static ag_tensor *conv_fwd(const char *op, ag_tensor *x, ag_tensor *w, ag_tensor *b, const ag_conv_params *cp,
                           int64_t HO, int64_t WO);
static ag_tensor *conv_bi(const char *op, ag_tensor *dy, ag_tensor *w, const ag_conv_params *cp, int64_t H, int64_t W);
static ag_tensor *conv_bw(const char *op, ag_tensor *dy, ag_tensor *x, const ag_conv_params *cp, int64_t KH, int64_t KW);

int ag__bw_conv_fwd(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_conv_params cp = unpack_conv(&n->p);
    ag_tensor *x = n->saved[0], *w = n->saved[1];
    if (n->needs[0]) gin[0] = conv_bi(n->name, g, w, &cp, x->shape[2], x->shape[3]);
    if (n->needs[1]) gin[1] = conv_bw(n->name, g, x, &cp, w->shape[2], w->shape[3]);
    if (n->needs[2]) gin[2] = ag_sum(ag_sum(g, AG_DIMS(2, 3), false), AG_DIMS(0), false); /* inner dims first: faster */
    return 0;
}

int ag__bw_conv_bi(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_conv_params cp = unpack_conv(&n->p);
    ag_tensor *dy = n->saved[0], *w = n->saved[1];
    if (n->needs[0]) gin[0] = conv_fwd(n->name, g, w, NULL, &cp, dy->shape[2], dy->shape[3]);
    if (n->needs[1]) gin[1] = conv_bw(n->name, dy, g, &cp, w->shape[2], w->shape[3]);
    return 0;
}

int ag__bw_conv_bw(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_conv_params cp = unpack_conv(&n->p);
    ag_tensor *dy = n->saved[0], *x = n->saved[1];
    if (n->needs[0]) gin[0] = conv_fwd(n->name, x, g, NULL, &cp, dy->shape[2], dy->shape[3]);
    if (n->needs[1]) gin[1] = conv_bi(n->name, dy, g, &cp, x->shape[2], x->shape[3]);
    return 0;
}

typedef enum { PRIM_FWD, PRIM_BI, PRIM_BW } prim;

/* run one primitive into a fresh tensor of shape `shape` (a, b: the two 4-d operands) */
static ag_tensor *conv_prim(const char *op, prim which, ag_tensor *a, ag_tensor *b, ag_tensor *bias,
                            const ag_conv_params *cp, const int64_t shape[4]) {
    if (!a || !b) return NULL;
    const ag_kernels *k = ag__kernels(a);
    bool have = which == PRIM_FWD ? k->conv2d != NULL : which == PRIM_BI ? k->conv2d_backward_input != NULL
                                                                          : k->conv2d_backward_weight != NULL;
    if (!have) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *ca = ag__dense(a, op), *cb = ag__dense(b, op), *cbias = bias ? ag__dense(bias, op) : NULL;
    ag_tensor *r = ca && cb && (!bias || cbias) ? ag__new(shape, 4, a->dtype, a->storage->dev, op) : NULL;
    if (r) {
        ag_kview vr = ag__view(r), va = ag__view(ca), vb = ag__view(cb), vbias;
        int rc;
        if (which == PRIM_FWD) {
            if (cbias) vbias = ag__view(cbias);
            rc = k->conv2d(&vr, &va, &vb, cbias ? &vbias : NULL, cp);
        } else if (which == PRIM_BI) {
            rc = k->conv2d_backward_input(&vr, &va, &vb, cp);
        } else {
            rc = k->conv2d_backward_weight(&vr, &va, &vb, cp);
        }
        if (rc < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(ca);
    ag__drop(cb);
    ag__drop(cbias);
    return r;
}

/* y [N, O, HO, WO] from x [N,C,H,W], w [O,C/g,KH,KW], bias [O] or NULL */
static ag_tensor *conv_fwd(const char *op, ag_tensor *x, ag_tensor *w, ag_tensor *b, const ag_conv_params *cp,
                           int64_t HO, int64_t WO) {
    if (!x || !w) return NULL;
    int64_t shape[4] = {x->shape[0], w->shape[0], HO, WO};
    ag_op_params p = pack_conv(cp);
    ag_tensor *r = conv_prim(op, PRIM_FWD, x, w, b, cp, shape);
    return ag__finish(r, op, AG_OP(CONV2D), AG_IN(x, w, b), AG_IN(x, w), &p);
}

/* x-shaped [N, C, H, W] from dy [N,O,HO,WO], w [O,C/g,KH,KW] */
static ag_tensor *conv_bi(const char *op, ag_tensor *dy, ag_tensor *w, const ag_conv_params *cp, int64_t H, int64_t W) {
    if (!dy || !w) return NULL;
    int64_t shape[4] = {dy->shape[0], w->shape[1] * cp->groups, H, W};
    ag_op_params p = pack_conv(cp);
    ag_tensor *r = conv_prim(op, PRIM_BI, dy, w, NULL, cp, shape);
    return ag__finish(r, op, AG_OP(CONV2D_BACKWARD_INPUT), AG_IN(dy, w), AG_IN(dy, w), &p);
}

/* w-shaped [O, C/g, KH, KW] from dy [N,O,HO,WO], x [N,C,H,W] */
static ag_tensor *conv_bw(const char *op, ag_tensor *dy, ag_tensor *x, const ag_conv_params *cp, int64_t KH, int64_t KW) {
    if (!dy || !x) return NULL;
    int64_t shape[4] = {dy->shape[1], x->shape[1] / cp->groups, KH, KW};
    ag_op_params p = pack_conv(cp);
    ag_tensor *r = conv_prim(op, PRIM_BW, dy, x, NULL, cp, shape);
    return ag__finish(r, op, AG_OP(CONV2D_BACKWARD_WEIGHT), AG_IN(dy, x), AG_IN(dy, x), &p);
}

/* ---- conv1d, conv2d, conv_transpose2d ------------------------------------------------ */

#define I64 long long

/* checks shared by the three front ends; fills cp, returns false with the error set.
 * sp: spatial dims (1 or 2); x is [N,C,*] or [C,*]; w [O or C, *, K...] */
static bool conv_setup(const char *op, int sp, bool transposed, ag_tensor *x, ag_tensor *w, ag_tensor *b,
                       const ag_conv_opts *o, ag_conv_params *cp, int64_t outpad[2]) {
    static const ag_conv_opts none;
    if (!o) o = &none;
    if (!ag__same_device(op, x, w) || (b && !ag__same_device(op, x, b))) return false;
    if (!real_float(op, "input", x) || !real_float(op, "weight", w) || (b && !real_float(op, "bias", b))) return false;
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype)) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected input, weight%s of one dtype, given %s, %s%s%s", op, b ? " and bias" : "",
                     ag_dtype_name(x->dtype), ag_dtype_name(w->dtype), b ? ", " : "", b ? ag_dtype_name(b->dtype) : "");
        return false;
    }
    if (x->ndim != sp + 2 && x->ndim != sp + 1) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected a %d-d (batched) or %d-d (unbatched) input, given %s", op, sp + 2,
                     sp + 1, AG_SHP(x));
        return false;
    }
    if (w->ndim != sp + 2) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected a %d-d weight [%s], given %s", op, sp + 2,
                     transposed ? "in_channels, out_channels/groups, kH, kW"
                                : sp == 1 ? "out_channels, in_channels/groups, kL" : "out_channels, in_channels/groups, kH, kW",
                     AG_SHP(w));
        return false;
    }
    int groups = o->groups == 0 ? 1 : o->groups;
    if (groups < 0) { ag_set_error(AG_ERR_INVALID, "%s: expected groups >= 1, given %d", op, o->groups); return false; }
    int cdim = x->ndim - sp - 1;
    int64_t C = x->shape[cdim];
    int64_t wc = transposed ? w->shape[0] : w->shape[1] * groups;
    int64_t cout = transposed ? w->shape[1] * groups : w->shape[0];
    int64_t split = w->shape[0]; /* out channels (conv) or in channels (transposed): groups must divide it */
    if (split % groups) {
        ag_set_error(AG_ERR_SHAPE, "%s: groups %d does not divide the weight's %s channels %lld (weight %s)", op,
                     groups, transposed ? "input" : "output", (I64)split, AG_SHP(w));
        return false;
    }
    if (C % groups) {
        ag_set_error(AG_ERR_SHAPE, "%s: groups %d does not divide the input channels %lld (input %s)", op, groups,
                     (I64)C, AG_SHP(x));
        return false;
    }
    if (C != wc) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected input channels %lld (weight %s, groups %d), given %lld in input %s",
                     op, (I64)wc, AG_SHP(w), groups, (I64)C, AG_SHP(x));
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != cout)) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected a bias of shape [%lld] (one per output channel), given %s", op,
                     (I64)cout, AG_SHP(b));
        return false;
    }
    if (o->same && transposed) {
        ag_set_error(AG_ERR_INVALID, "%s: padding \"same\" is not supported for transposed convolution", op);
        return false;
    }
    memset(cp, 0, sizeof *cp);
    cp->groups = groups;
    static const char *names[2] = {"height", "width"};
    for (int i = 0; i < sp; i++) {
        int d = 2 - sp + i; /* kernel dim in the 2-d view */
        const char *nm = sp == 1 ? "length" : names[i];
        int64_t s = o->stride[i] ? o->stride[i] : 1, dl = o->dilation[i] ? o->dilation[i] : 1, pd = o->padding[i];
        int64_t op_ = transposed ? o->output_padding[i] : 0;
        if (s < 1 || s > INT_MAX) { ag_set_error(AG_ERR_INVALID, "%s: expected a positive stride, given %lld (%s)", op, (I64)s, nm); return false; }
        if (dl < 1 || dl > INT_MAX) { ag_set_error(AG_ERR_INVALID, "%s: expected a positive dilation, given %lld (%s)", op, (I64)dl, nm); return false; }
        if (pd < 0 || pd > INT_MAX) { ag_set_error(AG_ERR_INVALID, "%s: expected padding >= 0, given %lld (%s)", op, (I64)pd, nm); return false; }
        if (op_ < 0 || (op_ > 0 && op_ >= s && op_ >= dl)) {
            ag_set_error(AG_ERR_INVALID, "%s: output_padding must be >= 0 and smaller than the stride or the dilation, "
                         "given output_padding %lld, stride %lld, dilation %lld (%s)", op, (I64)op_, (I64)s, (I64)dl, nm);
            return false;
        }
        if (o->same && s != 1) {
            ag_set_error(AG_ERR_INVALID, "%s: padding \"same\" needs stride 1, given stride %lld (%s)", op, (I64)s, nm);
            return false;
        }
        int64_t kk = w->shape[2 + i];
        if (o->same) pd = dl * (kk - 1) / 2; /* the extra one of an odd total goes at the end */
        cp->stride[d] = s;
        cp->dilation[d] = dl;
        cp->pad[d] = pd;
        outpad[d] = op_;
        int64_t n = x->shape[x->ndim - sp + i];
        if (!transposed && !o->same && dl * (kk - 1) + 1 > n + 2 * pd) {
            ag_set_error(AG_ERR_SHAPE, "%s: kernel %s %lld (dilation %lld: %lld) is larger than the padded input %s "
                         "%lld (input %s, padding %lld)", op, nm, (I64)kk, (I64)dl, (I64)(dl * (kk - 1) + 1), nm,
                         (I64)(n + 2 * pd), AG_SHP(x), (I64)pd);
            return false;
        }
        if (transposed && (n - 1) * s - 2 * pd + dl * (kk - 1) + op_ + 1 <= 0) {
            ag_set_error(AG_ERR_SHAPE, "%s: output %s would be %lld (input %s, stride %lld, padding %lld)", op, nm,
                         (I64)((n - 1) * s - 2 * pd + dl * (kk - 1) + op_ + 1), AG_SHP(x), (I64)s, (I64)pd);
            return false;
        }
    }
    if (sp == 1) { /* the height dim of the 2-d view */
        cp->stride[0] = cp->dilation[0] = 1;
        cp->pad[0] = 0;
        outpad[0] = 0;
    }
    return true;
}

static int64_t conv_out(int64_t n, int64_t k, const ag_conv_params *cp, int d, bool same) {
    if (same) return n;
    return (n + 2 * cp->pad[d] - cp->dilation[d] * (k - 1) - 1) / cp->stride[d] + 1;
}

static ag_tensor *conv_nd(const char *op, int sp, ag_tensor *x, ag_tensor *w, ag_tensor *b, const ag_conv_opts *o) {
    if (!AG_NONNULL(op, x, w)) return NULL;
    ag_conv_params cp;
    int64_t outpad[2];
    if (!conv_setup(op, sp, false, x, w, b, o, &cp, outpad)) return NULL;
    bool same = o && o->same;
    ag_scope_begin();
    ag_tensor *x4 = x, *w4 = w;
    if (x->ndim == sp + 1) x4 = ag_unsqueeze(x4, 0);
    if (sp == 1) { x4 = ag_unsqueeze(x4, 2); w4 = ag_unsqueeze(w4, 2); }
    int64_t HO = conv_out(x4->shape[2], w4->shape[2], &cp, 0, same), WO = conv_out(x4->shape[3], w4->shape[3], &cp, 1, same);
    ag_tensor *r = conv_fwd(op, x4, w4, b, &cp, HO, WO);
    if (sp == 1) r = ag_squeeze(r, 2);
    if (x->ndim == sp + 1) r = ag_squeeze(r, 0);
    ag_keep(r);
    ag_scope_end();
    return r;
}

ag_tensor *ag_conv1d(ag_tensor *x, ag_tensor *w, ag_tensor *bias, const ag_conv_opts *opts) {
    return conv_nd("ag_conv1d", 1, x, w, bias, opts);
}

ag_tensor *ag_conv2d(ag_tensor *x, ag_tensor *w, ag_tensor *bias, const ag_conv_opts *opts) {
    return conv_nd("ag_conv2d", 2, x, w, bias, opts);
}

ag_tensor *ag_conv_transpose2d(ag_tensor *x, ag_tensor *w, ag_tensor *bias, const ag_conv_opts *opts) {
    const char *op = "ag_conv_transpose2d";
    if (!AG_NONNULL(op, x, w)) return NULL;
    ag_conv_params cp;
    int64_t outpad[2];
    if (!conv_setup(op, 2, true, x, w, bias, opts, &cp, outpad)) return NULL;
    ag_scope_begin();
    ag_tensor *x4 = x->ndim == 3 ? ag_unsqueeze(x, 0) : x;
    int64_t HW[2];
    for (int d = 0; d < 2; d++)
        HW[d] = (x4->shape[2 + d] - 1) * cp.stride[d] - 2 * cp.pad[d] + cp.dilation[d] * (w->shape[2 + d] - 1) +
                outpad[d] + 1;
    ag_tensor *r = conv_bi(op, x4, w, &cp, HW[0], HW[1]);
    if (bias) r = ag_add(r, ag_reshape(bias, AG_SHAPE(1, -1, 1, 1)));
    if (x->ndim == 3) r = ag_squeeze(r, 0);
    ag_keep(r);
    ag_scope_end();
    return r;
}

/* ---- pooling ------------------------------------------------------------------------ */

typedef struct pool_pack { int32_t k[2], s[2], p[2]; int32_t op; } pool_pack;
_Static_assert(sizeof(pool_pack) <= sizeof(ag_op_params), "pool params do not fit");

/* The backwards of pooling, padding and upsampling are linear maps of g, the adjoints of the
 * forward's linear part: each is an op of its own whose backward is that forward again (a gather
 * at the saved indices for max pooling), so gradients through them can be differentiated
 * (create_graph) to any order. */
static ag_tensor *pool_backward(const char *name, ag_tensor *g, const ag_op_params *p, const int64_t *in_shape,
                                ag_tensor *idx) {
    pool_pack pk;
    memcpy(&pk, p, sizeof pk);
    ag_pool_params pp = {{pk.k[0], pk.k[1]}, {pk.s[0], pk.s[1]}, {pk.p[0], pk.p[1]}};
    ag_pool_op op = (ag_pool_op)pk.op;
    const ag_kernels *k = ag__kernels(g);
    if (!k->pool2d_backward) return ag_fail(AG_ERR_NOTIMPL, "%s: backward not implemented for %s", name, k->name);
    ag_tensor *cg = ag__dense(g, name);
    ag_tensor *r = cg ? ag__new(in_shape, 4, g->dtype, g->storage->dev, name) : NULL;
    if (r) {
        ag_kview vr = ag__view(r), vg = ag__view(cg), vi;
        if (op == AG_POOL_MAX) vi = ag__view(idx);
        if (k->pool2d_backward(op, &vr, &vg, op == AG_POOL_MAX ? &vi : NULL, &pp) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(cg);
    return ag__finish(r, name, AG_OP(POOL2D_BACKWARD), AG_IN(g), idx ? (ag_tensor *const[]){idx} : NULL, idx ? 1 : 0, p);
}
int ag__bw_pool(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = pool_backward(n->name, g, &n->p, n->in_shape[0], n->n_saved ? n->saved[0] : NULL);
    return gin[0] ? 0 : ag_error_code();
}
static ag_tensor *pool(const char *op, ag_pool_op kop, ag_tensor *t, const int64_t kernel[2], const int64_t stride[2],
                       const int64_t padding[2]);
int ag__bw_pool_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    pool_pack pk;
    memcpy(&pk, &n->p, sizeof pk);
    const int64_t *go = n->in_shape[0]; /* the pooled shape [N, C, HO, WO] */
    if (pk.op == AG_POOL_MAX) {         /* g is input-shaped: read it where each maximum was */
        int64_t N = g->shape[0], C = g->shape[1];
        ag_tensor *flat = ag_reshape(g, AG_SHAPE(N, C, g->shape[2] * g->shape[3]));
        ag_tensor *ix = ag_reshape(n->saved[0], AG_SHAPE(N, C, go[2] * go[3]));
        gin[0] = ag_reshape(ag_gather(flat, 2, ix), go, 4);
    } else {
        int64_t k[2] = {pk.k[0], pk.k[1]}, s[2] = {pk.s[0], pk.s[1]}, pd[2] = {pk.p[0], pk.p[1]};
        gin[0] = pool("ag_avg_pool2d", AG_POOL_AVG, g, k, s, pd);
    }
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *pool(const char *op, ag_pool_op kop, ag_tensor *t, const int64_t kernel[2], const int64_t stride[2],
                       const int64_t padding[2]) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (!real_float(op, "input", t)) return NULL;
    if (t->ndim != 4 && t->ndim != 3)
        return ag_fail(AG_ERR_SHAPE, "%s: expected a 4-d [N,C,H,W] or 3-d [C,H,W] input, given %s", op, AG_SHP(t));
    if (!kernel) return ag_fail(AG_ERR_INVALID, "%s: kernel size is NULL", op);
    ag_pool_params pp;
    int64_t HO[2];
    static const char *nm[2] = {"height", "width"};
    for (int d = 0; d < 2; d++) {
        int64_t kk = kernel[d], s = stride ? stride[d] : kk, pd = padding ? padding[d] : 0;
        int64_t n = t->shape[t->ndim - 2 + d];
        if (kk < 1 || kk > INT_MAX) return ag_fail(AG_ERR_INVALID, "%s: expected a positive kernel size, given %lld (%s)", op, (I64)kk, nm[d]);
        if (s < 1 || s > INT_MAX) return ag_fail(AG_ERR_INVALID, "%s: expected a positive stride, given %lld (%s)", op, (I64)s, nm[d]);
        if (pd < 0 || pd > kk / 2)
            return ag_fail(AG_ERR_INVALID, "%s: padding must be between 0 and half the kernel size (%lld), given %lld (%s)",
                           op, (I64)(kk / 2), (I64)pd, nm[d]);
        if (kk > n + 2 * pd)
            return ag_fail(AG_ERR_SHAPE, "%s: kernel %s %lld is larger than the padded input %s %lld (input %s, padding %lld)",
                           op, nm[d], (I64)kk, nm[d], (I64)(n + 2 * pd), AG_SHP(t), (I64)pd);
        pp.kernel[d] = kk;
        pp.stride[d] = s;
        pp.pad[d] = pd;
        HO[d] = (n + 2 * pd - kk) / s + 1;
    }
    const ag_kernels *k = ag__kernels(t);
    if (!k->pool2d) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_scope_begin();
    ag_tensor *t4 = t->ndim == 3 ? ag_unsqueeze(t, 0) : t;
    ag_tensor *c = ag__dense(t4, op);
    int64_t shape[4] = {t4->shape[0], t4->shape[1], HO[0], HO[1]};
    ag_tensor *r = c ? ag__new(shape, 4, t->dtype, t->storage->dev, op) : NULL;
    ag_tensor *idx = r && kop == AG_POOL_MAX ? ag__new(shape, 4, AG_I64, t->storage->dev, op) : NULL;
    if (r && (kop != AG_POOL_MAX || idx)) {
        ag_kview vr = ag__view(r), vc = ag__view(c), vi;
        if (idx) vi = ag__view(idx);
        if (k->pool2d(kop, &vr, idx ? &vi : NULL, &vc, &pp) < 0) { ag__drop(r); r = NULL; }
    } else {
        ag__drop(r);
        r = NULL;
    }
    ag__drop(c);
    pool_pack pk = {{(int32_t)pp.kernel[0], (int32_t)pp.kernel[1]}, {(int32_t)pp.stride[0], (int32_t)pp.stride[1]},
                    {(int32_t)pp.pad[0], (int32_t)pp.pad[1]}, (int32_t)kop};
    ag_op_params p;
    memset(&p, 0, sizeof p);
    memcpy(&p, &pk, sizeof pk);
    r = ag__finish(r, op, AG_OP(POOL2D), AG_IN(t4), idx ? (ag_tensor *const[]){idx} : NULL, idx ? 1 : 0, &p);
    ag__drop(idx);
    if (t->ndim == 3) r = ag_squeeze(r, 0);
    ag_keep(r);
    ag_scope_end();
    return r;
}

ag_tensor *ag_avg_pool2d(ag_tensor *t, const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]) {
    return pool("ag_avg_pool2d", AG_POOL_AVG, t, kernel, stride, padding);
}

ag_tensor *ag_max_pool2d(ag_tensor *t, const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]) {
    return pool("ag_max_pool2d", AG_POOL_MAX, t, kernel, stride, padding);
}

/* ---- padding ------------------------------------------------------------------------ */

typedef struct pad_pack { int32_t lo[AG_MAX_DIMS]; int32_t mode; } pad_pack;
_Static_assert(sizeof(pad_pack) <= sizeof(ag_op_params), "pad params do not fit");

int ag__bw_pad(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    pad_pack pk;
    memcpy(&pk, &n->p, sizeof pk);
    int64_t lo[AG_MAX_DIMS];
    for (int d = 0; d < AG_MAX_DIMS; d++) lo[d] = pk.lo[d];
    const ag_kernels *k = ag__kernels(g);
    if (!k->pad_backward) return ag_set_error(AG_ERR_NOTIMPL, "ag_pad: backward not implemented for %s", k->name);
    ag_tensor *cg = ag__dense(g, "ag_pad");
    ag_tensor *r = cg ? ag__new(n->in_shape[0], n->in_ndim[0], g->dtype, g->storage->dev, "ag_pad") : NULL;
    if (r) {
        ag_kview vr = ag__view(r), vg = ag__view(cg);
        if (k->pad_backward(&vr, &vg, (ag_pad_mode)pk.mode, lo) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(cg);
    gin[0] = ag__finish(r, "ag_pad_backward", AG_OP(PAD_BACKWARD), AG_IN(g), AG_NONE, &n->p);
    return gin[0] ? 0 : ag_error_code();
}
static ag_tensor *pad_raw(const char *op, ag_tensor *t, ag_pad_mode mode, const int64_t *lo, const int64_t *shape,
                          double value);
/* the adjoint of pad's backward: pad's linear part, pad with zeros (or reflect...) again */
int ag__bw_pad_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    pad_pack pk;
    memcpy(&pk, &n->p, sizeof pk);
    int64_t lo[AG_MAX_DIMS];
    for (int d = 0; d < AG_MAX_DIMS; d++) lo[d] = pk.lo[d];
    ag_tensor *r = pad_raw("ag_pad", g, (ag_pad_mode)pk.mode, lo, n->in_shape[0], 0.0);
    gin[0] = ag__finish(r, "ag_pad", AG_OP(PAD), AG_IN(g), AG_NONE, &n->p);
    return gin[0] ? 0 : ag_error_code();
}

/* t padded to shape (lo before each dim), not recorded */
static ag_tensor *pad_raw(const char *op, ag_tensor *t, ag_pad_mode mode, const int64_t *lo, const int64_t *shape,
                          double value) {
    static const char *mname[] = {"constant", "reflect", "replicate", "circular"};
    const ag_kernels *k = ag__kernels(t);
    if (!k->pad) return ag_fail(AG_ERR_NOTIMPL, "%s: %s mode not implemented for %s", op, mname[mode], k->name);
    ag_tensor *c = ag__dense(t, op);
    ag_tensor *r = c ? ag__new(shape, t->ndim, t->dtype, t->storage->dev, op) : NULL;
    if (r) {
        ag_kview vr = ag__view(r), vc = ag__view(c);
        if (k->pad(&vr, &vc, mode, lo, value) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(c);
    return r;
}

ag_tensor *ag_pad(ag_tensor *t, const int64_t *pads, int npads, ag_pad_mode mode, double value) {
    static const char *op = "ag_pad";
    if (!AG_NONNULL("ag_pad", t)) return NULL;
    if ((unsigned)mode > AG_PAD_CIRCULAR) return ag_fail(AG_ERR_INVALID, "%s: invalid mode %d", op, (int)mode);
    if (npads < 0 || npads % 2 || (npads && !pads))
        return ag_fail(AG_ERR_INVALID, "%s: expected an even number of pads (before/after pairs, last dim first), given %d",
                       op, npads);
    if (npads / 2 > t->ndim)
        return ag_fail(AG_ERR_SHAPE, "%s: %d pads pad %d dims, but the input %s has %d", op, npads, npads / 2,
                       AG_SHP(t), t->ndim);
    int64_t lo[AG_MAX_DIMS] = {0}, shape[AG_MAX_DIMS];
    bool any = false;
    memcpy(shape, t->shape, sizeof shape);
    for (int i = 0; i < npads / 2; i++) {
        int d = t->ndim - 1 - i;
        int64_t a = pads[2 * i], b = pads[2 * i + 1], n = t->shape[d];
        if (a > INT_MAX / 2 || b > INT_MAX / 2 || a < -(INT_MAX / 2) || b < -(INT_MAX / 2))
            return ag_fail(AG_ERR_INVALID, "%s: pads %lld, %lld of dim %d are out of range", op, (I64)a, (I64)b, d);
        if (mode != AG_PAD_CONSTANT && (a < 0 || b < 0))
            return ag_fail(AG_ERR_INVALID, "%s: negative pads (%lld, %lld of dim %d) are allowed in constant mode only",
                           op, (I64)a, (I64)b, d);
        if (mode == AG_PAD_REFLECT && (a >= n || b >= n))
            return ag_fail(AG_ERR_SHAPE, "%s: reflect padding (%lld, %lld) of dim %d must be smaller than its size %lld "
                           "(input %s)", op, (I64)a, (I64)b, d, (I64)n, AG_SHP(t));
        if (mode == AG_PAD_CIRCULAR && (a > n || b > n))
            return ag_fail(AG_ERR_SHAPE, "%s: circular padding (%lld, %lld) of dim %d must be at most its size %lld "
                           "(input %s)", op, (I64)a, (I64)b, d, (I64)n, AG_SHP(t));
        if (mode == AG_PAD_REPLICATE && n == 0 && (a || b))
            return ag_fail(AG_ERR_SHAPE, "%s: cannot replicate-pad dim %d of size 0 (input %s)", op, d, AG_SHP(t));
        if (n + a + b < 0)
            return ag_fail(AG_ERR_SHAPE, "%s: pads (%lld, %lld) of dim %d would give a negative size (input %s)", op,
                           (I64)a, (I64)b, d, AG_SHP(t));
        lo[d] = a;
        shape[d] = n + a + b;
        any = any || a || b;
    }
    if (!any) return ag__identity(t, op);
    ag_tensor *r = pad_raw(op, t, mode, lo, shape, value);
    pad_pack pk = {{0}, (int32_t)mode};
    for (int d = 0; d < AG_MAX_DIMS; d++) pk.lo[d] = (int32_t)lo[d];
    ag_op_params p;
    memset(&p, 0, sizeof p);
    memcpy(&p, &pk, sizeof pk);
    return ag__finish(r, op, AG_OP(PAD), AG_IN(t), AG_NONE, &p);
}

/* ---- upsampling --------------------------------------------------------------------- */

int ag__bw_upsample(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_upsample_mode mode = (ag_upsample_mode)n->p.i[0];
    bool ac = n->p.i[1];
    const ag_kernels *k = ag__kernels(g);
    if (!k->upsample2d_backward) return ag_set_error(AG_ERR_NOTIMPL, "%s: backward not implemented for %s", n->name, k->name);
    ag_tensor *cg = ag__dense(g, n->name);
    ag_tensor *r = cg ? ag__new(n->in_shape[0], 4, g->dtype, g->storage->dev, n->name) : NULL;
    if (r) {
        ag_kview vr = ag__view(r), vg = ag__view(cg);
        if (k->upsample2d_backward(mode, &vr, &vg, ac) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(cg);
    const char *name = mode == AG_UPSAMPLE_NEAREST ? "ag_upsample_nearest2d_backward" : "ag_upsample_bilinear2d_backward";
    gin[0] = ag__finish(r, name, AG_OP(UPSAMPLE2D_BACKWARD), AG_IN(g), AG_NONE, &n->p);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *upsample(const char *op, ag_upsample_mode mode, ag_tensor *t, int64_t oh, int64_t ow, bool ac);
int ag__bw_upsample_backward(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_upsample_mode mode = (ag_upsample_mode)n->p.i[0];
    const int64_t *go = n->in_shape[0]; /* the upsampled shape */
    gin[0] = upsample(mode == AG_UPSAMPLE_NEAREST ? "ag_upsample_nearest2d" : "ag_upsample_bilinear2d", mode, g, go[2],
                      go[3], n->p.i[1]);
    return gin[0] ? 0 : ag_error_code();
}

static ag_tensor *upsample(const char *op, ag_upsample_mode mode, ag_tensor *t, int64_t oh, int64_t ow, bool ac) {
    if (!AG_NONNULL(op, t)) return NULL;
    if (!real_float(op, "input", t)) return NULL;
    if (t->ndim != 4) return ag_fail(AG_ERR_SHAPE, "%s: expected a 4-d [N,C,H,W] input, given %s", op, AG_SHP(t));
    if (oh < 1 || ow < 1)
        return ag_fail(AG_ERR_INVALID, "%s: expected a positive output size, given %lldx%lld", op, (I64)oh, (I64)ow);
    if (t->shape[2] < 1 || t->shape[3] < 1)
        return ag_fail(AG_ERR_SHAPE, "%s: cannot resample an empty image (input %s)", op, AG_SHP(t));
    const ag_kernels *k = ag__kernels(t);
    if (!k->upsample2d) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *c = ag__dense(t, op);
    int64_t shape[4] = {t->shape[0], t->shape[1], oh, ow};
    ag_tensor *r = c ? ag__new(shape, 4, t->dtype, t->storage->dev, op) : NULL;
    if (r) {
        ag_kview vr = ag__view(r), vc = ag__view(c);
        if (k->upsample2d(mode, &vr, &vc, ac) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(c);
    ag_op_params p;
    memset(&p, 0, sizeof p);
    p.i[0] = mode;
    p.i[1] = ac;
    return ag__finish(r, op, AG_OP(UPSAMPLE2D), AG_IN(t), AG_NONE, &p);
}

ag_tensor *ag_upsample_nearest2d(ag_tensor *t, int64_t out_h, int64_t out_w) {
    return upsample("ag_upsample_nearest2d", AG_UPSAMPLE_NEAREST, t, out_h, out_w, false);
}

ag_tensor *ag_upsample_bilinear2d(ag_tensor *t, int64_t out_h, int64_t out_w, bool align_corners) {
    return upsample("ag_upsample_bilinear2d", AG_UPSAMPLE_BILINEAR, t, out_h, out_w, align_corners);
}
