/* examples/sources.c — a multi-band source model fitted to two instruments' images, then
 * posterior samples of its parametric sources by NUTS, as scarlet2 proposes:
 *
 *   sources [--out PREFIX] [--small] [--check] [--seed S] [--iters N] [--warmup N] [--samples N]
 *
 * 1. Scene (simulated here, seeded): C = 3 bands, 3 sources, each spectrum ⊗ morphology with the
 *    spectrum exp(log s) (total flux per band) and the morphology of unit sum:
 *      - two elliptical Gaussians (one round, one not), parameters (x, y) centre [arcsec],
 *        log σ [arcsec], shape (a, b) (see gauss_source()), log s[C],
 *        with a Normal prior on the centre (sd 0.2" about a "detection" 0.05"–0.1" off the truth)
 *        and flat priors on log σ, a, b and log s;
 *      - one free-pixel source on a 9 × 9 box, pixels softplus(raw) normalised to unit sum.
 *    The model is rendered on the model frame (the finer instrument's grid, 0.2"/px); images are
 *    [C, y, x] with x = -ΔRA, y = ΔDec (as the figures' axes).
 * 2. Instruments: A, N² px of 0.2" (N = 48; --small 32) with a Gaussian PSF, and B, (N/2)² px of
 *    0.4" offset by (0.13", -0.07") with a Moffat (β = 3) PSF; FWHM per band below; white noise
 *    per instrument. The PSFs are effective PSFs (pixel response included), so an observed pixel
 *    is the band-limited model sampled at the pixel's centre, times the pixel-area ratio.
 * 3. Observation model (render + observe): one rfft2 of the model frame per band; for each
 *    instrument a product with its constant transfer H = FFT(PSF) · exp(2πi ν·Δ) (Δ: the grid's
 *    offset), a crop of the spectrum to the instrument's (N/f)² band (f: its pixel-size ratio)
 *    and one small irfft2. See observe() for why this is fast.
 * 4. Fit: Adam on -log posterior (both instruments' χ²/2 + the centre priors), cosine-decayed lr.
 * 5. Posterior: the 16 parameters of the two Gaussian sources by ag_sample (NUTS, dual-averaging
 *    step size, diagonal metric), the free-pixel source fixed at its fit. They are sampled as
 *    z with θ = θ_fit + u ⊙ z, u = 1/√(Fisher diagonal) (central differences of the model), so
 *    that every z has a posterior sd of order 1 (the sampler's metric regularisation would slow
 *    parameters of sd ≪ 0.03 down).
 * Prints the spectra (truth, fit), a table of posterior means and 68 % / 95 % intervals against
 * the truth with each parameter's ESS, and one summary line:
 *   resample_err=... spec_relerr_max=... box_relerr_max=... in68=k/16 in95=k/16 max_abs_z=...
 *   ess_min=... ess_per_s=... ms_per_grad=... seconds=...     (on one line)
 * (ess_min: the smallest of the 16 ESS; ess_per_s: that over the whole ag_sample run, warm-up
 * included; ms_per_grad: its wall time per log-density + gradient evaluation.)
 * Writes PREFIX_A.png, PREFIX_B.png (per band: data, model, residual) and PREFIX_corner1.png,
 * PREFIX_corner2.png (each source's 8 parameters: 2-D histograms below the diagonal, 1-D
 * marginals on it, the truth as a dashed ring / a grey column). ag_figure draws only sky images,
 * so the corner panels' axes are labelled ΔRA / ΔDec: their ticks are not parameter values (the
 * titles name the parameters; each range is mean ± 4 sd, widened to include the truth).
 * --check exits 3 unless: the observation model matches a closed form to 1e-6 of the peak
 * (resample_error(): a Gaussian through a Gaussian PSF onto B's offset grid; a wrong sign of the
 * offset gives 0.2); every fitted spectrum value within 10 % of the truth (their sd: 0.7–3 %,
 * the most for the faint band of the wide Gaussian; the free box's fluxes, sd about 2 %, are also
 * biased up by its positivity, which fits only the noise's positive excursions: +1.7 % on average
 * over 6 seeds); every truth within 4 posterior sd of the posterior mean; at least 13 of the
 * 16 truths in their 95 % intervals (all 16 has probability 0.95¹⁶ ≈ 0.44 for independent
 * parameters, 13 or more 0.993); no divergent draws. Calibration (--small, seeds 10–29, 320
 * truths): rms (truth − mean)/sd 1.02, 68 % within 1 sd, 93 % within 1.96 sd, the largest 3.6.
 * Default: N = 48, 3000 Adam steps, 400 warm-up + 1000 draws (20–35 s on this project's 2
 * shared, loaded cores); --small (the test): N = 32, 1500 Adam steps, 150 warm-up + 200 draws
 * (about 5 s there). */
#define _POSIX_C_SOURCE 200809L
#include <astrograd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define C 3        /* bands */
#define B 9        /* free-pixel box side */
#define NG 2       /* parametric sources */
#define SPEC 5     /* parameters of one Gaussian: x, y, log σ, shape a, b, then log s[C] */
#define NP (SPEC + C)
#define IS_LOG(j) ((j) == 2 || (j) >= SPEC) /* reported as exp */
#define D (NG * NP)
#define D_MODEL 0.2     /* arcsec per model pixel (= instrument A's) */
#define PRIOR_SD 0.2    /* arcsec, the centre prior */
#define NBIN 24         /* corner-plot histogram bins */

static const double FWHM_A[C] = {0.5, 0.6, 0.7}, FWHM_B[C] = {0.9, 1.0, 1.1}, MOFFAT_BETA = 3;
static const double OFF_B[2] = {0.13, -0.07}, SIGMA_NOISE[2] = {0.02, 0.04};
/* truth: x, y, σ, s[C] of each Gaussian; the free source's spectrum */
static const double TRUE_G[NG][NP] = {{-1.0, 0.6, 0.35, 0, 0, 20, 14, 8}, {1.1, -0.2, 0.55, 0.25, -0.3, 6, 10, 16}};
static const double TRUE_FSPEC[C] = {5, 9, 7};
static const double DETECT_OFF[NG][2] = {{0.08, -0.05}, {-0.06, 0.1}};

typedef struct inst {
    int64_t n;         /* pixels per side */
    double pix;        /* arcsec */
    double sigma;      /* noise per pixel */
    ag_tensor *H;      /* [C, N, N/2+1] c128: PSF transfer times the offset's phase ramp */
    ag_tensor *data;   /* [C, n, n] */
} inst;

typedef struct scene {
    int64_t N;
    ag_tensor *xs;     /* [N] arcsec: model pixel centres (columns x, rows y alike) */
    int64_t r0, c0;    /* the free box's first row, column in the model frame */
    inst in[2];
    double mu[NG][2];  /* the centre priors' means */
    ag_tensor *mu_t[NG]; /* the same, [2] on the device */
    ag_tensor *th0, *u, *z; /* sampling: θ = th0 + u ⊙ z */
    ag_tensor *raw, *fspec; /* the free source: raw [B, B], log s [C] */
} scene;

static ag_device dev;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static ag_tensor *vec(const double *x, int64_t n, bool grad) {
    ag_tensor *t = ag_from_data_on(x, AG_SHAPE(n), AG_F64, dev);
    return grad ? ag_set_requires_grad(t, true) : t;
}

/* One elliptical Gaussian from its parameter vector p [NP] -> [C, N, N]: the profile
 * exp(-|L d|² / (2σ²)) of the offset d = (x - cx, y - cy) with L = [[e^a, 0], [b, e^-a]]: det L = 1,
 * so σ² is the covariance's determinant^½ for every (a, b) (unconstrained; a = b = 0: circular) */
static ag_tensor *gauss_source(const scene *s, ag_tensor *p) {
    int64_t N = s->N;
    ag_tensor *dx = ag_reshape(ag_sub(s->xs, ag_narrow(p, 0, 0, 1)), AG_SHAPE(1, N));
    ag_tensor *dy = ag_reshape(ag_sub(s->xs, ag_narrow(p, 0, 1, 1)), AG_SHAPE(N, 1));
    ag_tensor *h = ag_mul_s(ag_exp(ag_mul_s(ag_narrow(p, 0, 2, 1), -2)), 0.5); /* 1/(2σ²) */
    ag_tensor *a = ag_narrow(p, 0, 3, 1), *b = ag_narrow(p, 0, 4, 1);
    ag_tensor *u = ag_mul(dx, ag_exp(a)), *w = ag_add(ag_mul(dx, b), ag_mul(dy, ag_exp(ag_neg(a))));
    ag_tensor *q = ag_add(ag_square(u), ag_square(w)); /* [N, N] */
    /* unit sum: d²/(2πσ²) (the sampled sum differs by ~exp(-2π²σ_min²/d²), < 1e-9 for σ_min >= 0.2") */
    ag_tensor *m = ag_mul(ag_exp(ag_neg(ag_mul(q, h))), ag_mul_s(h, D_MODEL * D_MODEL / M_PI));
    ag_tensor *spec = ag_reshape(ag_exp(ag_narrow(p, 0, SPEC, C)), AG_SHAPE(C, 1, 1));
    return ag_mul(spec, ag_unsqueeze(m, 0));
}

static ag_tensor *free_source(const scene *s, ag_tensor *raw, ag_tensor *logspec) {
    ag_tensor *p = ag_softplus(raw, 1, 20);
    p = ag_div(p, ag_sum(p, AG_ALL_DIMS, false));
    int64_t N = s->N;
    ag_tensor *m = ag_pad(p, (const int64_t[]){s->c0, N - s->c0 - B, s->r0, N - s->r0 - B}, 4, AG_PAD_CONSTANT, 0);
    return ag_mul(ag_reshape(ag_exp(logspec), AG_SHAPE(C, 1, 1)), ag_unsqueeze(m, 0));
}

static ag_tensor *render(const scene *s, ag_tensor *const g[NG], ag_tensor *raw, ag_tensor *fspec) {
    ag_tensor *img = free_source(s, raw, fspec);
    for (int k = 0; k < NG; k++) img = ag_add(img, gauss_source(s, g[k]));
    return img;
}

/* The model frame's spectrum G [C, N, N/2+1] seen by instrument i: [C, n, n].
 * Why it is fast: resampling to another pixel grid is, for a band-limited image, a crop of its
 * spectrum, and a sub-pixel offset a phase ramp; both fold into the PSF's transfer function, so
 * one rfft2 of the model frame (shared by every instrument) and one small irfft2 per instrument
 * do PSF convolution, shift and resampling together, O(N² log N) per band. scarlet (1.x)
 * resamples in pixel space: scarlet.resampling.make_ker2D builds, for each low-resolution pixel,
 * a sinc kernel over the high-resolution frame, so the work grows as the product of the two
 * grids' pixel counts. No per-pixel loop runs here. */
static ag_tensor *observe(const scene *s, ag_tensor *G, int i) {
    int64_t N = s->N, n = s->in[i].n;
    ag_tensor *Y = ag_mul(G, s->in[i].H);
    if (n < N) { /* rows k = 0..n/2 and -(n/2-1)..-1, columns 0..n/2 */
        ag_tensor *rows[2] = {ag_narrow(Y, 1, 0, n / 2 + 1), ag_narrow(Y, 1, N - n / 2 + 1, n / 2 - 1)};
        Y = ag_narrow(ag_cat(rows, 2, 1), 2, 0, n / 2 + 1);
    }
    /* the 1/n² of the small inverse FFT is the model frame's 1/N² times the pixel-area ratio */
    return ag_irfftn(Y, AG_DIMS(1, 2), n, AG_NORM_BACKWARD);
}

static ag_tensor *spectrum(ag_tensor *img) { return ag_rfftn(img, AG_DIMS(1, 2), AG_NORM_BACKWARD); }

/* -log posterior (up to a constant) of the Gaussian sources' parameters g and the free source */
static ag_tensor *neg_log_post(const scene *s, ag_tensor *const g[NG], ag_tensor *raw, ag_tensor *fspec) {
    ag_tensor *G = spectrum(render(s, g, raw, fspec));
    ag_tensor *nlp = NULL;
    for (int i = 0; i < 2; i++) {
        ag_tensor *r = ag_mul_s(ag_sub(observe(s, G, i), s->in[i].data), 1 / s->in[i].sigma);
        ag_tensor *t = ag_mul_s(ag_sum(ag_square(r), AG_ALL_DIMS, false), 0.5);
        nlp = nlp ? ag_add(nlp, t) : t;
    }
    for (int k = 0; k < NG; k++) {
        ag_tensor *d = ag_mul_s(ag_sub(ag_narrow(g[k], 0, 0, 2), s->mu_t[k]), 1 / PRIOR_SD);
        nlp = ag_add(nlp, ag_mul_s(ag_sum(ag_square(d), AG_ALL_DIMS, false), 0.5));
    }
    return nlp;
}

static void split(ag_tensor *theta, ag_tensor *g[NG]) {
    for (int k = 0; k < NG; k++) g[k] = ag_narrow(theta, 0, k * NP, NP);
}

static ag_tensor *logp_z(void *user) {
    scene *s = user;
    ag_tensor *g[NG];
    split(ag_add(s->th0, ag_mul(s->u, s->z)), g);
    return ag_neg(neg_log_post(s, g, s->raw, s->fspec));
}

/* Both instruments' model images at θ (host copy into out[i], [C, n, n] each), no gradients */
static void model_at(const scene *s, const double *theta, double *out[2]) {
    ag_no_grad_begin();
    ag_scope_begin();
    ag_tensor *g[NG];
    split(ag_from_data_on(theta, AG_SHAPE(D), AG_F64, dev), g);
    ag_tensor *G = spectrum(render(s, g, s->raw, s->fspec));
    for (int i = 0; i < 2; i++) ag_copy_to_buffer(observe(s, G, i), out[i], AG_F64);
    ag_scope_end();
    ag_no_grad_end();
}

/* PSF images on the model frame centred on pixel (0, 0) (periodic), unit sum, then FFT, times
 * the phase ramp of the instrument's offset: the constant H of observe() */
static ag_tensor *transfer(const scene *s, const double *fwhm, bool moffat, const double off[2]) {
    int64_t N = s->N, M = N / 2 + 1;
    double *psf = malloc((size_t)(C * N * N) * sizeof *psf), *ramp = malloc((size_t)(2 * N * M) * sizeof *ramp);
    for (int c = 0; c < C; c++) {
        double sum = 0, sg = fwhm[c] / (2 * sqrt(2 * log(2.0)));
        double alpha = fwhm[c] / (2 * sqrt(pow(2, 1 / MOFFAT_BETA) - 1));
        for (int64_t r = 0; r < N; r++)
            for (int64_t q = 0; q < N; q++) {
                double dy = ((r + N / 2) % N - N / 2) * D_MODEL, dx = ((q + N / 2) % N - N / 2) * D_MODEL;
                double rr = dx * dx + dy * dy;
                double v = moffat ? pow(1 + rr / (alpha * alpha), -MOFFAT_BETA) : exp(-rr / (2 * sg * sg));
                psf[(c * N + r) * N + q] = v, sum += v;
            }
        for (int64_t k = 0; k < N * N; k++) psf[c * N * N + k] /= sum;
    }
    for (int64_t r = 0; r < N; r++)
        for (int64_t q = 0; q < M; q++) {
            double nu_y = (r < (N + 1) / 2 ? r : r - N) / (N * D_MODEL), nu_x = q / (N * D_MODEL);
            double ph = 2 * M_PI * (nu_x * off[0] + nu_y * off[1]);
            ramp[2 * (r * M + q)] = cos(ph), ramp[2 * (r * M + q) + 1] = sin(ph);
        }
    ag_scope_begin();
    ag_tensor *H = ag_keep(ag_mul(spectrum(ag_from_data_on(psf, AG_SHAPE(C, N, N), AG_F64, dev)),
                                  ag_from_data_on(ramp, AG_SHAPE(N, M), AG_C128, dev)));
    ag_scope_end();
    free(psf), free(ramp);
    return H;
}

/* The observation model against a closed form: a Gaussian (σ 0.8" at (0.3", -0.2"), unit flux)
 * through a Gaussian PSF (FWHM 0.7") onto instrument B's grid, offset included, is a Gaussian of
 * variance σ² + σ_psf² times B's pixel area. Returns the largest error over B's pixels within
 * 1.6" of the centre (beyond, the frame's periodic images enter), relative to the peak. */
static double resample_error(scene *s) {
    const double fw[C] = {0.7, 0.7, 0.7}, x0 = 0.3, y0 = -0.2, sg = 0.65, sp = 0.7 / (2 * sqrt(2 * log(2.0)));
    double p0[NP] = {x0, y0, log(sg)}, err = 0, peak = 0;
    int64_t n = s->in[1].n;
    double pix = s->in[1].pix, v = sg * sg + sp * sp, *m = malloc((size_t)(C * n * n) * sizeof *m);
    ag_tensor *H = s->in[1].H;
    ag_scope_begin();
    s->in[1].H = transfer(s, fw, false, OFF_B);
    ag_copy_to_buffer(observe(s, spectrum(gauss_source(s, vec(p0, NP, false))), 1), m, AG_F64);
    ag_release(s->in[1].H), s->in[1].H = H;
    ag_scope_end();
    for (int64_t r = 0; r < n; r++)
        for (int64_t q = 0; q < n; q++) {
            double x = (q - n / 2) * pix + OFF_B[0] - x0, y = (r - n / 2) * pix + OFF_B[1] - y0;
            double want = pix * pix / (2 * M_PI * v) * exp(-(x * x + y * y) / (2 * v));
            peak = fmax(peak, want);
            if (x * x + y * y <= 1.6 * 1.6)
                for (int c = 0; c < C; c++) err = fmax(err, fabs(m[(c * n + r) * n + q] - want));
        }
    free(m);
    return err / peak;
}

/* the free source's truth: two small blobs in the box, unit sum -> raw = softplus⁻¹ */
static ag_tensor *true_raw(void) {
    double p[B * B], sum = 0;
    for (int r = 0; r < B; r++)
        for (int q = 0; q < B; q++) {
            double a = (r - 3) * (r - 3) + (q - 3) * (q - 3), b = (r - 5.5) * (r - 5.5) + (q - 6) * (q - 6);
            p[r * B + q] = exp(-a / (2 * 1.2 * 1.2)) + 0.6 * exp(-b / (2 * 0.9 * 0.9)) + 1e-4, sum += p[r * B + q];
        }
    for (int k = 0; k < B * B; k++) p[k] = log(expm1(p[k] / sum * 10)); /* softplus(raw) ∝ p */
    return ag_from_data_on(p, AG_SHAPE(B, B), AG_F64, dev);
}

/* -- figures ---------------------------------------------------------------------------- */
static int figure_instrument(const scene *s, int i, ag_tensor *model, const char *path) {
    const inst *in = &s->in[i];
    ag_grid_coords gc;
    ag_figure *fig = ag_figure_new(3, C, 256);
    int rc = fig ? ag_grid_coords_init(&gc, in->pix, in->n) : -1;
    /* the instrument's own pixel edges (offset included), with ΔRA = -x */
    double x0 = -(double)(in->n / 2) * in->pix + (i ? OFF_B[0] : 0), y0 = -(double)(in->n / 2) * in->pix + (i ? OFF_B[1] : 0);
    gc.img_ext[0] = -(x0 - in->pix / 2), gc.img_ext[1] = -(x0 + (in->n - 0.5) * in->pix);
    gc.img_ext[2] = y0 - in->pix / 2, gc.img_ext[3] = y0 + (in->n - 0.5) * in->pix;
    ag_scope_begin();
    for (int c = 0; c < C && !rc; c++) {
        ag_tensor *d = ag_select(in->data, 0, c), *m = ag_select(model, 0, c);
        ag_tensor *img[3] = {d, m, ag_sub(d, m)};
        const char *what[3] = {"data", "model", "residual"};
        for (int j = 0; j < 3 && !rc; j++) {
            char title[96];
            snprintf(title, sizeof title, "%s band %d: %s", i ? "B (0.4\")" : "A (0.2\")", c + 1, what[j]);
            ag_figure_image_opts fo = {.title = title, .cmap = j == 2 ? AG_CMAP_VIRIDIS : AG_CMAP_INFERNO,
                                       .cbar_label = "flux / pixel", .unit = AG_AXIS_ARCSEC};
            if (j == 2) fo.vmin = -3 * in->sigma, fo.vmax = 3 * in->sigma;
            rc = ag_figure_image(fig, c * 3 + j, img[j], &gc, &fo);
        }
    }
    ag_scope_end();
    if (!rc) rc = ag_figure_write_png(fig, path);
    ag_figure_free(fig);
    return rc;
}

/* A corner plot of parameters cols[0..np) of the draws th [n, D] (host, row-major) */
static int figure_corner(const double *th, int64_t n, const int *cols, int np, const double *truth, const char *const *names,
                         const double *mean, const double *sd, const char *path) {
    double lo[NP], hi[NP];
    for (int a = 0; a < np; a++) {
        int j = cols[a];
        lo[a] = fmin(mean[j] - 4 * sd[j], truth[a] - 0.5 * sd[j]);
        hi[a] = fmax(mean[j] + 4 * sd[j], truth[a] + 0.5 * sd[j]);
    }
    ag_grid_coords gc;
    ag_figure *fig = ag_figure_new(np, np, 96);
    int rc = fig ? ag_grid_coords_init(&gc, 1, NBIN) : -1;
    double img[NBIN * NBIN];
#define BIN(v, a) ((int)fmin(NBIN - 1, fmax(0, floor(((v) - lo[a]) / (hi[a] - lo[a]) * NBIN))))
    for (int a = 0; a < np && !rc; a++)
        for (int b = 0; b <= a && !rc; b++) {
            char title[64];
            ag_figure_image_opts fo = {.title = title, .cmap = AG_CMAP_VIRIDIS};
            memset(img, 0, sizeof img);
            if (a == b) { /* the marginal as bars (row 0 at the bottom), the truth's column grey */
                double cnt[NBIN] = {0}, mx = 0;
                for (int64_t k = 0; k < n; k++) cnt[BIN(th[k * D + cols[a]], a)]++;
                for (int q = 0; q < NBIN; q++) mx = fmax(mx, cnt[q]);
                int qt = BIN(truth[a], a);
                for (int r = 0; r < NBIN; r++)
                    for (int q = 0; q < NBIN; q++)
                        img[r * NBIN + q] = r < cnt[q] / mx * NBIN ? 1 : (q == qt ? NAN : 0);
                snprintf(title, sizeof title, "%s", names[a]);
            } else { /* rows: parameter a, columns: parameter b; the truth as a ring */
                for (int64_t k = 0; k < n; k++) img[BIN(th[k * D + cols[a]], a) * NBIN + BIN(th[k * D + cols[b]], b)]++;
                double fx = (truth[b] - lo[b]) / (hi[b] - lo[b]), fy = (truth[a] - lo[a]) / (hi[a] - lo[a]);
                fo.circle_x = gc.img_ext[0] + fx * (gc.img_ext[1] - gc.img_ext[0]);
                fo.circle_y = gc.img_ext[2] + fy * (gc.img_ext[3] - gc.img_ext[2]);
                fo.circle_r = 1.5;
                snprintf(title, sizeof title, "%s vs %s", names[a], names[b]);
            }
#undef BIN
            ag_scope_begin();
            rc = ag_figure_image(fig, a * np + b, ag_from_data(img, AG_SHAPE(NBIN, NBIN), AG_F64), &gc, &fo);
            ag_scope_end();
        }
    if (!rc) rc = ag_figure_write_png(fig, path);
    ag_figure_free(fig);
    return rc;
}

int main(int argc, char **argv) {
    const char *out = "sources";
    bool small = false, check = false;
    int iters = -1, warmup = -1, nsamp = -1;
    uint64_t seed = 7;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--small")) small = true;
        else if (!strcmp(argv[i], "--check")) check = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc) nsamp = atoi(argv[++i]);
        else { fprintf(stderr, "sources: unknown argument %s\n", argv[i]); return 2; }
    }
    if (iters < 0) iters = small ? 1500 : 3000;
    if (warmup < 0) warmup = small ? 150 : 400;
    if (nsamp < 0) nsamp = small ? 200 : 1000;
    if (iters < 1 || warmup < 0 || nsamp < 4) { fprintf(stderr, "sources: --iters >= 1, --samples >= 4\n"); return 2; }

    dev = ag_device_default();
    double t0 = now();
    scene s = {.N = small ? 32 : 48};
    int64_t N = s.N;
    ag_scope_begin();
    s.xs = ag_keep(ag_mul_s(ag_arange_on((double)-N / 2, (double)N / 2, 1, AG_F64, dev), D_MODEL));
    ag_scope_end();
    s.r0 = N / 2 - 12, s.c0 = N / 2 - 7;
    const double zero[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        s.in[i] = (inst){.n = i ? N / 2 : N, .pix = i ? 2 * D_MODEL : D_MODEL, .sigma = SIGMA_NOISE[i]};
        s.in[i].H = transfer(&s, i ? FWHM_B : FWHM_A, i == 1, i ? OFF_B : zero);
    }

    /* the truth and the data */
    double th_true[D];
    for (int k = 0; k < NG; k++) {
        for (int j = 0; j < NP; j++) th_true[k * NP + j] = IS_LOG(j) ? log(TRUE_G[k][j]) : TRUE_G[k][j];
        s.mu[k][0] = TRUE_G[k][0] + DETECT_OFF[k][0], s.mu[k][1] = TRUE_G[k][1] + DETECT_OFF[k][1];
        s.mu_t[k] = vec(s.mu[k], 2, false);
    }
    double lfs[C];
    for (int c = 0; c < C; c++) lfs[c] = log(TRUE_FSPEC[c]);
    ag_manual_seed(seed);
    ag_scope_begin();
    {
        ag_tensor *g[NG];
        split(vec(th_true, D, false), g);
        ag_tensor *G = spectrum(render(&s, g, true_raw(), vec(lfs, C, false)));
        for (int i = 0; i < 2; i++) {
            int64_t n = s.in[i].n;
            ag_tensor *noise = ag_mul_s(ag_randn_on(AG_SHAPE(C, n, n), AG_F64, dev), s.in[i].sigma);
            s.in[i].data = ag_keep(ag_add(observe(&s, G, i), noise));
        }
    }
    ag_scope_end();
    double rs_err = resample_error(&s);
    if (ag_failed()) { fprintf(stderr, "sources: %s\n", ag_last_error()); return 1; }
    printf("observation model vs closed form (Gaussian through a Gaussian PSF onto B's offset grid): "
           "max error %.2e of the peak\n", rs_err);

    /* the fit: centres from the detections, σ 0.4", every flux 5, a flat free box */
    ag_tensor *p[NG];
    for (int k = 0; k < NG; k++) {
        double p0[NP] = {s.mu[k][0], s.mu[k][1], log(0.4)};
        for (int c = 0; c < C; c++) p0[SPEC + c] = log(5.0);
        p[k] = vec(p0, NP, true);
    }
    double lf0[C] = {log(5.0), log(5.0), log(5.0)};
    s.raw = ag_set_requires_grad(ag_zeros_on(AG_SHAPE(B, B), AG_F64, dev), true);
    s.fspec = vec(lf0, C, true);
    ag_tensor *fit_params[NG + 2] = {p[0], p[1], s.raw, s.fspec};
    ag_optim *opt = ag_adam((ag_params){fit_params, NULL, NG + 2}, (ag_adam_opts){.lr = 0.05});
    ag_sched *sched = ag_sched_cosine(opt, iters, 5e-4);
    double loss = NAN;
    for (int it = 0; opt && sched && it < iters && !ag_failed(); it++) {
        ag_scope_begin();
        ag_tensor *l = neg_log_post(&s, p, s.raw, s.fspec);
        if (l && !ag_backward(l)) ag_optim_step(opt), ag_sched_step(sched), loss = it + 1 == iters ? ag_item(l) : loss;
        ag_optim_zero_grad(opt);
        ag_scope_end();
    }
    ag_sched_free(sched);
    ag_optim_free(opt);
    if (ag_failed()) { fprintf(stderr, "sources: %s\n", ag_last_error()); return 1; }
    double t_fit = now() - t0;
    int64_t ndata = C * (N * N + N * N / 4);
    printf("fit: %d Adam steps, chi2/ndata %.3f, %.1f s\n", iters, 2 * loss / ndata, t_fit);

    /* fitted spectra against the truth */
    double th_fit[D], fs[C], relmax[2] = {0, 0}; /* the Gaussians', the free box's */
    for (int k = 0; k < NG; k++) ag_copy_to_buffer(p[k], th_fit + k * NP, AG_F64);
    ag_copy_to_buffer(s.fspec, fs, AG_F64);
    printf("spectra     band:        1        2        3   (truth / fit / relative error)\n");
    for (int k = 0; k <= NG; k++) {
        double tr[C], ft[C];
        for (int c = 0; c < C; c++) {
            tr[c] = k < NG ? TRUE_G[k][SPEC + c] : TRUE_FSPEC[c];
            ft[c] = exp(k < NG ? th_fit[k * NP + SPEC + c] : fs[c]);
            relmax[k == NG] = fmax(relmax[k == NG], fabs(ft[c] / tr[c] - 1));
        }
        const char *name = k < NG ? (k ? "gauss 2" : "gauss 1") : "free box";
        printf("  %-8s truth %8.3f %8.3f %8.3f\n", name, tr[0], tr[1], tr[2]);
        printf("  %-8s fit   %8.3f %8.3f %8.3f\n", "", ft[0], ft[1], ft[2]);
        printf("  %-8s err   %+8.4f %+8.4f %+8.4f\n", "", ft[0] / tr[0] - 1, ft[1] / tr[1] - 1, ft[2] / tr[2] - 1);
    }

    /* the sampling scales: 1/√(Fisher diagonal) by central differences of the model */
    ag_tensor *fixed[2] = {ag_detach(s.raw), ag_detach(s.fspec)};
    ag_release(s.raw), ag_release(s.fspec);
    s.raw = fixed[0], s.fspec = fixed[1];
    double u[D];
    {
        double *mp[2], *mm[2];
        for (int i = 0; i < 2; i++) {
            size_t sz = (size_t)(C * s.in[i].n * s.in[i].n) * sizeof(double);
            mp[i] = malloc(sz), mm[i] = malloc(sz);
        }
        for (int j = 0; j < D; j++) {
            double h = 1e-5, t[D];
            memcpy(t, th_fit, sizeof t);
            t[j] += h, model_at(&s, t, mp);
            t[j] -= 2 * h, model_at(&s, t, mm);
            double f = j % NP < 2 ? 1 / (PRIOR_SD * PRIOR_SD) : 0;
            for (int i = 0; i < 2; i++)
                for (int64_t q = 0; q < C * s.in[i].n * s.in[i].n; q++) {
                    double dq = (mp[i][q] - mm[i][q]) / (2 * h) / s.in[i].sigma;
                    f += dq * dq;
                }
            u[j] = 1 / sqrt(f);
        }
        for (int i = 0; i < 2; i++) free(mp[i]), free(mm[i]);
    }
    s.th0 = vec(th_fit, D, false), s.u = vec(u, D, false);
    s.z = ag_set_requires_grad(ag_zeros_on(AG_SHAPE(D), AG_F64, dev), true);
    ag_sample_result r;
    if (ag_failed() || ag_sample((ag_params){&s.z, NULL, 1}, logp_z, &s,
                                 (ag_sample_opts){.n_samples = nsamp, .n_warmup = warmup, .seed = seed}, &r)) {
        fprintf(stderr, "sources: %s\n", ag_last_error());
        return 1;
    }
    ag_tensor *ess_t = ag_ess(r.samples);
    double ess[D], *th = malloc((size_t)(nsamp * D) * sizeof *th), *col = malloc((size_t)nsamp * sizeof *col);
    ag_copy_to_buffer(ess_t, ess, AG_F64), ag_release(ess_t);
    ag_copy_to_buffer(r.samples, th, AG_F64);
    for (int64_t k = 0; k < (int64_t)nsamp * D; k++) th[k] = th_fit[k % D] + u[k % D] * th[k];

    /* posterior summaries in the physical units (σ, s = exp of the sampled logs) */
    static const char *pname[NP] = {"x", "y", "sigma", "a", "b", "s1", "s2", "s3"};
    double mean[D], sd[D], ess_min = INFINITY, maxz = 0;
    int in68 = 0, in95 = 0;
    printf("posterior (%d draws after %d warm-up, accept %.2f, step %.3g, %d divergent):\n", nsamp, warmup,
           r.accept_rate, r.step_size, r.n_divergent);
    printf("  param        truth       mean        sd     68%% interval          95%% interval        ESS\n");
    for (int j = 0; j < D; j++) {
        double m = 0, v = 0;
        for (int k = 0; k < nsamp; k++) m += th[k * D + j];
        m /= nsamp;
        for (int k = 0; k < nsamp; k++) v += (th[k * D + j] - m) * (th[k * D + j] - m);
        mean[j] = m, sd[j] = sqrt(v / (nsamp - 1));
        for (int k = 0; k < nsamp; k++) col[k] = th[k * D + j];
        qsort(col, nsamp, sizeof *col, cmp_double);
        double q[4], qs[4] = {0.025, 0.16, 0.84, 0.975};
        for (int a = 0; a < 4; a++) { /* linear interpolation between order statistics, as numpy */
            double h = qs[a] * (nsamp - 1);
            int lo = (int)floor(h);
            q[a] = col[lo] + (h - lo) * (col[lo + 1 < nsamp ? lo + 1 : lo] - col[lo]);
        }
        double tr = th_true[j], z = (tr - m) / sd[j];
        in68 += tr >= q[1] && tr <= q[2], in95 += tr >= q[0] && tr <= q[3];
        maxz = fmax(maxz, fabs(z)), ess_min = fmin(ess_min, ess[j]);
        bool lg = IS_LOG(j % NP);
        double pm = 0;
        if (lg) {
            for (int k = 0; k < nsamp; k++) pm += exp(th[k * D + j]);
            pm /= nsamp;
        }
#define PH(x) (lg ? exp(x) : (x))
        printf("  %d.%-7s %10.4f %10.4f %9.4f  [%9.4f, %9.4f]  [%9.4f, %9.4f] %6.0f%s\n", j / NP + 1, pname[j % NP], PH(tr),
               lg ? pm : m, lg ? pm * sd[j] : sd[j], PH(q[1]), PH(q[2]), PH(q[0]), PH(q[3]), ess[j],
               fabs(z) > 2 ? "  (outside 2 sd)" : "");
#undef PH
    }
    double ms_per_grad = 1e3 * r.wall_s / r.n_grad_evals, ess_per_s = ess_min / r.wall_s;

    /* figures */
    char path[512];
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *G = spectrum(render(&s, (ag_tensor *[]){p[0], p[1]}, s.raw, s.fspec));
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s_%c.png", out, 'A' + i);
        if (figure_instrument(&s, i, observe(&s, G, i), path)) fprintf(stderr, "sources: %s\n", ag_last_error()), ag_clear_error();
        else printf("wrote %s\n", path);
    }
    ag_no_grad_end();
    ag_scope_end();
    for (int k = 0; k < NG; k++) {
        int cols[NP];
        double tr[NP];
        const char *names[NP];
        char nb[NP][16];
        for (int a = 0; a < NP; a++) {
            cols[a] = k * NP + a, tr[a] = th_true[k * NP + a];
            snprintf(nb[a], sizeof nb[a], "%s%s", IS_LOG(a) ? "ln " : "", pname[a]);
            names[a] = nb[a];
        }
        snprintf(path, sizeof path, "%s_corner%d.png", out, k + 1);
        if (figure_corner(th, nsamp, cols, NP, tr, names, mean, sd, path)) fprintf(stderr, "sources: %s\n", ag_last_error()), ag_clear_error();
        else printf("wrote %s\n", path);
    }

    printf("resample_err=%.1e spec_relerr_max=%.4f box_relerr_max=%.4f in68=%d/%d in95=%d/%d max_abs_z=%.2f ess_min=%.0f ess_per_s=%.1f ms_per_grad=%.3f "
           "seconds=%.1f\n", rs_err, relmax[0], relmax[1], in68, D, in95, D, maxz, ess_min, ess_per_s, ms_per_grad, now() - t0);
    bool ok = rs_err < 1e-6 && relmax[0] < 0.1 && relmax[1] < 0.1 && maxz < 4 && in95 >= D - 3 && r.n_divergent == 0;
    if (check && !ok)
        fprintf(stderr, "sources --check: the observation model is off its closed form by 1e-6 or more, a fitted spectrum is off by 10 %% or more, a truth lies 4 sd or more from "
                        "its posterior mean, fewer than 13 truths are in their 95 %% intervals, or draws diverged\n");
    free(th), free(col);
    ag_sample_result_free(&r);
    for (int k = 0; k < NG; k++) ag_release(p[k]), ag_release(s.mu_t[k]);
    ag_release(s.raw), ag_release(s.fspec), ag_release(s.th0), ag_release(s.u), ag_release(s.z), ag_release(s.xs);
    for (int i = 0; i < 2; i++) ag_release(s.in[i].H), ag_release(s.in[i].data);
    if (ag_live_tensors()) fprintf(stderr, "sources: %lld tensors left alive\n", (long long)ag_live_tensors());
    return check && !ok ? 3 : 0;
}
