/* benchmarks/bench_nufft.c — the NuFFT (ag_nufft / ag_nufft_adjoint, imaging/nufft.c) at
 * M = 10^5 points uniform over the grid, 256² and 512² f64 images, ε = 1e-6: the plan, the
 * type 2 (image -> points) and the type 1 (points -> image). Peer: torchkbnufft's KbNufft and
 * KbNufftAdjoint (MPoL's NuFFT layer; benchmarks/peers/torchkbnufft_nufft.py; pip's
 * torchkbnufft, so run with AG_BENCH_PYTHON naming an interpreter that has it), table mode,
 * its defaults (max error ~1e-3 of max|V|, as the NuFFT issue measured).
 *
 *     build/benchmarks/bench_nufft [threads] [results.json] [npix ...]     (default 256 512) */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_nufft_plan *p; ag_tensor *img, *vis; bool adjoint; } ctx;

static void run(void *q) {
    ctx *c = q;
    ag_scope_begin();
    ag_tensor *r = c->adjoint ? ag_nufft_adjoint(c->p, c->vis) : ag_nufft(c->p, c->img);
    if (!r) { fprintf(stderr, "nufft: %s\n", ag_last_error()); exit(1); }
    ag_scope_end();
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/nufft.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    int64_t npixs[8] = {256, 512}, m = 100000;
    int ngrids = argc > 3 ? argc - 3 : 2;
    if (ngrids > 8) return fprintf(stderr, "bench_nufft: at most 8 image sizes\n"), 2;
    for (int g = 0; argc > 3 && g < ngrids; g++)
        if ((npixs[g] = atoll(argv[3 + g])) < 8) return fprintf(stderr, "bench_nufft: npix '%s' < 8\n", argv[3 + g]), 2;
    bench_row rows[24];
    int n = 0;
    for (int g = 0; g < ngrids; g++) {
        ag_grid_coords gc;
        if (ag_grid_coords_init(&gc, 0.005, npixs[g]) < 0) return fprintf(stderr, "%s\n", ag_last_error()), 1;
        double umax = gc.max_uv_grid_value;
        ctx c = {0};
        ag_tensor *u = ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(m), AG_F64), 0.5), 2 * umax);
        ag_tensor *v = ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(m), AG_F64), 0.5), 2 * umax);
        double t0 = bench_now_ms();
        c.p = ag_nufft_plan_new(&gc, u, v, 1e-6, -1);
        if (!c.p) return fprintf(stderr, "%s\n", ag_last_error()), 1;
        snprintf(rows[n].name, sizeof rows[n].name, "nufft_plan_%lld_m1e5", (long long)npixs[g]);
        double plan_ms = bench_now_ms() - t0; /* one plan: its spread is not measured */
        bench_sample_row(&rows[n++], &plan_ms, 1);
        c.img = ag_rand(AG_SHAPE(1, npixs[g], npixs[g]), AG_F64);
        c.vis = ag_complex(ag_randn(AG_SHAPE(1, m), AG_F64), ag_randn(AG_SHAPE(1, m), AG_F64));
        for (int a = 0; a < 2; a++) {
            c.adjoint = a;
            snprintf(rows[n].name, sizeof rows[n].name, "nufft_type%d_%lld_m1e5", a ? 1 : 2, (long long)npixs[g]);
            bench_time_row(&rows[n++], run, &c, 2, 7);
        }
        ag_nufft_plan_free(c.p);
        ag_release(u), ag_release(v), ag_release(c.img), ag_release(c.vis);
    }
    char args[200];
    int len = snprintf(args, sizeof args, "%d", threads);
    for (int g = 0; g < ngrids; g++) len += snprintf(args + len, sizeof args - (size_t)len, " %lld", (long long)npixs[g]);
    int matched = bench_run_peer("benchmarks/peers/torchkbnufft_nufft.py", args, "torchkbnufft", rows, n);
    char title[160];
    snprintf(title, sizeof title, "NuFFT, 10^5 points, f64, eps 1e-6, %d threads (peer rows matched: %d)", threads, matched);
    return bench_report(title, rows, n, json);
}
