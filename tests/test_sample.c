/* tests/test_sample.c — ag_sample (HMC, NUTS) on posteriors whose moments are known, and ag_ess.
 *
 * Each moment is checked as the mean of a function of the draws against its exact value, within
 * 5 Monte Carlo standard errors: sd(f) / sqrt(ESS(f)) with the ESS that ag_ess measures on the
 * same column of f values, so the tolerance follows the chain's actual mixing rather than a
 * fixed number. The seeds are fixed, so a run is reproducible. The parameters live on the
 * device named by AG_DEVICE (meson registers device_sample with AG_DEVICE=test); there the
 * 10-D Gaussian and the banana are skipped (cpu_only). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

static ag_device DEV;

/* The larger posteriors run on the CPU only: on another device they exercise the same calls as
 * the 2-D Gaussian (which does run there) at several times the cost. */
static void cpu_only(void) {
    if (DEV.kind != AG_DEV_CPU) {
        print_message("skipped on %s: the 2-D Gaussian covers the device path\n", ag_device_kind_name(DEV.kind));
        skip();
    }
}

static ag_tensor *param(const double *x, int64_t n, ag_dtype dt) {
    return ag_set_requires_grad(ag_from_data_on(x, AG_SHAPE(n), dt, DEV), true);
}

/* ---- the targets ------------------------------------------------------------------------ */
/* 2-D Gaussian, unit variances, correlation RHO: logp = -x^T P x / 2 with P the inverse. */
#define RHO 0.9
typedef struct gauss2 { ag_tensor *x, *prec; } gauss2;
static ag_tensor *logp_gauss2(void *u) {
    gauss2 *g = u;
    return ag_mul_s(ag_dot(g->x, ag_mv(g->prec, g->x)), -0.5);
}

/* 10-D independent Gaussian with scales 1e-3 .. 1 (log-spaced), means MU, split over two
 * parameters [4] and [2, 3] so that the flattening order is exercised. */
#define D10 10
static double SCALE[D10], MU[D10];
typedef struct gauss10 { ag_tensor *a, *b, *mu_a, *mu_b, *w_a, *w_b; } gauss10;
static ag_tensor *quad(ag_tensor *x, ag_tensor *mu, ag_tensor *w) { /* sum w (x - mu)^2 */
    return ag_sum(ag_mul(w, ag_square(ag_sub(x, mu))), NULL, 0, false);
}
static ag_tensor *logp_gauss10(void *u) {
    gauss10 *g = u;
    return ag_mul_s(ag_add(quad(g->a, g->mu_a, g->w_a), quad(g->b, g->mu_b, g->w_b)), -0.5);
}

/* banana: x1 ~ N(0, 1), x2 | x1 ~ N(B x1^2, 1): E x2 = B, Var x1 = 1, Var x2 = 1 + 2 B^2 */
#define BANANA_B 1.0
static ag_tensor *logp_banana(void *u) {
    ag_tensor *x = u;
    ag_tensor *x1 = ag_select(x, 0, 0), *x2 = ag_select(x, 0, 1);
    ag_tensor *r = ag_sub(x2, ag_mul_s(ag_square(x1), BANANA_B));
    return ag_mul_s(ag_add(ag_square(x1), ag_square(r)), -0.5);
}

/* ---- Monte Carlo checks ------------------------------------------------------------------ */
/* mean of f over the draws, within 5 standard errors of `exact`; returns the ESS of f */
static double check_mean(const double *f, int64_t n, double exact, const char *what) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += f[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += (f[i] - m) * (f[i] - m);
    v /= (double)(n - 1);
    ag_tensor *ft = ag_from_data(f, AG_SHAPE(n, 1), AG_F64);
    ag_tensor *e = ag_ess(ft);
    assert_non_null(e);
    double ess = ag_item(e);
    ag_release(e);
    ag_release(ft);
    assert_true(ess > 0);
    double se = sqrt(v / ess);
    if (!(fabs(m - exact) <= 5 * se))
        fail_msg("%s: mean %.6g, exact %.6g, |diff| = %.3g > 5 s.e. (s.e. %.3g, ESS %.0f of %lld)", what, m, exact,
                 fabs(m - exact), se, ess, (long long)n);
    return ess;
}

/* draws column j, and the product of centred columns (centres exact) */
static void column(const double *s, int64_t n, int64_t d, int64_t j, double c, double *out) {
    for (int64_t i = 0; i < n; i++) out[i] = s[i * d + j] - c;
}
static void product(const double *s, int64_t n, int64_t d, int64_t j, double cj, int64_t k, double ck, double *out) {
    for (int64_t i = 0; i < n; i++) out[i] = (s[i * d + j] - cj) * (s[i * d + k] - ck);
}

static void report(const char *name, const ag_sample_result *r, double min_ess) {
    print_message("%-28s step %.3g  accept %.2f  divergent %d (+%d warm-up)  grad evals %lld  ESS min %.0f  "
                  "%.2f s\n",
                  name, r->step_size, r->accept_rate, r->n_divergent, r->n_divergent_warmup,
                  (long long)r->n_grad_evals, min_ess, r->wall_s);
}

/* ---- the tests --------------------------------------------------------------------------- */
static void gauss2_run(ag_sampler alg, const char *name) {
    const double x0[2] = {1.0, -1.0};
    const double det = 1 - RHO * RHO, P[4] = {1 / det, -RHO / det, -RHO / det, 1 / det};
    gauss2 g = {param(x0, 2, AG_F64), ag_from_data_on(P, AG_SHAPE(2, 2), AG_F64, DEV)};
    ag_sample_result r;
    int n = 2000;
    assert_int_equal(ag_sample((ag_params){&g.x, NULL, 1}, logp_gauss2, &g,
                               (ag_sample_opts){.algorithm = alg, .n_samples = n, .n_warmup = 500, .seed = 11}, &r), 0);
    assert_int_equal(ag_size(r.samples, 0), n);
    assert_int_equal(ag_size(r.samples, 1), 2);
    const double *s = ag_data(r.samples);
    double f[2000], ess = INFINITY;
    for (int j = 0; j < 2; j++) {
        column(s, n, 2, j, 0, f);
        ess = fmin(ess, check_mean(f, n, 0, j ? "E x2" : "E x1"));
        product(s, n, 2, j, 0, j, 0, f);
        ess = fmin(ess, check_mean(f, n, 1, j ? "Var x2" : "Var x1"));
    }
    product(s, n, 2, 0, 0, 1, 0, f);
    ess = fmin(ess, check_mean(f, n, RHO, "Cov x1 x2"));
    assert_int_equal(r.n_divergent, 0);
    /* the per-draw log p is the density at the draw */
    const double *lp = ag_data(r.logp);
    for (int i = 0; i < n; i += 97) {
        double a = s[2 * i], b = s[2 * i + 1];
        assert_true(fabs(lp[i] + 0.5 * (a * a - 2 * RHO * a * b + b * b) / det) <= 1e-12 * (1 + fabs(lp[i])));
    }
    if (alg == AG_SAMPLER_NUTS) {
        assert_non_null(r.tree_depth);
        const int64_t *td = ag_data(r.tree_depth);
        for (int i = 0; i < n; i++) assert_true(td[i] >= 1 && td[i] <= 10);
    } else {
        assert_null(r.tree_depth);
    }
    report(name, &r, ess);
    ag_sample_result_free(&r);
    ag_release(g.x);
    ag_release(g.prec);
}
static void test_gauss2_nuts(void **st) { (void)st; gauss2_run(AG_SAMPLER_NUTS, "2-D rho 0.9, NUTS"); }
static void test_gauss2_hmc(void **st) { (void)st; gauss2_run(AG_SAMPLER_HMC, "2-D rho 0.9, HMC L=10"); }

static void gauss10_run(ag_sampler alg, const char *name) {
    cpu_only();
    double x0[D10], w[D10];
    for (int j = 0; j < D10; j++) {
        SCALE[j] = pow(10.0, -3.0 + 3.0 * j / (D10 - 1));
        MU[j] = 0.5 * j - 2;
        w[j] = 1 / (SCALE[j] * SCALE[j]);
        x0[j] = MU[j] + 0.5 * SCALE[j];
    }
    gauss10 g = {param(x0, 4, AG_F64),
                 ag_set_requires_grad(ag_from_data_on(x0 + 4, AG_SHAPE(2, 3), AG_F64, DEV), true),
                 ag_from_data_on(MU, AG_SHAPE(4), AG_F64, DEV), ag_from_data_on(MU + 4, AG_SHAPE(2, 3), AG_F64, DEV),
                 ag_from_data_on(w, AG_SHAPE(4), AG_F64, DEV), ag_from_data_on(w + 4, AG_SHAPE(2, 3), AG_F64, DEV)};
    ag_tensor *ps[2] = {g.a, g.b};
    ag_sample_result r;
    int n = 1000;
    assert_int_equal(ag_sample((ag_params){ps, NULL, 2}, logp_gauss10, &g,
                               (ag_sample_opts){.algorithm = alg, .n_samples = n, .n_warmup = 1000, .seed = 5,
                                                .step_jitter = alg == AG_SAMPLER_HMC ? 0.5 : 0}, &r), 0);
    assert_int_equal(ag_size(r.samples, 1), D10);
    const double *s = ag_data(r.samples), *minv = ag_data(r.inv_metric);
    double f[1000], ess = INFINITY;
    char what[32];
    for (int j = 0; j < D10; j++) {
        column(s, n, D10, j, 0, f);
        snprintf(what, sizeof what, "E x%d", j);
        ess = fmin(ess, check_mean(f, n, MU[j], what));
        product(s, n, D10, j, MU[j], j, MU[j], f);
        for (int i = 0; i < n; i++) f[i] /= SCALE[j] * SCALE[j];
        snprintf(what, sizeof what, "Var x%d / scale^2", j);
        ess = fmin(ess, check_mean(f, n, 1, what));
        /* the adapted inverse metric found the scales (within a factor 2, from ~500 warm-up draws
         * and the regularisation toward 1e-3) */
        double reg = SCALE[j] * SCALE[j];
        assert_true(minv[j] > 0.5 * reg && minv[j] < 2 * reg + 2e-3);
    }
    assert_int_equal(r.n_divergent, 0);
    report(name, &r, ess);
    ag_sample_result_free(&r);
    ag_release(g.a); ag_release(g.b); ag_release(g.mu_a); ag_release(g.mu_b); ag_release(g.w_a); ag_release(g.w_b);
}
static void test_gauss10_nuts(void **st) { (void)st; gauss10_run(AG_SAMPLER_NUTS, "10-D scales 1e-3..1, NUTS"); }
static void test_gauss10_hmc(void **st) { (void)st; gauss10_run(AG_SAMPLER_HMC, "10-D scales 1e-3..1, HMC"); }

static void banana_run(ag_sampler alg, const char *name) {
    cpu_only();
    const double x0[2] = {0.2, 0.5};
    ag_tensor *x = param(x0, 2, AG_F64);
    ag_sample_result r;
    int n = 3000;
    assert_int_equal(ag_sample((ag_params){&x, NULL, 1}, logp_banana, x,
                               (ag_sample_opts){.algorithm = alg, .n_samples = n, .n_warmup = 500, .seed = 3}, &r), 0);
    const double *s = ag_data(r.samples);
    double f[3000], ess = INFINITY;
    column(s, n, 2, 0, 0, f);
    ess = fmin(ess, check_mean(f, n, 0, "E x1"));
    column(s, n, 2, 1, 0, f);
    ess = fmin(ess, check_mean(f, n, BANANA_B, "E x2"));
    product(s, n, 2, 0, 0, 0, 0, f);
    ess = fmin(ess, check_mean(f, n, 1, "Var x1"));
    product(s, n, 2, 1, BANANA_B, 1, BANANA_B, f);
    ess = fmin(ess, check_mean(f, n, 1 + 2 * BANANA_B * BANANA_B, "Var x2"));
    report(name, &r, ess);
    ag_sample_result_free(&r);
    ag_release(x);
}
static void test_banana_nuts(void **st) { (void)st; banana_run(AG_SAMPLER_NUTS, "banana b=1, NUTS"); }
static void test_banana_hmc(void **st) { (void)st; banana_run(AG_SAMPLER_HMC, "banana b=1, HMC"); }

/* f32 parameter: the sampler's f64 state is rounded into it; N(3, 2^2) */
static ag_tensor *logp_normal32(void *u) {
    return ag_mul_s(ag_sum(ag_square(ag_div_s(ag_sub_s(u, 3.0), 2.0)), NULL, 0, false), -0.5);
}
static void test_f32_param(void **st) {
    (void)st;
    const double x0[1] = {0};
    ag_tensor *x = param(x0, 1, AG_F32);
    ag_sample_result r;
    int n = 1000;
    assert_int_equal(ag_sample((ag_params){&x, NULL, 1}, logp_normal32, x, (ag_sample_opts){.n_samples = n, .n_warmup = 300, .seed = 9}, &r), 0);
    double f[1000];
    column(ag_data(r.samples), n, 1, 0, 0, f);
    double ess = check_mean(f, n, 3, "E x (f32)");
    product(ag_data(r.samples), n, 1, 0, 3, 0, 3, f);
    ess = fmin(ess, check_mean(f, n, 4, "Var x (f32)"));
    /* the parameter holds the last draw */
    assert_true(fabs(ag_item(x) - ((double *)ag_data(r.samples))[n - 1]) < 1e-6 * (1 + fabs(ag_item(x))));
    report("1-D f32, NUTS", &r, ess);
    ag_sample_result_free(&r);
    ag_release(x);
}

/* a complex parameter is sampled as its real view: Re z ~ N(1, 1), Im z ~ N(-2, 0.5^2) */
static ag_tensor *logp_complex(void *u) {
    ag_tensor *re = ag_sub_s(ag_real(u), 1.0), *im = ag_div_s(ag_add_s(ag_imag(u), 2.0), 0.5);
    return ag_mul_s(ag_add(ag_sum(ag_square(re), NULL, 0, false), ag_sum(ag_square(im), NULL, 0, false)), -0.5);
}
static void test_complex_param(void **st) {
    (void)st;
    const double z0[2] = {0, 0};
    ag_tensor *z = ag_set_requires_grad(ag_from_data_on(z0, AG_SHAPE(1), AG_C128, DEV), true);
    ag_sample_result r;
    int n = 1000;
    assert_int_equal(ag_sample((ag_params){&z, NULL, 1}, logp_complex, z, (ag_sample_opts){.n_samples = n, .n_warmup = 300, .seed = 4}, &r), 0);
    assert_int_equal(ag_size(r.samples, 1), 2);
    const double *s = ag_data(r.samples);
    double f[1000];
    column(s, n, 2, 0, 0, f);
    double ess = check_mean(f, n, 1, "E Re z");
    column(s, n, 2, 1, 0, f);
    ess = fmin(ess, check_mean(f, n, -2, "E Im z"));
    product(s, n, 2, 1, -2, 1, -2, f);
    ess = fmin(ess, check_mean(f, n, 0.25, "Var Im z"));
    report("1-D c128, NUTS", &r, ess);
    ag_sample_result_free(&r);
    ag_release(z);
}

static void reset(ag_tensor *x, const double *x0) {
    ag_no_grad_begin();
    ag_scope_begin();
    assert_int_equal(ag_copy_(x, ag_from_data_on(x0, AG_SHAPE(2), AG_F64, DEV)), 0);
    ag_scope_end();
    ag_no_grad_end();
}
static void test_deterministic(void **st) {
    (void)st;
    const double x0[2] = {0.3, 0.1};
    ag_tensor *x = param(x0, 2, AG_F64);
    ag_params P = {&x, NULL, 1};
    ag_sample_result a, b, c;
    for (int alg = 0; alg < 2; alg++) {
        ag_sample_opts o = {.algorithm = (ag_sampler)alg, .n_samples = 30, .n_warmup = 40, .seed = 42};
        reset(x, x0);
        assert_int_equal(ag_sample(P, logp_banana, x, o, &a), 0);
        reset(x, x0);
        assert_int_equal(ag_sample(P, logp_banana, x, o, &b), 0);
        assert_memory_equal(ag_data(a.samples), ag_data(b.samples), 60 * sizeof(double));
        assert_true(a.step_size == b.step_size);
        reset(x, x0);
        o.seed = 43;
        assert_int_equal(ag_sample(P, logp_banana, x, o, &c), 0);
        assert_true(memcmp(ag_data(a.samples), ag_data(c.samples), 60 * sizeof(double)) != 0);
        ag_sample_result_free(&a);
        ag_sample_result_free(&b);
        ag_sample_result_free(&c);
    }
    ag_release(x);
}

/* ---- errors --------------------------------------------------------------------------------- */
static ag_tensor *logp_log_sum(void *u) { return ag_sum(ag_log(u), NULL, 0, false); }
static ag_tensor *logp_vector(void *u) { return ag_mul_s(u, 1.0); }
static ag_tensor *logp_bad_op(void *u) { return ag_mv(u, u); }
static ag_tensor *logp_flat(void *u) { return ag_mul_s(ag_sum(u, NULL, 0, false), 0.0); }
static ag_tensor *logp_null(void *u) { (void)u; return NULL; }

static void test_errors(void **st) {
    (void)st;
    const double neg[2] = {-1, 1}, zero[2] = {0, 1};
    ag_tensor *x = param(neg, 2, AG_F64);
    ag_params P = {&x, NULL, 1};
    ag_sample_opts o = {.n_samples = 10, .n_warmup = 10};
    ag_sample_result r = {0};

    assert_int_equal(ag_sample(P, logp_log_sum, x, o, &r), AG_ERR_NUMERIC);
    assert_error(AG_ERR_NUMERIC, "ag_sample", "initial point", "nan");
    assert_null(r.samples);
    ag_tensor *z = param(zero, 2, AG_F64);
    assert_int_equal(ag_sample((ag_params){&z, NULL, 1}, logp_log_sum, z, o, &r), AG_ERR_NUMERIC);
    assert_error(AG_ERR_NUMERIC, "ag_sample", "initial point", "-inf");
    ag_release(z);

    assert_int_equal(ag_sample(P, logp_vector, x, o, &r), AG_ERR_SHAPE);
    assert_error(AG_ERR_SHAPE, "ag_sample", "one-element", "[2]");
    assert_int_equal(ag_sample(P, logp_bad_op, x, o, &r), AG_ERR_SHAPE);
    assert_error(AG_ERR_SHAPE, "ag_mv");
    assert_int_equal(ag_sample(P, logp_null, x, o, &r), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_sample", "returned NULL");

    assert_int_equal(ag_sample((ag_params){NULL, NULL, 0}, logp_log_sum, x, o, &r), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_sample", "empty parameter list");
    ag_tensor *nograd = ag_from_data_on(neg, AG_SHAPE(2), AG_F64, DEV);
    assert_int_equal(ag_sample((ag_params){&nograd, NULL, 1}, logp_log_sum, x, o, &r), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_sample", "parameter 0", "requires grad");
    ag_release(nograd);
    assert_int_equal(ag_sample(P, NULL, x, o, &r), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_sample", "logp");
    ag_no_grad_begin();
    assert_int_equal(ag_sample(P, logp_log_sum, x, o, &r), AG_ERR_AUTOGRAD);
    ag_no_grad_end();
    assert_error(AG_ERR_AUTOGRAD, "ag_sample", "no-grad");
    assert_int_equal(ag_sample(P, logp_log_sum, x, o, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_sample", "NULL");

    ag_sample_opts bad[] = {{.n_samples = 0}, {.n_samples = 5, .n_warmup = -1}, {.n_samples = 5, .step_size = -1},
                            {.n_samples = 5, .target_accept = 1.5}, {.n_samples = 5, .max_depth = 31},
                            {.n_samples = 5, .algorithm = (ag_sampler)7}, {.n_samples = 5, .n_leapfrog = -2}, {.n_samples = 5, .step_jitter = 1.5}};
    const char *msg[] = {"n_samples must be >= 1, given 0", "n_warmup must be >= 0, given -1", "step_size",
                         "target_accept must be in (0, 1), given 1.5", "max_depth", "unknown algorithm 7",
                         "n_leapfrog", "step_jitter must be in [0, 1], given 1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ag_sample(P, logp_log_sum, x, bad[i], &r), AG_ERR_INVALID);
        assert_error(AG_ERR_INVALID, "ag_sample", msg[i]);
    }

    /* a flat density: the step-size search grows without bound */
    assert_int_equal(ag_sample(P, logp_flat, x, o, &r), AG_ERR_NUMERIC);
    assert_error(AG_ERR_NUMERIC, "ag_sample", "step-size search");
    ag_release(x);
}

static void test_ess(void **st) {
    (void)st;
    /* iid draws: ESS near n; an AR(1) chain with phi = 0.9: ESS near n (1 - phi) / (1 + phi) */
    int n = 20000;
    double *v = malloc(2 * (size_t)n * sizeof *v), y = 0;
    uint64_t s = 12345;
    for (int i = 0; i < n; i++) {
        double e = 0; /* sum of 12 uniforms - 6: near-normal */
        for (int k = 0; k < 12; k++) e += (double)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) * 0x1.0p-53;
        e -= 6;
        y = 0.9 * y + e;
        v[2 * i] = e;
        v[2 * i + 1] = y;
    }
    ag_tensor *h = ag_from_data(v, AG_SHAPE(n, 2), AG_F64), *t = ag_to(h, DEV);
    ag_release(h);
    ag_tensor *e = ag_ess(t);
    assert_non_null(e);
    assert_true(ag_device_eq(ag_device_of(e), DEV));
    double ess[2];
    assert_int_equal(ag_copy_to_buffer(e, ess, AG_F64), 0);
    print_message("ESS iid %.0f (n %d), AR(1) 0.9 %.0f (theory %.0f)\n", ess[0], n, ess[1], n * 0.1 / 1.9);
    /* the estimator's relative sd is about sqrt(2 tau_window / n): 20% is several of those */
    assert_true(fabs(ess[0] / n - 1) < 0.2);
    assert_true(fabs(ess[1] / (n * 0.1 / 1.9) - 1) < 0.3);
    ag_release(e);
    ag_release(t);
    free(v);

    ag_tensor *one = ag_zeros(AG_SHAPE(3, 2), AG_F64);
    assert_null(ag_ess(one));
    assert_error(AG_ERR_SHAPE, "ag_ess", "at least 4 draws, given 3");
    ag_release(one);
    ag_tensor *flat = ag_zeros(AG_SHAPE(8), AG_F64);
    assert_null(ag_ess(flat));
    assert_error(AG_ERR_SHAPE, "ag_ess", "[n, D]", "[8]");
    ag_release(flat);
    assert_null(ag_ess(NULL));
    assert_error(AG_ERR_INVALID, "ag_ess");
}

int main(void) {
    DEV = ag_device_default();
    if (ag_failed()) {
        fprintf(stderr, "%s\n", ag_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        TEST(test_gauss2_nuts), TEST(test_gauss2_hmc), TEST(test_gauss10_nuts), TEST(test_gauss10_hmc),
        TEST(test_banana_nuts), TEST(test_banana_hmc), TEST(test_f32_param),   TEST(test_complex_param),
        TEST(test_deterministic),
        TEST(test_errors),      TEST(test_ess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
