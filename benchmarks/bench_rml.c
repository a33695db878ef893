/* benchmarks/bench_rml.c — one full RML imaging training step, as an MPoL user writes it:
 * BaseCube (softplus) → ImageCube → FourierCube → gridded negative log likelihood (the masked
 * cells gathered by the dataset's stored index, then the fused loss) + entropy + sparsity + TV
 * + TSV of the sky cube (one ag_image_priors; $AG_BENCH_RML_SEPARATE: four ops) → backward → Adam → zero_grad, against the same step in PyTorch CPU
 * (benchmarks/peers/torch_rml.py: plain torch, and MPoL's own modules when importable), same
 * sizes, mask fraction (10 % of the cells), regularizer weights and thread count. The data are
 * random (both sides draw their own): the step's cost does not depend on the values.
 *
 *     build/benchmarks/bench_rml [threads] [results.json] [npix:nchan:f32|f64 ...]
 *
 * $AG_BENCH_REPS sets the timed steps per case (for a profiler). Default cases: npix 256 … 2048 with one channel, 256 and 512 with 16, f32 and f64. */
#include <astrograd.h>

#include "bench.h"

#define CELL 0.005
#define MASK_FRACTION 0.1
#define LAMBDA 1e-4

typedef struct ctx {
    ag_module *base, *icube, *fcube;
    ag_gridded_dataset *ds;
    ag_optim *opt;
    bool separate; /* the four regularizers as four fused ops instead of ag_image_priors */
} ctx;

static void fail(const char *what) {
    fprintf(stderr, "bench_rml: %s: %s\n", what, ag_last_error());
    exit(1);
}

static void step(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_tensor *cube = ag_forward(c->icube, ag_forward(c->base, NULL));
    ag_tensor *vis = ag_forward(c->fcube, cube);
    ag_tensor *sky = ag_image_cube_sky(c->icube);
    ag_tensor *loss = ag_neg_log_likelihood_avg(ag_gridded_dataset_forward(c->ds, vis), c->ds->vis_indexed,
                                                c->ds->weight_indexed);
    if (c->separate) {
        loss = ag_add(loss, ag_mul_s(ag_entropy_s(sky, 0.01, 10.0), LAMBDA));
        loss = ag_add(loss, ag_mul_s(ag_sparsity(sky, NULL), LAMBDA));
        loss = ag_add(loss, ag_mul_s(ag_tv_image(sky, 1e-10), LAMBDA));
        loss = ag_add(loss, ag_mul_s(ag_tsv(sky), LAMBDA));
    } else {
        ag_prior_weights w = {.entropy = LAMBDA, .prior_intensity = 0.01, .tot_flux = 10.0, .sparsity = LAMBDA,
                              .tv = LAMBDA, .tv_epsilon = 1e-10, .tsv = LAMBDA};
        loss = ag_add(loss, ag_image_priors(sky, &w));
    }
    if (!loss || ag_backward(loss) < 0) fail("forward/backward");
    if (ag_optim_step(c->opt) < 0) fail("adam");
    ag_optim_zero_grad(c->opt);
    ag_scope_end();
}

static int setup(ctx *c, int64_t npix, int64_t nchan, ag_dtype dt) {
    ag_grid_coords gc;
    if (ag_grid_coords_init(&gc, CELL, npix) < 0) return -1;
    ag_dtype cdt = dt == AG_F32 ? AG_C64 : AG_C128;
    ag_scope_begin();
    ag_tensor *mask = ag_lt(ag_rand(AG_SHAPE(nchan, npix, npix), AG_F32), ag_full(AG_SHAPE(1), MASK_FRACTION, AG_F32));
    ag_tensor *vis = ag_where(mask, ag_randn(AG_SHAPE(nchan, npix, npix), cdt), ag_zeros(AG_SHAPE(1), cdt));
    ag_tensor *wt = ag_where(mask, ag_add_s(ag_rand(AG_SHAPE(nchan, npix, npix), dt), 0.5), ag_zeros(AG_SHAPE(1), dt));
    c->ds = ag_gridded_dataset_new(&gc, vis, wt, mask);
    ag_scope_end();
    if (!c->ds) return -1;
    c->base = ag_base_cube(&gc, nchan, AG_PIXEL_SOFTPLUS, NULL, NULL, ag_full(AG_SHAPE(nchan, npix, npix), -3.0, dt));
    c->icube = ag_image_cube(&gc, nchan);
    c->fcube = ag_fourier_cube(&gc, (ag_fourier_opts){0});
    if (!c->base || !c->icube || !c->fcube) return -1;
    c->opt = ag_adam(ag_module_params(c->base), (ag_adam_opts){.lr = 1e-3});
    return c->opt ? 0 : -1;
}

static void teardown(ctx *c) {
    ag_optim_free(c->opt);
    ag_module_free(c->base), ag_module_free(c->icube), ag_module_free(c->fcube);
    ag_gridded_dataset_free(c->ds);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/rml.json";
    static const char *defaults[] = {"256:1:f64", "512:1:f64", "1024:1:f64", "2048:1:f64", "256:16:f64",
                                     "512:16:f64", "256:1:f32", "512:1:f32", "1024:1:f32", "2048:1:f32",
                                     "256:16:f32", "512:16:f32"};
    const char **cases = argc > 3 ? (const char **)argv + 3 : defaults;
    int ncases = argc > 3 ? argc - 3 : (int)(sizeof defaults / sizeof *defaults);
    if (ncases > 32) ncases = 32;
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[64];
    int n = 0;
    char args[600];
    int steps = 0;
    for (int i = 0; i < ncases; i++) {
        long long npix, nchan;
        char dn[8];
        if (sscanf(cases[i], "%lld:%lld:%7s", &npix, &nchan, dn) != 3 || (strcmp(dn, "f32") && strcmp(dn, "f64"))) {
            fprintf(stderr, "bench_rml: case \"%s\" is not npix:nchan:f32|f64\n", cases[i]);
            return 2;
        }
        ctx c = {.separate = getenv("AG_BENCH_RML_SEPARATE") != NULL};
        if (setup(&c, npix, nchan, strcmp(dn, "f32") ? AG_F64 : AG_F32) < 0) fail(cases[i]);
        double cells = (double)npix * (double)npix * (double)nchan;
        int reps = cells >= 4e6 ? 5 : cells >= 1e6 ? 11 : 21;
        if (getenv("AG_BENCH_REPS")) reps = atoi(getenv("AG_BENCH_REPS")); /* e.g. for a profiler */
        if (reps < 1 || reps > 256) reps = 11;
        if (reps > steps) steps = reps;
        snprintf(rows[n].name, sizeof rows[n].name, "rml_step_%lld_c%lld_%s", npix, nchan, dn);
        bench_time_row(&rows[n++], step, &c, 2, reps);
        fprintf(stderr, "%s %.2f ms\n", rows[n - 1].name, rows[n - 1].ms);
        teardown(&c);
    }
    /* the MPoL rows share the plain rows' astrograd time */
    int nplain = n;
    for (int i = 0; i < nplain; i++) {
        rows[n] = rows[i];
        snprintf(rows[n].name, sizeof rows[n].name, "%.80s_mpol", rows[i].name);
        n++;
    }
    int len = snprintf(args, sizeof args, "%d %d", threads, steps > 11 ? 11 : steps);
    for (int i = 0; i < ncases && len < (int)sizeof args - 40; i++) len += snprintf(args + len, sizeof args - len, " %s", cases[i]);
    int matched = bench_run_peer("benchmarks/peers/torch_rml.py", args, "torch-cpu", rows, n);
    for (int i = nplain; i < n; i++) snprintf(rows[i].peer, sizeof rows[i].peer, "mpol");
    char title[200];
    snprintf(title, sizeof title, "RML step (forward + backward + Adam), %d threads (peer rows matched: %d)", threads,
             matched);
    return bench_report(title, rows, n, json);
}
