/* examples/dia.c — difference image analysis as PyTorchDIA (Hitchcock et al. 2021): fit the
 * kernel K and the background B that turn a reference image R into a target image T,
 *   T ≈ M(K, B) = R ⋆ K + B,
 * subtract, and measure a variable star on the difference image D = T − M.
 *
 *   dia [--size N] [--stars S] [--seed SEED] [--cg-iters I] [--lbfgs-iters I] [--out PREFIX]
 *       [--save PREFIX] [--check]
 *
 * Simulation (seeded; all sizes in pixels): the target is N × N (default 512), the reference
 * (N + 18)², so that R ⋆ K is a "valid" correlation of the 19 × 19 kernel (conv2d without
 * padding, PyTorch's cross-correlation: M[p] = Σ_q K[q] R[p + q]) with no edge effects. The
 * reference holds S Gaussian stars (σ 0.9 px: good seeing, so that the reference carries every
 * spatial frequency the kernel has; log-uniform fluxes 2000..500000; by default one star per
 * 100 px², a crowded field as in microlensing surveys) on a sky of 100, and the noise of a stack
 * of 10 exposures, σ² = (25 + R)/10.
 * The true kernel is an elliptical Gaussian (σ 2.0 and 1.2 px, at 35°) centred at (+0.7, −0.5)
 * px, normalised to the photometric scale factor ΣK = 1.3; the background is 40 + 15 x − 10 y
 * (x, y in [−1, 1] across the target). The target is (R + ΔF·S_v) ⋆ K + B with Gaussian noise
 * of the Poisson-like variance σ² = 25 + (noiseless target) (read noise 5, gain 1), where S_v
 * is a unit-flux star at the target's centre whose reference flux is 20000 and ΔF = 5000 its
 * flux change. The fits weight by the true σ (a pipeline would estimate it from the model).
 *
 * Fits (unknowns: the 361 kernel pixels and 3 background coefficients c, B = s·(c₀ + c₁x + c₂y)
 * with s the observed reference's mean, so that both blocks have curvatures of the same order):
 *  (a) least squares Σ w (T − M)², w = 1/σ², by conjugate gradients (ag_cg) on the normal
 *      equations AᵀWA θ = AᵀW T, with a Jacobi preconditioner. A is applied by conv2d(R̃, K)
 *      (R̃ = R − mean(R), see model()); Aᵀ by conv2d(R̃, u) with the image u (of the target's
 *      shape) as the weight: the correlation of R̃ with u is the gradient of ⟨R̃ ⋆ K, u⟩ with
 *      respect to K (what autograd's transpose of conv2d computes, without building a graph
 *      inside ag_cg's no-grad region; the program checks the two agree). The preconditioner's diagonal is conv2d(R̃², w) and
 *      basis² against w.
 *  (b) the robust Cauchy loss mean(c² log(1 + r²/c²)), r = (T − M)/σ, c = 2.385 (95% efficiency
 *      for Gaussian noise), minimised by ag_lbfgs (strong Wolfe, history 10) from (a)'s solution:
 *      the loss is not convex, and from K = δ, B = 0 the bright stars' residuals are thousands
 *      of σ, far beyond c, so L-BFGS settles in a minimum that ignores them (residual RMS 2-4 σ
 *      when we tried). It needs no outlier mask: the variable star does not pull on it.
 * Photometry: the amplitude of P = S_v ⋆ K_fit on D by weighted least squares, Σ w P D / Σ w P²:
 * the flux change in the reference's units. Residual RMS: √mean(w (D − ΔF_fit P)²), the
 * difference with the variable star fitted out, in units of the noise (1 for a perfect fit).
 *
 * Prints, per fit, one summary line
 *   fit=cg kernel_err=... scale=... scale_true=1.3 dflux=... dflux_err=... dflux_true=5000 rms_noise=... iters=... ms=...
 * writes PREFIX.png (default dia.png): reference (its central N × N), target, model, difference
 * (the axes take the pixels to be 0.4 arcsec).
 * --save PREFIX writes PREFIX_ref.f64, PREFIX_tgt.f64 and PREFIX_w.f64 (raw little-endian
 * float64, row-major, (N+18)², N², N²) for benchmarks/peers/torch_dia.py.
 * --check exits with status 3 when a fit is outside the bounds printed (kernel error, scale,
 * flux change within 4 of its error dflux_err = 1/√(Σ w P²), residual RMS). AG_DEVICE picks the device ("cpu", "test", "cuda"). */
#define _POSIX_C_SOURCE 200809L
#include <astrograd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HALF 9
#define KS (2 * HALF + 1)   /* kernel side */
#define NK (KS * KS)
#define NB 3                /* background coefficients */
#define CAUCHY 2.385
#define SCALE_TRUE 1.3
#define DFLUX_TRUE 5000.0
#define VAR_FLUX 20000.0
#define PSF_SIGMA 0.9

typedef struct sim {
    int64_t n, m;           /* target side, reference side n + 2 HALF */
    ag_tensor *ref;         /* (1, 1, m, m) observed reference */
    ag_tensor *refc;        /* ref minus its mean: the model's regressor (see model()) */
    ag_tensor *tgt;         /* (1, 1, n, n) */
    ag_tensor *w, *isig;    /* (1, 1, n, n) 1/σ² and 1/σ of the target */
    ag_tensor *basis;       /* (3, n²) s·{1, x, y} */
    ag_tensor *star;        /* (1, 1, m, m) the variable star at unit flux */
    ag_tensor *ktrue;       /* (1, 1, KS, KS) */
    ag_tensor *diag;        /* (NK + NB) diagonal of AᵀWA */
} sim;

typedef struct result {
    ag_tensor *K, *c;       /* (1, 1, KS, KS), (1, NB) */
    double kernel_err, scale, dflux, dflux_err, rms, ms;
    int iters;
} result;

static ag_device dev;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* splitmix64: the star catalogue's own generator (the noise comes from ag_randn) */
static double uniform(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return ((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* adds flux·(unit Gaussian of σ PSF_SIGMA at (x, y), sampled at pixel centres) to img (side m) */
static void add_star(double *img, int64_t m, double x, double y, double flux) {
    double a = flux / (2 * M_PI * PSF_SIGMA * PSF_SIGMA);
    for (int64_t r = (int64_t)fmax(0, floor(y) - 7); r <= (int64_t)fmin(m - 1, floor(y) + 8); r++)
        for (int64_t q = (int64_t)fmax(0, floor(x) - 7); q <= (int64_t)fmin(m - 1, floor(x) + 8); q++)
            img[r * m + q] += a * exp(-((q - x) * (q - x) + (r - y) * (r - y)) / (2 * PSF_SIGMA * PSF_SIGMA));
}

/* R ⋆ K + B, computed as (R − R̄) ⋆ K + B': the same images (the constant R̄ΣK joins B's
 * constant term), but the kernel's sum and the background no longer compete for the sky level,
 * which makes the normal equations far better conditioned (CG needs fewer iterations). */
static ag_tensor *model(const sim *s, ag_tensor *K, ag_tensor *c) {
    return ag_add(ag_conv2d(s->refc, K, NULL, NULL), ag_reshape(ag_matmul(c, s->basis), AG_SHAPE(1, 1, s->n, s->n)));
}

/* Aᵀ u for an image u (1, 1, n, n): (NK + NB) */
static ag_tensor *adjoint(const sim *s, ag_tensor *u) {
    ag_tensor *parts[2] = {ag_flatten(ag_conv2d(s->refc, u, NULL, NULL)), ag_mv(s->basis, ag_flatten(u))};
    return ag_cat(parts, 2, 0);
}

static ag_tensor *normal_apply(ag_tensor *x, void *ud) {
    sim *s = ud;
    ag_tensor *K = ag_reshape(ag_narrow(x, 0, 0, NK), AG_SHAPE(1, 1, KS, KS));
    ag_tensor *c = ag_reshape(ag_narrow(x, 0, NK, NB), AG_SHAPE(1, NB));
    return adjoint(s, ag_mul(s->w, model(s, K, c)));
}

static ag_tensor *jacobi(ag_tensor *r, void *ud) { return ag_div(r, ((sim *)ud)->diag); }

static int simulate(sim *s, int64_t n, int nstars, uint64_t seed) {
    int64_t m = n + 2 * HALF;
    s->n = n, s->m = m;
    double *rt = malloc(m * m * sizeof *rt), *sv = calloc(m * m, sizeof *sv), *k = malloc(NK * sizeof *k);
    double *b = malloc(NB * n * n * sizeof *b);
    for (int64_t i = 0; i < m * m; i++) rt[i] = 100;
    for (int i = 0; i < nstars; i++) {
        double x = uniform(&seed) * m, y = uniform(&seed) * m;
        add_star(rt, m, x, y, 2000 * pow(250, uniform(&seed)));
    }
    double vx = HALF + n / 2, vy = HALF + n / 2;   /* the variable star, at the target's centre */
    add_star(rt, m, vx, vy, VAR_FLUX);
    add_star(sv, m, vx, vy, 1);
    double th = 35 * M_PI / 180, ct = cos(th), st = sin(th), tot = 0;
    for (int r = 0; r < KS; r++)
        for (int q = 0; q < KS; q++) {
            double dx = q - HALF - 0.7, dy = r - HALF + 0.5, u = ct * dx + st * dy, v = -st * dx + ct * dy;
            tot += k[r * KS + q] = exp(-0.5 * (u * u / 4.0 + v * v / 1.44));
        }
    for (int i = 0; i < NK; i++) k[i] *= SCALE_TRUE / tot;
    ag_scope_begin();
    ag_tensor *Rt = ag_from_data_on(rt, AG_SHAPE(1, 1, m, m), AG_F64, dev);
    s->star = ag_keep(ag_from_data_on(sv, AG_SHAPE(1, 1, m, m), AG_F64, dev));
    s->ktrue = ag_keep(ag_from_data_on(k, AG_SHAPE(1, 1, KS, KS), AG_F64, dev));
    ag_manual_seed(seed);
    s->ref = ag_keep(ag_add(Rt, ag_mul(ag_sqrt(ag_div_s(ag_add_s(Rt, 25), 10)), ag_randn_on(AG_SHAPE(1, 1, m, m), AG_F64, dev))));
    double mean = ag_item(ag_mean(s->ref, AG_ALL_DIMS, false));
    s->refc = ag_keep(ag_sub_s(s->ref, mean));
    for (int64_t r = 0; r < n; r++)
        for (int64_t q = 0; q < n; q++) {
            b[r * n + q] = mean;
            b[n * n + r * n + q] = mean * (-1 + 2.0 * q / (n - 1));
            b[2 * n * n + r * n + q] = mean * (-1 + 2.0 * r / (n - 1));
        }
    s->basis = ag_keep(ag_from_data_on(b, AG_SHAPE(NB, n * n), AG_F64, dev));
    double bt[NB] = {40 / mean, 15 / mean, -10 / mean};
    ag_tensor *ctrue = ag_from_data_on(bt, AG_SHAPE(1, NB), AG_F64, dev);
    ag_tensor *Tt = ag_add(ag_conv2d(ag_add(Rt, ag_mul_s(s->star, DFLUX_TRUE)), s->ktrue, NULL, NULL),
                           ag_reshape(ag_matmul(ctrue, s->basis), AG_SHAPE(1, 1, n, n)));
    ag_tensor *var = ag_add_s(Tt, 25);
    s->w = ag_keep(ag_reciprocal(var));
    s->isig = ag_keep(ag_rsqrt(var));
    s->tgt = ag_keep(ag_add(Tt, ag_mul(ag_sqrt(var), ag_randn_on(AG_SHAPE(1, 1, n, n), AG_F64, dev))));
    ag_tensor *parts[2] = {ag_flatten(ag_conv2d(ag_square(s->refc), s->w, NULL, NULL)),
                           ag_mv(ag_square(s->basis), ag_flatten(s->w))};
    s->diag = ag_keep(ag_cat(parts, 2, 0));
    ag_scope_end();
    free(rt), free(sv), free(k), free(b);
    return ag_failed() ? -1 : 0;
}

/* kernel error, scale, photometry and residual of a fit (K, c) */
static void measure(const sim *s, result *f) {
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *K = ag_detach(f->K);
    ag_tensor *D = ag_sub(s->tgt, model(s, K, ag_detach(f->c)));
    ag_tensor *P = ag_conv2d(s->star, K, NULL, NULL);
    f->kernel_err = ag_item(ag_norm(ag_sub(K, s->ktrue), 2, AG_ALL_DIMS, false)) /
                    ag_item(ag_norm(s->ktrue, 2, AG_ALL_DIMS, false));
    f->scale = ag_item(ag_sum(K, AG_ALL_DIMS, false));
    ag_tensor *wP = ag_mul(s->w, P);
    double wPP = ag_item(ag_sum(ag_mul(wP, P), AG_ALL_DIMS, false));
    f->dflux = ag_item(ag_sum(ag_mul(wP, D), AG_ALL_DIMS, false)) / wPP;
    f->dflux_err = 1 / sqrt(wPP); /* the target's noise only; the reference's adds ~0.5% in variance */
    f->rms = sqrt(ag_item(ag_mean(ag_mul(s->w, ag_square(ag_sub(D, ag_mul_s(P, f->dflux)))), AG_ALL_DIMS, false)));
    ag_no_grad_end();
    ag_scope_end();
}

/* |Aᵀu − autograd's transpose| / |autograd's|: the kernel block of Aᵀ (conv2d with u as the
 * weight) against the gradient of ⟨R̃ ⋆ K, u⟩ with respect to K, for a random u; NAN on error */
static double adjoint_check(const sim *s) {
    ag_scope_begin();
    ag_tensor *u = ag_randn_on(AG_SHAPE(1, 1, s->n, s->n), AG_F64, dev);
    ag_tensor *K = ag_set_requires_grad(ag_zeros_on(AG_SHAPE(1, 1, KS, KS), AG_F64, dev), true);
    ag_tensor *y = ag_conv2d(s->refc, K, NULL, NULL), *g = NULL;
    double e = NAN;
    if (y && !ag_grad(&y, 1, &K, 1, &u, false, &g)) {
        ag_tensor *ours = ag_conv2d(s->refc, u, NULL, NULL);
        e = ag_item(ag_norm(ag_sub(ours, g), 2, AG_ALL_DIMS, false)) / ag_item(ag_norm(g, 2, AG_ALL_DIMS, false));
        ag_release(g);
    }
    ag_scope_end();
    return e;
}

static int fit_cg(sim *s, int max_iter, result *f) {
    double t0 = now_ms();
    ag_scope_begin();
    ag_tensor *rhs = adjoint(s, ag_mul(s->w, s->tgt));
    ag_cg_report rep = {0};
    ag_tensor *x = ag_cg(normal_apply, s, rhs, NULL,
                         &(ag_cg_opts){.rtol = 1e-8, .max_iter = max_iter, .precond = jacobi, .precond_data = s}, &rep);
    f->K = ag_keep(ag_reshape(ag_narrow(x, 0, 0, NK), AG_SHAPE(1, 1, KS, KS)));
    f->c = ag_keep(ag_reshape(ag_narrow(x, 0, NK, NB), AG_SHAPE(1, NB)));
    ag_scope_end();
    f->ms = now_ms() - t0;
    f->iters = rep.iterations;
    if (ag_failed()) return -1;
    /* at the default 500 iterations the relative residual is ~1e-4 (the eigenvalues of the
     * kernel's poorly constrained high frequencies are small and CG reaches them last); the
     * figures printed below no longer change by then */
    printf("cg: %d iterations, relative residual of the normal equations %.2g\n", rep.iterations, rep.residual);
    return 0;
}

typedef struct cauchy { sim *s; ag_tensor *K, *c; int evals; } cauchy;

static ag_tensor *cauchy_closure(void *ud) {
    cauchy *f = ud;
    f->evals++;
    ag_zero_grad(f->K), ag_zero_grad(f->c);
    ag_scope_begin(); /* each evaluation frees its temporaries; L-BFGS evaluates hundreds of times */
    ag_tensor *r = ag_mul(ag_sub(f->s->tgt, model(f->s, f->K, f->c)), f->s->isig);
    ag_tensor *L = ag_mul_s(ag_mean(ag_log1p(ag_mul_s(ag_square(r), 1 / (CAUCHY * CAUCHY))), AG_ALL_DIMS, false),
                            CAUCHY * CAUCHY);
    L = L && !ag_backward(L) ? ag_keep(L) : NULL;
    ag_scope_end();
    return L;
}

static int fit_cauchy(sim *s, const result *start, int max_iter, result *f) {
    double t0 = now_ms();
    ag_tensor *p[2] = {ag_clone(start->K), ag_clone(start->c)};
    cauchy c = {s, ag_set_requires_grad(p[0], true), ag_set_requires_grad(p[1], true), 0};
    ag_optim *opt = ag_lbfgs((ag_params){p, NULL, 2},
                             (ag_lbfgs_opts){.max_iter = max_iter, .history_size = 10, .line_search = AG_LINE_SEARCH_STRONG_WOLFE});
    int rc = opt ? ag_optim_step_closure(opt, cauchy_closure, &c) : -1;
    ag_optim_free(opt);
    f->ms = now_ms() - t0;
    f->iters = c.evals;
    f->K = p[0], f->c = p[1];
    return rc || ag_failed() ? -1 : 0;
}

static int save_raw(ag_tensor *t, const char *prefix, const char *what) {
    char path[600], tmp[620];
    snprintf(path, sizeof path, "%s_%s.f64", prefix, what);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int64_t n = ag_numel(t);
    double *buf = malloc(n * sizeof *buf);
    FILE *f = fopen(tmp, "wb");
    bool ok = buf && f && ag_copy_to_buffer(t, buf, AG_F64) == 0 && fwrite(buf, sizeof *buf, n, f) == (size_t)n;
    ok = f && fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) remove(tmp), fprintf(stderr, "dia: cannot write %s\n", path);
    free(buf);
    return ok ? 0 : -1;
}

static int figure(const sim *s, const result *f, const char *path) {
    ag_grid_coords gc;
    if (ag_grid_coords_init(&gc, 0.4, s->n)) return -1;
    ag_figure *fig = ag_figure_new(2, 2, s->n < 384 ? 256 : 384);
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *M = model(s, ag_detach(f->K), ag_detach(f->c));
    int64_t n = s->n;
    ag_tensor *img[4] = {ag_narrow(ag_narrow(s->ref, 2, HALF, n), 3, HALF, n), s->tgt, M, ag_sub(s->tgt, M)};
    const char *titles[4] = {"reference (central part)", "target", "model R ⋆ K + B", "difference T − model"};
    int rc = fig ? 0 : -1;
    for (int i = 0; i < 4 && !rc; i++) {
        ag_tensor *im = ag_reshape(img[i], AG_SHAPE(n, n));
        double lo = i < 3 ? 80 : -200, hi = i < 3 ? 3000 : 200; /* counts: the sky to bright stars; D: ± the noise at bright stars */
        rc = ag_figure_image(fig, i, im, &gc, &(ag_figure_image_opts){.title = titles[i], .cbar_label = "counts",
                                                                       .vmin = lo, .vmax = hi, .cmap = i < 3 ? AG_CMAP_INFERNO : AG_CMAP_VIRIDIS});
    }
    ag_no_grad_end();
    ag_scope_end();
    if (!rc) rc = ag_figure_write_png(fig, path);
    ag_figure_free(fig);
    return rc;
}

int main(int argc, char **argv) {
    int64_t n = 512;
    int nstars = -1, cg_iters = 500, lbfgs_iters = 500;
    uint64_t seed = 17;
    const char *out = "dia", *save = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--stars") && i + 1 < argc) nstars = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--cg-iters") && i + 1 < argc) cg_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lbfgs-iters") && i + 1 < argc) lbfgs_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
        else if (!strcmp(argv[i], "--check")) check = true;
        else { fprintf(stderr, "dia: unknown argument %s (see the comment at the top of examples/dia.c)\n", argv[i]); return 2; }
    }
    if (n < 32 || n > 4096 || cg_iters < 1 || lbfgs_iters < 1) {
        fprintf(stderr, "dia: --size must be in 32..4096 and the iteration counts positive\n");
        return 2;
    }
    if (nstars < 0) nstars = (int)((n + 2 * HALF) * (n + 2 * HALF) / 100);
    dev = ag_device_default();
    sim s = {0};
    if (simulate(&s, n, nstars, seed)) { fprintf(stderr, "dia: %s\n", ag_last_error()); return 1; }
    printf("target %lld x %lld, reference %lld x %lld, %d stars, kernel %d x %d, on %s\n", (long long)n, (long long)n,
           (long long)s.m, (long long)s.m, nstars, KS, KS, ag_device_kind_name(dev.kind));
    if (save && (save_raw(s.ref, save, "ref") || save_raw(s.tgt, save, "tgt") || save_raw(s.w, save, "w"))) return 1;

    double adj = adjoint_check(&s);
    printf("adjoint: |conv2d(R~, u) - autograd's transpose of conv2d| / |autograd's| = %.2g\n", adj);

    result r[2] = {{0}};
    const char *names[2] = {"cg", "cauchy_lbfgs"};
    if (fit_cg(&s, cg_iters, &r[0]) || fit_cauchy(&s, &r[0], lbfgs_iters, &r[1])) {
        fprintf(stderr, "dia: %s\n", ag_last_error());
        return 1;
    }
    /* Bounds, from the statistical errors at this noise (we ran seeds 1-4 and 17): the kernel's
     * error is about 0.1 at 128² and 0.025 at 512² (it is the pixels the data hardly constrain,
     * the kernel's high spatial frequencies: stopping CG at 100 iterations halves it at 128², as
     * early stopping regularises); ΣK to 0.1%; the flux change to its error dflux_err (≈ 170 of
     * 5000, the same at every size: one star's photon noise), bound at 4 of them; the residual
     * of a right model is white noise of RMS √(1 − 364/N²) ± 1/√(2N²), plus the reference's
     * noise (≈ 0.2%). */
    const double max_kerr = n >= 256 ? 0.06 : 0.25, max_scale = 0.01, max_rms = 0.03;
    const double rms_fit = sqrt(1 - (double)(NK + NB) / (n * n)); /* 364 parameters fit some of the noise */
    bool ok = adj < 1e-12;
    for (int i = 0; i < 2; i++) {
        measure(&s, &r[i]);
        printf("fit=%s kernel_err=%.4f scale=%.5f scale_true=%.5f dflux=%.1f dflux_err=%.1f dflux_true=%.1f rms_noise=%.4f iters=%d ms=%.1f\n",
               names[i], r[i].kernel_err, r[i].scale, SCALE_TRUE, r[i].dflux, r[i].dflux_err, DFLUX_TRUE, r[i].rms, r[i].iters, r[i].ms);
        ok = ok && r[i].kernel_err < max_kerr && fabs(r[i].scale / SCALE_TRUE - 1) < max_scale &&
             fabs(r[i].dflux - DFLUX_TRUE) < 4 * r[i].dflux_err && fabs(r[i].rms / rms_fit - 1) < max_rms;
    }
    printf("bounds: adjoint < 1e-12, kernel_err < %.2f, |scale/true - 1| < %.2f, |dflux - true| < 4 dflux_err, |rms_noise / %.4f - 1| < %.2f\n",
           max_kerr, max_scale, rms_fit, max_rms);
    char path[600];
    snprintf(path, sizeof path, "%s.png", out);
    if (figure(&s, &r[1], path)) fprintf(stderr, "dia: %s\n", ag_last_error()), ag_clear_error();
    else printf("wrote %s\n", path);
    if (ag_failed()) { fprintf(stderr, "dia: %s\n", ag_last_error()); return 1; }
    if (check && !ok) fprintf(stderr, "dia --check: a fit is outside the bounds\n");
    for (int i = 0; i < 2; i++) ag_release(r[i].K), ag_release(r[i].c);
    ag_release(s.ref), ag_release(s.refc), ag_release(s.tgt), ag_release(s.w), ag_release(s.isig), ag_release(s.basis);
    ag_release(s.star), ag_release(s.ktrue), ag_release(s.diag);
    return check && !ok ? 3 : 0;
}
