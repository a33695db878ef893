/* tests/test_imaging_losses.c — the fused visibility losses and image regularizers
 * (tensor/imaging_ops.c, backends/cpu/imaging.c) against the same formulas composed from
 * primitive ops: values and gradients in f64/c128 (masks, multi-channel cubes, sizes that span
 * many of the kernels' reduction blocks), the same bits for any thread count, create_graph
 * refused with AG_ERR_NOTIMPL, and bad inputs. The op table (tests/ops_imaging_losses.c) holds
 * the PyTorch-fixture rows and gradcheck. Everything but the bad inputs runs again on the
 * device AG_DEVICE names (meson's device_imaging_losses sets "test"). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "test_util.h"

#define TWO_PI 6.283185307179586476925286766559
#define TOL 1e-12

/* unset AG_DEVICE: the CPU only, so valgrind (which cannot map the test device's arena) runs */
static ag_device DEV;
static double worst_value, worst_grad; /* the largest errors seen, printed at the end */

static int ndevs(ag_device devs[2]) {
    devs[0] = AG_CPU;
    if (ag_device_eq(DEV, AG_CPU)) return 1;
    devs[1] = DEV;
    return 2;
}

/* max_k |a_k - b_k| / max_k |b_k| over host copies (real or complex) */
static double rel(ag_tensor *a, ag_tensor *b) {
    if (!a || !b) fail_msg("NULL result: %s", ag_last_error());
    assert_int_equal(ag_numel(a), ag_numel(b));
    double complex *x = tu_cvalues(a), *y = tu_cvalues(b);
    double num = 0, den = 0;
    for (int64_t k = 0; k < ag_numel(a); k++) num = fmax(num, cabs(x[k] - y[k])), den = fmax(den, cabs(y[k]));
    free(x), free(y);
    return den > 0 ? num / den : num;
}

/* a leaf requiring grad with t's values */
static ag_tensor *leaf(ag_tensor *t) {
    ag_tensor *l = ag_detach(t);
    ag_set_requires_grad(l, true);
    return l;
}

/* fused(ins) against composed(ins): the value and the gradients w.r.t. ins[0..n) */
typedef ag_tensor *(*lossfn)(ag_tensor *const *x, void *ctx);
static void compare(const char *what, lossfn fused, lossfn composed, ag_tensor *const *x, int n, void *ctx) {
    ag_tensor *a = fused(x, ctx), *b = composed(x, ctx);
    if (!a) fail_msg("%s: fused op failed: %s", what, ag_last_error());
    if (!b) fail_msg("%s: composed formula failed: %s", what, ag_last_error());
    assert_int_equal(ag_ndim(a), 0);
    assert_int_equal(ag_dtype_of(a), ag_dtype_of(b));
    assert_true(ag_device_eq(ag_device_of(a), ag_device_of(x[0])));
    double r = rel(a, b);
    worst_value = fmax(worst_value, r);
    if (!(r <= TOL)) fail_msg("%s: fused %.17g, composed %.17g (rel %.3g)", what, ag_item(a), ag_item(b), r);
    ag_tensor *ga[4], *gb[4];
    assert_int_equal(ag_grad(&a, 1, x, n, NULL, false, ga), 0);
    assert_int_equal(ag_grad(&b, 1, x, n, NULL, false, gb), 0);
    for (int i = 0; i < n; i++) {
        r = rel(ga[i], gb[i]);
        worst_grad = fmax(worst_grad, r);
        if (!(r <= TOL)) fail_msg("%s: gradient %d differs from the composed one (rel %.3g)", what, i, r);
    }
}

/* ---- visibility losses ---------------------------------------------------------------------- */

/* ctx: kind (0 chi2, 1 r_chi2, 2 log_likelihood, 3 nll_avg); x: m, w, d, mask (or NULL) */
typedef struct { int kind; } vctx;

static ag_tensor *chi2_c(ag_tensor *m, ag_tensor *d, ag_tensor *w) {
    return ag_sum(ag_mul(w, ag_square(ag_abs(ag_sub(d, m)))), AG_ALL_DIMS, false);
}
static ag_tensor *vis_composed(ag_tensor *const *x, void *ctx) {
    int kind = ((vctx *)ctx)->kind;
    ag_tensor *m = x[0], *w = x[1], *d = x[2], *k = x[3];
    if (k) m = ag_masked_select(m, k), w = ag_masked_select(w, k), d = ag_masked_select(d, k);
    double n = (double)ag_numel(d);
    ag_tensor *c = chi2_c(m, d, w);
    ag_tensor *ll = ag_sub(ag_add_s(ag_sum(ag_log(w), AG_ALL_DIMS, false), -n * log(TWO_PI)), ag_mul_s(c, 0.5));
    switch (kind) {
    case 0: return c;
    case 1: return ag_div_s(c, 2 * n);
    case 2: return ll;
    default: return ag_mul_s(ll, -1 / (2 * n));
    }
}
static ag_tensor *vis_fused(ag_tensor *const *x, void *ctx) {
    int kind = ((vctx *)ctx)->kind;
    ag_tensor *m = x[0], *w = x[1], *d = x[2], *k = x[3];
    if (k) return kind == 0 ? ag_chi_squared_masked(m, d, w, k) : ag_neg_log_likelihood_avg_masked(m, d, w, k);
    switch (kind) {
    case 0: return ag_chi_squared(m, d, w);
    case 1: return ag_r_chi_squared(m, d, w);
    case 2: return ag_log_likelihood(m, d, w);
    default: return ag_neg_log_likelihood_avg(m, d, w);
    }
}

/* loose visibilities (20001, > 256 blocks and above the parallel threshold), a multi-channel
 * cube (3, 40, 41) and a small 2-d set; masks about half true */
static void losses_match_composition(void **state) {
    (void)state;
    static const int64_t shapes[3][3] = {{20001}, {3, 40, 41}, {5, 7}};
    static const int nds[3] = {1, 3, 2};
    static const char *names[4] = {"chi_squared", "r_chi_squared", "log_likelihood", "neg_log_likelihood_avg"};
    ag_manual_seed(7);
    ag_device devs[2];
    for (int dv = 0; dv < ndevs(devs); dv++)
        for (int s = 0; s < 3; s++) {
            ag_scope_begin();
            const int64_t *shp = shapes[s];
            int nd = nds[s];
            ag_tensor *m = leaf(ag_randn_on(shp, nd, AG_C128, devs[dv]));
            ag_tensor *w = leaf(ag_add_s(ag_rand_on(shp, nd, AG_F64, devs[dv]), 0.1));
            ag_tensor *d = ag_randn_on(shp, nd, AG_C128, devs[dv]);
            ag_tensor *r = ag_rand_on(shp, nd, AG_F64, devs[dv]);
            ag_tensor *k = ag_gt(r, ag_full_like(r, 0.5));
            char what[96];
            for (int kind = 0; kind < 4; kind++) {
                snprintf(what, sizeof what, "%s, shape %d, device %d", names[kind], s, dv);
                compare(what, vis_fused, vis_composed, (ag_tensor *[]){m, w, d, NULL}, 2, &(vctx){kind});
            }
            for (int kind = 0; kind < 4; kind += 3) {
                snprintf(what, sizeof what, "%s_masked, shape %d, device %d", names[kind], s, dv);
                compare(what, vis_fused, vis_composed, (ag_tensor *[]){m, w, d, k}, 2, &(vctx){kind});
            }
            /* the masked-out elements get exactly zero gradient */
            ag_tensor *loss = ag_chi_squared_masked(m, d, w, k), *g[2];
            assert_int_equal(ag_grad(&loss, 1, (ag_tensor *[]){m, w}, 2, NULL, false, g), 0);
            ag_tensor *off = ag_logical_not(k);
            assert_true(ag_item(ag_amax(ag_abs(ag_masked_select(g[0], off)), AG_ALL_DIMS, false)) == 0);
            assert_true(ag_item(ag_amax(ag_abs(ag_masked_select(g[1], off)), AG_ALL_DIMS, false)) == 0);
            ag_scope_end();
        }
}

/* ---- image regularizers ----------------------------------------------------------------------- */

/* ctx: which prior and its parameters; x: image, prior (entropy with a tensor prior) or mask */
typedef enum { P_ENT, P_ENT_S, P_SPARSE, P_SPARSE_MASK, P_TV, P_TSV, P_TVCH, P_EDGE } pkind;
typedef struct { pkind kind; double param, zeta; } pctx;

static ag_tensor *sl(ag_tensor *t, int dim, int64_t b, int64_t e) { return ag_slice(t, dim, b, e, 1); }
static ag_tensor *prior_composed(ag_tensor *const *x, void *ctx) {
    pctx *c = ctx;
    ag_tensor *s = x[0];
    if ((c->kind == P_TV || c->kind == P_TSV) && ag_ndim(s) == 2) s = ag_unsqueeze(s, 0);
    int64_t C = ag_shape(s)[0], H = ag_ndim(s) == 3 ? ag_shape(s)[1] : 0, W = ag_ndim(s) == 3 ? ag_shape(s)[2] : 0;
    ag_tensor *dl = NULL, *dm = NULL, *sq = NULL;
    if (c->kind == P_TV || c->kind == P_TSV) {
        ag_tensor *base = sl(sl(s, 1, 0, H - 1), 2, 0, W - 1);
        dl = ag_sub(sl(sl(s, 1, 0, H - 1), 2, 1, W), base);
        dm = ag_sub(sl(sl(s, 1, 1, H), 2, 0, W - 1), base);
        sq = ag_add(ag_square(dl), ag_square(dm));
    }
    switch (c->kind) {
    case P_ENT: return ag_mul_s(ag_sum(ag_mul(s, ag_log(ag_div(s, x[1]))), AG_ALL_DIMS, false), 1 / c->zeta);
    case P_ENT_S: return ag_mul_s(ag_sum(ag_mul(s, ag_log(ag_div_s(s, c->param))), AG_ALL_DIMS, false), 1 / c->zeta);
    case P_SPARSE: return ag_sum(ag_abs(s), AG_ALL_DIMS, false);
    case P_SPARSE_MASK: return ag_sum(ag_abs(ag_masked_select(s, x[1])), AG_ALL_DIMS, false);
    case P_TV: return ag_sum(ag_sqrt(ag_add_s(sq, c->param)), AG_ALL_DIMS, false);
    case P_TSV: return ag_sum(sq, AG_ALL_DIMS, false);
    case P_TVCH:
        return ag_sum(ag_sqrt(ag_add_s(ag_square(ag_sub(sl(s, 0, 1, C), sl(s, 0, 0, C - 1))), c->param)), AG_ALL_DIMS,
                      false);
    case P_EDGE: {
        ag_tensor *e = ag_scalar_like(s, 0);
        int64_t ends[2][2] = {{0, H - 1}, {0, W - 1}};
        for (int dim = 1; dim <= 2; dim++)
            for (int i = 0; i < 2; i++) e = ag_add(e, ag_sum(ag_square(ag_select(s, dim, ends[dim - 1][i])), AG_ALL_DIMS, false));
        return e;
    }
    }
    return NULL;
}
static ag_tensor *prior_fused(ag_tensor *const *x, void *ctx) {
    pctx *c = ctx;
    switch (c->kind) {
    case P_ENT: return ag_entropy(x[0], x[1], c->zeta);
    case P_ENT_S: return ag_entropy_s(x[0], c->param, c->zeta);
    case P_SPARSE: return ag_sparsity(x[0], NULL);
    case P_SPARSE_MASK: return ag_sparsity(x[0], x[1]);
    case P_TV: return ag_tv_image(x[0], c->param);
    case P_TSV: return ag_tsv(x[0]);
    case P_TVCH: return ag_tv_channel(x[0], c->param);
    case P_EDGE: return ag_edge_clamp(x[0]);
    }
    return NULL;
}

/* a cube (2, 150, 37) of 300 rows (more than the kernels' 256 blocks), a small cube, a 2-d
 * image and rows of 600 (more than the kernels' 256-pixel chunks); TV and TSV also on a
 * transposed (strided) view */
static void priors_match_composition(void **state) {
    (void)state;
    static const int64_t shapes[4][3] = {{2, 150, 37}, {4, 5, 6}, {9, 8}, {1, 4, 600}}; /* rows > the kernels' chunks */
    static const int nds[4] = {3, 3, 2, 3};
    ag_manual_seed(11);
    ag_device devs[2];
    for (int dv = 0; dv < ndevs(devs); dv++)
        for (int s = 0; s < 4; s++) {
            ag_scope_begin();
            const int64_t *shp = shapes[s];
            int nd = nds[s];
            ag_tensor *img = leaf(ag_randn_on(shp, nd, AG_F64, devs[dv]));
            ag_tensor *pos = leaf(ag_add_s(ag_rand_on(shp, nd, AG_F64, devs[dv]), 0.05));
            ag_tensor *pri = leaf(ag_add_s(ag_rand_on(shp, nd, AG_F64, devs[dv]), 0.5));
            ag_tensor *pri_row = leaf(ag_add_s(ag_rand_on(&shp[nd - 1], 1, AG_F64, devs[dv]), 0.5));
            ag_tensor *pri0 = leaf(ag_scalar_on(0.4, AG_F64, devs[dv]));
            ag_tensor *r = ag_rand_on(shp, nd, AG_F64, devs[dv]);
            ag_tensor *k = ag_gt(r, ag_full_like(r, 0.5));
            ag_tensor *img_t = ag_transpose(ag_contiguous(ag_transpose(img, -1, -2)), -1, -2);
            char what[96];
#define CMP(name, n, kind, param, zeta, ...)                                                                    \
    do {                                                                                                        \
        snprintf(what, sizeof what, "%s, shape %d, device %d", name, s, dv);                                    \
        compare(what, prior_fused, prior_composed, (ag_tensor *[]){__VA_ARGS__}, n, &(pctx){kind, param, zeta}); \
    } while (0)
            CMP("entropy", 2, P_ENT, 0, 10, pos, pri);
            CMP("entropy (prior broadcast along rows)", 2, P_ENT, 0, 2.5, pos, pri_row);
            CMP("entropy (0-d prior)", 2, P_ENT, 0, 3, pos, pri0);
            CMP("entropy_s", 1, P_ENT_S, 0.3, 7, pos);
            CMP("sparsity", 1, P_SPARSE, 0, 0, img);
            CMP("sparsity (mask)", 1, P_SPARSE_MASK, 0, 0, img, k);
            CMP("tv_image", 1, P_TV, 1e-10, 0, img);
            CMP("tv_image (eps 0.1)", 1, P_TV, 0.1, 0, img);
            CMP("tv_image (strided)", 1, P_TV, 1e-10, 0, img_t);
            CMP("tsv", 1, P_TSV, 0, 0, img);
            CMP("tsv (strided)", 1, P_TSV, 0, 0, img_t);
            if (nd == 3) {
                CMP("tv_channel", 1, P_TVCH, 1e-10, 0, img);
                CMP("tv_channel (eps 0.5)", 1, P_TVCH, 0.5, 0, img);
                CMP("edge_clamp", 1, P_EDGE, 0, 0, img);
            }
#undef CMP
            ag_scope_end();
        }
}

/* ag_image_priors: λ_e entropy + λ_s sparsity + λ_tv TV + λ_tsv TSV, composed from primitive ops */
static ag_tensor *sum_composed(ag_tensor *const *x, void *ctx) {
    const ag_prior_weights *w = ctx;
    ag_tensor *s = ag_ndim(x[0]) == 2 ? ag_unsqueeze(x[0], 0) : x[0], *r = ag_scalar_like(s, 0);
    int64_t H = ag_shape(s)[1], W = ag_shape(s)[2];
    ag_tensor *base = sl(sl(s, 1, 0, H - 1), 2, 0, W - 1);
    ag_tensor *dl = ag_sub(sl(sl(s, 1, 0, H - 1), 2, 1, W), base), *dm = ag_sub(sl(sl(s, 1, 1, H), 2, 0, W - 1), base);
    ag_tensor *sq = ag_add(ag_square(dl), ag_square(dm));
    if (w->entropy != 0)
        r = ag_add(r, ag_mul_s(ag_sum(ag_mul(s, ag_log(ag_div_s(s, w->prior_intensity))), AG_ALL_DIMS, false),
                               w->entropy / w->tot_flux));
    r = ag_add(r, ag_mul_s(ag_sum(ag_abs(s), AG_ALL_DIMS, false), w->sparsity));
    r = ag_add(r, ag_mul_s(ag_sum(ag_sqrt(ag_add_s(sq, w->tv_epsilon)), AG_ALL_DIMS, false), w->tv));
    return ag_add(r, ag_mul_s(ag_sum(sq, AG_ALL_DIMS, false), w->tsv));
}
static ag_tensor *sum_fused(ag_tensor *const *x, void *ctx) { return ag_image_priors(x[0], ctx); }

static void image_priors_match_composition(void **state) {
    (void)state;
    static const int64_t shapes[4][3] = {{2, 150, 37}, {4, 5, 6}, {9, 8}, {1, 4, 600}}; /* rows > the kernels' chunks */
    static const int nds[4] = {3, 3, 2, 3};
    const ag_prior_weights ws[4] = {
        {.entropy = 0.3, .prior_intensity = 0.2, .tot_flux = 7, .sparsity = 0.5, .tv = 2, .tv_epsilon = 1e-10, .tsv = 0.7},
        {.entropy = 1e-4, .prior_intensity = 0.01, .tot_flux = 10, .sparsity = 1e-4, .tv = 1e-4, .tv_epsilon = 0.1,
         .tsv = 1e-4},
        {.sparsity = 1, .tv = 0, .tsv = 3},     /* no entropy: its prior and flux may be 0 */
        {.entropy = 2, .prior_intensity = 1.5, .tot_flux = 1, .tv = 1, .tv_epsilon = 1e-10},
    };
    ag_manual_seed(12);
    ag_device devs[2];
    for (int dv = 0; dv < ndevs(devs); dv++)
        for (int s = 0; s < 4; s++)
            for (int i = 0; i < 4; i++) {
                ag_scope_begin();
                ag_tensor *pos = leaf(ag_add_s(ag_rand_on(shapes[s], nds[s], AG_F64, devs[dv]), 0.05));
                char what[96];
                snprintf(what, sizeof what, "image_priors weights %d, shape %d, device %d", i, s, dv);
                compare(what, sum_fused, sum_composed, (ag_tensor *[]){pos}, 1, (void *)&ws[i]);
                ag_scope_end();
            }
    /* f32 against the f64 result, and the same value as the four fused ops summed */
    ag_scope_begin();
    ag_tensor *x = ag_add_s(ag_rand(AG_SHAPE(3, 64, 64), AG_F64), 0.05);
    double a = ag_item(ag_image_priors(x, &ws[0]));
    double b = ag_item(ag_image_priors(ag_to_dtype(x, AG_F32), &ws[0]));
    double c = ag_item(ag_add(ag_add(ag_mul_s(ag_entropy_s(x, 0.2, 7), 0.3), ag_mul_s(ag_sparsity(x, NULL), 0.5)),
                              ag_add(ag_mul_s(ag_tv_image(x, 1e-10), 2), ag_mul_s(ag_tsv(x), 0.7))));
    assert_true(fabs(b - a) <= 1e-5 * fabs(a));
    assert_true(fabs(c - a) <= 1e-12 * fabs(a));
    ag_scope_end();
}

static void image_priors_bad_input(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *img = ag_add_s(ag_rand(AG_SHAPE(2, 4, 4), AG_F64), 0.1);
    ag_prior_weights w = {.entropy = 1, .prior_intensity = 0.1, .tot_flux = 10, .tv_epsilon = 1e-10};
    assert_null(ag_image_priors(img, NULL));
    assert_error(AG_ERR_INVALID, "ag_image_priors", "argument 2 (w) is NULL");
    assert_null(ag_image_priors(ag_rand(AG_SHAPE(16), AG_F64), &w));
    assert_error(AG_ERR_SHAPE, "ag_image_priors", "3-d (nchan, npix, npix) or 2-d", "[16]");
    assert_null(ag_image_priors(ag_to_dtype(img, AG_C128), &w));
    assert_error(AG_ERR_DTYPE, "ag_image_priors", "real image", "given c128");
    ag_prior_weights bad = w;
    bad.tv = NAN;
    assert_null(ag_image_priors(img, &bad));
    assert_error(AG_ERR_INVALID, "ag_image_priors", "finite weights", "tv nan");
    bad = w, bad.tv_epsilon = -1;
    assert_null(ag_image_priors(img, &bad));
    assert_error(AG_ERR_INVALID, "ag_image_priors", "finite epsilon >= 0");
    bad = w, bad.prior_intensity = 0;
    assert_null(ag_image_priors(img, &bad));
    assert_error(AG_ERR_INVALID, "ag_image_priors", "prior intensity > 0", "given 0");
    bad = w, bad.tot_flux = INFINITY;
    assert_null(ag_image_priors(img, &bad));
    assert_error(AG_ERR_INVALID, "ag_image_priors", "tot_flux > 0", "given inf");
    /* a negative pixel under the entropy, named by its flat index; fine without the entropy */
    ag_tensor *neg = ag_clone(img);
    assert_int_equal(ag_fill_(ag_select(ag_select(ag_select(neg, 0, 1), 0, 2), 0, 3), -1.0), 0);
    assert_null(ag_image_priors(neg, &w));
    assert_error(AG_ERR_INVALID, "ag_image_priors", "pixels >= 0", "flat index 27");
    assert_non_null(ag_image_priors(neg, &(ag_prior_weights){.sparsity = 1, .tv = 1}));
    /* the visibility-plane regularizers */
    ag_tensor *vis = ag_randn(AG_SHAPE(2, 4, 4), AG_C128), *q = ag_rand(AG_SHAPE(4, 4), AG_F64);
    assert_null(ag_uv_sparsity(img, q, 0.5));
    assert_error(AG_ERR_DTYPE, "ag_uv_sparsity", "complex visibilities", "given f64");
    assert_null(ag_uv_sparsity(vis, vis, 0.5));
    assert_error(AG_ERR_DTYPE, "ag_uv_sparsity", "real q", "given c128");
    assert_null(ag_uv_sparsity(vis, q, -1));
    assert_error(AG_ERR_INVALID, "ag_uv_sparsity", "q_max >= 0", "given -1");
    assert_null(ag_uv_sparsity(vis, ag_rand(AG_SHAPE(3), AG_F64), 0.5));
    assert_error(AG_ERR_SHAPE, "broadcast");
    assert_null(ag_uv_sparsity(NULL, q, 0.5));
    assert_error(AG_ERR_INVALID, "ag_uv_sparsity", "argument 1 (vis) is NULL");
    assert_null(ag_psd(q, vis, 1.0));
    assert_error(AG_ERR_DTYPE, "ag_psd", "real q and psd", "c128");
    assert_null(ag_psd(q, img, 0));
    assert_error(AG_ERR_INVALID, "ag_psd", "l > 0", "given 0");
    assert_null(ag_psd(q, img, NAN));
    assert_error(AG_ERR_INVALID, "ag_psd", "l > 0", "given nan");
    /* q_max above every q: nothing selected, 0 */
    assert_true(ag_item(ag_uv_sparsity(vis, q, 2.0)) == 0.0);
    ag_scope_end();
}

/* the fixed blocks make the sums independent of the thread count: the same bits */
static void sums_deterministic(void **state) {
    (void)state;
    int threads = ag_get_num_threads();
    ag_manual_seed(3);
    ag_scope_begin();
    ag_tensor *m = ag_randn(AG_SHAPE(100003), AG_C128), *d = ag_randn(AG_SHAPE(100003), AG_C128);
    ag_tensor *w = ag_add_s(ag_rand(AG_SHAPE(100003), AG_F64), 0.1), *img = ag_randn(AG_SHAPE(3, 300, 301), AG_F64);
    double v[2][3];
    for (int t = 0; t < 2; t++) {
        ag_set_num_threads(t ? 2 : 1);
        v[t][0] = ag_item(ag_neg_log_likelihood_avg(m, d, w));
        v[t][1] = ag_item(ag_tv_image(img, 1e-10));
        v[t][2] = ag_item(ag_sparsity(img, NULL));
    }
    ag_set_num_threads(threads);
    for (int i = 0; i < 3; i++) assert_true(v[0][i] == v[1][i]);
    ag_scope_end();
}

/* the backward is a fused kernel: asking for a differentiable gradient is refused */
static void no_second_derivatives(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *m = leaf(ag_randn(AG_SHAPE(6), AG_C128)), *d = ag_randn(AG_SHAPE(6), AG_C128);
    ag_tensor *w = ag_full(AG_SHAPE(6), 2.0, AG_F64), *img = leaf(ag_rand(AG_SHAPE(2, 4, 4), AG_F64));
    ag_tensor *losses[2] = {ag_chi_squared(m, d, w), ag_tv_image(img, 1e-10)}, *ins[2] = {m, img};
    const char *names[2] = {"ag_chi_squared", "ag_tv_image"};
    for (int i = 0; i < 2; i++) {
        ag_tensor *g = NULL;
        assert_true(ag_grad_ex(&losses[i], 1, &ins[i], 1, (ag_grad_opts){.create_graph = true}, &g) < 0);
        assert_null(g);
        assert_error(AG_ERR_NOTIMPL, names[i], "second derivatives are not implemented");
    }
    ag_scope_end();
}

/* ---- bad inputs ---------------------------------------------------------------------------- */

static void losses_bad_input(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *m = ag_randn(AG_SHAPE(2, 3), AG_C128), *d = ag_randn(AG_SHAPE(2, 3), AG_C128);
    ag_tensor *w = ag_full(AG_SHAPE(2, 3), 1.0, AG_F64), *k = ag_ones(AG_SHAPE(2, 3), AG_BOOL);
    assert_null(ag_chi_squared(ag_real(m), d, w));
    assert_error(AG_ERR_DTYPE, "ag_chi_squared", "complex model", "given f64");
    assert_null(ag_r_chi_squared(m, ag_to_dtype(d, AG_C64), w));
    assert_error(AG_ERR_DTYPE, "ag_r_chi_squared", "data of the model's dtype c128", "given c64");
    assert_null(ag_log_likelihood(m, d, ag_to_dtype(w, AG_F32)));
    assert_error(AG_ERR_DTYPE, "ag_log_likelihood", "weights of dtype f64", "given f32");
    assert_null(ag_neg_log_likelihood_avg(m, d, ag_full(AG_SHAPE(3, 2), 1.0, AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_neg_log_likelihood_avg", "one shape", "[2,3]", "[3,2]");
    assert_null(ag_chi_squared_masked(m, d, w, ag_ones(AG_SHAPE(2, 3), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_chi_squared_masked", "bool mask");
    assert_null(ag_chi_squared_masked(m, d, w, ag_ones(AG_SHAPE(3), AG_BOOL)));
    assert_error(AG_ERR_SHAPE, "ag_chi_squared_masked", "bool mask of the model's shape");
    /* weights: NaN and negative always, zero where ln w is taken */
    double bad[3] = {NAN, -1.0, 0.0};
    for (int i = 0; i < 3; i++) {
        ag_tensor *wb = ag_clone(w);
        assert_int_equal(ag_fill_(ag_select(ag_select(wb, 0, 1), 0, 2), bad[i]), 0);
        if (i < 2) {
            assert_null(ag_chi_squared(m, d, wb));
            assert_error(AG_ERR_INVALID, "ag_chi_squared", "weights >= 0", "flat index 5");
        } else {
            assert_non_null(ag_chi_squared(m, d, wb));
            assert_non_null(ag_r_chi_squared(m, d, wb));
        }
        assert_null(ag_neg_log_likelihood_avg(m, d, wb));
        assert_error(AG_ERR_INVALID, "ag_neg_log_likelihood_avg", "weights > 0", "flat index 5");
        assert_null(ag_log_likelihood(m, d, wb));
        assert_error(AG_ERR_INVALID, "ag_log_likelihood", "weights > 0");
        /* a bad weight the mask leaves out is not read */
        ag_tensor *kb = ag_clone(k);
        assert_int_equal(ag_fill_(ag_select(ag_select(kb, 0, 1), 0, 2), 0), 0);
        assert_non_null(ag_neg_log_likelihood_avg_masked(m, d, wb, kb));
    }
    /* nothing to divide by */
    ag_tensor *e = ag_zeros(AG_SHAPE(0), AG_C128), *ew = ag_zeros(AG_SHAPE(0), AG_F64);
    assert_float_equal(ag_item(ag_chi_squared(e, e, ew)), 0, 0);
    assert_null(ag_r_chi_squared(e, e, ew));
    assert_error(AG_ERR_INVALID, "ag_r_chi_squared", "at least one visibility");
    assert_null(ag_neg_log_likelihood_avg_masked(m, d, w, ag_zeros(AG_SHAPE(2, 3), AG_BOOL)));
    assert_error(AG_ERR_INVALID, "ag_neg_log_likelihood_avg_masked", "at least one visibility", "selected by the mask");
    /* NULL arguments */
    assert_null(ag_chi_squared(NULL, d, w));
    assert_error(AG_ERR_INVALID, "ag_chi_squared", "argument 1 (model) is NULL");
    assert_null(ag_log_likelihood(m, d, NULL));
    assert_error(AG_ERR_INVALID, "ag_log_likelihood", "argument 3 (weight) is NULL");
    assert_null(ag_chi_squared_masked(m, d, w, NULL));
    assert_error(AG_ERR_INVALID, "ag_chi_squared_masked", "argument 4 (mask) is NULL");
    /* mixed devices */
    if (!ag_device_eq(DEV, AG_CPU)) { /* only with AG_DEVICE set: valgrind cannot map the test device */
        assert_null(ag_chi_squared(m, ag_to(d, DEV), w));
        assert_error(AG_ERR_DEVICE, "ag_chi_squared");
    }
    ag_scope_end();
}

static void priors_bad_input(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *img = ag_add_s(ag_rand(AG_SHAPE(2, 4, 4), AG_F64), 0.1), *p = ag_full(AG_SHAPE(2, 4, 4), 0.5, AG_F64);
    ag_tensor *flat = ag_rand(AG_SHAPE(16), AG_F64), *four = ag_rand(AG_SHAPE(1, 2, 4, 4), AG_F64);
    /* dtypes */
    assert_null(ag_tv_image(ag_to_dtype(img, AG_C128), 1e-10));
    assert_error(AG_ERR_DTYPE, "ag_tv_image", "real image (f32 or f64)", "given c128");
    assert_null(ag_sparsity(ag_ones(AG_SHAPE(3), AG_I64), NULL));
    assert_error(AG_ERR_DTYPE, "ag_sparsity", "real image", "given i64");
    assert_null(ag_entropy(img, ag_to_dtype(p, AG_F32), 10));
    assert_error(AG_ERR_DTYPE, "ag_entropy", "prior of the image's dtype f64", "given f32");
    /* dims */
    assert_null(ag_tv_image(flat, 1e-10));
    assert_error(AG_ERR_SHAPE, "ag_tv_image", "3-d (nchan, npix, npix) or 2-d", "[16]");
    assert_null(ag_tsv(four));
    assert_error(AG_ERR_SHAPE, "ag_tsv", "[1,2,4,4]");
    assert_null(ag_tv_channel(ag_select(img, 0, 0), 1e-10));
    assert_error(AG_ERR_SHAPE, "ag_tv_channel", "3-d (nchan, npix, npix)", "[4,4]");
    assert_null(ag_edge_clamp(four));
    assert_error(AG_ERR_SHAPE, "ag_edge_clamp", "3-d");
    /* ε and ζ */
    double eps_bad[3] = {-1e-10, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        assert_null(ag_tv_image(img, eps_bad[i]));
        assert_error(AG_ERR_INVALID, "ag_tv_image", "finite epsilon >= 0");
        assert_null(ag_tv_channel(img, eps_bad[i]));
        assert_error(AG_ERR_INVALID, "ag_tv_channel", "finite epsilon >= 0");
    }
    double zeta_bad[4] = {0, -1, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        assert_null(ag_entropy(img, p, zeta_bad[i]));
        assert_error(AG_ERR_INVALID, "ag_entropy", "finite tot_flux > 0");
        assert_null(ag_entropy_s(img, 1.0, zeta_bad[i]));
        assert_error(AG_ERR_INVALID, "ag_entropy_s", "finite tot_flux > 0");
    }
    /* prior and pixel domains */
    assert_null(ag_entropy_s(img, 0.0, 10));
    assert_error(AG_ERR_INVALID, "ag_entropy_s", "prior intensity > 0", "given 0");
    assert_null(ag_entropy_s(img, NAN, 10));
    assert_error(AG_ERR_INVALID, "ag_entropy_s", "prior intensity > 0");
    ag_tensor *pb = ag_clone(p);
    assert_int_equal(ag_fill_(ag_select(ag_select(ag_select(pb, 0, 1), 0, 2), 0, 3), -0.5), 0);
    assert_null(ag_entropy(img, pb, 10));
    assert_error(AG_ERR_INVALID, "ag_entropy", "prior intensity > 0", "given -0.5 at flat index 27");
    double px_bad[2] = {-0.25, NAN};
    for (int i = 0; i < 2; i++) {
        ag_tensor *ib = ag_clone(img);
        assert_int_equal(ag_fill_(ag_select(ag_select(ag_select(ib, 0, 0), 0, 3), 0, 1), px_bad[i]), 0);
        assert_null(ag_entropy_s(ib, 1.0, 10));
        assert_error(AG_ERR_INVALID, "ag_entropy_s", "pixels >= 0", "at flat index 13");
    }
    /* a pixel exactly 0: 0 ln 0 is NaN, as torch */
    ag_tensor *iz = ag_clone(img);
    assert_int_equal(ag_fill_(ag_select(ag_select(ag_select(iz, 0, 0), 0, 0), 0, 0), 0.0), 0);
    assert_true(isnan(ag_item(ag_entropy_s(iz, 1.0, 10))));
    /* shapes of the prior and the mask */
    assert_null(ag_entropy(img, ag_full(AG_SHAPE(3), 0.5, AG_F64), 10));
    assert_error(AG_ERR_SHAPE, "ag_entropy", "[2,4,4]", "[3]");
    assert_null(ag_entropy(img, ag_full(AG_SHAPE(3, 2, 4, 4), 0.5, AG_F64), 10));
    assert_error(AG_ERR_SHAPE, "ag_entropy", "broadcasts to the image's shape [2,4,4]");
    assert_null(ag_sparsity(img, ag_ones(AG_SHAPE(4, 4), AG_BOOL)));
    assert_error(AG_ERR_SHAPE, "ag_sparsity", "bool mask of the image's shape [2,4,4]");
    assert_null(ag_sparsity(img, p));
    assert_error(AG_ERR_SHAPE, "ag_sparsity", "bool mask", "f64");
    /* NULL arguments */
    assert_null(ag_tv_image(NULL, 1e-10));
    assert_error(AG_ERR_INVALID, "ag_tv_image", "argument 1 (cube) is NULL");
    assert_null(ag_entropy(img, NULL, 10));
    assert_error(AG_ERR_INVALID, "ag_entropy", "argument 2 (prior_intensity) is NULL");
    assert_null(ag_edge_clamp(NULL));
    assert_error(AG_ERR_INVALID, "ag_edge_clamp", "is NULL");
    if (!ag_device_eq(DEV, AG_CPU)) { /* only with AG_DEVICE set: valgrind cannot map the test device */
        assert_null(ag_entropy(img, ag_to(p, DEV), 10));
        assert_error(AG_ERR_DEVICE, "ag_entropy");
        assert_null(ag_sparsity(img, ag_to(ag_ones(AG_SHAPE(2, 4, 4), AG_BOOL), DEV)));
        assert_error(AG_ERR_DEVICE, "ag_sparsity");
    }
    ag_scope_end();
}

static void report(void **state) {
    (void)state;
    print_message("largest relative error, fused vs composed: value %.3g, gradient %.3g\n", worst_value, worst_grad);
}

int main(void) {
    DEV = ag_device_default();
    if (ag_failed()) return fprintf(stderr, "%s\n", ag_last_error()), 1;
    const struct CMUnitTest tests[] = {
        TEST(losses_match_composition), TEST(priors_match_composition), TEST(image_priors_match_composition),
        TEST(image_priors_bad_input), TEST(sums_deterministic),
        TEST(no_second_derivatives), TEST(losses_bad_input), TEST(priors_bad_input), TEST(report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
