/* benchmarks/bench_rml.c — one full RML imaging training step against the same step in PyTorch
 * CPU (and through MPoL's own modules when importable), same invocation, same thread count
 * (benchmarks/peers/torch_rml.py):
 *
 *     build/benchmarks/bench_rml [threads] [results.json] [--quick]
 *
 * The step: BaseCube (softplus) -> ImageCube -> FourierCube (cell² FFT2) -> the gridded model
 * visibilities at the data's cells (one index built once) -> negative log likelihood (averaged)
 * + entropy + sparsity + TV + TSV on the sky cube -> backward -> Adam -> zero_grad, inside a
 * scope. Data: 10% of the cells, random complex values and weights (the work does not depend
 * on the values, so both sides draw their own). Sizes npix 256 … 2048, nchan 1 and 16, f32 and
 * f64; the number of timed steps shrinks with the size so that every case takes a few seconds.
 * --quick: npix 256 and 512, nchan 1 only. */
#include <astrograd.h>

#include "bench.h"

#define CELL 0.005
#define MASK_FRACTION 0.1
static const double LAM_ENT = 1e-4, LAM_SPARSE = 1e-4, LAM_TV = 1e-4, LAM_TSV = 1e-4;

typedef struct rml {
    ag_module *base, *img, *four;
    ag_optim *opt;
    ag_tensor *index, *data, *weight;
} rml;

static void die(const char *what) {
    fprintf(stderr, "bench_rml: %s: %s\n", what, ag_last_error());
    exit(1);
}

static void step(void *p) {
    rml *r = p;
    ag_scope_begin();
    ag_tensor *cube = ag_forward(r->img, ag_forward(r->base, NULL));
    ag_tensor *vis = ag_forward(r->four, cube);
    ag_tensor *sky = ag_image_cube_sky(r->img);
    ag_tensor *model = ag_take(vis, r->index);
    ag_tensor *loss = ag_neg_log_likelihood_avg(model, r->data, r->weight);
    loss = ag_add(loss, ag_mul_s(ag_entropy(sky, ag_scalar_like(sky, 0.01), 10.0), LAM_ENT));
    loss = ag_add(loss, ag_mul_s(ag_sparsity(sky, NULL), LAM_SPARSE));
    loss = ag_add(loss, ag_mul_s(ag_tv_image(sky, 1e-10), LAM_TV));
    loss = ag_add(loss, ag_mul_s(ag_tsv(sky), LAM_TSV));
    if (!loss) die("forward");
    if (ag_backward(loss)) die("backward");
    if (ag_optim_step(r->opt)) die("adam step");
    ag_optim_zero_grad(r->opt);
    ag_scope_end();
}

static rml make(int64_t npix, int64_t nchan, ag_dtype dt) {
    ag_set_default_dtype(dt);
    ag_grid_coords gc;
    if (ag_grid_coords_init(&gc, CELL, npix)) die("grid");
    rml r = {0};
    r.base = ag_base_cube(&gc, nchan, AG_PIXEL_SOFTPLUS, NULL, NULL, NULL);
    r.img = ag_image_cube(&gc, nchan);
    r.four = ag_fourier_cube(&gc, (ag_fourier_opts){.sign = -1});
    if (!r.base || !r.img || !r.four) die("modules");
    r.opt = ag_adam(ag_module_params(r.base), (ag_adam_opts){.lr = 1e-3});
    ag_scope_begin();
    ag_tensor *mask = ag_lt(ag_rand(AG_SHAPE(nchan * npix * npix), AG_F64), ag_scalar(MASK_FRACTION, AG_F64));
    r.index = ag_keep(ag_reshape(ag_nonzero(mask), AG_SHAPE(-1)));
    int64_t n = ag_numel(r.index);
    ag_dtype cdt = dt == AG_F32 ? AG_C64 : AG_C128;
    r.data = ag_keep(ag_to_dtype(ag_complex(ag_randn(AG_SHAPE(n), dt), ag_randn(AG_SHAPE(n), dt)), cdt));
    r.weight = ag_keep(ag_add_s(ag_rand(AG_SHAPE(n), dt), 0.5));
    ag_scope_end();
    if (!r.opt || !r.index || !r.data || !r.weight) die("setup");
    return r;
}

static void free_rml(rml *r) {
    ag_optim_free(r->opt);
    ag_module_free(r->base), ag_module_free(r->img), ag_module_free(r->four);
    ag_release(r->index), ag_release(r->data), ag_release(r->weight);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 && strcmp(argv[2], "--quick") ? argv[2] : "benchmarks/results/rml.json";
    bool quick = false;
    for (int i = 1; i < argc; i++) quick |= !strcmp(argv[i], "--quick");
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    const int64_t npixs[] = {256, 512, 1024, 2048}, nchans[] = {1, 16};
    bench_row rows[64];
    int n = 0;
    char cases[1024] = "";
    for (int a = 0; a < (quick ? 2 : 4); a++)
        for (int c = 0; c < (quick ? 1 : 2); c++)
            for (int d = 0; d < 2; d++) {
                int64_t npix = npixs[a], nchan = nchans[c];
                ag_dtype dt = d ? AG_F64 : AG_F32;
                /* cells per case: keep each case to a few seconds on 2 cores */
                double cells = (double)(npix * npix * nchan);
                int steps = cells <= 512.0 * 512 ? 21 : cells <= 1024.0 * 1024 ? 11 : cells <= 4.0 * 1024 * 1024 ? 5 : 3;
                rml r = make(npix, nchan, dt);
                snprintf(rows[n].name, 96, "rml_step_%lld_c%lld_%s", (long long)npix, (long long)nchan, ag_dtype_name(dt));
                rows[n].ms = bench_time(step, &r, 2, steps);
                rows[n + 1] = rows[n];
                snprintf(rows[n + 1].name, 96, "%s_mpol", rows[n].name);
                n += 2;
                free_rml(&r);
                size_t len = strlen(cases);
                snprintf(cases + len, sizeof cases - len, " %lld:%lld:%s:%d", (long long)npix, (long long)nchan,
                         ag_dtype_name(dt), steps);
                fprintf(stderr, "bench_rml: %s %.2f ms\n", rows[n - 2].name, rows[n - 2].ms);
            }
    char args[1100];
    snprintf(args, sizeof args, "%d%s", threads, cases);
    int matched = bench_run_peer("benchmarks/peers/torch_rml.py", args, "torch-cpu", rows, n);
    for (int i = 1; i < n; i += 2) snprintf(rows[i].peer, sizeof rows[i].peer, "mpol");
    char title[200];
    snprintf(title, sizeof title, "RML imaging step (BaseCube -> FourierCube -> NLL + priors -> backward -> Adam), "
             "%d threads (peer rows matched: %d)", threads, matched);
    return bench_report(title, rows, n, json);
}
